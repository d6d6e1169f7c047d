"""Hash fields that hold two free-text codes must split back into the same codes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iocmon.domain.histogram import LABELS
from iocmon.domain.risk import Scope
from iocmon.streams.keys import (
    duration_field,
    parse_duration_field,
    parse_procedure_field,
    procedure_field,
)

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


@given(code=st.text(max_size=64), scope=st.sampled_from(list(Scope)))
def test_duration_field_round_trips_any_code(code: str, scope: Scope) -> None:
    for label in LABELS:
        assert parse_duration_field(duration_field(scope, code, label)) == (scope, code, label)


def test_duration_fields_say_their_scope_first() -> None:
    assert duration_field(Scope.PROCEDURE, "1.001", "7") == "p|1.001|7"
    assert duration_field(Scope.AGENCY, "A|B", "+Inf") == "a|A|B|+Inf"
    assert duration_field(Scope.PROVINCE, "", "0") == "r||0"
