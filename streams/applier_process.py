"""The worker's second process: it judges and writes while Faust's process consumes.

Faust spends 50-70 µs of CPU on every message before the agent sees it
(docs/faust-cost.md), and judging and writing a record costs about as much again; in one
process they take turns on one CPU. So the `BatchApplier` — the partitions' memory, the
planner and every Redis write of the intake — runs in a process of its own, and the Faust
process hands it each partition's raw records. What needs Faust's clients stays in Faust's
process and is called back over the pipe: producing dead letters and alerts (before the
batch they belong to is applied, as ever) and seeking the consumer.

Nothing about exactly-once changes: the applier applies a batch or not at all, Faust's
process acks the batch's messages only once the applier said it is applied, and the
offset fence in Redis is the same. If either process dies, the other stops (the pipe
ends): Faust's crashes the worker with an error that says so, and the applier exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Collection, Sequence
from typing import Any

from redis.exceptions import RedisError

from iocmon.config import Settings
from iocmon.domain.alerts import AlertPolicy
from iocmon.domain.batch import Record
from iocmon.domain.calendar import load_calendar
from iocmon.domain.procedures import field_keys, load_procedures
from iocmon.domain.risk import ForecastPolicy
from iocmon.redis_connection import AsyncRedis, async_redis
from iocmon.streams import metrics
from iocmon.streams.child_process import LOG_FORMAT, ChildProcess
from iocmon.streams.collector import rare_collections
from iocmon.streams.histograms import HistogramCache
from iocmon.streams.intake import BatchApplier, Rewinder
from iocmon.streams.queries import FigureReader
from iocmon.streams.risk_checks import RiskChecks
from iocmon.streams.rpc import PipeRpc
from iocmon.streams.sinks import KafkaSinks
from iocmon.streams.store import BatchStore

log = logging.getLogger(__name__)

APPLY_TIMEOUT_S = 30.0
"""A batch's script takes milliseconds; a reply this late means Redis is paused or the
connection half-open: the batch fails, is retried after a back-off, and the offset and
version fences make a script that ran after all a no-op the second time."""


class ApplierProcess(ChildProcess):
    """Faust's side: starts the applier process and calls it as it would a `BatchApplier`.
    Started before the agents, which hand it every batch."""

    def __init__(self, settings: Settings, sinks: KafkaSinks, rewinder: Rewinder) -> None:
        super().__init__(
            "applier",
            run_applier,
            settings,
            {
                "dead_letters": sinks.dead_letters,
                "alerts": sinks.alerts,
                "earliest": rewinder.earliest,
                "seek": rewinder.seek,
            },
        )

    def submit(self, partition: int, records: Sequence[Record]) -> asyncio.Future[list[str]]:
        """Hands the records over now (a partition's batches are applied in the order they
        were handed over); the future gives the agency codes of the dossiers they received."""
        # Three lists pickle several times faster than a list of dataclasses.
        offsets = [r.offset for r in records]
        keys = [r.key for r in records]
        values = [r.value for r in records]
        return self.rpc.request("apply", partition, offsets, keys, values)

    async def check_alerts(self, partition: int, highwater: int | None) -> int:
        # What the applier process returns comes untyped through the pipe.
        alerted: int = await self.call("check_alerts", partition, highwater)
        return alerted

    async def check_risks(self, partition: int, highwater: int | None) -> int:
        alerted: int = await self.call("check_risks", partition, highwater)  # untyped: above
        return alerted

    def forget_partitions(self, keep: Collection[int]) -> None:
        if self.is_ready:  # else it has nothing to forget yet
            self.rpc.notify("forget_partitions", sorted(keep))

    async def metrics(self) -> bytes:
        exposition: bytes = await self.call("metrics")
        return exposition


def run_applier(conn: Any, settings: Settings) -> None:
    """The applier process: serves `BatchApplier` until Faust's process goes away. On
    asyncio's own loop: redis-py's async Redis Cluster client lost its connections' writers
    on uvloop here (AttributeError on `writelines`, tests/faults/test_redis_cluster.py)."""
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    with rare_collections():  # the partitions' open dossiers stay in memory
        asyncio.run(_serve(conn, settings))
    os._exit(0)  # the pipe ended: Faust's process stopped; nothing is left to finish


async def _serve(conn: Any, settings: Settings) -> None:
    rpc = PipeRpc(conn, {}, "faust")
    redis = async_redis(settings, timeout_s=APPLY_TIMEOUT_S)
    await _connect(redis)
    applier = BatchApplier(
        BatchStore(redis, settings.redis_prefix, settings.events_topic),
        load_calendar(settings.calendar_file),
        lambda partition, letters: rpc.call("dead_letters", partition, letters),
        lambda alerts: rpc.call("alerts", alerts),
        clock=settings.now,
        rewinder=_RemoteRewinder(rpc),
        horizon=settings.retention,
        policy=AlertPolicy(settings.alert_due_soon_share or None),
        alert_max_age_s=settings.alert_max_event_age_s,
        field_of=field_keys(load_procedures(settings.procedures_file)),
        risk=RiskChecks(
            HistogramCache(
                FigureReader.of(redis, settings),
                settings.retention,
                settings.at_risk_min_samples,
            ),
            ForecastPolicy(settings.at_risk_threshold, settings.at_risk_min_samples),
        ),
    )

    async def apply(
        partition: int, offsets: list[int], keys: list[bytes | None], values: list[bytes | None]
    ) -> list[str]:
        records = list(map(Record, offsets, keys, values))
        plan = await applier.apply(partition, records)
        return sorted({agency for (_, agency, *_rest) in plan.received}) if plan else []

    async def forget_partitions(keep: list[int]) -> None:
        applier.forget_partitions(keep)

    async def ready() -> bool:
        return True

    async def render() -> bytes:
        return metrics.render_applier()

    rpc.serve(
        apply=apply,
        check_alerts=applier.check_alerts,
        check_risks=applier.check_risks,
        forget_partitions=forget_partitions,
        metrics=render,
        ready=ready,
    )
    rpc.start()
    await rpc.closed.wait()


async def _connect(redis: AsyncRedis) -> None:
    """One round trip before the partitions' batches run side by side: redis-py's Redis
    Cluster client, set up by several first commands at once, handed one of them a
    connection without a writer (AttributeError on `writelines`). Redis down at start is
    waited out by the batches' own retries."""
    try:
        await redis.ping()
    except RedisError as exc:
        log.warning("Redis does not answer yet (%s); batches retry until it does", exc)


class _RemoteRewinder:
    def __init__(self, rpc: PipeRpc) -> None:
        self._rpc = rpc

    async def earliest(self, partition: int) -> int:
        # What Faust's process returns comes untyped through the pipe.
        offset: int = await self._rpc.call("earliest", partition)
        return offset

    async def seek(self, partition: int, offset: int) -> None:
        await self._rpc.call("seek", partition, offset)
