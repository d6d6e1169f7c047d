"""The truth ledger's `pauses`: what was sent, as the worker will have applied it.

Hand-built dossiers fed record by record, for the paths the simulator's plans never take
(a pause request while paused, a `resumed` with no pause) as well as those it does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.producers.lifecycle_plan import PlannedDossier, PlannedEvent
from iocmon.producers.records import OutRecord, event_record
from iocmon.producers.truth import TruthLedger

DAY = datetime(2024, 3, 25, 8, 0, tzinfo=LOCAL_TZ)  # a Monday


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def text(hours: float) -> str:
    return at(hours).isoformat()


def planned(*steps: tuple[float, str], terminal: str | None = None) -> PlannedDossier:
    """A received dossier whose events are `steps` (hours after Monday 08:00, type)."""
    events = tuple(
        PlannedEvent(at(hours), "000.01.01.H01-240325-0001", seq, kind)
        for seq, (hours, kind) in enumerate(steps, start=1)
    )
    terminal_seq = next((e.seq for e in events if e.type == terminal), None)
    return PlannedDossier(
        dossier_id=events[0].dossier_id,
        agency="AG-A",
        procedure="1.000001",
        channel="counter",
        level="none",
        arrival=next(e.at for e in events if e.type == "received"),
        received=True,
        outcome="early" if terminal else None,
        due_at=at(24 * 3 + 9),
        events=events,
        terminal_seq=terminal_seq,
    )


def line_after(dossier: PlannedDossier, sent: int | None = None) -> dict:
    """The truth line once the first `sent` events (all by default) went out."""
    return line_of(dossier, [event_record(e, personal_data=False) for e in dossier.events[:sent]])


def line_of(dossier: PlannedDossier, records: list[OutRecord]) -> dict:
    ledger = TruthLedger()
    for record in records:
        ledger.record(record, dossier)
    (line,) = ledger.lines()
    return line


def test_no_pause_gives_an_empty_list():
    dossier = planned((0, "received"), (1, "processing"), (30, "resolved"), terminal="resolved")
    assert line_after(dossier)["pauses"] == []


def test_closed_pauses_are_listed_in_order():
    dossier = planned(
        (0, "received"),
        (2, "supplement_requested"),
        (26, "resumed"),
        (27, "fee_requested"),
        (29, "resumed"),
        (30, "resolved"),
        terminal="resolved",
    )
    assert line_after(dossier)["pauses"] == [[text(2), text(26)], [text(27), text(29)]]


def test_a_pause_request_while_paused_extends_the_same_pause():
    dossier = planned(
        (0, "received"),
        (2, "supplement_requested"),
        (5, "fee_requested"),
        (26, "resumed"),
        (30, "resolved"),
        terminal="resolved",
    )
    assert line_after(dossier)["pauses"] == [[text(2), text(26)]]


def test_a_resumed_without_a_pause_changes_nothing():
    dossier = planned(
        (0, "received"),
        (1, "resumed"),
        (2, "fee_requested"),
        (3, "resumed"),
        (4, "resumed"),
        (30, "resolved"),
        terminal="resolved",
    )
    assert line_after(dossier)["pauses"] == [[text(2), text(3)]]


def test_a_pause_open_at_the_terminal_event_is_recorded_as_sent():
    dossier = planned(
        (0, "received"), (2, "supplement_requested"), (50, "stopped"), terminal="stopped"
    )
    line = line_after(dossier)
    assert line["pauses"] == [[text(2), None]] and line["ended_at"] == text(50)


def test_a_dossier_still_paused_when_the_simulator_stopped_has_an_open_pause():
    dossier = planned(
        (0, "received"),
        (2, "supplement_requested"),
        (26, "resumed"),
        (30, "resolved"),
        terminal="resolved",
    )
    line = line_after(dossier, sent=2)
    assert line["pauses"] == [[text(2), None]]
    assert line["outcome"] is None and line["ended_at"] is None


def test_nothing_after_the_terminal_event_counts():
    dossier = planned(
        (0, "received"),
        (30, "resolved"),
        (31, "supplement_requested"),
        (32, "result_returned"),
        terminal="resolved",
    )
    assert line_after(dossier)["pauses"] == []


def test_repeats_change_nothing():
    dossier = planned(
        (0, "received"),
        (2, "supplement_requested"),
        (26, "resumed"),
        (30, "resolved"),
        terminal="resolved",
    )
    received, pause, resumed, resolved = (
        event_record(e, personal_data=False) for e in dossier.events
    )
    repeat = OutRecord(pause.key, pause.value, "duplicate", event=pause.event)
    line = line_of(dossier, [received, pause, resumed, repeat, resolved])
    assert line["pauses"] == [[text(2), text(26)]]
