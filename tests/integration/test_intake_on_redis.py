"""A write refused because the partition moved on, on real Redis: the batch is planned again
and written, and what its first attempt already sent is not sent again.

The worker keeps a partition's open dossiers in memory; a batch that names only those is
planned without reading Redis, so after `iocmon rebuild` switched the partition (or another
writer took it) the first attempt sends its alerts and dead letters and only then learns, from
the refused write, that it planned against a stale state. Seen in a clean-clone CI run: a
dossier that ended right after a rebuild had its `cleared` alert sent twice.
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
from streams.intake import BatchApplier
from streams.store import BatchStore
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 2, 10, tzinfo=LOCAL_TZ)
PARTITION = 0


class _NoRewinds:
    async def earliest(self, partition: int) -> int:
        return 0

    async def seek(self, partition: int, offset: int) -> None:
        raise AssertionError(f"unexpected seek of partition {partition} to {offset}")


def _record(offset: int, event: dict[str, Any] | None) -> Record:
    value = b"{not json" if event is None else json.dumps(event).encode()
    return Record(offset, b"A", value)


def _event(seq: int, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": f"A-{seq}", "dossier_id": "A", "type": kind,
            "at": at.isoformat(), **fields}  # fmt: skip


def test_a_refused_write_is_planned_again_without_sending_twice(stack: Stack) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"
    alerts: list[Alert] = []
    letters: list[int] = []

    async def send_alerts(sent: Sequence[Alert]) -> None:
        alerts.extend(sent)

    async def send_letters(partition: int, sent: Sequence[DeadLetter]) -> None:
        letters.extend(d.record.offset for d in sent)

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        applier = BatchApplier(
            store,
            load_calendar(None),
            send_letters,
            send_alerts,
            clock=lambda: NOW,
            rewinder=_NoRewinds(),
            horizon=timedelta(days=400),
        )
        received = datetime(2025, 5, 5, 8, tzinfo=LOCAL_TZ)
        await applier.apply(PARTITION, [
            _record(0, _event(1, "received", received, agency="STP", procedure="STP.01",
                              channel="online", level="full", processing_days=3)),
            _record(1, None),
        ])  # fmt: skip
        assert await applier.check_alerts(PARTITION) > 0
        overdue = [a for a in alerts if a.kind is AlertKind.OVERDUE]
        assert len(overdue) == 1, alerts
        # Another writer (a rebuild's switch) moves the partition's version on.
        await client.incr(store.keys(PARTITION).version)
        await applier.apply(PARTITION, [
            _record(2, _event(2, "resolved", NOW - timedelta(hours=1))),
            _record(3, None),
        ])  # fmt: skip
        assert await store.applied_offset(PARTITION) == 3
        await client.aclose()

    asyncio.run(scenario())
    ids = Counter(a.alert_id for a in alerts)
    assert [i for i, n in ids.items() if n > 1] == []
    assert f"{alerts[0].alert_id}:cleared" in ids
    assert sorted(letters) == [1, 3]
