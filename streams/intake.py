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
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiokafka.errors import KafkaError
from redis.exceptions import OutOfMemoryError, RedisError

from iocmon.domain.alerts import DEFAULT_POLICY, Alert, AlertPolicy
from iocmon.domain.batch import (
    BatchPlan,
    DeadLetter,
    FieldOf,
    Record,
    decode_batch,
    dossier_ids,
    plan_alert_check,
    plan_batch,
    unknown_field,
)
from iocmon.domain.calendar import WorkingCalendar
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.offsets import unapplied_in_order, until_gap
from iocmon.domain.risk_check import AtRiskItem, Histories, next_sweep, plan_risk_check
from iocmon.streams import metrics
from iocmon.streams.backoff import DEFAULT_BACKOFF, Backoff
from iocmon.streams.partition_memory import PartitionMemory, Recalled, RiskWatch
from iocmon.streams.quarantine import QuarantineLog
from iocmon.streams.risk_checks import RiskChecks, assess_all
from iocmon.streams.sent_ahead import SentAhead
from iocmon.streams.store import BatchStore
from iocmon.streams.unrecorded import noted_clears, read_unrecorded

log = logging.getLogger(__name__)

DeadLetterSink = Callable[[int, Sequence[DeadLetter]], Awaitable[None]]
"""Sends a batch's dead letters and returns once Kafka has them all."""
AlertSink = Callable[[Sequence[Alert]], Awaitable[None]]
RETIRE_EVERY_S = 86_400.0
"""Stream time between two `retire` runs of a partition (days are what it deletes)."""
MERGED_RECORDS = 10_000
"""Records of waiting batches applied as one plan at most (`BatchApplier.apply`)."""


@dataclass(frozen=True, slots=True)
class _Waiting:
    """A batch's records waiting for its partition's lock, and what applied them."""

    records: Sequence[Record]
    applied: asyncio.Future[BatchPlan | None]


class Rewinder(Protocol):
    """The consumer side of gap handling: where a partition's log starts, and seeking."""

    async def earliest(self, partition: int) -> int: ...

    async def seek(self, partition: int, offset: int) -> None: ...


REWIND_EVERY_S = 2.0
Clock = Callable[[], datetime]
SWEEP_LOAD_CHUNK = 1000
"""States a sweep reads from Redis under the partition's lock at a time."""


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
        rewinder: Rewinder,
        horizon: timedelta,
        policy: AlertPolicy = DEFAULT_POLICY,
        backoff: Backoff = DEFAULT_BACKOFF,
        alert_max_age_s: float = 300.0,
        field_of: FieldOf = unknown_field,
        risk: RiskChecks | None = None,
    ) -> None:
        """`risk`: how to forecast the at-risk dossiers (None: no risk checks)."""
        self._store = store
        self._calendar = calendar
        self._dead_letters = dead_letters
        self._alerts = alerts
        self._clock = clock
        self._policy = policy
        self._backoff = backoff
        self._rewinder = rewinder
        self._horizon = horizon
        self._field_of = field_of
        self._alert_max_age_s = alert_max_age_s
        self._last_rewind: dict[int, float] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[int, deque[_Waiting]] = defaultdict(deque)
        self._memory: dict[int, PartitionMemory] = {}
        self._seen: dict[int, int] = {}
        """The last offset of each partition this worker found applied in Redis."""
        self._sent_ahead = SentAhead()
        self._quarantine = QuarantineLog()
        self._risk = risk

    async def apply(self, partition: int, records: Sequence[Record]) -> BatchPlan | None:
        """The plan that applied the records, or None if every record had been applied
        before. Records handed over while the partition's lock was held wait in line, and
        whoever takes the lock next applies them all, in the order they came, as one plan
        (`MERGED_RECORDS`): in a backlog a plan then holds the records of several batches,
        and the counters, states and index entries they share are written once."""
        waiting = _Waiting(records, asyncio.get_running_loop().create_future())
        self._waiting[partition].append(waiting)
        async with self._locks[partition]:
            while not waiting.applied.done():
                await self._apply_waiting(partition)
        return waiting.applied.result()

    async def _apply_waiting(self, partition: int) -> None:
        """Applies the records waiting first in the partition's line, up to `MERGED_RECORDS`
        (at least one batch). Interrupted, it puts back in line the batches it took, for the
        next holder of the lock: applying them again is safe (the offset fence)."""
        line = self._waiting[partition]
        taken = [line.popleft()]
        count = len(taken[0].records)
        while line and count + len(line[0].records) <= MERGED_RECORDS:
            taken.append(line.popleft())
            count += len(taken[-1].records)
        try:
            plan = await self._apply_until_done(
                partition, [record for batch in taken for record in batch.records]
            )
        except BaseException:
            line.extendleft(reversed(taken))
            raise
        memory = self._memory.get(partition)
        if memory is not None:
            self._seen[partition] = max(memory.offset, self._seen.get(partition, -1))
        for batch in taken:
            batch.applied.set_result(plan)

    def forget_partitions(self, keep: Collection[int]) -> None:
        """Drops what is remembered of partitions this worker no longer owns."""
        for partition in set(self._memory) - set(keep):
            del self._memory[partition]
        for partition in set(self._seen) - set(keep):
            del self._seen[partition]
        self._sent_ahead.forget_partitions(keep)

    async def check_alerts(
        self, partition: int, highwater: int | None = None, limit: int = 1000
    ) -> int:
        """Emit the alerts whose thresholds have passed; the number emitted. Alerts go out
        before their thresholds are recorded, so a crash repeats an alert (same id), never
        loses one; a batch applied meanwhile by another worker makes this check a no-op.
        `highwater`: the partition's end offset in Kafka, if known (see `_catching_up`).
        """
        async with self._locks[partition]:
            if await self._moved_on(partition) or await self._catching_up(partition, highwater):
                return 0
            now = self._clock()
            candidates = await self._store.alert_candidates(partition, now, limit)
            if not candidates:
                return 0
            snapshot = await self._store.load(partition, candidates)
            self._quarantine.note(partition, snapshot.unreadable)
            memory = self._memory.get(partition)
            if memory is not None and (memory.offset, memory.version) != (
                snapshot.offset,
                snapshot.version,
            ):
                self._memory.pop(partition, None)
            plan = plan_alert_check(
                snapshot.offset, snapshot.states, now, self._calendar, self._policy
            )
            if not plan.alerts:
                return 0
            await self._send_ahead(partition, plan)
            version = await self._store.apply(partition, snapshot.offset, plan, snapshot.version)
            if version is None:
                self._memory.pop(partition, None)
                return 0
            self._sent_ahead.written(partition, plan)
            if partition in self._memory:
                self._memory[partition].remember(plan, version)
            metrics.ALERTS_EMITTED.inc(len(plan.alerts))
            return len(plan.alerts)

    async def check_risks(self, partition: int, highwater: int | None = None) -> int:
        """Assess the risk of the partition's dossiers changed since the last check, or of
        every on-track one (a sweep: first, then daily at 08:00 local), and write what it
        changes (`domain.risk_check`): `at_risk` alerts, each recorded in its dossier's state
        as the other alerts are, and the partition's at-risk list. The number of alerts sent.

        The forecasts run outside the partition's lock, on the states memory holds, so the
        intake is not held up; a state a batch replaced meanwhile is left for the next check.
        """
        if self._risk is None:
            return 0
        async with self._locks[partition]:
            if await self._moved_on(partition) or await self._catching_up(partition, highwater):
                return 0
            recalled = await self._recall(partition, ())
            if recalled is None:
                return 0
            memory = recalled.memory
        now = self._clock()
        histories = await self._risk.histories.get(now)
        forecast = self._risk.policy
        watch = memory.risk
        taken = set(memory.changed)
        candidates = {d: memory.open_states.get(d) for d in taken}
        sweep = (
            watch is None
            or now >= watch.next_sweep
            or (watch.cold and not histories.cold(forecast.min_samples))
        )
        if sweep:
            on_track = await self._on_track_states(partition, memory, now)
            if on_track is None:
                return 0
            candidates.update(on_track)
            metrics.RISK_SWEEPS.inc()
        assessed = await assess_all(candidates, now, histories, self._calendar, forecast)
        async with self._locks[partition]:
            if self._memory.get(partition) is not memory:
                return 0  # another writer: its next memory sweeps
            current = memory.open_states
            fresh = {d: a for d, a in assessed.items() if current.get(d) is a[0]}
            stale = assessed.keys() - fresh.keys()  # changed meanwhile: assessed next time
            if sweep or watch is None:  # what a former owner left, too
                listed = await self._store.at_risk_list(partition)
            else:
                listed = watch.listed
            plan = plan_risk_check(memory.offset, fresh, listed, now, self._calendar,
                                   self._policy, complete=sweep)  # fmt: skip
            if not (plan.alerts or plan.at_risk_set or plan.at_risk_dropped):
                memory.changed = (memory.changed - taken) | stale
                memory.risk = self._risk_watch(memory, watch, sweep, listed, now, histories)
                return 0
            await self._send_ahead(partition, plan)
            version = await self._store.apply(partition, memory.offset, plan, memory.version)
            if version is None:
                self._memory.pop(partition, None)
                return 0
            self._sent_ahead.written(partition, plan)
            memory.remember(plan, version, changes_risk=False)
            memory.changed = (memory.changed - taken) | stale
            dropped = set(plan.at_risk_dropped)
            listed = {d: item for d, item in listed.items() if d not in dropped}
            listed.update(plan.at_risk_set)
            memory.risk = self._risk_watch(memory, watch, sweep, listed, now, histories)
            metrics.ALERTS_EMITTED.inc(len(plan.alerts))
            return len(plan.alerts)

    def _risk_watch(
        self,
        memory: PartitionMemory,
        watch: RiskWatch | None,
        sweep: bool,
        listed: dict[str, AtRiskItem],
        now: datetime,
        histories: Histories,
    ) -> RiskWatch:
        """What a risk check leaves for the next: the list as written, and when to sweep."""
        if watch is None or sweep:
            assert self._risk is not None
            cold = histories.cold(self._risk.policy.min_samples)
            return RiskWatch(listed, next_sweep(now, self._calendar), cold)
        return RiskWatch(listed, watch.next_sweep, watch.cold)

    async def _on_track_states(
        self, partition: int, memory: PartitionMemory, now: datetime
    ) -> dict[str, DossierState | None] | None:
        """Every on-track open dossier of the partition (a sweep), from memory where it has
        them; those it lacks are read from Redis a chunk at a time under the partition's lock
        and kept in memory. None if another writer moved the partition on meanwhile."""
        ids = await self._store.on_track(partition, now)
        missing = [d for d in ids if d not in memory.open_states]
        for i in range(0, len(missing), SWEEP_LOAD_CHUNK):
            async with self._locks[partition]:
                if self._memory.get(partition) is not memory:
                    return None
                known = memory.open_states
                chunk = [d for d in missing[i : i + SWEEP_LOAD_CHUNK] if d not in known]
                snapshot = await self._store.load(partition, chunk)
                if (snapshot.offset, snapshot.version) != (memory.offset, memory.version):
                    self._memory.pop(partition, None)
                    return None
                self._quarantine.note(partition, snapshot.unreadable)
                for d, state in snapshot.states.items():
                    if state is not None and state.is_open:
                        memory.open_states[d] = state
        states = memory.open_states
        return {d: states.get(d) for d in ids}

    async def _moved_on(self, partition: int) -> bool:
        """Whether Redis is no longer where this worker left the partition. Run on the alert
        timer, so that a partition no record comes to still notices: after Redis lost the
        keys it is read again from the first record Redis lacks (offsets in Redis only go
        back when data is lost)."""
        memory = self._memory.get(partition)
        seen = self._seen.get(partition)
        if memory is None and seen is None:
            return False
        applied = await self._store.applied_offset(partition)
        moved = memory is not None and applied != memory.offset
        if moved:
            del self._memory[partition]
        if seen is not None and applied < seen:
            self._seen[partition] = applied
            await self._rewind(partition, applied + 1)
            return True
        return moved

    async def _catching_up(self, partition: int, highwater: int | None) -> bool:
        """Behind Kafka and applying old events: a catch-up (a backlog, a replay of history,
        a rebuild's self-recovery, a restart after a long stop), in which every dossier still
        open mid-replay looks due or overdue. Alerting them would page people about history,
        so the partition's alerts wait until it is caught up or its stream time (the events'
        own `at`, not when Kafka got them) is recent."""
        if highwater is None:
            return False
        memory = self._memory.get(partition)
        if memory is None:
            snapshot = await self._store.load(partition, ())
            applied, stream_time = snapshot.offset, snapshot.stream_time
        else:
            applied, stream_time = memory.offset, memory.stream_time
        if applied >= highwater - 1:
            return False
        return stream_time is None or (self._clock() - stream_time).total_seconds() > (
            self._alert_max_age_s
        )

    async def _apply_until_done(
        self, partition: int, records: Sequence[Record]
    ) -> BatchPlan | None:
        delays = self._backoff.delays()
        while True:
            try:
                done, plan = await self._apply_once(partition, records)
                metrics.REDIS_FULL.set(0)
                if done:
                    return plan
                metrics.BATCH_CONFLICTS.inc()
                log.info("partition %d moved on while planning; planning again", partition)
            except OutOfMemoryError:
                metrics.REDIS_FULL.set(1)
                delay = delays()
                log.error(
                    "Redis is full (maxmemory reached): intake of partition %d is paused, "
                    "nothing of its batch applied; retrying in %.1fs and resuming by itself "
                    "once memory frees. Raise maxmemory, or lower IOCMON_RETENTION_DAYS so "
                    "fewer ended dossiers are kept (docs: Redis sizing in the README)",
                    partition,
                    delay,
                )
                await asyncio.sleep(delay)
            except RedisError as exc:
                metrics.REDIS_ERRORS.inc()
                delay = delays()
                log.warning(
                    "Redis unreachable while applying partition %d (%s): nothing applied and "
                    "its offsets stay uncommitted; retrying in %.1fs. Check that Redis runs "
                    "and answers at REDIS_URL (iocmon doctor)",
                    partition,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
            except KafkaError as exc:
                delay = delays()
                log.warning(
                    "Kafka error while applying partition %d (%s): nothing applied, retrying "
                    "in %.1fs; check that Kafka answers at KAFKA_BOOTSTRAP_SERVERS",
                    partition,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _recall(self, partition: int, dossier_ids: Collection[str]) -> Recalled | None:
        """The partition's memory and the states of `dossier_ids`, from memory where it has
        them and from Redis for the rest; None if Redis moved on from what memory says."""
        memory = self._memory.get(partition)
        known = memory.open_states if memory is not None else {}
        missing = [d for d in dossier_ids if d not in known]
        states: dict[str, DossierState | None] = {d: known[d] for d in dossier_ids if d in known}
        if memory is not None and not missing:
            return Recalled(memory, states, {})
        snapshot = await self._store.load(partition, missing)
        if memory is None:
            memory = PartitionMemory(snapshot.offset, snapshot.version, snapshot.stream_time)
            memory.unrecorded = await read_unrecorded(
                self._store, partition, self._clock(), self._calendar, self._policy
            )
            self._memory[partition] = memory
        elif (memory.offset, memory.version) != (snapshot.offset, snapshot.version):
            del self._memory[partition]
            return None
        states.update(snapshot.states)
        self._quarantine.note(partition, snapshot.unreadable)
        return Recalled(memory, states, snapshot.unreadable)

    async def _apply_once(
        self, partition: int, records: Sequence[Record]
    ) -> tuple[bool, BatchPlan | None]:
        memory = self._memory.get(partition)
        applied = (
            memory.offset if memory is not None else await self._store.applied_offset(partition)
        )
        fresh = unapplied_in_order(applied, records)
        if not fresh:
            metrics.RECORDS_SKIPPED.inc(len(records))
            return True, None
        if fresh[0].offset > applied + 1:
            if memory is not None:  # perhaps Redis lost data since: look again before seeking
                del self._memory[partition]
                return False, None
            if await self._rewind(partition, applied + 1):
                return True, None
        fresh, gap = until_gap(fresh)
        decoded = decode_batch(fresh, self._clock())
        recalled = await self._recall(partition, dossier_ids(decoded))
        if recalled is None or recalled.memory.offset != applied:
            self._memory.pop(partition, None)
            return False, None
        memory = recalled.memory
        plan = plan_batch(
            decoded,
            recalled.states,
            self._calendar,
            self._policy,
            self._horizon,
            memory.stream_time,
            recalled.unreadable,
            self._field_of,
        )
        if memory.unrecorded:  # after the recorded ones: see `unrecorded`
            plan.alerts.extend(noted_clears(memory.unrecorded, recalled.states, plan, decoded))
        self._quarantine.judging_failed(partition, plan.dead_letters)
        await self._send_ahead(partition, plan)
        with metrics.APPLY_SECONDS.time():
            version = await self._store.apply(partition, applied, plan, memory.version)
        if version is None:
            self._memory.pop(partition, None)
            return False, plan
        self._sent_ahead.written(partition, plan)
        memory.remember(plan, version)
        metrics.RECORDS_APPLIED.inc(len(fresh))
        metrics.RECORDS_SKIPPED.inc(len(records) - len(fresh))
        await self._retire(partition, memory)
        if gap is not None:  # the records past the gap come again after this seek
            log.info(
                "partition %d: offsets missing from %d in a batch; reading again",
                partition,
                gap,
            )
            metrics.REWINDS.inc()
            await self._rewinder.seek(partition, gap)
        return True, plan

    async def _send_ahead(self, partition: int, plan: BatchPlan) -> None:
        """The plan's dead letters and alerts into Kafka before it is written, less those
        this worker sent for an earlier attempt at it (most plans have neither: no call)."""
        letters = self._sent_ahead.unsent_letters(partition, plan.dead_letters)
        alerts = self._sent_ahead.unsent_alerts(partition, plan.alerts)
        sends = [self._dead_letters(partition, letters)] if letters else []
        if alerts:
            sends.append(self._alerts(alerts))
        await asyncio.gather(*sends)
        self._sent_ahead.sent(partition, plan)

    async def _retire(self, partition: int, memory: PartitionMemory) -> None:
        """Deletes what the stream time made obsolete, once a day of stream time or until
        done; what it deletes no figure reads, so it needs no fence."""
        if memory.stream_time is None:
            return
        edge = (memory.stream_time - self._horizon).timestamp()
        if edge < memory.retired_through + RETIRE_EVERY_S:
            return
        retired = await self._store.retire(partition, memory.stream_time, self._horizon)
        metrics.DOSSIERS_FORGOTTEN.inc(retired.dossiers)
        if not retired.more:
            memory.retired_through = edge

    async def _rewind(self, partition: int, wanted: int) -> bool:
        """Records between the last applied one and this batch were never applied: Kafka's
        committed offset ran ahead of Redis (a Redis restart lost its last writes, or Redis
        lost its data), so read the partition again from the first unapplied record. True
        if the batch must be dropped (it will be delivered again after the seek).
        """
        earliest = await self._rewinder.earliest(partition)
        if earliest > wanted:
            log.error(
                "partition %d: records from offset %d are gone from Kafka (log starts at %d); "
                "figures miss them. Keep the events topic's retention unlimited "
                "(retention.ms=-1) and rebuild with `iocmon rebuild`.",
                partition,
                wanted,
                earliest,
            )
            return False
        now = time.monotonic()
        if now - self._last_rewind.get(partition, -REWIND_EVERY_S) >= REWIND_EVERY_S:
            log.warning(
                "partition %d: last applied offset in Redis is %d but Kafka delivered a later "
                "one; reading again from offset %d",
                partition,
                wanted - 1,
                wanted,
            )
            metrics.REWINDS.inc()
            self._last_rewind[partition] = now
            await self._rewinder.seek(partition, wanted)
        return True
