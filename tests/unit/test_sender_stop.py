"""A stopping producer command waits for Kafka's acknowledgements only until its grace ends.

The producer here never acknowledges anything, as when Kafka has stopped: without a give-up
time `flush` would wait the delivery timeout and more (a minute here).
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from iocmon.producers.errors import DeliveryError
from iocmon.producers.sender import KafkaSender
from iocmon.producers.stopping import StopSignals


class SilentFuture:
    def add_callback(self, fn: Any) -> None:
        pass

    def add_errback(self, fn: Any) -> None:
        pass


class KafkaGone:
    """A KafkaProducer whose broker went away: sends queue, nothing is ever acknowledged."""

    def __init__(self, **options: Any) -> None:
        self.closed_with: float | None = None

    def send(self, topic: str, value: bytes, key: bytes | None) -> SilentFuture:
        return SilentFuture()

    def flush(self, timeout: float | None = None) -> None:
        time.sleep(min(timeout or 0.0, 0.05))

    def close(self, timeout: float | None = None) -> None:
        self.closed_with = timeout


def sender() -> KafkaSender:
    return KafkaSender("127.0.0.1:1", "t", delivery_timeout_s=60, producer_factory=KafkaGone)


def test_a_stop_ends_the_wait_and_names_what_was_not_acknowledged() -> None:
    s = sender()
    s.send(b"k", b"v")
    s.send(b"k", b"v")
    with pytest.raises(DeliveryError, match="stopped with 2 of 2 records not acknowledged"):
        s.flush(give_up_at=lambda: time.monotonic() - 1)


def test_close_after_a_stop_gives_the_client_a_short_grace() -> None:
    s = sender()
    s.send(b"k", b"v")
    with pytest.raises(DeliveryError):
        s.close(give_up_at=lambda: time.monotonic() - 1)
    producer = s._producer
    assert isinstance(producer, KafkaGone)
    assert producer.closed_with is not None and producer.closed_with < 5


def test_the_first_signal_requests_a_stop_with_a_give_up_time_and_the_second_aborts() -> None:
    with StopSignals(grace_s=3) as stop:
        assert stop.give_up_at() is None
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested
        give_up = stop.give_up_at()
        assert give_up is not None and give_up > time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
