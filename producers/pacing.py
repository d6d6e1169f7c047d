"""Time for the simulator: a clock that can start at a chosen instant, and a rate limit.

The send loop asks the clock what time it is (events are never sent before their `at`) and
sleeps through it, so tests drive the loop with a fake clock instead of waiting.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Protocol

from iocmon.domain.calendar import LOCAL_TZ


class Clock(Protocol):
    def now(self) -> datetime:
        """The current (possibly simulated) wall-clock time, aware."""
        ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock, or one that started at `start` and runs at real speed from there
    (`--now`), so a run is reproducible yet still behaves like a live feed."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        if self._start is None:
            return datetime.now(LOCAL_TZ)
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class Pacer:
    """At most `rate` records per second on average (0: no limit), in small bursts so that
    the producer can still batch."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self._rate = rate
        self._clock = clock
        self._burst = max(1.0, rate / 20)
        self._allowance = self._burst
        self._last = clock.monotonic()

    def wait(self) -> None:
        if self._rate <= 0:
            return
        now = self._clock.monotonic()
        self._allowance = min(self._burst, self._allowance + (now - self._last) * self._rate)
        self._last = now
        if self._allowance < 1.0:
            self._clock.sleep((1.0 - self._allowance) / self._rate)
            now = self._clock.monotonic()
            self._allowance += (now - self._last) * self._rate
            self._last = now
        self._allowance -= 1.0
