"""The notifier's port: `/metrics`, `/healthz` and `/readyz`.

`/healthz` answers while the process serves. `/readyz` says whether the notifier reads its
topic: its loop polled within `READY_POLL_AGE_S` and the consumer group gave it its share
of the alerts topic, none for one standing by (`Notifier.readiness`). A receiver that is
down does not make it unready: it holds back that receiver's commits only, and restarting
the notifier would not bring the receiver back; the `iocmon_notify_*` metrics and the rules
say so instead. Every other path serves the metrics, as before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Readiness = tuple[bool, str]
"""Whether the notifier is ready, and why (or why not)."""
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class HealthApp:
    """The WSGI app of the notifier's port."""

    def __init__(self, registry: CollectorRegistry, readiness: Callable[[], Readiness]) -> None:
        # prometheus_client annotates its WSGI app as a bare `Callable`.
        self._metrics: WsgiApp = make_wsgi_app(registry)
        self._readiness = readiness

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, 200, {"status": "serving"})
        if path == "/readyz":
            ready, detail = self._readiness()
            body = {"ready": ready, "checks": {"kafka": {"ok": ready, "detail": detail}}}
            return _json(start_response, 200 if ready else 503, body)
        return self._metrics(environ, start_response)


def serve(host: str, port: int, app: HealthApp) -> ThreadingWSGIServer:
    """Serves `app` from a daemon thread; `shutdown()` the server to stop."""
    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="notify-web").start()
    return server


class _Quiet(WSGIRequestHandler):
    """No line on stderr per request (Prometheus scrapes every 15 s)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
