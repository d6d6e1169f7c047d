"""The compact stored state: every field survives, it stays small, and history is bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import orjson
import pytest

from iocmon.domain.alerts import AlertKind, alert_id
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import Event, EventType, RecordRejected, RejectReason
from iocmon.domain.lifecycle import (
    HISTORY_KEPT,
    MAX_EVENTS,
    DossierState,
    Ignored,
    IgnoreReason,
    apply_event,
)
from iocmon.domain.state_codec import StateDecodeError, decode_state, encode_state

CAL = load_calendar()
DOSSIER = "000.00.28.H01-261204-0037"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def event(n: int, kind: EventType, when: str, **fields: object) -> Event:
    return Event(event_id=f"{DOSSIER}-{n}", dossier_id=DOSSIER, type=kind, at=at(when), **fields)  # type: ignore[arg-type]


def received(when: str = "2024-03-04T08:00:00") -> Event:
    return event(
        1, EventType.RECEIVED, when, agency="000.00.28.H01", procedure="1.001234",
        channel="online", level="full", processing_days=5,
    )  # fmt: skip


def fold(*events: Event) -> DossierState:
    state = None
    for e in events:
        state = apply_event(state, e, CAL).state
    assert state is not None
    return state


def round_trip(state: DossierState) -> DossierState:
    return decode_state(state.dossier_id, encode_state(state))


def test_an_ended_dossier_with_pauses_round_trips() -> None:
    state = fold(
        received(),
        event(2, EventType.SUPPLEMENT_REQUESTED, "2024-03-04T10:00:00.250000"),
        event(3, EventType.RESUMED, "2024-03-05T10:00:00"),
        event(4, EventType.TRANSFERRED, "2024-03-05T11:00:00", handler="STNMT"),
        event(5, EventType.RESOLVED, "2024-03-06T10:00:00"),
    )
    assert round_trip(state) == state
    assert round_trip(state).history == state.history


def test_when_a_dossier_became_overdue_survives_a_pause_after_it_and_costs_nothing_else() -> None:
    opened = fold(received())  # due 11 March: overdue from the 12th
    assert round_trip(opened).overdue_from == at("2024-03-12T00:00:00")
    paused = fold(received(), event(2, EventType.FEE_REQUESTED, "2024-03-15T10:00:00"))
    resumed = fold(
        received(),
        event(2, EventType.FEE_REQUESTED, "2024-03-15T10:00:00"),
        event(3, EventType.RESUMED, "2024-03-18T10:00:00"),
    )
    late = fold(received(), event(2, EventType.RESOLVED, "2024-03-13T10:00:00"))
    for state in (paused, resumed, late):
        assert state.overdue_from == at("2024-03-12T00:00:00")
        assert round_trip(state) == state
    in_time = fold(received(), event(2, EventType.RESOLVED, "2024-03-08T10:00:00"))
    assert in_time.overdue_from is None and round_trip(in_time) == in_time
    assert len(orjson.loads(encode_state(opened))) < 20  # derived from the due date
    assert len(orjson.loads(encode_state(resumed))) == 20  # stored: the pause moved nothing


def test_states_of_format_2_read_without_a_field() -> None:
    state = replace(fold(received(), event(2, EventType.TRANSFERRED, "2024-03-05T11:00:00",
                                             handler="STNMT")), field="land")  # fmt: skip
    slots = orjson.loads(encode_state(state))
    assert slots[0] == 3 and slots[16] == "land" and slots[17] == "STNMT"
    written_by_2 = orjson.dumps([2, *slots[1:16], *slots[17:]])
    assert decode_state(DOSSIER, written_by_2) == replace(state, field=None)


def test_alerts_of_the_current_appointment_are_two_bits_and_come_back_as_ids() -> None:
    state = fold(received())
    assert state.due_at is not None
    ids = tuple(alert_id(DOSSIER, k, state.due_at) for k in (AlertKind.DUE_SOON, AlertKind.OVERDUE))
    alerted = replace(state, alerted=ids)
    assert round_trip(alerted).alerted == ids
    foreign = replace(state, alerted=("another-appointment:due_soon",))
    assert round_trip(foreign).alerted == foreign.alerted


def test_a_typical_open_dossier_stores_in_well_under_200_bytes() -> None:
    state = fold(received(), event(2, EventType.PROCESSING, "2024-03-04T09:00:00"))
    blob = encode_state(state)
    assert len(blob) < 200, blob
    assert DOSSIER.encode() not in blob  # the id is in the key, event ids keep their suffix


def test_states_of_the_earlier_object_format_are_still_read() -> None:
    legacy = {
        "dossier_id": DOSSIER, "status": "open", "agency": "A", "procedure": "P",
        "channel": "counter", "level": "none", "received_at": "2024-03-04T08:00:00+07:00",
        "due_at": "2024-03-11T17:00:00+07:00", "alert_due_at": "2024-03-11T17:00:00+07:00",
        "history": [["e1", "received", "2024-03-04T08:00:00+07:00", "received"]],
    }  # fmt: skip
    state = decode_state(DOSSIER, orjson.dumps(legacy))
    assert state.is_open and state.event_count == 1 and state.has_event("e1")


@pytest.mark.parametrize("blob", [b"not json", b"[99, 1]", b"[2]", b'"text"'])
def test_a_state_that_does_not_decode_says_so(blob: bytes) -> None:
    with pytest.raises(StateDecodeError):
        decode_state(DOSSIER, blob)


def test_history_keeps_the_last_entries_and_still_knows_every_event_id() -> None:
    state = fold(
        received(),
        *(event(n, EventType.PROCESSING, "2024-03-04T09:00:00") for n in range(2, 40)),
    )
    assert len(state.history) == HISTORY_KEPT and state.event_count == 39
    assert state.history[-1][0] == f"{DOSSIER}-39"
    for n in (1, 2, 39):  # dropped from history, and kept
        again = apply_event(state, event(n, EventType.PROCESSING, "2024-03-04T09:00:00"), CAL)
        assert again.effect == Ignored(IgnoreReason.DUPLICATE_EVENT) and not again.counted
    assert round_trip(state) == state


def test_a_dossier_accepts_at_most_a_thousand_events() -> None:
    state = fold(
        received(),
        *(event(n, EventType.PROCESSING, "2024-03-04T09:00:00") for n in range(2, MAX_EVENTS + 1)),
    )
    assert state.event_count == MAX_EVENTS
    with pytest.raises(RecordRejected) as caught:
        apply_event(state, event(MAX_EVENTS + 1, EventType.RESOLVED, "2024-03-05T09:00:00"), CAL)
    assert caught.value.reason is RejectReason.TOO_MANY_EVENTS
    repeat = apply_event(state, event(5, EventType.PROCESSING, "2024-03-04T09:00:00"), CAL)
    assert repeat.effect == Ignored(IgnoreReason.DUPLICATE_EVENT)
