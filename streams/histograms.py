"""The duration histograms the worker's at-risk checks forecast from, read now and then.

Every partition counts the durations of the dossiers that end on it (`domain.tally`); a
forecast needs them merged over every partition and the months within the horizon: one
HGETALL per partition and month (12 × 14 or 15 by default), a few hundred thousand fields
at a province's scale. They change slowly (a day's ends against a year's), and the daily sweep
reads them once a day in the backtest it is measured by, so the applier process keeps one
merged copy and reads it again every `REFRESH_S`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.exceptions import RedisError

from iocmon.domain.histogram import HistogramError
from iocmon.domain.risk_check import Histories, months_within
from iocmon.streams.queries import FigureReader

log = logging.getLogger(__name__)

REFRESH_S = 300.0
"""How old the merged histograms may get before a check reads them again."""
COLD_REFRESH_S = 10.0
"""The same while they are too few to forecast from (`Histories.cold`): a new installation's
first dossiers to end are read at once, and the sweep they allow comes without waiting."""


class HistogramCache:
    def __init__(
        self,
        reader: FigureReader,
        horizon: timedelta,
        min_samples: int,
        refresh_s: float = REFRESH_S,
        cold_refresh_s: float = COLD_REFRESH_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._horizon = horizon
        self._min_samples = min_samples
        self._refresh_s = refresh_s
        self._cold_refresh_s = cold_refresh_s
        self._monotonic = monotonic
        self._histories: Histories | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, now: datetime) -> Histories:
        """The merged histograms, read again if older than `refresh_s`. A failed read keeps
        the last ones (and raises only when there are none yet: the check is retried)."""
        async with self._lock:
            held = self._histories
            if held is not None:
                cold = held.cold(self._min_samples)
                age = self._monotonic() - self._read_at
                if age < (self._cold_refresh_s if cold else self._refresh_s):
                    return held
            try:
                self._histories = await self._reader.histories(months_within(now, self._horizon))
            except (HistogramError, ValueError) as exc:
                log.error(
                    "the duration histograms in Redis cannot be read (%s); the at-risk "
                    "forecast uses the last ones read. Run `iocmon rebuild` to write them anew",
                    exc,
                )
                if self._histories is None:
                    self._histories = Histories()
            except RedisError:
                if self._histories is None:
                    raise
                log.warning("the duration histograms could not be read again; using the last")
            self._read_at = self._monotonic()
            return self._histories
