"""The worker's applier on real Redis, where its fences and its stored states meet.

A write refused because the partition moved on: the batch is planned again and written, and
what its first attempt already sent is not sent again. The worker keeps a partition's open
dossiers in memory; a batch that names only those is planned without reading Redis, so after
`iocmon rebuild` switched the partition (or another writer took it) the first attempt sends
its alerts and dead letters and only then learns, from the refused write, that it planned
against a stale state. Seen in a clean-clone CI run: a dossier that ended right after a
rebuild had its `cleared` alert sent twice.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from iocmon.domain.alerts import Alert, AlertKind
from iocmon.domain.batch import DeadLetter, Record
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import RejectReason
from iocmon.streams.intake import BatchApplier
from iocmon.streams.store import BatchStore
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 2, 10, tzinfo=LOCAL_TZ)
PARTITION = 0


class _NoRewinds:
    async def earliest(self, partition: int) -> int:
        return 0

    async def seek(self, partition: int, offset: int) -> None:
        raise AssertionError(f"unexpected seek of partition {partition} to {offset}")


def _record(offset: int, event: dict[str, Any] | None, key: bytes = b"A") -> Record:
    value = b"{not json" if event is None else json.dumps(event).encode()
    return Record(offset, key, value)


def _event(seq: int, kind: str, at: datetime, dossier: str = "A", **fields: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": f"{dossier}-{seq}", "dossier_id": dossier, "type": kind,
            "at": at.isoformat(), **fields}  # fmt: skip


def _received(dossier: str, at: datetime) -> dict[str, Any]:
    return _event(1, "received", at, dossier, agency="STP", procedure="STP.01",
                  channel="online", level="full", processing_days=3)  # fmt: skip


class _Sinks:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.letters: list[DeadLetter] = []

    async def send_alerts(self, sent: Sequence[Alert]) -> None:
        self.alerts.extend(sent)

    async def send_letters(self, partition: int, sent: Sequence[DeadLetter]) -> None:
        self.letters.extend(sent)

    def applier(self, store: BatchStore) -> BatchApplier:
        return BatchApplier(
            store,
            load_calendar(None),
            self.send_letters,
            self.send_alerts,
            clock=lambda: NOW,
            rewinder=_NoRewinds(),
            horizon=timedelta(days=400),
        )


def test_a_refused_write_is_planned_again_without_sending_twice(stack: Stack) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        applier = sinks.applier(store)
        received = datetime(2025, 5, 5, 8, tzinfo=LOCAL_TZ)
        await applier.apply(PARTITION, [_record(0, _received("A", received)), _record(1, None)])
        assert await applier.check_alerts(PARTITION) > 0
        overdue = [a for a in sinks.alerts if a.kind is AlertKind.OVERDUE]
        assert len(overdue) == 1, sinks.alerts
        # Another writer (a rebuild's switch) moves the partition's version on.
        await client.incr(store.keys(PARTITION).version)
        await applier.apply(PARTITION, [
            _record(2, _event(2, "resolved", NOW - timedelta(hours=1))),
            _record(3, None),
        ])  # fmt: skip
        assert await store.applied_offset(PARTITION) == 3
        await client.aclose()

    asyncio.run(scenario())
    ids = Counter(a.alert_id for a in sinks.alerts)
    assert [i for i, n in ids.items() if n > 1] == []
    assert f"{sinks.alerts[0].alert_id}:cleared" in ids
    assert sorted(d.record.offset for d in sinks.letters) == [1, 3]


def test_a_dossier_whose_state_does_not_decode_is_set_aside_and_the_partition_goes_on(
    stack: Stack,
) -> None:
    """A state another version wrote (or a corrupted one) must not stop the partition: the
    dossier's records are dead-lettered `unreadable_state`, every other dossier is applied."""
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()
    received = datetime(2025, 6, 2, 8, tzinfo=LOCAL_TZ)

    async def scenario() -> tuple[int, Any, Any]:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        await sinks.applier(store).apply(PARTITION, [
            _record(0, _received("A", received)),
            _record(1, _received("B", received), b"B"),
        ])  # fmt: skip
        await client.set(store.keys(PARTITION).dossier("A"), b'["a format from elsewhere"]')
        # A worker that starts now knows only Redis (no states in memory).
        await sinks.applier(store).apply(PARTITION, [
            _record(2, _event(2, "resolved", NOW - timedelta(hours=1))),
            _record(3, _event(2, "resolved", NOW - timedelta(hours=1), "B"), b"B"),
            _record(4, _received("C", received), b"C"),
        ])  # fmt: skip
        applied = await store.applied_offset(PARTITION)
        b, c = (await store.load(PARTITION, ["B", "C"])).states.values()
        await client.aclose()
        return applied, b, c

    applied, b, c = asyncio.run(scenario())
    assert applied == 4
    assert [(d.record.offset, d.reason) for d in sinks.letters] == [
        (2, RejectReason.UNREADABLE_STATE.value)
    ]
    assert "does not decode" in sinks.letters[0].detail
    assert b is not None and b.status == "ended"
    assert c is not None and c.status == "open"
