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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from iocmon.domain.batch import BatchPlan
from iocmon.domain.buckets import HOURLY_RETENTION
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import Scope
from iocmon.domain.risk_check import AtRiskItem
from iocmon.domain.state_codec import StateDecodeError, decode_state
from iocmon.redis_connection import AsyncRedis, members
from iocmon.streams.generations import MAX_HOPS, Generations, parse_offset
from iocmon.streams.keys import PartitionKeys, RolledKeys
from iocmon.streams.rollup import RollUp
from iocmon.streams.scripts import lua_source
from iocmon.streams.writes import bulk_script_args, plan_writes, script_args

NOTHING_APPLIED = -1
APPLIED, MOVED = 1, 2
BULK_SCRIPT_ITEMS = 20_000


_BULK_LUA = lua_source("bulk_write.lua", with_commands=True)
_APPLY_LUA = lua_source("apply_batch.lua", with_commands=True)
_RETIRE_LUA = lua_source("retire.lua")
RETIRE_LIMIT = 2000
"""Hours, days, months and dossiers one `retire.lua` call deletes at most (2,000 dossier
states read and deleted hold Redis a few milliseconds); while more are due the worker calls
again after each batch, the rebuild at once."""
_EPOCH = datetime.fromtimestamp(0, UTC)
_UNREADABLE_ENTRY = AtRiskItem("", "", _EPOCH, 0.0, None, Scope.PROVINCE, _EPOCH)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A partition as read in one command: the plan made from it is applied only if the
    partition is still at `offset` and `version` when the plan is written."""

    offset: int
    version: int
    stream_time: datetime | None
    states: dict[str, DossierState | None]
    unreadable: dict[str, str] = field(default_factory=dict)
    """Dossiers whose stored state does not decode (id -> why), left out of `states`."""


@dataclass(frozen=True, slots=True)
class Retired:
    hours: int
    days: int
    dossiers: int
    rolled: int
    """Day and month buckets summed into the province-wide hashes (`streams.rollup`)."""
    more: bool


class BatchStore:
    def __init__(
        self,
        redis: AsyncRedis,
        prefix: str,
        topic: str,
        follow: bool = True,
        base_prefix: str | None = None,
    ) -> None:
        """`prefix` is the base prefix (`Settings.redis_prefix`); with `follow=False` it is
        the one generation this store writes, whatever the live one is (the rebuild), and
        `base_prefix` the base, under which the rolled-up counters of every generation are."""
        self._redis = redis
        self._topic = topic
        self.generations = Generations(redis, prefix, follow)
        self._apply = redis.register_script(_APPLY_LUA)
        self._bulk_write = redis.register_script(_BULK_LUA)
        self._retire = redis.register_script(_RETIRE_LUA)
        self._roll_up = RollUp(redis, RolledKeys(base_prefix or prefix, topic))

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

    async def load(self, partition: int, dossier_ids: Iterable[str]) -> Snapshot:
        ids = sorted(dossier_ids)
        for _ in range(MAX_HOPS):
            k = self.keys(partition)
            raw = await self._redis.mget(
                [k.offset, k.version, k.stream_time, *(k.dossier(d) for d in ids)]
            )
            if not await self.generations.follow(partition, raw[0]):
                break
        states: dict[str, DossierState | None] = {}
        unreadable: dict[str, str] = {}
        for d, blob in zip(ids, raw[3:], strict=True):
            try:
                states[d] = None if blob is None else decode_state(d, blob)
            except StateDecodeError as exc:
                unreadable[d] = f"the dossier's stored state does not decode: {exc}"
        stream_time = None if raw[2] is None else datetime.fromtimestamp(float(raw[2]), UTC)
        return Snapshot(parse_offset(raw[0]), int(raw[1] or 0), stream_time, states, unreadable)

    async def alert_candidates(self, partition: int, now: datetime, limit: int) -> list[str]:
        """Open dossiers whose next alert threshold has passed, earliest first."""
        reply = await self._redis.zrangebyscore(
            self.keys(partition).alert_next, "-inf", now.timestamp(), start=0, num=limit
        )
        return members(reply)

    async def on_track(self, partition: int, now: datetime) -> list[str]:
        """Open dossiers that are neither paused nor due soon at `now` (those the at-risk
        sweep forecasts), from the due-soon index."""
        reply = await self._redis.zrangebyscore(
            self.keys(partition).due_soon_from(), f"({now.timestamp()!r}", "+inf"
        )
        return members(reply)

    async def at_risk_list(self, partition: int) -> dict[str, AtRiskItem]:
        """The partition's at-risk list as it stands (`domain.risk_check`); an entry this
        version cannot read is given as already due soon, so that a check drops it."""
        reply = await self._redis.hgetall(self.keys(partition).at_risk)
        out = {}
        for raw_id, raw in reply.items():
            dossier_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            try:
                out[dossier_id] = AtRiskItem.from_json(orjson.loads(raw))
            except (ValueError, KeyError, TypeError):
                out[dossier_id] = _UNREADABLE_ENTRY
        return out

    async def apply(
        self, partition: int, planned_against: int, plan: BatchPlan, version: int | None = None
    ) -> int | None:
        """The partition's new version once applied; None if it moved on since the plan was
        made (offset, or `version` when given) or to another generation."""
        k = self.keys(partition)
        keys, ops = script_args(plan_writes(k, plan), k.offset, k.version)
        status, detail = await self._apply(
            keys=keys,
            args=[
                planned_against,
                plan.last_offset,
                orjson.dumps(ops),
                "" if version is None else version,
            ],
        )
        if status == MOVED:
            await self.generations.follow(partition, detail)
        return int(detail) if status == APPLIED else None

    async def retire(self, partition: int, stream_time: datetime, horizon: timedelta) -> Retired:
        """Deletes what the partition's stream time has made obsolete (`retire.lua`), and
        sums its closed days and months into the province-wide counters (`streams.rollup`)."""
        k = self.keys(partition)
        edge = (stream_time - horizon).timestamp()
        day = timedelta(days=1).total_seconds()
        rolled, more_to_roll = await self._roll_up.run(k, edge - day)
        hours, days, dossiers, more = await self._retire(
            keys=[k.hour_buckets, k.procedure_days, k.ended_days, k.duration_months],
            args=[
                k.base,
                (stream_time - HOURLY_RETENTION).timestamp(),
                edge - day,
                edge - day,
                edge,
                RETIRE_LIMIT,
                edge,
            ],
        )
        return Retired(hours, days, dossiers, rolled, bool(more) or more_to_roll)

    async def apply_unread(
        self, partition: int, planned_against: int, plan: BatchPlan, fresh: bool
    ) -> bool:
        """`apply` for a generation no one reads until it is complete (the rebuild's): the
        writes go as commands of many members each, in scripts of bounded size, then the
        offset moves with the same check. Not atomic, so a reader could see part of the plan;
        one script of a whole partition's plan would block Redis, and the live view, for
        seconds. `fresh`: nothing of this partition was written yet."""
        if await self.applied_offset(partition) != planned_against:
            return False
        k = self.keys(partition)
        writes = plan_writes(k, plan)
        for keys, commands in bulk_script_args(writes, fresh, BULK_SCRIPT_ITEMS):
            await self._bulk_write(keys=keys, args=[orjson.dumps(commands)])
        status, _ = await self._apply(
            keys=[k.offset, k.version], args=[planned_against, plan.last_offset, "[]", ""]
        )
        return bool(status == APPLIED)
