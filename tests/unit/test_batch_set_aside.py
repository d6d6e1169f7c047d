"""Dossiers the fold sets aside: a stored state it could not read, an event whose judging
raised. Either goes to the dead-letter topic with its reason; the others are judged."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from iocmon.domain import batch
from iocmon.domain.batch import Record, decode_batch, plan_batch
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import RejectReason

AT = datetime(2025, 6, 2, 8, tzinfo=LOCAL_TZ)
NOW = AT + timedelta(days=1)


def _records(*dossiers: str) -> list[Record]:
    events: list[dict[str, Any]] = [
        {"v": 1, "event_id": f"{d}-1", "dossier_id": d, "type": "received",
         "at": AT.isoformat(), "agency": "STP", "procedure": "STP.01", "channel": "online",
         "level": "full", "processing_days": 3}
        for d in dossiers
    ]  # fmt: skip
    return [
        Record(i, e["dossier_id"].encode(), json.dumps(e).encode()) for i, e in enumerate(events)
    ]


def test_a_quarantined_dossier_is_dead_lettered_and_the_others_judged() -> None:
    decoded = decode_batch(_records("A", "B"), NOW)
    plan = plan_batch(
        decoded, {"B": None}, load_calendar(None), unreadable={"A": "its state does not decode"}
    )
    assert [(d.record.offset, d.reason, d.detail) for d in plan.dead_letters] == [
        (0, RejectReason.UNREADABLE_STATE.value, "its state does not decode")
    ]
    assert set(plan.states) == {"B"}
    assert plan.rejected == {RejectReason.UNREADABLE_STATE.value: 1}
    assert plan.last_offset == 1


def test_an_event_whose_judging_raises_is_dead_lettered_and_the_others_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judge = batch.apply_event

    def broken_for_a(state: Any, event: Any, calendar: Any, field_of: Any) -> Any:
        if event.dossier_id == "A":
            raise ZeroDivisionError("applicant 0912345678")
        return judge(state, event, calendar, field_of)

    monkeypatch.setattr(batch, "apply_event", broken_for_a)
    decoded = decode_batch(_records("A", "B"), NOW)
    plan = plan_batch(decoded, {"A": None, "B": None}, load_calendar(None))
    (dead,) = plan.dead_letters
    assert (dead.record.offset, dead.reason) == (0, RejectReason.JUDGING_FAILED.value)
    assert dead.detail.startswith("ZeroDivisionError")
    assert "0912345678" not in dead.detail  # the type only: a message may quote event values
    assert set(plan.states) == {"B"}
