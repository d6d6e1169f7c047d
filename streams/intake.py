"""Applies batches of `dossier-events` records: decode → plan (pure) → dead-letter → store.

Kafka delivers at least once; exactly-once *effects* come from the store: each partition's
batch is applied with its last offset in one atomic script, records at or below the applied
offset are skipped, and a batch planned against a stale offset is planned again from the
current state. Dead letters are produced before the batch is applied, so a crash in between
can repeat a dead letter (each carries its source offset) but never lose one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from iocmon.domain.alerts import DEFAULT_POLICY, Alert, AlertPolicy
from iocmon.domain.batch import (
    BatchPlan,
    DeadLetter,
    Record,
    decode_batch,
    dossier_ids,
    plan_alert_check,
    plan_batch,
)
from iocmon.domain.calendar import WorkingCalendar
from streams import metrics
from streams.store import BatchStore

log = logging.getLogger(__name__)

DeadLetterSink = Callable[[int, DeadLetter], Awaitable[None]]
AlertSink = Callable[[Alert], Awaitable[None]]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 0.2
    max_s: float = 10.0

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    def __init__(self, backoff: Backoff) -> None:
        self._next = backoff.first_s
        self._max = backoff.max_s

    def __call__(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._max)
        return delay


class BatchApplier:
    """Applies one partition's records, retrying until they are applied (never skipping),
    and checks its alert thresholds; both under one lock per partition, so a check never
    interleaves with a batch of the same partition in this worker.
    """

    def __init__(
        self,
        store: BatchStore,
        calendar: WorkingCalendar,
        dead_letters: DeadLetterSink,
        alerts: AlertSink,
        clock: Clock,
        policy: AlertPolicy = DEFAULT_POLICY,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._store = store
        self._calendar = calendar
        self._dead_letters = dead_letters
        self._alerts = alerts
        self._clock = clock
        self._policy = policy
        self._backoff = backoff
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def apply(self, partition: int, records: Sequence[Record]) -> BatchPlan | None:
        """The plan that was applied, or None if every record had been applied before."""
        async with self._locks[partition]:
            return await self._apply_until_done(partition, records)

    async def check_alerts(self, partition: int, limit: int = 1000) -> int:
        """Emit the alerts whose thresholds have passed; the number emitted. Alerts go out
        before their thresholds are recorded, so a crash repeats an alert (same id), never
        loses one; a batch applied meanwhile by another worker makes this check a no-op.
        """
        async with self._locks[partition]:
            now = self._clock()
            applied = await self._store.applied_offset(partition)
            candidates = await self._store.alert_candidates(partition, now, limit)
            if not candidates:
                return 0
            offset, states = await self._store.load(partition, candidates)
            if offset != applied:
                return 0
            plan = plan_alert_check(offset, states, now, self._calendar, self._policy)
            for alert in plan.alerts:
                await self._alerts(alert)
            if not await self._store.apply(partition, offset, plan):
                return 0
            metrics.ALERTS_EMITTED.inc(len(plan.alerts))
            return len(plan.alerts)

    async def _apply_until_done(
        self, partition: int, records: Sequence[Record]
    ) -> BatchPlan | None:
        delays = self._backoff.delays()
        while True:
            try:
                done, plan = await self._apply_once(partition, records)
                if done:
                    return plan
                metrics.BATCH_CONFLICTS.inc()
                log.info("partition %d moved on while planning; planning again", partition)
            except (RedisError, KafkaError) as exc:
                metrics.REDIS_ERRORS.inc()
                delay = delays()
                log.warning(
                    "Redis or Kafka error on partition %d (%s): nothing applied, retrying in "
                    "%.1fs; check that Redis answers at REDIS_URL and Kafka at "
                    "KAFKA_BOOTSTRAP_SERVERS",
                    partition,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _apply_once(
        self, partition: int, records: Sequence[Record]
    ) -> tuple[bool, BatchPlan | None]:
        applied = await self._store.applied_offset(partition)
        fresh = [r for r in records if r.offset > applied]
        if not fresh:
            metrics.RECORDS_SKIPPED.inc(len(records))
            return True, None
        decoded = decode_batch(fresh, self._clock())
        planned_against, states = await self._store.load(partition, dossier_ids(decoded))
        if planned_against != applied:
            return False, None
        plan = plan_batch(decoded, states, self._calendar, self._policy)
        for dead in plan.dead_letters:
            await self._dead_letters(partition, dead)
        for alert in plan.alerts:
            await self._alerts(alert)
        with metrics.APPLY_SECONDS.time():
            done = await self._store.apply(partition, planned_against, plan)
        if done:
            metrics.RECORDS_APPLIED.inc(len(fresh))
            metrics.RECORDS_SKIPPED.inc(len(records) - len(fresh))
        return done, plan
