"""Closed days and months summed over the partitions: what keeps Redis flat for years.

Every partition keeps its own counters (one script per partition writes them atomically), so
a day's figures sit in as many hashes as there are partitions, each holding most agencies
and, per month, most procedures: 12 partitions kept ~3 MB a month growing for good at the
An Giang profile. Once a day or month ends more than the horizon before a partition's
stream time, no event can change it (CONTRACT §3a: older events are dead-lettered), and its
counters are added into one hash summed over every partition (`RolledKeys`) and deleted from
the partition.

Exactly once without a cross-slot transaction: the counts go into the rolled hash together
with the partition's member field (`roll_up.lua`), and the partition's keys are deleted only
after that. Readers (`streams.queries`) read the partitions' hashes first and the rolled ones
after, in a second round trip, and take a partition from the rolled hash if its member field
is there, else from its own hash: a roll-up between the two reads finds the partition's hash
still present at the first.
"""

from __future__ import annotations

from collections.abc import Callable

from iocmon.domain.buckets import Bucket, parse_bucket
from iocmon.redis_connection import AsyncRedis, members
from iocmon.streams.keys import PartitionKeys, RolledKeys, rolled_member
from iocmon.streams.scripts import lua_source

ROLL_LIMIT = 64
"""Buckets rolled up per call; a retire finds the rest on its next run."""

Kind = tuple[Callable[[PartitionKeys, Bucket], str], Callable[[RolledKeys, Bucket], str]]
DAY_KINDS: tuple[Kind, ...] = (
    (PartitionKeys.ended, RolledKeys.ended),
    (PartitionKeys.received, RolledKeys.received),
)
PROCEDURE_KIND: Kind = (PartitionKeys.by_procedure, RolledKeys.by_procedure)
"""Per-procedure counters: days are deleted past the horizon (months hold them), months rolled."""
REPORT_KIND: Kind = (PartitionKeys.report, RolledKeys.report)
"""The report's counters: like the per-procedure ones, with quarters and years rolled too."""
MONTH_KINDS: tuple[Kind, ...] = (*DAY_KINDS, PROCEDURE_KIND, REPORT_KIND)


def kinds_of(bucket: Bucket) -> tuple[Kind, ...]:
    if bucket.resolution in ("q", "y"):
        return (REPORT_KIND,)
    return MONTH_KINDS if bucket.resolution == "m" else DAY_KINDS


class RollUp:
    def __init__(self, redis: AsyncRedis, rolled: RolledKeys) -> None:
        self._redis = redis
        self._rolled = rolled
        self._add = redis.register_script(lua_source("roll_up.lua"))

    async def run(self, keys: PartitionKeys, closed_before: float) -> tuple[int, bool]:
        """Rolls up the partition's day and month buckets that end at or before
        `closed_before` (Unix s): (buckets rolled, whether more are left)."""
        names = await self._redis.zrangebyscore(
            keys.counter_buckets, "-inf", closed_before, start=0, num=ROLL_LIMIT
        )
        for name in members(names):
            await self._roll(keys, parse_bucket(name))
        return len(names), len(names) == ROLL_LIMIT

    async def _roll(self, keys: PartitionKeys, bucket: Bucket) -> None:
        kinds = kinds_of(bucket)
        pipe = self._redis.pipeline(transaction=False)
        for own, _ in kinds:
            pipe.hgetall(own(keys, bucket))
        counts = await pipe.execute()
        member = rolled_member(keys.partition)
        for (_, rolled), fields in zip(kinds, counts, strict=True):
            if fields:
                pairs = [x for field, n in fields.items() for x in (field, n)]
                await self._add(keys=[rolled(self._rolled, bucket)], args=[member, *pairs])
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(*(own(keys, bucket) for own, _ in kinds))
        pipe.zrem(keys.counter_buckets, bucket.name)
        await pipe.execute()
