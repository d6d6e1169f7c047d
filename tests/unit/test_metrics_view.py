"""`/metrics` pairs the dossier figures with the time they were read, whatever finishes while
it waits: a refresh that ended while the view awaited the applier's metrics once gave the new
snapshot time beside the old figures (a clean-clone run of test_retention then compared
figures from before a whole replay with the truth)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from iocmon.streams import metrics
from iocmon.streams.web import METRICS_PATH, register_routes

TOPIC = "dossier-events"


class Pages:
    """Stands for the Faust app: keeps the views registered on it, and a consumer."""

    def __init__(self) -> None:
        self.views: dict[str, Any] = {}
        self.consumer = SimpleNamespace(highwaters=self._highwaters)

    def page(self, path: str) -> Callable[[Any], Any]:
        def keep(view: Any) -> Any:
            self.views[path] = view
            return view

        return keep

    async def _highwaters(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 0)


class Exporter:
    """Figures as the real one keeps them: a snapshot and its time, set together."""

    def __init__(self) -> None:
        self.snapshot = b""
        self.refresh(taken=100.0, events=1)

    def refresh(self, taken: float, events: int) -> None:
        metrics.SNAPSHOT_TIMESTAMP.set(taken)
        self.snapshot = f"# TYPE dossier_events counter\ndossier_events_total {events}\n".encode()

    async def lag_family(self, ends: dict[int, int]) -> Any:
        return metrics.lag_family({p: 0 for p in ends})


def scrape_during_a_refresh() -> dict[str, float]:
    pages, exporter = Pages(), Exporter()

    async def applier_metrics() -> bytes:
        await asyncio.sleep(0)
        exporter.refresh(taken=200.0, events=2)  # the timer's refresh ends meanwhile
        return b""

    register_routes(
        cast(Any, pages),
        cast(Any, SimpleNamespace(events_topic=TOPIC, api_token="")),
        cast(Any, None),
        cast(Any, exporter),
        lambda: {TP(TOPIC, 0)},
        applier_metrics,
    )
    view = SimpleNamespace(bytes=lambda body, content_type: body)
    body = asyncio.run(pages.views[METRICS_PATH].get(view, None))
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name in {"dossier_events_total", "iocmon_figures_snapshot_timestamp_seconds"}
    }


def test_the_figures_and_their_time_come_from_the_same_refresh() -> None:
    served = scrape_during_a_refresh()
    assert served == {
        "dossier_events_total": 2.0,
        "iocmon_figures_snapshot_timestamp_seconds": 200.0,
    }
