"""Generations of the Redis figures: which key prefix each partition lives under.

`iocmon rebuild` builds every figure again from Kafka under a fresh prefix (a *generation*,
`<redis_prefix>:g<unix time>`) while the live worker keeps writing the old one, then switches
the partitions one by one with `streams/lua/switch.lua`: the old generation's offset key of
the partition becomes the string `moved:<new prefix>`. Old and new keys of a partition share
the hash tag `{topic/partition}`, so the switch is one atomic script, on Redis Cluster too.
Once every partition has switched, the pointer key `<redis_prefix>:generation` names the new
prefix; without a pointer the base prefix `<redis_prefix>` is live (data written before
generations existed keeps working).

Readers and writers keep a per-partition prefix map (`Generations`) and follow a partition
when its offset key says `moved:`: the store when it reads the offset or when
`apply_batch.lua` answers "moved" (it then loads and plans again in the new generation, so
nothing is ever applied to the old one after the switch), the figure reader before every
query (one extra round trip). An absent offset key sends them to the pointer once, so a
worker that started before a rebuild still finds the live generation after the old keys were
deleted. The offset keys of an old generation are never deleted: they are the signposts.
"""

from __future__ import annotations

from iocmon.redis_connection import AsyncRedis, text

MOVED = "moved:"
MAX_HOPS = 16


def pointer_key(base: str) -> str:
    """Plain string: the live generation's prefix. Absent: the base prefix is live."""
    return f"{base}:generation"


def moved_target(raw: bytes | str | None) -> str | None:
    """The new prefix if an offset key's value says the partition moved, else None."""
    if raw is None:
        return None
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return text[len(MOVED) :] if text.startswith(MOVED) else None


def parse_offset(raw: bytes | str | None) -> int:
    return -1 if raw is None else int(raw)


class Generations:
    """The prefix each partition lives under, as this process last saw it.

    With `follow=False` the prefix is pinned (the rebuild writing a new generation).
    """

    def __init__(self, redis: AsyncRedis, base: str, follow: bool = True) -> None:
        self._redis = redis
        self.base = base
        self._follow = follow
        self._default = base
        self._by_partition: dict[int, str] = {}

    def prefix(self, partition: int) -> str:
        return self._by_partition.get(partition, self._default)

    async def follow(self, partition: int, raw_offset: bytes | str | None) -> bool:
        """Given the value of the partition's offset key under `prefix(partition)`: True if
        the partition lives under another prefix (the map now says which; read again)."""
        if not self._follow:
            return False
        target = moved_target(raw_offset)
        if target is None and raw_offset is None:
            pointer = await self._redis.get(pointer_key(self.base))
            target = self.base if pointer is None else text(pointer)
            self._default = target
        if target is None or target == self.prefix(partition):
            return False
        self._by_partition[partition] = target
        return True
