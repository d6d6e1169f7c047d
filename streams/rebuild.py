"""`iocmon rebuild`: every Redis figure computed again from the full history in Kafka.

For after Redis lost data, or after a change of the judging rules. The live worker keeps
running and the live view keeps answering throughout; figures switch to the rebuilt ones
partition by partition, each switch one atomic script (see `streams.generations`):

1. A fresh generation `<redis_prefix>:g<unix time>` is built by reading every partition of
   the events topic from its beginning (`streams.history`: manual assignment, no group, no
   commits) and folding it with the same pure planner the worker uses, all of a partition
   in memory (`Fold`), then writing it with the worker's `BatchStore`: each dossier's state
   and index entries once, each counter once, instead of once per batch. Dead letters and
   alerts are not produced again (the worker produced them live), but the rejected and
   ignored counters are rebuilt. The alerts already sent are carried over from the live
   states of the dossiers still open, so the worker neither sends them again nor forgets
   to clear them.
2. A partition is ready when the rebuild has applied exactly the records the live pipeline
   has processed: up to the live generation's offset, or the worker group's committed offset
   if that is further (Redis lost the keys). Never further: the worker makes the dead letters
   and alerts of the records it processes, and after the switch it skips every record the
   new generation holds, so records no worker has seen yet are left to it. `switch.lua` then
   turns the live offset key into `moved:<new prefix>`; if the live worker got ahead
   meanwhile, the rebuild reads on to where it is and tries again. The live worker follows
   the marker at its next batch and continues in the new generation.
3. When every partition has switched, the pointer `<redis_prefix>:generation` names the new
   prefix. With `--delete-old` the old generation's keys are deleted, except its offset keys
   (the `moved:` signposts, one per partition).

The agency label set (`<redis_prefix>:agency-labels`) is not per generation; the rebuild
adds the codes it sees (existing codes keep their first-seen order).
"""

from __future__ import annotations

import asyncio
import re
import time
from bisect import bisect_right
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from operator import attrgetter

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.alerts import AlertPolicy
from iocmon.domain.batch import (
    BatchPlan,
    Fold,
    Record,
    alert_candidates,
    decode_batch,
    dossier_ids,
)
from iocmon.domain.calendar import WorkingCalendar, load_calendar
from iocmon.domain.procedures import field_keys, load_procedures
from iocmon.errors import IocmonError
from iocmon.redis_connection import AsyncRedis, async_redis
from iocmon.streams.collector import rare_collections
from iocmon.streams.generations import pointer_key
from iocmon.streams.history import PartitionReader
from iocmon.streams.labels import AgencyLabels
from iocmon.streams.partition_count import check_and_record
from iocmon.streams.partition_count import record as record_count
from iocmon.streams.rebuild_progress import ProgressSink
from iocmon.streams.rebuild_summary import Limits, Summary
from iocmon.streams.scripts import lua_source
from iocmon.streams.store import NOTHING_APPLIED, BatchStore

SETTLE_BEFORE_DELETE_S = 2.0
CARRY_READ_CHUNK = 5000
_offset = attrgetter("offset")


@dataclass
class _Partition:
    """One partition being rebuilt: records are folded in memory as they are read, up to
    `target` and no further, and written (`_flush`) when the partition reached its target
    or the fold holds too much. Records read past the target wait in `ahead`."""

    number: int
    begin: int
    target: int
    fold: Fold
    folded: int = -1
    applied: int = NOTHING_APPLIED
    forgot: bool = False
    switched: bool = False
    ahead: list[Record] = field(default_factory=list)


class Rebuild:
    def __init__(
        self,
        settings: Settings,
        redis: AsyncRedis,
        reader: PartitionReader,
        calendar: WorkingCalendar,
        labels: AgencyLabels,
        limits: Limits,
        progress: ProgressSink | None,
        new_prefix: str | None = None,
        partitions: Collection[int] | None = None,
    ) -> None:
        """`partitions`: the ones this process rebuilds and switches (None: all of them);
        `--jobs` gives each worker process its share."""
        self._settings = settings
        self._redis = redis
        self._reader = reader
        self._calendar = calendar
        self._labels = labels
        self._limits = limits
        self._progress = progress
        self._policy = AlertPolicy(settings.alert_due_soon_share or None)
        self._field_of = field_keys(load_procedures(settings.procedures_file))
        self.prefix = new_prefix or f"{settings.redis_prefix}:g{int(time.time())}"
        topic = settings.events_topic
        self._topic = topic
        self._live = BatchStore(redis, settings.redis_prefix, topic)
        self._new = BatchStore(
            redis, self.prefix, topic, follow=False, base_prefix=settings.redis_prefix
        )
        self._switch = redis.register_script(lua_source("switch.lua"))
        self._only = None if partitions is None else frozenset(partitions)
        self._done = 0

    async def run(self, delete_old: bool = False) -> Summary:
        """The whole rebuild in this process: check, build and switch, then finish."""
        start = time.monotonic()
        await self.check_new()
        summary = await self.build()
        return await self.finish(summary, start, delete_old)

    async def check_new(self) -> list[int]:
        """The topic's partitions; refuses a generation that exists already, and a topic
        whose partition count is not the one the live figures were built with (each
        partition is rebuilt and switched on its own: the counts must agree)."""
        if await self._redis.exists(self._new.keys(0).offset):
            raise IocmonError(f"generation {self.prefix} exists already; try again in a second")
        numbers = self._reader.partitions()
        await check_and_record(self._redis, self._settings.redis_prefix, self._topic, len(numbers))
        return numbers

    async def build(self) -> Summary:
        """Reads, applies and switches this process's partitions; `old_prefixes` of the
        result are the live generations they were switched away from."""
        with rare_collections():
            return await self._build()

    async def _build(self) -> Summary:
        numbers = [p for p in self._reader.partitions() if self._only is None or p in self._only]
        summary = Summary(self.prefix, [])
        if not numbers:
            return summary
        begins = {p: self._reader.bounds(p)[0] for p in numbers}
        live = await self._live.applied_offsets(numbers)
        committed = self._reader.committed(numbers)
        self._reader.read_from_beginning(numbers)
        parts = {
            p: _Partition(
                p,
                begins[p],
                max(live[p], committed[p] - 1),
                Fold(
                    self._calendar,
                    self._policy,
                    keep_dead_letters=False,
                    horizon=self._settings.retention,
                    field_of=self._field_of,
                ),
            )
            for p in numbers
        }
        while not all(p.switched for p in parts.values()):
            await self._read(parts, summary)
            for p in parts.values():
                if not p.switched and self._reached(p):
                    await self._try_switch(p, summary)
        live_prefixes = {self._live.generations.prefix(p) for p in numbers}
        summary.old_prefixes = sorted(live_prefixes - {self.prefix})
        if self._progress is not None:
            self._progress.close(self._done, self._total(parts))
        summary.records = self._done
        summary.partitions = len(parts)
        summary.left_to_worker = sum(
            max(self._reader.bounds(p.number)[1] - 1 - p.target, 0) for p in parts.values()
        )
        return summary

    async def finish(self, summary: Summary, start: float, delete_old: bool) -> Summary:
        """Once every partition switched: the pointer names the new generation; then the
        old keys go if asked."""
        await record_count(self._redis, self.prefix, self._topic, len(self._reader.partitions()))
        await self._redis.set(pointer_key(self._settings.redis_prefix), self.prefix)
        summary.seconds = time.monotonic() - start
        if delete_old:
            numbers = self._reader.partitions()
            await asyncio.sleep(SETTLE_BEFORE_DELETE_S)
            summary.deleted_keys = await self._delete(summary.old_prefixes, numbers)
        return summary

    def _total(self, parts: dict[int, _Partition]) -> int:
        return sum(max(p.target - p.begin + 1, 0) for p in parts.values())

    def _reached(self, p: _Partition) -> bool:
        if p.folded >= p.target or (p.ahead and p.ahead[0].offset > p.target):
            return True
        position = self._reader.position(p.number)
        return position is not None and position > p.target

    async def _read(self, parts: dict[int, _Partition], summary: Summary) -> None:
        polled = self._reader.poll(self._limits.batch_size * max(len(parts), 1), 0.2)
        for number, records in polled.items():
            p = parts[number]
            if not p.switched:
                last = p.ahead[-1].offset if p.ahead else p.folded
                p.ahead.extend(r for r in records if r.offset > last)
        for p in parts.values():
            if p.switched or not p.ahead:
                continue
            await self._fold_ahead(p)
            if len(p.fold.states) > self._limits.keep_dossiers // len(parts):
                await self._flush(p, summary)
                p.fold.forget()
                p.forgot = True
        for p in parts.values():
            if not p.switched and p.fold.added and self._reached(p):
                await self._flush(p, summary)
        if self._progress is not None:
            self._progress.show(self._done, self._total(parts))

    async def _fold_ahead(self, p: _Partition) -> None:
        """Folds the records read up to the target; with some left past it, the partition
        is paused until the target moves (they are the worker's to process first)."""
        cut = bisect_right(p.ahead, p.target, key=_offset)
        if cut < len(p.ahead):
            self._reader.pause(p.number)
        if cut:
            records, p.ahead = p.ahead[:cut], p.ahead[cut:]
            await self._fold(p, records)

    async def _fold(self, p: _Partition, records: Sequence[Record]) -> None:
        fresh = [r for r in records if r.offset > p.folded]
        if not fresh:
            return
        decoded = decode_batch(fresh, self._settings.now())
        unknown = dossier_ids(decoded) - p.fold.states.keys()
        if unknown and p.forgot:
            stored = await self._new.load(p.number, unknown)
            p.fold.know(stored.states)
            p.fold.quarantine(stored.unreadable)
        elif unknown:
            p.fold.know(dict.fromkeys(unknown))
        for record, item in decoded:
            p.fold.add(record, item)
        p.folded = fresh[-1].offset
        self._done += len(fresh)

    async def _flush(self, p: _Partition, summary: Summary) -> None:
        """Writes what the partition's fold holds into the new generation."""
        plan = p.fold.take()
        await self._carry_alerts(p, plan)
        fresh = p.applied == NOTHING_APPLIED
        if not await self._new.apply_unread(p.number, p.applied, plan, fresh):
            raise IocmonError(
                f"partition {p.number} of generation {self.prefix} was written by someone "
                "else during the rebuild: is another `iocmon rebuild` running?"
            )
        p.applied = plan.last_offset
        if plan.stream_time is not None:  # as the worker: forget what the horizon passed
            while (
                await self._new.retire(p.number, plan.stream_time, self._settings.retention)
            ).more:
                pass
        summary.events += sum(plan.events.values())
        summary.ignored += sum(plan.ignored.values())
        summary.rejected += sum(plan.rejected.values())
        await self._labels.note(agency for (_, agency, *_rest) in plan.received)

    async def _carry_alerts(self, p: _Partition, plan: BatchPlan) -> None:
        """The alerts the live generation sent for the plan's open dossiers, read from their
        live states (`Fold.carry_alerted`). One sent after this read and before the switch is
        sent once more by the worker, with the same alert id (receivers deduplicate by it);
        after Redis lost the states, every pending alert is sent once more that way."""
        candidates = alert_candidates(plan)
        alerted: dict[str, tuple[str, ...]] = {}
        for i in range(0, len(candidates), CARRY_READ_CHUNK):
            live = (await self._live.load(p.number, candidates[i : i + CARRY_READ_CHUNK])).states
            alerted.update((d, s.alerted) for d, s in live.items() if s is not None and s.alerted)
        p.fold.carry_alerted(plan, alerted)

    async def _try_switch(self, p: _Partition, summary: Summary) -> None:
        for _ in range(16):
            await self._live.applied_offset(p.number)  # follows the live generation
            old = self._live.keys(p.number).offset
            status, detail = await self._switch(
                keys=[old, self._new.keys(p.number).offset], args=[self.prefix]
            )
            if status == 1:
                p.switched = True
                p.fold.forget()
                p.ahead = []
                self._reader.pause(p.number)
                return
            if status == 0:
                p.target = int(detail)
                summary.switch_retries += 1
                self._reader.resume(p.number)
                return
            if not await self._live.generations.follow(p.number, detail):
                break
        raise IocmonError(
            f"partition {p.number} moved to another generation during the rebuild: "
            "is another `iocmon rebuild` running?"
        )

    async def _delete(self, prefixes: list[str], partitions: list[int]) -> int:
        """Every key of the old generations' partitions except their offset keys."""
        deleted = 0
        for prefix in prefixes:
            keep = {f"{prefix}:{{{self._topic}/{p}}}:offset".encode() for p in partitions}
            batch: list[bytes] = []
            match = _glob(f"{prefix}:{{{self._topic}/") + "*"
            async for key in self._redis.scan_iter(match=match, count=5000):
                if key not in keep:
                    batch.append(key)
                if len(batch) >= 1000:
                    deleted += await self._redis.unlink(*batch)
                    batch = []
            if batch:
                deleted += await self._redis.unlink(*batch)
        return deleted


def _glob(text: str) -> str:
    """`text` as a literal in a Redis MATCH pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


@asynccontextmanager
async def open_rebuild(
    settings: Settings,
    limits: Limits,
    progress: ProgressSink | None,
    new_prefix: str | None = None,
    partitions: Collection[int] | None = None,
) -> AsyncIterator[Rebuild]:
    """A `Rebuild` with its own Redis and Kafka clients, closed on the way out."""
    redis = async_redis(settings)
    reader = PartitionReader(settings)
    catalogue = load_catalogue(settings.agencies_file)
    labels = AgencyLabels(
        redis,
        settings.redis_prefix,
        settings.agency_label_limit,
        frozenset(a.code for a in catalogue) if settings.agencies_file is not None else None,
    )
    try:
        yield Rebuild(
            settings,
            redis,
            reader,
            load_calendar(settings.calendar_file),
            labels,
            limits,
            progress,
            new_prefix,
            partitions,
        )
    finally:
        reader.close()
        await redis.aclose()
