"""Builds the Redis-backed metric families for one scrape of `/metrics`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from prometheus_client.core import Metric

from iocmon.domain.agencies import AgencyCatalogue
from iocmon.domain.buckets import cover
from iocmon.domain.figures import Figures
from iocmon.domain.periods import CURRENT_PERIODS, current_period
from streams import metrics
from streams.labels import AgencyLabels
from streams.queries import FigureReader
from streams.store import NOTHING_APPLIED, BatchStore

EndOffsets = Callable[[], Awaitable[Mapping[int, int]]]


class FigureExporter:
    def __init__(
        self,
        reader: FigureReader,
        store: BatchStore,
        labels: AgencyLabels,
        catalogue: AgencyCatalogue,
    ) -> None:
        self._reader = reader
        self._store = store
        self._labels = labels
        self._catalogue = catalogue

    async def dossier_families(self, now: datetime) -> list[Metric]:
        """Global dossier figures; only the worker that owns partition 0 calls this."""
        allowed = set(await self._labels.allowed())
        totals = await self._reader.totals(now)
        periods: dict[str, Mapping[str, Figures]] = {}
        for kind in CURRENT_PERIODS:
            period = current_period(kind, now)
            periods[kind] = await self._reader.figures_by_agency(
                cover(period.start, period.end, now), now, open_states=totals.open
            )
        return [
            *metrics.figure_families(totals, allowed),
            *metrics.period_families(periods, allowed),
            metrics.agency_info_family(self._catalogue, allowed),
        ]

    async def lag_family(self, end_offsets: Mapping[int, int]) -> Metric:
        """Records not yet applied, for the partitions this worker owns."""
        lag = {}
        for partition, end in end_offsets.items():
            applied = await self._store.applied_offset(partition)
            lag[partition] = end - (applied + 1 if applied != NOTHING_APPLIED else 0)
        return metrics.lag_family(lag)
