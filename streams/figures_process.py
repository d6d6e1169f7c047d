"""The worker's fourth process: it reads and renders the dossier figures of `/metrics`.

A refresh reads five calendar periods for every agency, the open dossiers and every
partition's at-risk list: a few hundred Redis round trips and the parsing of their answers.
On Faust's loop it held the intake back (event age p99 ~1.8 s at 2,000 events/s,
`benchmarks.latency`); in the API process it held the API's answers back (the benchmark's
probe, p99 1.3 s). Here it has a loop and a CPU share of its own, at the API's lower
priority. If this process dies the worker stops with it (`streams.child_process`).
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.redis_connection import async_redis
from iocmon.streams.api_process import API_NICENESS
from iocmon.streams.child_process import ChildProcess
from iocmon.streams.exporter import FigureRenderer, Rendered
from iocmon.streams.labels import agency_labels
from iocmon.streams.queries import FigureReader
from iocmon.streams.rpc import PipeRpc


class FiguresProcess(ChildProcess):
    """Faust's side: starts the figures process and asks it for a snapshot."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("figures", run_figures, settings)

    async def figures(self, now: datetime) -> Rendered:
        """Redis errors come back as themselves (`streams.rpc`): the timer says Redis is down."""
        rendered: Rendered = await self.call("figures", now)  # untyped through the pipe
        return rendered


def run_figures(conn: Any, settings: Settings) -> None:
    os.nice(API_NICENESS)
    asyncio.run(_serve(conn, settings))
    os._exit(0)  # the pipe ended: Faust's process stopped; nothing is left to finish


async def _serve(conn: Any, settings: Settings) -> None:
    rpc = PipeRpc(conn, {}, "faust")
    redis = async_redis(settings, timeout_s=settings.redis_timeout_s)
    reader = FigureReader.of(redis, settings)
    catalogue = load_catalogue(settings.agencies_file)
    renderer = FigureRenderer(reader, agency_labels(settings, redis, catalogue), catalogue)

    async def ready() -> bool:
        return True

    rpc.serve(figures=renderer.render, ready=ready)
    rpc.start()
    await rpc.closed.wait()
