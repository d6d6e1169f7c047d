"""A worker asked to stop exits within a bounded time, whatever it waits for.

Faust stops its services one by one on SIGTERM, and several of them wait for Kafka: the
consumer commits and leaves the group, the producer flushes. With Kafka already gone (an
operator stopping everything, Kafka first) those waits are retried for minutes, so the
worker outlived every service manager's grace period and ended in SIGKILL.

Nothing is lost by cutting the stop short: a batch is acknowledged (and its offset committed)
only once it is in Redis, and Redis keeps the applied offset per partition, so records whose
commit did not reach Kafka are read again by the next owner and change nothing (the offset
fence, `streams.intake`). The applier process ends by itself when this one goes (its pipe
closes).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from faust.worker import Worker

log = logging.getLogger(__name__)

# The wanted bound is 10 s from the signal to the exit; Faust's own stop, when Kafka answers,
# takes one or two seconds.
STOP_GRACE_S = 8.0
EXIT_STOP_CUT_SHORT = 1


class StopDeadline:
    """Armed once; `grace_s` later it ends the process unless disarmed (the stop finished)."""

    def __init__(
        self, grace_s: float = STOP_GRACE_S, exit: Callable[[int], Any] = os._exit
    ) -> None:
        self._grace_s = grace_s
        self._exit = exit
        self._timer: threading.Timer | None = None
        self.fired = threading.Event()

    def arm(self, why: str) -> None:
        if self._timer is not None:
            return
        log.info("%s: stopping; the worker exits within %.0f s whatever it waits for", why,
                 self._grace_s)  # fmt: skip
        self._timer = threading.Timer(self._grace_s, self._fire, args=(why,))
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self, why: str) -> None:
        self.fired.set()
        log.error(
            "the stop after %s did not finish within %.0f s (is Kafka reachable?): exiting "
            "without it. Offsets not committed are read again at the next start and change "
            "nothing (each partition's applied offset is in Redis).",
            why,
            self._grace_s,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        self._exit(EXIT_STOP_CUT_SHORT)


class BoundedStopWorker(Worker):
    """Faust's Worker whose stop on SIGTERM or SIGINT is bounded by a `StopDeadline`."""

    def __init__(self, *args: Any, stop_deadline: StopDeadline | None = None, **kwargs: Any):
        self.stop_deadline = stop_deadline or StopDeadline()
        super().__init__(*args, **kwargs)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        # mode's hook for both signals (mode.worker.Worker._on_sigterm/_on_sigint).
        self.stop_deadline.arm(signal.name)
        super()._schedule_shutdown(signal)
