"""Calls both ways between two processes' event loops over one multiprocessing pipe.

The worker runs its intake in two processes (`streams.applier_process`): Faust's, and the
one that judges and writes. Each side serves named handlers to the other and calls the
other's; a call is a pickled `(request id, name, args)` and its answer a result or an
error. A thread per side blocks on the pipe and hands what arrives to the event loop. When
the other side goes away the pipe ends: every call under way fails with `PeerGone`, and
`closed` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

import aiokafka.errors
import redis.exceptions

from iocmon.errors import IocmonError

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]

_RAISED_AGAIN = {"redis.exceptions": redis.exceptions, "aiokafka.errors": aiokafka.errors}
"""Modules whose errors the caller handles by type, raised again as such on its side: the
intake retries a batch whose dead letters Kafka did not take, and the alert timer backs off
when Redis does not answer (a Redis error that came back as RemoteError crashed the worker)."""


class PeerGone(IocmonError):
    """The process at the other end of the pipe stopped."""


class RemoteError(IocmonError):
    """The handler on the other side raised; the message names its error."""


class PipeRpc:
    def __init__(self, conn: Connection, handlers: Mapping[str, Handler], name: str) -> None:
        self._conn = conn
        self._handlers = dict(handlers)
        self._name = name
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._serving: set[asyncio.Future[None]] = set()
        self._send_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = asyncio.Event()

    def serve(self, **handlers: Handler) -> None:
        self._handlers.update(handlers)

    def start(self) -> None:
        """Starts reading the pipe; call from the event loop that handles and calls."""
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, name=f"{self._name}-pipe", daemon=True).start()

    async def call(self, name: str, *args: Any) -> Any:
        return await self.request(name, *args)

    def request(self, name: str, *args: Any) -> asyncio.Future[Any]:
        """Sends the call now (calls arrive in the order they were made); the answer later."""
        assert self._loop is not None, "start() first"
        future: asyncio.Future[Any] = self._loop.create_future()
        if self.closed.is_set():
            future.set_exception(PeerGone(f"{self._name}: the other process has stopped"))
            return future
        request = next(self._ids)
        self._pending[request] = future
        future.add_done_callback(lambda _: self._pending.pop(request, None))
        try:
            self._send(("call", request, name, args))
        except PeerGone as exc:
            future.set_exception(exc)
        return future

    def notify(self, name: str, *args: Any) -> None:
        """A call whose answer nobody waits for."""
        if not self.closed.is_set():
            self._send(("call", None, name, args))

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            with self._send_lock:
                self._conn.send(message)
        except (BrokenPipeError, EOFError, OSError) as exc:
            raise PeerGone(f"{self._name}: the other process has stopped") from exc

    def _read(self) -> None:
        assert self._loop is not None
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                self._loop.call_soon_threadsafe(self._gone)
                return
            self._loop.call_soon_threadsafe(self._arrived, message)

    def _arrived(self, message: tuple[Any, ...]) -> None:
        kind, request, *rest = message
        if kind == "call":
            name, args = rest
            task = asyncio.ensure_future(self._answer(request, name, args))
            self._serving.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._serving.discard)
            return
        future = self._pending.get(request)
        if future is None or future.done():
            return
        if kind == "ok":
            future.set_result(rest[0])
        else:
            error, text = rest
            future.set_exception(_raised_again(error, text))

    async def _answer(self, request: int | None, name: str, args: tuple[Any, ...]) -> None:
        try:
            result = await self._handlers[name](*args)
        except Exception as exc:  # handed to the caller, which decides
            if request is None:
                log.warning("%s: %s failed (%s: %s)", self._name, name, type(exc).__name__, exc)
            else:
                name = f"{type(exc).__module__}.{type(exc).__qualname__}"
                self._reply(("error", request, name, str(exc)))
            return
        if request is not None:
            self._reply(("ok", request, result))

    def _reply(self, message: tuple[Any, ...]) -> None:
        with contextlib.suppress(PeerGone):  # the caller is gone: nobody waits for the answer
            self._send(message)

    def _gone(self) -> None:
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PeerGone(f"{self._name}: the other process has stopped"))


def _raised_again(error: str, text: str) -> Exception:
    """The exception a handler raised, as the caller can catch it: its own type for Redis and
    Kafka errors, `RemoteError` for anything else."""
    module, _, name = error.rpartition(".")
    kind = getattr(_RAISED_AGAIN[module], name, None) if module in _RAISED_AGAIN else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(f"{name}: {text}")
        except TypeError:  # a constructor that wants more than a message
            pass
    return RemoteError(f"{name}: {text}")
