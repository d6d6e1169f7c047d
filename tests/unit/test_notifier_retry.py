"""Backoff with jitter, and retrying a delivery until it is taken, stopped or obsolete."""

from __future__ import annotations

import random
import threading

from hypothesis import given
from hypothesis import strategies as st

from iocmon.notifier.errors import DeliveryFailed
from iocmon.notifier.retry import Backoff, deliver_until_done


@given(st.integers(0, 10_000), st.integers(0, 2**32))
def test_delays_grow_from_half_a_second_to_the_cap_with_jitter(attempt: int, seed: int) -> None:
    backoff = Backoff(initial_s=0.5, max_s=60.0, rng=random.Random(seed))
    ceiling = min(60.0, 0.5 * 2 ** min(attempt, 62))
    assert ceiling / 2 <= backoff.delay(attempt) <= ceiling


def test_delays_are_spread_out() -> None:
    backoff = Backoff(initial_s=1, max_s=8, rng=random.Random(7))
    delays = [backoff.delay(10) for _ in range(200)]
    assert min(delays) >= 4 and max(delays) <= 8
    assert max(delays) - min(delays) > 2


def fast() -> Backoff:
    return Backoff(initial_s=0.001, max_s=0.002)


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryFailed("test", f"failure {self.calls}")


def test_retries_until_the_receiver_takes_it() -> None:
    send, seen = Flaky(5), []
    done = deliver_until_done(
        send, fast(), threading.Event(), on_failure=lambda exc, n: seen.append((n, exc.reason))
    )
    assert done and send.calls == 6
    assert seen == [(n, f"failure {n + 1}") for n in range(5)]


def test_gives_up_when_stopped() -> None:
    stop = threading.Event()
    send = Flaky(10**9)

    def on_failure(exc: DeliveryFailed, attempt: int) -> None:
        if attempt == 3:
            stop.set()

    assert not deliver_until_done(send, fast(), stop, on_failure=on_failure)
    assert send.calls == 4


def test_gives_up_when_the_delivery_no_longer_matters() -> None:
    send = Flaky(10**9)
    assert not deliver_until_done(send, fast(), threading.Event(), obsolete=lambda: send.calls >= 2)
    assert send.calls == 2
    assert not deliver_until_done(Flaky(0), fast(), threading.Event(), obsolete=lambda: True)


def test_other_errors_are_not_swallowed() -> None:
    def broken() -> None:
        raise ValueError("a bug")

    try:
        deliver_until_done(broken, fast(), threading.Event())
    except ValueError:
        return
    raise AssertionError("a bug must surface, not be retried forever")
