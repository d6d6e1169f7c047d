"""HTTP routes on the worker's web port: `/metrics` and the read-only JSON API.

Every API route shares one wrapper: the optional bearer-token check, the request handed to
the API process (`streams.api_process`, so that heavy reads do not hold the intake back),
and Redis outages turned into 503 with a message that says what to check, instead of a
stack trace.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources

import faust
from aiokafka.errors import KafkaError
from faust.types import TP
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from iocmon.config import Settings
from iocmon.errors import IocmonError
from iocmon.streams import metrics
from iocmon.streams.api_process import ApiProcess
from iocmon.streams.exporter import FigureExporter

log = logging.getLogger(__name__)

REDIS_DOWN = (
    "Redis is not answering; figures are unavailable until it is back. Check REDIS_URL and "
    "that Redis runs (`make up`)."
)
OPENAPI = json.loads(resources.files("iocmon.streams").joinpath("openapi.json").read_text("utf-8"))
METRICS_PATH = "/metrics"
API_ROUTES = {
    "/api/v1/summary": "summary",
    "/api/v1/overdue": "overdue",
    "/api/v1/at-risk": "at_risk",
    "/api/v1/rankings": "rankings",
    "/api/v1/series": "series",
    "/api/v1/agencies/{agency}/procedures": "procedures",
    "/api/v1/report": "report",
    "/api/v1/dossiers/{dossier_id}": "dossier",
    "/api/v1/openapi.json": "openapi",
}
"""Each API path and the name of its handler (`streams.api_process.routes`), all described
in `openapi.json` (tests/unit/test_openapi.py checks both ways)."""


def register_routes(
    app: faust.App,
    settings: Settings,
    api: ApiProcess,
    exporter: FigureExporter,
    owned_partitions: Callable[[], set[TP]],
    applier_metrics: Callable[[], Awaitable[bytes]],
) -> None:
    reporter_tp = TP(settings.events_topic, 0)

    @app.page(METRICS_PATH)
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            lag = b""
            actives = owned_partitions()
            try:
                ends = await app.consumer.highwaters(*actives) if actives else {}
                by_partition = {tp.partition: n for tp, n in ends.items()}
                lag = metrics.render_families([await exporter.lag_family(by_partition)])
            except (RedisError, KafkaError) as exc:
                log.warning("no partition lag on /metrics this time: %s", type(exc).__name__)
            try:
                applier = await applier_metrics()
            except IocmonError as exc:
                log.warning("no applier metrics on /metrics this time: %s", exc)
                applier = b""
            # Taken after the last await, with the snapshot's time rendered below: a refresh
            # that finished during an await would otherwise pair its new time with the old
            # figures, and a scraper take stale figures for fresh ones.
            figures = exporter.snapshot if reporter_tp in actives else b""
            return self.bytes(
                metrics.render(figures, lag, applier=applier),
                content_type="text/plain; version=0.0.4",
            )

    def route(path: str, name: str) -> None:
        async def view(self: View, request: Request, **path_params: str) -> Response:
            if not _authorized(request, settings.api_token):
                return self.json(
                    {"error": "missing or wrong bearer token: send 'Authorization: Bearer "
                     "<IOCMON_API_TOKEN>'"},
                    status=401,
                )  # fmt: skip
            if name == "openapi":
                return self.json(OPENAPI)
            try:
                status, body = await api.answer(
                    name, tuple(path_params.values()), dict(request.query)
                )
            except RedisError as exc:
                log.warning("API %s: Redis error %s", path, type(exc).__name__)
                return self.json({"error": REDIS_DOWN}, status=503)
            return self.bytes(body, content_type="application/json", status=status)

        view.__name__ = "api_" + path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        app.page(path)(view)

    for path, name in API_ROUTES.items():
        route(path, name)


def _authorized(request: Request, token: str) -> bool:
    if not token:
        return True
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
