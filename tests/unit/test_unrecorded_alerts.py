"""An alert sent by a check whose write never landed (kill -9 in between, or a write refused),
then the dossier's end applied by the next owner from Redis before its own check: the end
must clear that alert too (`iocmon.streams.unrecorded`). Before, it cleared only the alerts
the state recorded, and the overdue alert stayed active at Alertmanager for a dossier long
ended (tests/faults/test_crashes.py, 'not wanted [(DossierOverdue, …)]').

The applier runs on an in-memory stand-in of its store: the offset and version fence, the
states, and the alert candidates (every open dossier: the check filters them).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from iocmon.domain.alerts import DEFAULT_POLICY, Alert, AlertKind
from iocmon.domain.batch import BatchPlan, DeadLetter, Record
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.lifecycle import DossierState
from iocmon.streams.intake import BatchApplier
from iocmon.streams.store import Snapshot
from iocmon.streams.unrecorded import forget_written, unrecorded

NOW = datetime(2025, 6, 2, 10, tzinfo=LOCAL_TZ)
RECEIVED = datetime(2025, 5, 5, 8, tzinfo=LOCAL_TZ)  # 3 working days: overdue at NOW
P = 0


class Killed(Exception):
    """The worker died between sending a plan's alerts and writing the plan."""


@dataclass
class _Retired:
    dossiers: int = 0
    more: bool = False


class FakeStore:
    """What BatchApplier uses of `BatchStore`, in memory."""

    def __init__(self) -> None:
        self.offset = -1
        self.version = 0
        self.stream_time: datetime | None = None
        self.states: dict[str, DossierState] = {}
        self.die_at_next_write = False

    async def applied_offset(self, partition: int) -> int:
        return self.offset

    async def load(self, partition: int, dossier_ids: Iterable[str]) -> Snapshot:
        states = {d: self.states.get(d) for d in dossier_ids}
        return Snapshot(self.offset, self.version, self.stream_time, states)

    async def alert_candidates(self, partition: int, now: datetime, limit: int) -> list[str]:
        return [d for d, s in self.states.items() if s.is_open][:limit]

    async def apply(self, partition: int, offset: int, plan: BatchPlan, version: int) -> int | None:
        if self.die_at_next_write:
            self.die_at_next_write = False
            raise Killed
        if (offset, version) != (self.offset, self.version):
            return None
        self.states.update(plan.states)
        self.offset = plan.last_offset
        if plan.stream_time is not None:
            self.stream_time = plan.stream_time
        self.version += 1
        return self.version

    async def retire(self, partition: int, stream_time: datetime, horizon: timedelta) -> _Retired:
        return _Retired()


class _NoRewinds:
    async def earliest(self, partition: int) -> int:
        return 0

    async def seek(self, partition: int, offset: int) -> None:
        raise AssertionError(f"unexpected seek of partition {partition} to {offset}")


class Sent:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def alerts_out(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    async def letters_out(self, partition: int, letters: Sequence[DeadLetter]) -> None:
        pass

    def worker(self, store: FakeStore) -> BatchApplier:
        return BatchApplier(
            store,  # type: ignore[arg-type]
            load_calendar(None),
            self.letters_out,
            self.alerts_out,
            clock=lambda: NOW,
            rewinder=_NoRewinds(),
            horizon=timedelta(days=400),
        )

    def about(self, dossier: str) -> list[tuple[str, str]]:
        return [(a.kind.value, a.alert_id) for a in self.alerts if a.dossier_id == dossier]


def _record(offset: int, dossier: str, kind: str, at: datetime, **fields: Any) -> Record:
    event = {"v": 1, "event_id": f"{dossier}-{kind}", "dossier_id": dossier, "type": kind,
             "at": at.isoformat(), **fields}  # fmt: skip
    return Record(offset, dossier.encode(), json.dumps(event).encode())


def _received(offset: int, dossier: str) -> Record:
    return _record(offset, dossier, "received", RECEIVED, agency="STP", procedure="STP.01",
                   channel="online", level="full", processing_days=3)  # fmt: skip


def _killed_after_sending_overdue(store: FakeStore, sent: Sent, *dossiers: str) -> None:
    """A worker applies the dossiers' receipt, its check sends their overdue alerts, and it
    dies before writing that it did."""

    async def run() -> None:
        worker = sent.worker(store)
        await worker.apply(P, [_received(i, d) for i, d in enumerate(dossiers)])
        store.die_at_next_write = True
        with pytest.raises(Killed):
            await worker.check_alerts(P)

    asyncio.run(run())
    assert [a.kind.value for a in sent.alerts] == ["overdue"] * len(dossiers)
    assert all(not s.alerted for s in store.states.values())  # never recorded


def test_an_end_in_the_next_owners_backlog_clears_the_alert_sent_before_the_kill() -> None:
    store, sent = FakeStore(), Sent()
    _killed_after_sending_overdue(store, sent, "A")
    overdue = sent.about("A")[0][1]

    async def replacement() -> None:  # the backlog first: the end, before any check
        await sent.worker(store).apply(P, [_record(1, "A", "resolved", NOW - timedelta(hours=1))])

    asyncio.run(replacement())
    due_soon = overdue.replace(":overdue:", ":due_soon:")
    # The due-soon alert is cleared too: whether a check sent it before, nothing tells.
    assert sent.about("A")[1:] == [
        ("cleared", f"{due_soon}:cleared"),
        ("cleared", f"{overdue}:cleared"),
    ]
    cleared = sent.alerts[-1]
    assert (cleared.clears, cleared.state_at) == (overdue, NOW - timedelta(hours=1))


def test_a_reschedule_in_the_backlog_clears_it_too() -> None:
    store, sent = FakeStore(), Sent()
    _killed_after_sending_overdue(store, sent, "A")
    overdue = sent.about("A")[0][1]
    later = (NOW + timedelta(days=20)).isoformat()

    async def replacement() -> None:
        await sent.worker(store).apply(P, [_record(1, "A", "rescheduled", NOW, due_at=later)])

    asyncio.run(replacement())
    assert sent.about("A")[-1] == ("cleared", f"{overdue}:cleared")


def test_an_alert_the_next_owner_sends_again_is_cleared_once_at_the_end() -> None:
    store, sent = FakeStore(), Sent()
    _killed_after_sending_overdue(store, sent, "A", "B")

    async def replacement() -> None:
        worker = sent.worker(store)
        await worker.apply(P, [_record(2, "B", "transferred", NOW, handler="h2")])
        assert await worker.check_alerts(P) == 2  # both sent again, same ids, recorded
        await worker.apply(P, [_record(3, "A", "resolved", NOW), _record(4, "B", "resolved", NOW)])

    asyncio.run(replacement())
    ids = Counter(a.alert_id for a in sent.alerts)
    assert sorted(a.kind.value for a in sent.alerts) == ["cleared"] * 2 + ["overdue"] * 4
    assert [i for i, n in ids.items() if n > 1 and i.endswith(":cleared")] == []


def test_the_note_keeps_what_a_write_did_not_settle() -> None:
    store, sent = FakeStore(), Sent()
    _killed_after_sending_overdue(store, sent, "A")
    state = store.states["A"]
    noted = unrecorded({"A": state, "gone": None}, NOW, load_calendar(None), DEFAULT_POLICY)
    overdue = sent.about("A")[0][1]
    assert noted["A"][-1] == overdue and set(noted) == {"A"}
    forget_written(noted, {"A": replace(state, handler="h2")})
    assert noted["A"][-1] == overdue
    forget_written(noted, {"A": replace(state, alerted=(overdue,))})
    assert noted == {}
    assert unrecorded({"A": replace(state, alerted=(overdue,))}, NOW, load_calendar(None),
                      DEFAULT_POLICY) == {}  # fmt: skip
    assert AlertKind.OVERDUE.value in overdue
