"""Closed days and months summed over the partitions (`streams.rollup`), on real Redis.

The figures of a period read the same before and after its counters are rolled up; a roll-up
interrupted between adding and deleting, repeated by a worker that lost the partition, or
done again by a rebuild's generation counts each partition once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from iocmon.domain.batch import Record, decode_batch, dossier_ids, plan_batch
from iocmon.domain.buckets import ALL_TIME, Bucket, cover, day_buckets, prefix_cover
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.streams.keys import RolledKeys, rolled_member
from iocmon.streams.queries import FigureReader
from iocmon.streams.rollup import RollUp
from iocmon.streams.scripts import lua_source
from iocmon.streams.store import BatchStore
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration

TOPIC = "events"
PARTITIONS = 3
HORIZON = timedelta(days=400)
NOW = datetime(2025, 6, 1, tzinfo=LOCAL_TZ)


def _event(dossier: str, seq: int, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": f"{dossier}-{seq}", "dossier_id": dossier, "type": kind,
            "at": at.isoformat(), **fields}  # fmt: skip


def _dossier(name: str, agency: str, received: datetime, days: int) -> list[dict[str, Any]]:
    """Received on `received`, ended `days` calendar days later (early, on time or late)."""
    return [
        _event(name, 1, "received", received, agency=agency, procedure=f"{agency}.01",
               channel="online" if days % 2 else "counter", level="full", processing_days=3),
        _event(name, 2, "resolved", received + timedelta(days=days)),
    ]  # fmt: skip


def _history(partition: int) -> list[dict[str, Any]]:
    """January 2024 in one partition, then one event a year and a half later that moves the
    partition's stream time past the horizon of every day of it."""
    start = datetime(2024, 1, 2, 8, tzinfo=LOCAL_TZ)
    events = []
    for i in range(24):
        agency = ("STP", "SXD", f"P{partition}")[i % 3]
        events += _dossier(f"D{partition}-{i}", agency, start + timedelta(days=i), 1 + i % 9)
    late = datetime(2025, 5, 20, 8, tzinfo=LOCAL_TZ)
    events += _dossier(f"N{partition}", "STP", late, 1)
    return events


async def _apply(store: BatchStore, partition: int, events: list[dict[str, Any]]) -> datetime:
    records = [Record(i, e["dossier_id"].encode(), json.dumps(e).encode())
               for i, e in enumerate(events)]  # fmt: skip
    decoded = decode_batch(records, NOW)
    snapshot = await store.load(partition, dossier_ids(decoded))
    plan = plan_batch(decoded, snapshot.states, load_calendar(None), horizon=HORIZON,
                      stream_time=snapshot.stream_time)  # fmt: skip
    assert await store.apply(partition, snapshot.offset, plan) is not None
    assert plan.stream_time is not None
    return plan.stream_time


async def _figures(reader: FigureReader) -> tuple[Any, ...]:
    """Every figure read from day and month buckets: a month, its days as a series and as a
    range, one agency's procedures."""
    january = cover(datetime(2024, 1, 1, tzinfo=LOCAL_TZ), datetime(2024, 2, 1, tzinfo=LOCAL_TZ),
                    NOW)  # fmt: skip
    days = day_buckets(january.start, january.end)
    ended, received = await reader.period_counts(january)
    daily = await reader.daily(days, None)
    by_day = await reader.period_counts(
        cover(datetime(2024, 1, 2, tzinfo=LOCAL_TZ), datetime(2024, 1, 31, tzinfo=LOCAL_TZ), NOW)
    )
    procedures = await reader.procedures(january, "STP")
    report = await reader.report_counts(  # the report's month, quarter, year and all time
        [prefix_cover(datetime(2024, 2, 1, tzinfo=LOCAL_TZ), NOW),
         prefix_cover(datetime(2025, 1, 1, tzinfo=LOCAL_TZ), NOW), ((ALL_TIME, 1),)]
    )  # fmt: skip
    return ended, received, daily, by_day, procedures, report


def test_rolled_figures_read_the_same_and_each_partition_counts_once(stack: Stack) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, TOPIC)
        reader = FigureReader(client, base, TOPIC, PARTITIONS)
        stream_times = {p: await _apply(store, p, _history(p)) for p in range(PARTITIONS)}
        before = await _figures(reader)
        ended_in_january = sum(1 for i in range(24) if 2 + i + 1 + i % 9 <= 31)
        assert sum(before[0].values()) == 3 * ended_in_january
        assert sum(before[1].values()) == 3 * 24

        # Partition 0 half rolled: its January counts are in the rolled hashes, its own
        # keys not yet deleted (a worker that died in between). Read once, not twice.
        rolled = RolledKeys(base, TOPIC)
        add = client.register_script(lua_source("roll_up.lua"))
        k0 = store.keys(0)
        for day in day_buckets(datetime(2024, 1, 1, tzinfo=LOCAL_TZ),
                               datetime(2024, 2, 1, tzinfo=LOCAL_TZ)):  # fmt: skip
            for own, into in ((k0.ended(day), rolled.ended(day)),
                              (k0.received(day), rolled.received(day))):  # fmt: skip
                fields = await client.hgetall(own)
                if fields:
                    pairs = [x for f, n in fields.items() for x in (f, n)]
                    assert await add(keys=[into], args=[rolled_member(0), *pairs]) == 1
                    assert await add(keys=[into], args=[rolled_member(0), *pairs]) == 0
        assert await _figures(reader) == before

        # Then every partition retires (partition 0 finishing its roll-up), twice over.
        for _ in range(2):
            for p in range(PARTITIONS):
                retired = await store.retire(p, stream_times[p], HORIZON)
                assert not retired.more
        assert await _figures(reader) == before
        day = Bucket("d", "20240105")
        assert not any([await client.exists(store.keys(p).ended(day)) for p in range(PARTITIONS)])
        members = {f for f in await client.hkeys(rolled.received(day)) if f.startswith(b"@")}
        assert members == {b"@0", b"@1", b"@2"}

        # A worker that lost partition 1 and a rebuild's new generation roll it up again.
        zombie = BatchStore(client, base, TOPIC)
        await zombie.retire(1, stream_times[1], HORIZON)
        generation = BatchStore(client, f"{base}:g1", TOPIC, follow=False, base_prefix=base)
        await _apply(generation, 1, _history(1))
        assert (await generation.retire(1, stream_times[1], HORIZON)).rolled > 0
        assert not await client.exists(generation.keys(1).ended(day))
        assert await _figures(reader) == before

        # The month itself is rolled up once it ends a day before the horizon's edge.
        month = Bucket("m", "202401")
        later = datetime(2025, 3, 10, tzinfo=LOCAL_TZ) + HORIZON - timedelta(days=365)
        assert later - HORIZON > datetime(2024, 2, 2, tzinfo=LOCAL_TZ)
        for p in range(PARTITIONS):
            await store.retire(p, max(later, stream_times[p]), HORIZON)
        assert await _figures(reader) == before
        assert not await client.exists(store.keys(0).by_procedure(month))
        assert Counter(await client.hkeys(rolled.by_procedure(month)))[b"@2"] == 1
        assert Counter(await client.hkeys(rolled.report(month)))[b"@2"] == 1
        assert Counter(await client.hkeys(rolled.report(Bucket("q", "2024Q1"))))[b"@2"] == 1
        assert sum(before[5][0].values()) > 0
        await client.aclose()

    asyncio.run(scenario())


def test_a_bucket_still_inside_the_horizon_is_left_in_its_partition(stack: Stack) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, TOPIC)
        start = datetime(2025, 5, 2, 8, tzinfo=LOCAL_TZ)
        stream_time = await _apply(store, 0, _dossier("D", "STP", start, 2))
        rolled = await RollUp(client, RolledKeys(base, TOPIC)).run(
            store.keys(0), (stream_time - HORIZON).timestamp()
        )
        assert rolled == (0, False)
        assert await client.exists(store.keys(0).ended(Bucket("d", "20250504")))
        # 2 days, the month, and the report's quarter and year
        assert await client.zcard(store.keys(0).counter_buckets) == 5
        await client.aclose()

    asyncio.run(scenario())
