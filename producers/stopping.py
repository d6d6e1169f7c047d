"""Ctrl-C and SIGTERM for the producer commands: stop sending, then wait a bounded time.

A service manager sends SIGTERM and kills after a grace period (systemd: 90 s, Kubernetes:
30 s, run.sh: 20 s); an operator often stops Kafka first. Waiting for Kafka's
acknowledgements as long as a healthy run would (the delivery timeout, a minute and more)
then outlives that grace period and ends in SIGKILL, without the truth file or the summary.
So the first signal stops the run and gives what is in flight `STOP_GRACE_S` to be
acknowledged; whatever is still unacknowledged then is reported, not waited for. A second
signal aborts at once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

# What is in flight gets this long after a stop signal; closing the client takes up to
# CLOSE_GRACE_S more, so a stopped producer exits within 10 s even with Kafka gone.
STOP_GRACE_S = 5.0
CLOSE_GRACE_S = 2.0


Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
"""What `signal.signal` installs and returns (None: a handler not installed from Python)."""


class StopSignals:
    """Installed as a context manager: SIGINT and SIGTERM request a stop instead of raising."""

    def __init__(self, grace_s: float = STOP_GRACE_S) -> None:
        self._grace_s = grace_s
        self._requested_at: float | None = None
        self._previous: dict[signal.Signals, Handler] = {}

    @property
    def requested(self) -> bool:
        return self._requested_at is not None

    def give_up_at(self) -> float | None:
        """The `time.monotonic()` after which waiting for Kafka stops; None while no stop
        was requested (wait as long as delivery needs)."""
        return None if self._requested_at is None else self._requested_at + self._grace_s

    def request(self) -> None:
        """What the first signal does; also for callers that stop for reasons of their own."""
        if self._requested_at is None:
            self._requested_at = time.monotonic()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.request()

    def __enter__(self) -> StopSignals:
        self._previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
