"""The rebuild's progress line on stderr: records done, rate, ETA."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO

PROGRESS_EVERY_S = 0.5


class ProgressSink(Protocol):
    """Where a rebuild reports records done out of its total (a `Progress` bar, or a
    worker process's slot that the parent's bar adds up)."""

    def show(self, done: int, total: int, force: bool = False) -> None: ...

    def close(self, done: int, total: int) -> None: ...


class Progress:
    """One line on stderr: records done / total, rate, ETA; redrawn about twice a second."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._clock = clock
        self._start = clock()
        self._last = -1.0
        self._tty = out.isatty()

    def line(self, done: int, total: int) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = done / elapsed
        total = max(total, done)
        share = done / total if total else 1.0
        width = 30
        bar = "#" * int(share * width) + "." * (width - int(share * width))
        eta = "--:--" if rate <= 0 else _clock_text((total - done) / rate)
        return f"rebuild [{bar}] {share:6.1%} {done:,}/{total:,} records {rate:,.0f}/s ETA {eta}"

    def show(self, done: int, total: int, force: bool = False) -> None:
        now = self._clock()
        every = PROGRESS_EVERY_S if self._tty else 5.0
        if not force and now - self._last < every:
            return
        self._last = now
        text = self.line(done, total)
        self._out.write(f"\r{text:<100}" if self._tty else f"{text}\n")
        self._out.flush()

    def close(self, done: int, total: int) -> None:
        self.show(done, total, force=True)
        if self._tty:
            self._out.write("\n")
            self._out.flush()


def _clock_text(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
