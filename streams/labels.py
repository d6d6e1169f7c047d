"""Keeps the Prometheus `agency` label bounded (CONTRACT §5).

With a catalogue configured, its codes are the label values. Without one, the first
`limit` codes ever seen (in a Redis sorted set shared by all workers, ordered by first
sighting) are; every other code is reported as `other`. Redis keeps every code, and one
agency's figures can be asked of the API by its code; the API's lists of agencies (`by=agency`,
rankings) use the label values too, so that hostile codes cannot make a request read
thousands of agencies.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from iocmon.config import Settings
from iocmon.domain.agencies import AgencyCatalogue
from iocmon.redis_connection import AsyncRedis, members
from iocmon.streams.keys import agency_labels_key

FULL_FACTOR = 4
OTHER_AGENCY = "other"
"""The label value, and the API's row, of every agency code that is not a label value."""


class AgencyLabels:
    def __init__(
        self, redis: AsyncRedis, prefix: str, limit: int, catalogue: frozenset[str] | None
    ) -> None:
        self._redis = redis
        self._key = agency_labels_key(prefix)
        self._limit = limit
        self._catalogue = catalogue
        self._full = False
        self._pending: set[str] = set()

    async def note(self, agencies: Iterable[str]) -> None:
        """Record first sightings. Sent for every batch that received dossiers, not cached:
        a code this process saw before must be noted again after Redis lost the set (a
        rebuild notes the codes of what the workers had processed, the workers the rest).
        Codes that Redis did not take (it did not answer) are kept and sent with the next
        call, `note(())` included: an agency whose dossiers all came while Redis was paused
        would otherwise be `other` for good. Once the set holds `FULL_FACTOR`× the label
        limit, later codes could never become label values, so they are no longer sent
        (until `allowed` sees the set short again).
        """
        if self._catalogue is not None or self._full:
            self._pending.clear()
            return
        self._pending.update(agencies)
        if not self._pending:
            return
        sending = set(self._pending)
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(self._key, dict.fromkeys(sending, now), nx=True)
        pipe.zcard(self._key)
        _, count = await pipe.execute()
        self._pending -= sending
        self._full = count >= self._limit * FULL_FACTOR

    @property
    def pending(self) -> bool:
        """Whether codes wait for Redis to take them."""
        return bool(self._pending)

    async def allowed(self) -> frozenset[str]:
        if self._catalogue is not None:
            return self._catalogue
        codes = await self._redis.zrange(self._key, 0, self._limit - 1)
        if len(codes) < self._limit:
            self._full = False
        return frozenset(members(codes))


def agency_labels(
    settings: Settings, redis: AsyncRedis, catalogue: AgencyCatalogue
) -> AgencyLabels:
    """The label values as configured: the catalogue's codes when one is given
    (`IOCMON_AGENCIES_FILE`), else the first `IOCMON_AGENCY_LABEL_LIMIT` codes seen."""
    return AgencyLabels(
        redis,
        settings.redis_prefix,
        settings.agency_label_limit,
        frozenset(a.code for a in catalogue) if settings.agencies_file is not None else None,
    )
