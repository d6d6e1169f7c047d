"""A throttled one-line status report on stderr for long-running producer commands.

Both `replay` and `simulate` may run for minutes; a line every couple of seconds shows they are
alive and how fast they go without flooding a terminal or a CI log. The clock and the output
stream are parameters so tests can drive it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class RateMeter:
    """Average rate of a growing counter since the previous reading."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_t = clock()
        self._last_n = 0

    def rate(self, count: int) -> float:
        now = self._clock()
        dt = now - self._last_t
        if dt <= 0:
            return 0.0
        value = (count - self._last_n) / dt
        self._last_t, self._last_n = now, count
        return value


class Progress:
    """Writes `render()` to `out` when `interval` seconds have passed since the last line."""

    def __init__(
        self,
        render: Callable[[], str],
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        out: TextIO | None = None,
    ) -> None:
        self._render = render
        self._interval = interval
        self._clock = clock
        self._out = out if out is not None else sys.stderr
        self._next = clock() + interval

    def tick(self, *, force: bool = False) -> None:
        now = self._clock()
        if force or now >= self._next:
            self._next = now + self._interval
            print(self._render(), file=self._out, flush=True)
