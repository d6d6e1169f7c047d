"""The worker's helper processes (the applier, the API): spawned, joined by a pipe, stopped.

Spawned, never forked: Faust's process runs threads (the pipes' readers among them) that a
fork would copy mid-flight. Each child is a daemon, so it cannot outlive the worker, and
reads its settings from the object handed over, not from the environment again. If a child
dies the worker stops with it (`ChildService`): its supervisor starts them all again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable, Mapping
from multiprocessing.process import BaseProcess
from typing import Any

import faust
import mode

from iocmon import logs
from iocmon.config import Settings
from iocmon.streams.rpc import Handler, PeerGone, PipeRpc

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0
# Left for the children that still call basicConfig with it: a no-op, since `_child_main` has
# set up their logging (iocmon.logs) before they run.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def _child_main(target: Callable[[Any, Settings], None], conn: Any, settings: Settings) -> None:
    """A child's entry point: its logs as the worker's (format, level, stderr), then `target`."""
    logs.configure_from(settings)
    target(conn, settings)


class ChildProcess:
    """Faust's side of one helper process: starts it, waits for its `ready`, calls it."""

    def __init__(
        self,
        name: str,
        target: Callable[[Any, Settings], None],
        settings: Settings,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.name = name
        self._target = target
        self._settings = settings
        self._handlers = dict(handlers or {})
        self._process: BaseProcess | None = None
        self._rpc: PipeRpc | None = None
        self._ready = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        self._process = context.Process(
            target=_child_main,
            args=(self._target, there, self._settings),
            name=f"iocmon-{self.name}",
            daemon=True,
        )
        self._process.start()
        there.close()
        self._rpc = PipeRpc(here, self._handlers, self.name)
        self._rpc.start()
        try:
            await self._rpc.call("ready")
        except PeerGone:
            if self._stopping:  # the worker was stopped while this process started
                return
            raise
        self._ready.set()
        log.info("%s process %d ready", self.name, self._process.pid)

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    @property
    def rpc(self) -> PipeRpc:
        """The pipe to the child, for calls that must not wait (`start` first)."""
        assert self._rpc is not None and self._ready.is_set(), "start() first"
        return self._rpc

    async def call(self, name: str, *args: Any) -> Any:
        await self._ready.wait()
        return await self.rpc.call(name, *args)

    async def stopped(self) -> None:
        """Returns when the child has gone."""
        await self._ready.wait()
        await self.rpc.closed.wait()

    def stop(self) -> None:
        """Terminates the child; killed if it has not gone after `STOP_WAIT_S`."""
        self._stopping = True
        if self._process is None:
            return
        self._process.terminate()
        self._process.join(STOP_WAIT_S)
        if self._process.is_alive():
            self._process.kill()


class ChildService(mode.Service):
    """Starts and stops a child with the Faust app; if it dies, so does the worker."""

    def __init__(self, app: faust.App, child: ChildProcess, **kwargs: Any) -> None:
        self._app = app
        self._child = child
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await self._child.start()

    async def on_stop(self) -> None:
        self._child.stop()

    @mode.Service.task
    async def _watch(self) -> None:
        await self._child.stopped()
        if not self.should_stop:
            what = f"the {self._child.name} process stopped"
            log.error("%s; stopping the worker (see the log above)", what)
            await self._app.crash(RuntimeError(what))
