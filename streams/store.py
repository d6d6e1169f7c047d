"""Writes a partition's batch plan to Redis, atomically and exactly once.

`load` reads the partition's last applied offset together with the dossiers' states in one
command, so the plan is made against a consistent snapshot; `apply` writes the plan in one Lua
script that first checks the offset is still the one the plan was made against. A worker
whose partition moved to another worker in the meantime (a zombie after a rebalance) gets
`False` back and must load and plan again; it never applies part of a stale batch.

Each partition lives under the prefix of its generation (see `streams.generations`): when
`iocmon rebuild` has switched a partition, the store follows it to the new prefix, and
`apply` answers `False` so that the caller loads and plans again there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from typing import Any

import orjson

from iocmon.domain.batch import BatchPlan, OpenEntry
from iocmon.domain.buckets import HOURLY_RETENTION
from iocmon.domain.lifecycle import DossierState
from iocmon.redis_connection import AsyncRedis
from streams.generations import MAX_HOPS, Generations, parse_offset
from streams.keys import PartitionKeys, open_count_fields, procedure_field

NOTHING_APPLIED = -1
APPLIED, MOVED = 1, 2
_APPLY_LUA = resources.files("streams").joinpath("lua/apply_batch.lua").read_text("utf-8")


class BatchStore:
    def __init__(self, redis: AsyncRedis, prefix: str, topic: str, follow: bool = True) -> None:
        """`prefix` is the base prefix (`Settings.redis_prefix`); with `follow=False` it is
        the one generation this store writes, whatever the live one is (the rebuild)."""
        self._redis = redis
        self._topic = topic
        self.generations = Generations(redis, prefix, follow)
        self._apply = redis.register_script(_APPLY_LUA)

    def keys(self, partition: int) -> PartitionKeys:
        return PartitionKeys(self.generations.prefix(partition), self._topic, partition)

    async def applied_offset(self, partition: int) -> int:
        for _ in range(MAX_HOPS):
            raw = await self._redis.get(self.keys(partition).offset)
            if not await self.generations.follow(partition, raw):
                break
        return parse_offset(raw)

    async def applied_offsets(self, partitions: Iterable[int]) -> dict[int, int]:
        wanted = sorted(partitions)
        if not wanted:
            return {}
        # One GET per partition in a pipeline, not MGET: the keys are in different hash slots.
        pipe = self._redis.pipeline(transaction=False)
        for p in wanted:
            pipe.get(self.keys(p).offset)
        raw = await pipe.execute()
        out = {}
        for p, v in zip(wanted, raw, strict=True):
            moved = await self.generations.follow(p, v)
            out[p] = await self.applied_offset(p) if moved else parse_offset(v)
        return out

    async def load(
        self, partition: int, dossier_ids: Iterable[str]
    ) -> tuple[int, dict[str, DossierState | None]]:
        ids = sorted(dossier_ids)
        for _ in range(MAX_HOPS):
            keys = self.keys(partition)
            raw = await self._redis.mget([keys.offset, *(keys.dossier(d) for d in ids)])
            if not await self.generations.follow(partition, raw[0]):
                break
        offset = parse_offset(raw[0])
        states = {
            d: None if blob is None else DossierState.from_json(orjson.loads(blob))
            for d, blob in zip(ids, raw[1:], strict=True)
        }
        return offset, states

    async def alert_candidates(self, partition: int, now: datetime, limit: int) -> list[str]:
        """Open dossiers whose next alert threshold has passed, earliest first."""
        members = await self._redis.zrangebyscore(
            self.keys(partition).alert_next, "-inf", now.timestamp(), start=0, num=limit
        )
        return [m.decode("utf-8") if isinstance(m, bytes) else m for m in members]

    async def apply(
        self, partition: int, planned_against: int, plan: BatchPlan, max_ops: int | None = None
    ) -> bool:
        """With `max_ops`, a plan of more ops goes in several scripts and the offset moves
        with the last: only for a generation no one reads until it is complete (the
        rebuild's), as a reader could see part of the plan. One script of a whole partition
        would block Redis, and the live view, for seconds."""
        ops = _Ops(self.keys(partition), max_ops)
        ops.write(plan)
        chunks = ops.chunks()
        for i, (keys, chunk) in enumerate(chunks):
            last = plan.last_offset if i == len(chunks) - 1 else planned_against
            status, detail = await self._apply(
                keys=keys, args=[planned_against, last, orjson.dumps(chunk)]
            )
            if status == MOVED:
                await self.generations.follow(partition, detail)
            if status != APPLIED:
                return False
        return True


class _Ops:
    """Translates a plan into the Lua script's op lists, numbering keys as it goes; a new
    list (with keys of its own) every `max_ops` ops."""

    def __init__(self, keys: PartitionKeys, max_ops: int | None = None) -> None:
        self._k = keys
        self._max = max_ops
        self._sealed: list[tuple[list[str], list[list[Any]]]] = []
        self._start()

    def _start(self) -> None:
        self.keys: list[str] = [self._k.offset]
        self._index: dict[str, int] = {self._k.offset: 1}
        self.ops: list[list[Any]] = []

    def chunks(self) -> list[tuple[list[str], list[list[Any]]]]:
        """(keys, ops) of each script to run, in order; at least one."""
        return [*self._sealed, (self.keys, self.ops)]

    def _key(self, name: str) -> int:
        if name not in self._index:
            self.keys.append(name)
            self._index[name] = len(self.keys)
        return self._index[name]

    def op(self, name: str, key: str, *args: Any) -> None:
        if self._max is not None and len(self.ops) >= self._max:
            self._sealed.append((self.keys, self.ops))
            self._start()
        self.ops.append([name, self._key(key), *args])

    def write(self, plan: BatchPlan) -> None:
        k = self._k
        for dossier_id, state in plan.states.items():
            self.op("set", k.dossier(dossier_id), orjson.dumps(state.to_json()).decode())
        agencies: set[str] = set()
        for (bucket, agency, outcome), n in plan.ended.items():
            self._count(k.ended(bucket), f"{agency}|{outcome}", n, bucket.resolution == "h")
            agencies.add(agency)
        for (bucket, agency, procedure, outcome), n in plan.ended_by_procedure.items():
            self.op(
                "hincrby",
                k.ended_by_procedure(bucket),
                procedure_field(agency, procedure, outcome),
                n,
            )
        for (bucket, agency, channel, level), n in plan.received.items():
            self._count(
                k.received(bucket), f"{agency}|{channel}|{level}", n, bucket.resolution == "h"
            )
            agencies.add(agency)
        for kind, counter in (
            ("events", plan.events),
            ("ignored", plan.ignored),
            ("rejected", plan.rejected),
        ):
            for name, n in counter.items():
                self.op("hincrby", k.stats, f"{kind}|{name}", n)

        open_delta: Counter[str] = Counter()
        for dossier_id, (before, after) in plan.index_changes.items():
            if before is not None:
                self._unindex(dossier_id, before, open_delta)
            if after is not None:
                self._index_entry(dossier_id, after, open_delta)
                agencies.add(after.agency)
        for field, n in open_delta.items():
            if n:
                self.op("hincrby", k.open_counts, field, n)
        for agency in sorted(agencies):
            self.op("sadd", k.agencies, agency)

    def _count(self, key: str, field: str, n: int, expires: bool) -> None:
        self.op("hincrby", key, field, n)
        if expires:
            self.op("expire", key, int(HOURLY_RETENTION.total_seconds()))

    def _unindex(self, dossier_id: str, entry: OpenEntry, delta: Counter[str]) -> None:
        for field in open_count_fields(entry):
            delta[field] -= 1
        if entry.clock is not None:
            for agency in (None, entry.agency):
                self.op("zrem", self._k.overdue_from(agency), dossier_id)
                self.op("zrem", self._k.due_soon_from(agency), dossier_id)
        if entry.alert_at is not None:
            self.op("zrem", self._k.alert_next, dossier_id)

    def _index_entry(self, dossier_id: str, entry: OpenEntry, delta: Counter[str]) -> None:
        for field in open_count_fields(entry):
            delta[field] += 1
        if entry.clock is not None:
            overdue = entry.clock.overdue_from.timestamp()
            due_soon = entry.clock.due_soon_from.timestamp()
            for agency in (None, entry.agency):
                self.op("zadd", self._k.overdue_from(agency), overdue, dossier_id)
                self.op("zadd", self._k.due_soon_from(agency), due_soon, dossier_id)
        if entry.alert_at is not None:
            self.op("zadd", self._k.alert_next, entry.alert_at.timestamp(), dossier_id)
