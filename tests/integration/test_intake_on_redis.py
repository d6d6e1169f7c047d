"""The worker's applier on real Redis, where its fences and its stored states meet.

A write refused because the partition moved on: the batch is planned again and written, and
what its first attempt already sent is not sent again. The worker keeps a partition's open
dossiers in memory; a batch that names only those is planned without reading Redis, so after
`iocmon rebuild` switched the partition (or another writer took it) the first attempt sends
its alerts and dead letters and only then learns, from the refused write, that it planned
against a stale state. Seen in a clean-clone CI run: a dossier that ended right after a
rebuild had its `cleared` alert sent twice.

The at-risk forecast (issue #18) on the same footing: the duration histograms written with
each batch and read back merged, the risk check's `at_risk` alert sent once and recorded in
the state, and the partition's at-risk list.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from iocmon.domain.alerts import Alert, AlertKind, alert_id
from iocmon.domain.batch import DeadLetter, Record
from iocmon.domain.buckets import Bucket
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import RejectReason
from iocmon.domain.histogram import index_of_label
from iocmon.domain.risk import Scope
from iocmon.domain.risk_check import AtRiskItem, months_within
from iocmon.streams.histograms import HistogramCache
from iocmon.streams.intake import BatchApplier
from iocmon.streams.queries import FigureReader
from iocmon.streams.risk_checks import RiskChecks
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


def _received(dossier: str, at: datetime, procedure: str = "STP.01") -> dict[str, Any]:
    days = 5 if procedure != "STP.01" else 3
    return _event(1, "received", at, dossier, agency="STP", procedure=procedure,
                  channel="online", level="full", processing_days=days)  # fmt: skip


class _Sinks:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.letters: list[DeadLetter] = []

    async def send_alerts(self, sent: Sequence[Alert]) -> None:
        self.alerts.extend(sent)

    async def send_letters(self, partition: int, sent: Sequence[DeadLetter]) -> None:
        self.letters.extend(sent)

    def applier(self, store: BatchStore, reader: FigureReader | None = None) -> BatchApplier:
        """With a `reader`, the applier runs risk checks on the histograms it reads."""
        horizon = timedelta(days=400)
        return BatchApplier(
            store,
            load_calendar(None),
            self.send_letters,
            self.send_alerts,
            clock=lambda: NOW,
            rewinder=_NoRewinds(),
            horizon=horizon,
            risk=None if reader is None else RiskChecks(HistogramCache(reader, horizon, 30, 0.0)),
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


def _history(took: int, n: int = 40) -> list[Record]:
    """`n` dossiers of procedure STP.07 received on April 2025's working days (two a day) at
    09:00 with 5 days allowed, each resolved `took` working days later, then one (`Z`)
    withdrawn: as hand-made records of one partition."""
    calendar = load_calendar(None)
    records: list[Record] = []
    day = datetime(2025, 4, 1, 9, tzinfo=LOCAL_TZ)
    for i in range(n):
        while not calendar.is_working_day(day.date()):
            day += timedelta(days=1)
        end = datetime.combine(calendar.add_working_days(day.date(), took), day.timetz())
        dossier = f"H{i}"
        records.append(_record(len(records), _received(dossier, day, "STP.07"), dossier.encode()))
        records.append(_record(len(records), _event(2, "resolved", end, dossier), dossier.encode()))
        day += timedelta(days=i % 2)
    withdrawn = datetime(2025, 5, 2, 9, tzinfo=LOCAL_TZ)
    records.append(_record(len(records), _received("Z", withdrawn, "STP.07"), b"Z"))
    records.append(_record(len(records), _event(2, "withdrawn", withdrawn, "Z"), b"Z"))
    return records


RISKY = datetime(2025, 5, 29, 10, tzinfo=LOCAL_TZ)
"""A Thursday: with 5 days allowed, due Thursday 5 June, due soon from Wednesday 4 June; on
Monday 2 June (NOW) it has survived day 1 of 5 where every dossier of its kind took 7."""


def test_durations_are_written_with_their_batch_once_and_read_back_merged(stack: Stack) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()
    records = _history(took=7)

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        reader = FigureReader(client, base, "events", 1)
        applier = sinks.applier(store)
        half = len(records) // 2
        await applier.apply(PARTITION, records[:half])
        await applier.apply(PARTITION, records[: half + 10])  # a redelivery overlapping it
        await sinks.applier(store).apply(PARTITION, records)  # a restarted worker, the rest
        months = months_within(NOW, timedelta(days=400))
        histories = await reader.histories(months)
        procedure = histories.procedures["STP.07"]
        assert procedure.total == 40 == procedure.counts[index_of_label("7")]
        assert histories.agency_procedures == {("STP", "STP.07"): procedure}
        assert histories.agencies["STP"] == procedure == histories.province
        keys = store.keys(PARTITION)
        assert set(await client.zrange(keys.duration_months, 0, -1)) == {b"202504", b"202505"}

        # Past the horizon, the months go with the partition's other obsolete keys.
        april, may = months[-3:-1]
        horizon = timedelta(days=400)
        await store.retire(PARTITION, datetime(2026, 6, 15, tzinfo=LOCAL_TZ), horizon)
        assert await client.exists(keys.durations(april)) == 0  # ended before the edge
        assert await client.exists(keys.durations(may)) == 1  # 31 May is within the horizon
        await store.retire(PARTITION, datetime(2026, 7, 10, tzinfo=LOCAL_TZ), horizon)
        assert await client.exists(keys.durations(may), keys.duration_months) == 0
        assert (await reader.histories(months)).province.total == 0
        await client.aclose()

    asyncio.run(scenario())


def test_batches_waiting_for_their_partition_are_applied_as_one_plan_in_order(
    stack: Stack,
) -> None:
    """A backlog: batches handed over while their partition's lock is held wait in line, and
    the next holder applies them all as one plan. Redis ends as the same batches applied one
    at a time leave it (but the version, which counts the scripts)."""
    records = _history(took=7)
    cut = [0, 20, 45, 60, len(records)]
    batches = [records[a:b] for a, b in itertools.pairwise(cut)]
    one_by_one, together = (f"t{uuid.uuid4().hex[:10]}" for _ in range(2))
    sinks = _Sinks()
    scripts: list[int] = []

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, one_by_one, "events")
        applier = sinks.applier(store)
        for batch in batches:
            await applier.apply(PARTITION, batch)

        store = BatchStore(client, together, "events")
        write = store.apply

        async def counted(partition: int, *args: Any) -> int | None:
            scripts.append(partition)
            return await write(partition, *args)

        store.apply = counted  # type: ignore[method-assign]
        applier = sinks.applier(store)
        plans = await asyncio.gather(*(applier.apply(PARTITION, b) for b in batches))
        # The first found the lock free and went alone; the three behind it went together.
        assert len(scripts) == 2
        assert plans[1] is plans[2] is plans[3] is not plans[0]
        assert plans[3] is not None and plans[3].last_offset == records[-1].offset
        assert await _contents(client, together) == await _contents(client, one_by_one)
        await client.aclose()

    asyncio.run(scenario())


def test_batches_whose_merged_plan_failed_are_applied_by_the_next_in_line(stack: Stack) -> None:
    records = _history(took=7)
    batches = [records[:20], records[20:45], records[45:]]
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        write = store.apply
        calls: list[int] = []

        async def second_fails(partition: int, *args: Any) -> int | None:
            calls.append(partition)
            if len(calls) == 2:
                raise RuntimeError("a defect")
            return await write(partition, *args)

        store.apply = second_fails  # type: ignore[method-assign]
        applier = sinks.applier(store)
        first, second, third = await asyncio.gather(
            *(applier.apply(PARTITION, b) for b in batches), return_exceptions=True
        )
        assert isinstance(second, RuntimeError)  # the holder of the merged plan
        assert not isinstance(first, BaseException) and first is not None
        assert not isinstance(third, BaseException) and third is not None
        assert third.last_offset == records[-1].offset  # the second batch's records too
        received = [r for r in records[20:] if json.loads(r.value or b"")["type"] == "received"]
        assert third.events["received"] == len(received)
        assert await store.applied_offset(PARTITION) == records[-1].offset
        await client.aclose()

    asyncio.run(scenario())


async def _contents(client: Redis, base: str) -> dict[str, Any]:
    """Every key under `base` (named without it) and what it holds, but the version; hash
    fields at 0 left out (a counter that went up and down in two plans, or not at all in one,
    reads the same)."""
    out: dict[str, Any] = {}
    async for key in client.scan_iter(match=f"{base}:*"):
        name = key.decode().removeprefix(base)
        if name.endswith(":version"):
            continue
        kind = (await client.type(key)).decode()
        if kind == "string":
            out[name] = await client.get(key)
        elif kind == "hash":
            fields = {f: v for f, v in (await client.hgetall(key)).items() if v != b"0"}
            if fields:
                out[name] = fields
        elif kind == "list":
            out[name] = await client.lrange(key, 0, -1)
        elif kind == "set":
            out[name] = sorted(await client.smembers(key))
        else:
            out[name] = await client.zrange(key, 0, -1, withscores=True)
    assert out, f"nothing under {base}"
    return out


def test_one_retire_forgets_the_dossiers_of_every_day_the_horizon_passed(stack: Stack) -> None:
    """A backlog moves a partition's stream time on by days between two batches: one call
    forgets the dossiers that ended on every day the horizon passed, not one day's (which
    let ended states pile up in a replay of three years, and never catch up)."""
    records = _history(took=7)
    ended = {
        doc["dossier_id"]
        for doc in (json.loads(r.value or b"") for r in records)
        if doc["type"] in ("resolved", "withdrawn")
    }
    base = f"t{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        await _Sinks().applier(store).apply(PARTITION, records)
        keys = store.keys(PARTITION)
        days = await client.zcard(keys.ended_days)
        assert days > 10 and await client.exists(*(keys.dossier(d) for d in ended)) == len(ended)
        retired = await store.retire(PARTITION, NOW + timedelta(days=800), timedelta(days=400))
        assert (retired.dossiers, retired.more) == (len(ended), False)
        assert await client.exists(*(keys.dossier(d) for d in ended)) == 0
        assert await client.zcard(keys.ended_days) == 0
        await client.aclose()

    asyncio.run(scenario())


def test_months_written_before_the_agency_procedure_level_are_read_without_it(
    stack: Stack,
) -> None:
    """A month hash written before the level came (fields `p|`, `a|`, `r|` only) reads as
    it is: no histogram of a procedure at an agency, so the forecast falls back to the
    procedure's (the level fills as dossiers end)."""
    base = f"t{uuid.uuid4().hex[:10]}"
    march = Bucket("m", "202603")

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        reader = FigureReader(client, base, "events", 1)
        old = {"p|STP.07|7": 40, "a|STP|7": 40, "r||7": 40}
        await client.hset(store.keys(PARTITION).durations(march), mapping=old)
        histories = await reader.histories([march])
        await client.aclose()
        assert histories.agency_procedures == {}
        assert histories.procedures["STP.07"].total == 40
        basis = histories.basis("STP.07", "STP", min_samples=30)
        assert basis is not None and basis.scope is Scope.PROCEDURE

    asyncio.run(scenario())


def _at_risk_list(raw: dict[bytes, bytes]) -> dict[str, AtRiskItem]:
    return {d.decode(): AtRiskItem.from_json(json.loads(v)) for d, v in raw.items()}


def test_an_at_risk_dossier_is_alerted_once_recorded_listed_and_cleared_at_its_end(
    stack: Stack,
) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()
    records = _history(took=7)
    records.append(_record(len(records), _received("D", RISKY, "STP.07"), b"D"))
    calm = _received("C", RISKY, "STP.03")  # nothing known of STP.03 but the agency's
    records.append(_record(len(records), {**calm, "processing_days": 20}, b"C"))

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        reader = FigureReader(client, base, "events", 1)
        keys = store.keys(PARTITION)
        applier = sinks.applier(store, reader)
        await applier.apply(PARTITION, records)
        assert await applier.check_risks(PARTITION) == 1
        assert await applier.check_risks(PARTITION) == 0
        listed = _at_risk_list(await client.hgetall(keys.at_risk))
        assert list(listed) == ["D"] and listed["D"].risk == 1.0
        state = (await store.load(PARTITION, ["D"])).states["D"]
        assert state is not None and state.alerted == (sinks.alerts[0].alert_id,)

        # Another worker takes the partition: it sweeps, and sends nothing again.
        again = sinks.applier(store, reader)
        await client.hset(keys.at_risk, "GONE", b"{}")  # a stale entry: the sweep drops it
        assert [d for d, _ in await reader.at_risk(NOW)] == ["D"]  # readers skip it
        assert await again.check_risks(PARTITION) == 0
        assert set(_at_risk_list(await client.hgetall(keys.at_risk))) == {"D"}
        assert (await reader.at_risk(NOW))[0][0] == "D"

        resolved = _event(2, "resolved", NOW - timedelta(minutes=5), "D")
        await again.apply(PARTITION, [_record(len(records), resolved, b"D")])
        assert await again.check_risks(PARTITION) == 0
        assert await client.hgetall(keys.at_risk) == {}
        await client.aclose()

    asyncio.run(scenario())
    due = datetime(2025, 6, 5, 17, tzinfo=LOCAL_TZ)
    risk_id = alert_id("D", AlertKind.AT_RISK, due)
    assert [(a.kind, a.alert_id, a.clears) for a in sinks.alerts] == [
        (AlertKind.AT_RISK, risk_id, None),
        (AlertKind.CLEARED, f"{risk_id}:cleared", risk_id),
    ]


def test_a_refused_risk_write_is_planned_again_without_sending_the_alert_twice(
    stack: Stack,
) -> None:
    base = f"t{uuid.uuid4().hex[:10]}"
    sinks = _Sinks()
    records = _history(took=7)
    records.append(_record(len(records), _received("D", RISKY, "STP.07"), b"D"))

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        store = BatchStore(client, base, "events")
        applier = sinks.applier(store, FigureReader(client, base, "events", 1))
        await applier.apply(PARTITION, records)  # D in memory: the sweep reads no state
        await client.incr(store.keys(PARTITION).version)  # another writer, meanwhile
        assert await applier.check_risks(PARTITION) == 0  # sent, then refused
        assert len(sinks.alerts) == 1
        assert await applier.check_risks(PARTITION) == 1  # planned again, written, not resent
        state = (await store.load(PARTITION, ["D"])).states["D"]
        assert state is not None and state.alerted == (sinks.alerts[0].alert_id,)
        await client.aclose()

    asyncio.run(scenario())
    assert [a.kind for a in sinks.alerts] == [AlertKind.AT_RISK]
