"""Retrying a delivery until the receiver takes it: exponential backoff with jitter.

Nothing is ever dropped: a delivery is retried for as long as it takes, and given up only when
the notifier stops (its records are then not committed, so the next run delivers them) or
when it no longer matters (its partition moved to another notifier; a newer resend replaced it).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from iocmon.notifier.errors import DeliveryFailed

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Delay before retry number `attempt` (0 for the first retry): a random time between
    half and all of `initial_s * 2**attempt`, capped at `max_s`. The randomness keeps
    notifiers that failed together from hammering a recovering receiver in step."""

    initial_s: float = 0.5
    max_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_s, self.initial_s * 2 ** min(attempt, 62))
        return self.rng.uniform(ceiling / 2, ceiling)


def deliver_until_done(
    send: Callable[[], None],
    backoff: Backoff,
    stop: threading.Event,
    *,
    obsolete: Callable[[], bool] = lambda: False,
    on_failure: Callable[[DeliveryFailed, int], None] = lambda exc, attempt: None,
) -> bool:
    """Call `send` until it returns. False if given up because `stop` was set or the
    delivery became `obsolete` (checked before every attempt)."""
    attempt = 0
    while not stop.is_set():
        if obsolete():
            return False
        try:
            send()
            return True
        except DeliveryFailed as exc:
            on_failure(exc, attempt)
        if stop.wait(backoff.delay(attempt)):
            break
        attempt += 1
    return False
