"""The working-day measure of the at-risk forecast, on a plain March 2024 (no holidays) and
against the judge itself: a duration beyond the allowance must be exactly a late outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocmon.domain.calendar import due_at_from_processing_days, load_calendar
from iocmon.domain.durations import (
    allowance_of,
    day_number,
    day_of_number,
    duration_of,
    paused_until,
    survived_of,
)
from iocmon.domain.events import Event, EventType
from iocmon.domain.judge import Outcome, judge_outcome
from iocmon.domain.lifecycle import DossierState, apply_event
from tests.unit.hand_events import hand_event, local

CAL = load_calendar()


def ev(kind: EventType, at: str, **fields: object) -> Event:
    return hand_event("D1", kind, at, **fields)


def received(at: str, days: int = 5) -> Event:
    return ev(
        EventType.RECEIVED,
        at,
        agency="STP",
        procedure="1.001234",
        channel="counter",
        level="none",
        processing_days=days,
    )


def run(*events: Event) -> DossierState:
    state: DossierState | None = None
    for event in events:
        state = apply_event(state, event, CAL).state
    assert state is not None
    return state


MONDAY = "2024-03-04T10:00"  # due in 5 working days: Monday 2024-03-11


def test_the_receipt_day_is_day_zero_and_the_due_date_of_n_days_is_day_n() -> None:
    state = run(received(MONDAY))
    assert state.due_at == local("2024-03-11T17:00")
    assert day_number(local(MONDAY), local("2024-03-04T23:59"), CAL) == 0
    assert day_number(local(MONDAY), local("2024-03-08T09:00"), CAL) == 4  # Friday
    assert allowance_of(state, CAL) == 5


def test_a_day_off_counts_as_the_working_day_after_it() -> None:
    # Saturday 9 March is judged with Monday 11 March: on time for a Monday due date.
    assert day_number(local(MONDAY), local("2024-03-09T11:00"), CAL) == 5
    assert day_number(local(MONDAY), local("2024-03-10T11:00"), CAL) == 5


def test_a_dossier_received_on_a_saturday_starts_on_monday() -> None:
    saturday = local("2024-03-09T09:00")
    assert day_number(saturday, saturday, CAL) == 1
    assert day_number(saturday, local("2024-03-12T09:00"), CAL) == 2
    assert day_of_number(saturday, 1, CAL) == local("2024-03-11T00:00").date()


def test_working_days_skip_tet() -> None:
    # Received Wednesday 7 Feb 2024; Tết holidays run 8-14 Feb: the next working day is the 15th.
    assert day_number(local("2024-02-07T09:00"), local("2024-02-15T09:00"), CAL) == 1


def test_the_duration_excludes_pauses() -> None:
    state = run(
        received("2024-03-04T09:00"),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-05T09:00"),
        ev(EventType.RESUMED, "2024-03-07T09:00"),  # 48 hours paused
        ev(EventType.RESOLVED, "2024-03-13T10:00"),  # effective end: Monday 11 March, day 5
    )
    assert state.outcome is Outcome.ON_TIME
    assert duration_of(state, CAL) == 5


def test_a_pause_still_open_at_the_end_is_excluded_too() -> None:
    state = run(
        received("2024-03-04T09:00"),
        ev(EventType.FEE_REQUESTED, "2024-03-06T09:00"),
        ev(EventType.RESOLVED, "2024-03-08T09:00"),  # effective end: Wednesday 6 March
    )
    assert duration_of(state, CAL) == 2


def test_withdrawn_and_open_dossiers_have_no_duration() -> None:
    assert duration_of(run(received(MONDAY)), CAL) is None
    withdrawn = run(received(MONDAY), ev(EventType.WITHDRAWN, "2024-03-06T09:00"))
    assert duration_of(withdrawn, CAL) is None


def test_an_open_dossier_has_survived_the_days_before_today() -> None:
    state = run(received(MONDAY))
    assert survived_of(state, local("2024-03-04T16:00"), CAL) == -1  # may still end today
    assert survived_of(state, local("2024-03-06T08:00"), CAL) == 1  # Wednesday is day 2
    assert survived_of(state, local("2024-03-09T12:00"), CAL) == 4  # Saturday: Friday outlasted


def test_a_running_pause_holds_the_survived_days_back() -> None:
    state = run(received(MONDAY), ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-05T08:00"))
    now = local("2024-03-07T08:00")
    assert paused_until(state, now) == 48 * 3600
    assert survived_of(state, now, CAL) == 0  # effectively Tuesday 08:00


def test_a_dossier_never_received_has_no_allowance() -> None:
    with pytest.raises(ValueError, match="not received"):
        allowance_of(DossierState("D9", "submitted"), CAL)


@given(
    received_minutes=st.integers(0, 60 * 24 * 700),
    processing_days=st.integers(1, 40),
    taken_minutes=st.integers(0, 60 * 24 * 90),
)
def test_late_is_exactly_a_duration_beyond_the_allowance(
    received_minutes: int, processing_days: int, taken_minutes: int
) -> None:
    """Checked against `judge_outcome`, which decides lateness on dates by its own code."""
    received_at = local("2023-06-01T00:00") + timedelta(minutes=received_minutes)
    due_at = due_at_from_processing_days(received_at, processing_days, CAL)
    ended_at = received_at + timedelta(minutes=taken_minutes)
    late = judge_outcome(ended_at=ended_at, paused_s=0, due_at=due_at, supplement_requests=0)
    duration = day_number(received_at, ended_at, CAL)
    allowance = day_number(received_at, due_at, CAL)
    assert allowance == processing_days
    assert (duration > allowance) == (late is Outcome.LATE)
