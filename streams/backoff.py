"""Delays between attempts at a write that Redis or Kafka refused: doubling, capped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first_s: float = 0.2
    max_s: float = 10.0

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    def __init__(self, backoff: Backoff) -> None:
        self._next = backoff.first_s
        self._max = backoff.max_s

    def __call__(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._max)
        return delay


DEFAULT_BACKOFF = Backoff()
