"""Hash fields that hold two free-text codes must split back into the same codes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iocmon.streams.keys import parse_procedure_field, procedure_field

codes = st.text(min_size=1, max_size=64)


@given(agency=codes, procedure=codes, outcome=st.sampled_from(["early", "on_time", "late"]))
def test_procedure_field_round_trips_any_codes(agency: str, procedure: str, outcome: str) -> None:
    assert parse_procedure_field(procedure_field(agency, procedure, outcome)) == (
        agency,
        procedure,
        outcome,
    )


def test_agency_prefix_of_another_agency_is_not_confused() -> None:
    # Agency "A" with procedure "X|P" and agency "A|X" with procedure "P" stay apart.
    first = parse_procedure_field(procedure_field("A", "X|P", "late"))
    second = parse_procedure_field(procedure_field("A|X", "P", "late"))
    assert first == ("A", "X|P", "late")
    assert second == ("A|X", "P", "late")


def test_plain_codes_are_stored_as_they_are() -> None:
    assert procedure_field("LX", "1.001", "on_time") == "LX|1.001|on_time"
