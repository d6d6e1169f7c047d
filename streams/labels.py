"""Keeps the Prometheus `agency` label bounded (CONTRACT §5).

With a catalogue configured, its codes are the label values. Without one, the first
`limit` codes ever seen (in a Redis sorted set shared by all workers, ordered by first
sighting) are; every other code is reported as `other`. Redis and the API keep every code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from iocmon.redis_connection import AsyncRedis
from streams.keys import agency_labels_key


class AgencyLabels:
    def __init__(
        self, redis: AsyncRedis, prefix: str, limit: int, catalogue: frozenset[str] | None
    ) -> None:
        self._redis = redis
        self._key = agency_labels_key(prefix)
        self._limit = limit
        self._catalogue = catalogue
        self._noted: set[str] = set()

    async def note(self, agencies: Iterable[str]) -> None:
        """Record first sightings; a code seen once by this process is not sent again."""
        if self._catalogue is not None:
            return
        new = set(agencies) - self._noted
        if not new or len(self._noted) > self._limit * 4:
            return
        await self._redis.zadd(self._key, {a: time.time() for a in new}, nx=True)
        self._noted |= new

    async def allowed(self) -> frozenset[str]:
        if self._catalogue is not None:
            return self._catalogue
        codes = await self._redis.zrange(self._key, 0, self._limit - 1)
        return frozenset(c.decode("utf-8") if isinstance(c, bytes) else c for c in codes)
