"""The worker's third process: it answers the JSON API.

A request for five years of figures by agency reads and sums thousands of Redis hashes. On
Faust's event loop, which also fetches every batch and hands it to the applier, four clients
asking such pages back to back held the intake back by seconds (event age p99 from 0.34 s to
2.5 s, `benchmarks.latency --hammer`). Here the API has a loop, a Redis client and a CPU
share of its own, at a lower priority than the intake (`API_NICENESS`): Faust's process only
forwards each request over a pipe and sends back the JSON the API process encoded.

If this process dies the worker stops with it (`streams.child_process.ChildService`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import load_calendar
from iocmon.domain.procedures import load_procedures
from iocmon.redis_connection import async_redis
from iocmon.streams.api import Api
from iocmon.streams.child_process import ChildProcess
from iocmon.streams.labels import agency_labels
from iocmon.streams.queries import FigureReader
from iocmon.streams.report_api import ReportApi
from iocmon.streams.rpc import PipeRpc

log = logging.getLogger(__name__)

API_NICENESS = 10
"""Added to the API process's nice value: when the CPUs are short, intake goes first."""

Answer = tuple[int, bytes]
"""HTTP status and the JSON body, encoded."""


class ApiProcess(ChildProcess):
    """Faust's side: starts the API process and forwards requests to it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("API", run_api, settings)

    async def answer(
        self, route: str, path_values: tuple[str, ...], params: dict[str, str]
    ) -> Answer:
        """Redis errors come back as themselves (`streams.rpc`): the caller answers 503."""
        # What the API process returns comes untyped through the pipe.
        answer: Answer = await self.call("answer", route, path_values, params)
        return answer


def run_api(conn: Any, settings: Settings) -> None:
    """The API process: answers requests until Faust's process goes away."""
    os.nice(API_NICENESS)  # its logging is set up by streams.child_process, as the worker's
    asyncio.run(_serve(conn, settings))
    os._exit(0)  # the pipe ended: Faust's process stopped; nothing is left to finish


Route = Callable[[tuple[str, ...], Mapping[str, str], datetime], Awaitable[tuple[int, Any]]]


def routes(api: Api, report: ReportApi) -> dict[str, Route]:
    """The API's handlers by route name, each called with the path's values, the query
    parameters and the time of the request."""

    def with_params(handler: Callable[..., Awaitable[tuple[int, Any]]]) -> Route:
        return lambda values, params, now: handler(*values, params, now)

    return {
        "summary": with_params(api.summary),
        "overdue": with_params(api.overdue),
        "at_risk": with_params(api.at_risk),
        "rankings": with_params(api.rankings),
        "series": with_params(api.series),
        "procedures": with_params(api.procedures),
        "report": with_params(report.report),
        "dossier": with_params(api.dossier),
    }


async def _serve(conn: Any, settings: Settings) -> None:
    rpc = PipeRpc(conn, {}, "faust")
    # As the worker's own clients: a Redis that stops answering gives 503s within seconds.
    redis = async_redis(settings, timeout_s=settings.redis_timeout_s)
    reader = FigureReader.of(redis, settings)
    catalogue = load_catalogue(settings.agencies_file)
    procedures = load_procedures(settings.procedures_file)
    api = Api(
        reader,
        catalogue,
        load_calendar(settings.calendar_file),
        settings.retention,
        procedures,
        agency_labels(settings, redis, catalogue),
        settings.on_time_objective,
    )
    handlers = routes(api, ReportApi(reader, catalogue, procedures, settings.retention))

    async def answer(route: str, path_values: tuple[str, ...], params: dict[str, str]) -> Answer:
        status, body = await handlers[route](path_values, params, settings.now())
        return status, orjson.dumps(body)

    async def ready() -> bool:
        return True

    rpc.serve(answer=answer, ready=ready)
    rpc.start()
    await rpc.closed.wait()
