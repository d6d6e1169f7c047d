"""Hand-worked dossiers in Vietnamese reality, each rule of CONTRACT §2-§3 on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from iocmon.domain.calendar import load_calendar
from iocmon.domain.events import Event, EventType, RecordRejected, RejectReason
from iocmon.domain.judge import OpenState, Outcome, open_clock, open_state
from iocmon.domain.lifecycle import (
    DossierState,
    Ended,
    Ignored,
    IgnoreReason,
    Informational,
    Received,
    Transition,
    apply_event,
)
from iocmon.domain.state_codec import decode_state, encode_state
from tests.unit.hand_events import hand_event, local

CAL = load_calendar()


def ev(kind: EventType, at: str, **fields: object) -> Event:
    return hand_event("H01-0001", kind, at, **fields)


def receive(at: str, days: int | None = None, due: str | None = None) -> Event:
    return ev(
        EventType.RECEIVED,
        at,
        agency="STP",
        procedure="1.001234",
        channel="counter",
        level="none",
        processing_days=days,
        due_at=local(due) if due else None,
    )


def run(*events: Event) -> tuple[DossierState, list[Transition]]:
    state: DossierState | None = None
    steps = []
    for event in events:
        step = apply_event(state, event, CAL)
        steps.append(step)
        state = step.state
    assert state is not None
    return state, steps


def state_at(state: DossierState, at: str) -> OpenState:
    clock = None if state.is_paused else open_clock(state.due_at, state.paused_s, CAL)  # type: ignore[arg-type]
    return open_state(clock, local(at))


def test_received_friday_before_tet_2024_with_five_working_days() -> None:
    # Tết 2024: off Thu 8 Feb to Wed 14 Feb. Working days after Fri 2 Feb:
    # Mon 5, Tue 6, Wed 7, Thu 15, Fri 16 -> due Fri 16 Feb at 17:00.
    state, _ = run(receive("2024-02-02T10:00:00", days=5))
    assert state.due_at == local("2024-02-16T17:00:00")
    assert state_at(state, "2024-02-07T10:00:00") is OpenState.ON_TRACK
    assert state_at(state, "2024-02-15T09:00:00") is OpenState.DUE_SOON
    assert state_at(state, "2024-02-17T00:00:00") is OpenState.OVERDUE


def test_pause_over_a_weekend_moves_the_effective_end_back() -> None:
    # Thu 7 Mar + 2 working days -> due Mon 11 Mar. Paused Fri 16:00 to Mon 16:00 (72 h);
    # resolved Tue 12 Mar 10:00 -> effective end Sat 9 Mar 10:00, before the due date.
    state, steps = run(
        receive("2024-03-07T09:00:00", days=2),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-08T16:00:00"),
        ev(EventType.RESUMED, "2024-03-11T16:00:00"),
        ev(EventType.RESOLVED, "2024-03-12T10:00:00"),
    )
    assert state.due_at == local("2024-03-11T17:00:00")
    assert state.paused_s == 72 * 3600
    assert steps[-1].effect == Ended("STP", Outcome.EARLY, local("2024-03-12T10:00:00"))


def test_two_supplementation_requests_make_an_early_resolution_late() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=10),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T09:00:00"),
        ev(EventType.RESUMED, "2024-03-05T09:00:00"),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-05T10:00:00"),
        ev(EventType.RESUMED, "2024-03-05T11:00:00"),
        ev(EventType.RESOLVED, "2024-03-06T10:00:00"),
    )
    assert state.supplement_requests == 2
    assert state.outcome is Outcome.LATE


def test_resolved_on_the_due_date_after_17h_is_on_time() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=3),
        ev(EventType.RESOLVED, "2024-03-07T19:30:00"),
    )
    assert state.due_at == local("2024-03-07T17:00:00")
    assert state.outcome is Outcome.ON_TIME


def test_rescheduled_after_the_due_date_stays_overdue_then_ends_late() -> None:
    state, _ = run(receive("2024-03-04T08:00:00", days=1))
    assert state.due_at == local("2024-03-05T17:00:00")
    assert state_at(state, "2024-03-06T10:00:00") is OpenState.OVERDUE
    state = apply_event(
        state,
        ev(EventType.RESCHEDULED, "2024-03-06T11:00:00", due_at=local("2024-03-08T17:00:00")),
        CAL,
    ).state
    assert state.alert_due_at == local("2024-03-08T17:00:00")
    assert state_at(state, "2024-03-06T12:00:00") is OpenState.OVERDUE
    state = apply_event(state, ev(EventType.RESOLVED, "2024-03-07T10:00:00"), CAL).state
    assert state.outcome is Outcome.LATE


def test_due_soon_starts_on_the_last_working_day_before_a_monday_due_date() -> None:
    state, _ = run(receive("2024-03-06T08:00:00", due="2024-03-11T17:00:00"))
    assert state_at(state, "2024-03-07T23:59:59") is OpenState.ON_TRACK
    assert state_at(state, "2024-03-08T00:00:00") is OpenState.DUE_SOON
    assert state_at(state, "2024-03-10T12:00:00") is OpenState.DUE_SOON
    assert state_at(state, "2024-03-11T23:59:59") is OpenState.DUE_SOON
    assert state_at(state, "2024-03-12T00:00:00") is OpenState.OVERDUE


def test_a_pause_open_at_the_end_lasts_until_the_terminal_event() -> None:
    # Due Tue 5 Mar; paused from Tue 09:00, resolved Thu 09:00 while still paused: 48 h paused,
    # effective end Tue 09:00 = the due date.
    state, _ = run(
        receive("2024-03-04T08:00:00", days=1),
        ev(EventType.FEE_REQUESTED, "2024-03-05T09:00:00"),
        ev(EventType.RESOLVED, "2024-03-07T09:00:00"),
    )
    assert state.paused_s == 48 * 3600
    assert state.outcome is Outcome.ON_TIME


def test_paused_dossiers_are_paused_whatever_the_date() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=1),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T09:00:00"),
    )
    assert state_at(state, "2024-04-30T09:00:00") is OpenState.PAUSED


def test_withdrawn_and_stopped() -> None:
    withdrawn, _ = run(
        receive("2024-03-04T08:00:00", days=1), ev(EventType.WITHDRAWN, "2024-03-20T08:00:00")
    )
    assert withdrawn.outcome is Outcome.WITHDRAWN
    stopped, _ = run(
        receive("2024-03-04T08:00:00", days=1), ev(EventType.STOPPED, "2024-03-06T08:00:00")
    )
    assert stopped.outcome is Outcome.LATE


def test_result_returned_ends_only_a_dossier_that_has_not_ended() -> None:
    alone, steps = run(
        receive("2024-03-04T08:00:00", days=3), ev(EventType.RESULT_RETURNED, "2024-03-05T08:00:00")
    )
    assert alone.outcome is Outcome.EARLY and isinstance(steps[-1].effect, Ended)
    after, steps = run(
        receive("2024-03-04T08:00:00", days=3),
        ev(EventType.RESOLVED, "2024-03-07T08:00:00"),
        ev(EventType.RESULT_RETURNED, "2024-03-20T08:00:00"),
    )
    assert after.outcome is Outcome.ON_TIME and after.ended_at == local("2024-03-07T08:00:00")
    assert isinstance(steps[-1].effect, Informational)


@pytest.mark.parametrize(
    ("late_event", "reason"),
    [
        (ev(EventType.RESOLVED, "2024-03-09T08:00:00"), IgnoreReason.AFTER_END),
        (ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-09T08:00:00"), IgnoreReason.AFTER_END),
        (receive("2024-03-09T08:00:00", days=1), IgnoreReason.AFTER_END),
    ],
)
def test_events_after_the_end_are_ignored(late_event: Event, reason: IgnoreReason) -> None:
    ended, _ = run(
        receive("2024-03-04T08:00:00", days=3), ev(EventType.RESOLVED, "2024-03-05T08:00:00")
    )
    step = apply_event(ended, late_event, CAL)
    assert step.effect == Ignored(reason)
    assert step.state.outcome is Outcome.EARLY and step.state.ended_at == ended.ended_at


def test_second_received_is_ignored_and_keeps_the_first_due_date() -> None:
    state, steps = run(
        receive("2024-03-04T08:00:00", days=3), receive("2024-03-05T08:00:00", days=10)
    )
    assert steps[-1].effect == Ignored(IgnoreReason.SECOND_RECEIVED)
    assert state.due_at == local("2024-03-07T17:00:00")


def test_duplicate_event_id_changes_nothing_and_is_not_counted() -> None:
    first = receive("2024-03-04T08:00:00", days=3)
    state, _ = run(first)
    step = apply_event(state, first, CAL)
    assert step.state == state and not step.counted
    assert step.effect == Ignored(IgnoreReason.DUPLICATE_EVENT)


def test_resume_without_a_pause_is_ignored() -> None:
    _, steps = run(
        receive("2024-03-04T08:00:00", days=3), ev(EventType.RESUMED, "2024-03-05T08:00:00")
    )
    assert steps[-1].effect == Ignored(IgnoreReason.NOT_PAUSED)


def test_rejected_at_intake_is_never_received() -> None:
    state, steps = run(
        ev(EventType.SUBMITTED, "2024-03-04T07:00:00"),
        ev(EventType.REJECTED_AT_INTAKE, "2024-03-04T08:00:00"),
        receive("2024-03-04T09:00:00", days=3),
    )
    assert state.status == "rejected_at_intake"
    assert steps[-1].effect == Ignored(IgnoreReason.AFTER_REJECTION)
    assert not any(isinstance(s.effect, Received) for s in steps)


def test_submitted_then_received_opens_the_dossier() -> None:
    state, steps = run(
        ev(EventType.SUBMITTED, "2024-03-04T07:00:00"), receive("2024-03-04T09:00:00", days=3)
    )
    assert state.is_open and isinstance(steps[-1].effect, Received)
    assert state.event_count == 2


@pytest.mark.parametrize("kind", [EventType.PROCESSING, EventType.RESOLVED, EventType.RESUMED])
def test_events_for_a_dossier_never_received_are_rejected(kind: EventType) -> None:
    with pytest.raises(RecordRejected) as caught:
        apply_event(None, ev(kind, "2024-03-04T09:00:00"), CAL)
    assert caught.value.reason is RejectReason.UNKNOWN_DOSSIER


def test_transfer_changes_the_handler_but_not_the_agency() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=3),
        ev(EventType.TRANSFERRED, "2024-03-04T10:00:00", handler="STNMT"),
    )
    assert state.handler == "STNMT" and state.agency == "STP"


def test_state_round_trips_through_json() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=3),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T10:00:00"),
        ev(EventType.RESUMED, "2024-03-05T10:00:00"),
        ev(EventType.RESOLVED, "2024-03-06T10:00:00"),
    )
    assert decode_state(state.dossier_id, encode_state(state)) == state


def test_a_pause_that_ends_before_it_began_counts_as_zero() -> None:
    state, _ = run(
        receive("2024-03-04T08:00:00", days=3),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-05T10:00:00"),
        ev(EventType.RESUMED, "2024-03-05T09:00:00"),
    )
    assert state.paused_s == 0 and not state.is_paused
    assert timedelta(seconds=state.paused_s) == timedelta(0)


@pytest.mark.parametrize(
    "kind",
    [
        EventType.RESOLVED,
        EventType.RESULT_RETURNED,
        EventType.WITHDRAWN,
        EventType.PROCESSING,
        EventType.SUPPLEMENT_REQUESTED,
        EventType.RESUMED,
        EventType.RESCHEDULED,
    ],
)
def test_an_event_dated_before_the_receipt_is_rejected(kind: EventType) -> None:
    # CONTRACT 1.1 §4: a `resolved` 500 days before receipt must not end the dossier.
    opened, _ = run(receive("2024-03-04T08:00:00", days=3))
    early = ev(kind, "2022-10-21T08:00:00", due_at=local("2024-03-20T17:00:00"))
    with pytest.raises(RecordRejected) as caught:
        apply_event(opened, early, CAL)
    assert caught.value.reason is RejectReason.BEFORE_RECEIPT
    assert opened.is_open and opened.event_count == 1


def test_a_second_received_dated_before_the_first_is_rejected() -> None:
    opened, _ = run(receive("2024-03-04T08:00:00", days=3))
    with pytest.raises(RecordRejected) as caught:
        apply_event(opened, receive("2024-03-01T08:00:00", days=10), CAL)
    assert caught.value.reason is RejectReason.BEFORE_RECEIPT


def test_an_event_after_the_end_dated_before_the_receipt_is_rejected_too() -> None:
    # The reason must not depend on whether the terminal event arrived first.
    ended, _ = run(
        receive("2024-03-04T08:00:00", days=3), ev(EventType.RESOLVED, "2024-03-05T08:00:00")
    )
    with pytest.raises(RecordRejected) as caught:
        apply_event(ended, ev(EventType.RESULT_RETURNED, "2024-03-04T07:59:59"), CAL)
    assert caught.value.reason is RejectReason.BEFORE_RECEIPT


@pytest.mark.parametrize("kind", [EventType.SUBMITTED, EventType.REJECTED_AT_INTAKE])
def test_pre_receipt_types_dated_before_the_receipt_are_recorded(kind: EventType) -> None:
    opened, _ = run(receive("2024-03-04T08:00:00", days=3))
    step = apply_event(opened, ev(kind, "2024-03-03T08:00:00"), CAL)
    assert isinstance(step.effect, Informational) and step.state.is_open


def test_an_event_at_the_receipt_instant_is_applied() -> None:
    state, steps = run(
        receive("2024-03-04T08:00:00", days=3), ev(EventType.WITHDRAWN, "2024-03-04T08:00:00")
    )
    assert isinstance(steps[-1].effect, Ended) and state.outcome is Outcome.WITHDRAWN
