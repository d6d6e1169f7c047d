"""Builds the Redis-backed metric families for one scrape of `/metrics`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from prometheus_client.core import Metric

from iocmon.domain.agencies import AgencyCatalogue
from iocmon.domain.buckets import cover
from iocmon.domain.figures import Figures
from iocmon.domain.periods import CURRENT_PERIODS, current_period
from iocmon.streams import metrics
from iocmon.streams.labels import OTHER_AGENCY, AgencyLabels
from iocmon.streams.queries import FigureReader
from iocmon.streams.store import BatchStore

EndOffsets = Callable[[], Awaitable[Mapping[int, int]]]
Rendered = tuple[float, bytes]
"""When the figures were read (Unix s), and their families rendered for `/metrics`."""
RenderFigures = Callable[[datetime], Awaitable[Rendered]]


class FigureExporter:
    """Keeps a rendered snapshot of the global dossier figures, refreshed in the background.

    Reading five calendar periods for every agency costs a few hundred Redis round trips;
    doing it on a timer instead of in each scrape keeps `/metrics` fast whatever the load
    and however many scrapers there are. The snapshot's age is itself a metric. The reading
    and rendering (`FigureRenderer`) run in a process of their own
    (`streams.figures_process`), off Faust's loop.
    """

    def __init__(self, render: RenderFigures, store: BatchStore) -> None:
        self._render = render
        self._store = store
        self.snapshot: bytes = b""

    async def refresh(self, now: datetime) -> None:
        read_at, snapshot = await self._render(now)
        # Set together, after the await: a scrape pairs the figures with their own time.
        metrics.SNAPSHOT_TIMESTAMP.set(read_at)
        self.snapshot = snapshot

    def clear(self) -> None:
        """This worker no longer reports the figures (partition 0 moved)."""
        self.snapshot = b""

    async def lag_family(self, end_offsets: Mapping[int, int]) -> Metric:
        """Records not yet applied, for the partitions this worker owns."""
        applied = await self._store.applied_offsets(end_offsets)
        return metrics.lag_family({p: end - (applied[p] + 1) for p, end in end_offsets.items()})


class FigureRenderer:
    """Reads the global dossier figures from Redis and renders them for `/metrics`."""

    def __init__(
        self,
        reader: FigureReader,
        labels: AgencyLabels,
        catalogue: AgencyCatalogue,
    ) -> None:
        self._reader = reader
        self._labels = labels
        self._catalogue = catalogue

    async def render(self, now: datetime) -> Rendered:
        read_at = time.time()
        return read_at, metrics.render_families(await self.dossier_families(now))

    async def dossier_families(self, now: datetime) -> list[Metric]:
        """Global dossier figures; only the worker that owns partition 0 calls this."""
        allowed = set(await self._labels.allowed())
        # Open dossiers only for the label values (the rest summed as `other`): the cost of
        # a refresh stays bounded by the label limit, not by the agency codes ever sent.
        totals = await self._reader.totals(now, open_for=allowed, rest=OTHER_AGENCY)
        covers = []
        for kind in CURRENT_PERIODS:
            period = current_period(kind, now)
            covers.append(cover(period.start, period.end, now))
        by_period = await self._reader.figures_by_agency_many(
            covers,
            now,
            open_states=totals.open,
            fold=lambda a: a if a in allowed else OTHER_AGENCY,
        )
        periods: dict[str, Mapping[str, Figures]] = dict(
            zip(CURRENT_PERIODS, by_period, strict=True)
        )
        at_risk = Counter(item.agency for _, item in await self._reader.at_risk(now))
        return [
            *metrics.figure_families(totals, allowed),
            metrics.at_risk_family(at_risk, {a for a, _ in totals.open}, allowed),
            *metrics.period_families(periods, allowed),
            metrics.agency_info_family(self._catalogue, allowed),
        ]
