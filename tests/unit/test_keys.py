"""Hash fields that hold two free-text codes must split back into the same codes."""

from __future__ import annotations

import pytest
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


SINGLE_CODE_SCOPES = [s for s in Scope if s is not Scope.AGENCY_PROCEDURE]


@given(code=st.text(max_size=64), scope=st.sampled_from(SINGLE_CODE_SCOPES))
def test_duration_field_round_trips_any_code(code: str, scope: Scope) -> None:
    for label in LABELS:
        assert parse_duration_field(duration_field(scope, code, label)) == (scope, code, label)


@given(agency=codes, procedure=codes)
def test_agency_procedure_duration_field_round_trips_any_codes(agency: str, procedure: str) -> None:
    scope = Scope.AGENCY_PROCEDURE
    for label in LABELS:
        field = duration_field(scope, (agency, procedure), label)
        assert parse_duration_field(field) == (scope, (agency, procedure), label)


def test_agency_procedure_fields_with_bars_in_either_code_stay_apart() -> None:
    scope = Scope.AGENCY_PROCEDURE
    pairs = [("A", "X|P"), ("A|X", "P"), ("A|", "|P"), ("|", "|"), ("A%7CX", "P"), ("%", "|%|")]
    fields = [duration_field(scope, pair, "7") for pair in pairs]
    assert len(set(fields)) == len(pairs)
    assert [parse_duration_field(f) for f in fields] == [(scope, pair, "7") for pair in pairs]
    assert fields[:2] == ["ap|A|X%7CP|7", "ap|A%7CX|P|7"]


def test_an_agency_procedure_subject_is_a_pair_and_the_others_one_code() -> None:
    with pytest.raises(TypeError):
        duration_field(Scope.AGENCY_PROCEDURE, "A|P", "7")
    with pytest.raises(TypeError):
        duration_field(Scope.PROCEDURE, ("A", "P"), "7")
    with pytest.raises(ValueError, match="not a duration histogram field"):
        parse_duration_field("ap|A|X|P|7")  # an unescaped bar: not written by duration_field


def test_duration_fields_say_their_scope_first() -> None:
    assert duration_field(Scope.PROCEDURE, "1.001", "7") == "p|1.001|7"
    assert duration_field(Scope.AGENCY, "A|B", "+Inf") == "a|A|B|+Inf"
    assert duration_field(Scope.PROVINCE, "", "0") == "r||0"
    assert duration_field(Scope.AGENCY_PROCEDURE, ("VPDKDD", "1.001"), "7") == "ap|VPDKDD|1.001|7"
