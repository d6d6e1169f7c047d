"""A narrow, lossless way to hand raw records to Kafka.

`replay` and `simulate` only ever need "send these bytes with this key, then tell me whether
Kafka acknowledged every one of them". Hiding `KafkaProducer` behind that lets both commands
take any `Sender` (tests pass an in-memory one) and keeps the delivery settings in one place:
`acks="all"` plus idempotence, so a retried batch is neither lost nor written twice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import (
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)

from iocmon.kafka_connection import explain_failure
from iocmon.producers.errors import DeliveryError
from iocmon.producers.stopping import CLOSE_GRACE_S

_START_HINT = "is it running? `make up`"


class Sender(Protocol):
    """What the producer commands need from a record sink."""

    @property
    def sent(self) -> int:
        """Records handed over so far."""
        ...

    @property
    def acked(self) -> int:
        """Records the sink has confirmed as stored."""
        ...

    def send(self, key: bytes | None, value: bytes) -> None:
        """Queue one record; may return before it is acknowledged."""
        ...

    def flush(
        self,
        on_wait: Callable[[], None] | None = None,
        give_up_at: Callable[[], float | None] = lambda: None,
    ) -> None:
        """Wait for every queued record; raise `DeliveryError` if any was not stored.
        `give_up_at` may return a `time.monotonic()` after which to stop waiting (a stop
        signal, `producers.stopping`); it is asked again while waiting."""
        ...

    def close(self, give_up_at: Callable[[], float | None] = lambda: None) -> None:
        """Flush, then release the connection."""
        ...


class KafkaSender:
    """Sends raw bytes to one topic and counts what the brokers acknowledged.

    Acknowledgements arrive on kafka-python's I/O thread; `on_ack` (if given) is called there
    with the running count, so keep it cheap.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        linger_ms: int = 20,
        batch_size: int = 256 * 1024,
        delivery_timeout_s: float = 60.0,
        connect_timeout_s: float = 15.0,
        on_ack: Callable[[int], None] | None = None,
        producer_factory: Callable[..., Any] = KafkaProducer,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`client_options`: security options from `iocmon.kafka_connection` (SASL, TLS)."""
        self._servers = bootstrap_servers
        self._topic = topic
        self._on_ack = on_ack
        self._delivery_timeout_s = delivery_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._sent = 0
        self._acked = 0
        self._failed = 0
        self._first_error: str | None = None
        self._hint = _START_HINT
        options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers.split(","),
            **(client_options or {}),
        }
        try:
            self._producer = producer_factory(
                **options,
                acks="all",
                enable_idempotence=True,
                linger_ms=linger_ms,
                batch_size=batch_size,
                # request + linger must fit in the delivery timeout, or kafka-python refuses it.
                request_timeout_ms=int(min(30.0, delivery_timeout_s / 2) * 1000),
                delivery_timeout_ms=int(delivery_timeout_s * 1000),
                max_block_ms=int(connect_timeout_s * 1000),
                bootstrap_timeout_ms=int(connect_timeout_s * 1000),
                client_id="iocmon-producer",
            )
        except KafkaError as exc:
            hint = f"{_START_HINT}, or set KAFKA_BOOTSTRAP_SERVERS"
            if options.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
                hint = explain_failure(options)  # TLS or login: say which
            raise DeliveryError(
                f"cannot reach Kafka at {bootstrap_servers} ({exc}): {hint}"
            ) from exc

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def acked(self) -> int:
        return self._acked

    @property
    def failed(self) -> int:
        return self._failed

    def send(self, key: bytes | None, value: bytes) -> None:
        """Queue one record; blocks only while the client's buffer is full (back-pressure)."""
        try:
            future = self._producer.send(self._topic, value=value, key=key)
        except MessageSizeTooLargeError as exc:
            self._sent += 1
            self._on_error(exc)
            return
        except KafkaTimeoutError as exc:
            raise DeliveryError(
                f"Kafka at {self._servers} took no records for topic {self._topic!r} within "
                f"{self._connect_timeout_s:g} s ({exc}): {_START_HINT}, and does the topic exist?"
            ) from exc
        except ValueError as exc:  # an illegal topic name
            raise DeliveryError(f"cannot send to topic {self._topic!r}: {exc}") from exc
        self._sent += 1
        future.add_callback(self._on_success)
        future.add_errback(self._on_error)

    def flush(
        self,
        on_wait: Callable[[], None] | None = None,
        give_up_at: Callable[[], float | None] = lambda: None,
    ) -> None:
        """Wait until every record sent so far is acknowledged or has failed.

        `on_wait` is called about once a second while waiting, so commands can keep showing
        progress. `give_up_at` (asked each round) may end the wait early: a stopping command
        does not wait a delivery timeout for a Kafka that is gone. Raises `DeliveryError`
        naming how many records were not acknowledged.
        """
        deadline = time.monotonic() + self._delivery_timeout_s + 30.0
        while self._acked + self._failed < self._sent:
            now = time.monotonic()
            stop_at = give_up_at()
            if stop_at is not None and now > stop_at:
                missing = self._sent - self._acked - self._failed
                raise DeliveryError(
                    f"stopped with {missing} of {self._sent} records not acknowledged by Kafka "
                    f"at {self._servers} (they may or may not be in topic {self._topic!r}): "
                    f"{_START_HINT}"
                )
            if now > deadline:
                missing = self._sent - self._acked
                raise DeliveryError(
                    f"Kafka at {self._servers} did not answer for {missing} records: {_START_HINT}"
                )
            with contextlib.suppress(KafkaTimeoutError):  # only a progress tick is due
                self._producer.flush(timeout=1.0)
            with self._done:  # batches done, callbacks maybe still running: don't spin
                if self._acked + self._failed < self._sent:
                    self._done.wait(timeout=0.2)
            if on_wait is not None:
                on_wait()
        if self._failed:
            raise DeliveryError(
                f"Kafka at {self._servers} did not acknowledge {self._failed} of {self._sent} "
                f"records to topic {self._topic!r} (first error: {self._first_error}): "
                f"{self._hint}"
            )

    def close(self, give_up_at: Callable[[], float | None] = lambda: None) -> None:
        """Flush (raising `DeliveryError` on loss), then close the client in any case; after
        `give_up_at` the client gets `CLOSE_GRACE_S` to close, not 5 s."""
        try:
            self.flush(give_up_at=give_up_at)
        finally:
            stop_at = give_up_at()
            self._producer.close(timeout=5 if stop_at is None else CLOSE_GRACE_S)

    def __enter__(self) -> KafkaSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._producer.close(timeout=5)

    def _on_success(self, _metadata: object) -> None:
        with self._lock:
            self._acked += 1
            acked = self._acked
            self._done.notify_all()
        if self._on_ack is not None:
            self._on_ack(acked)

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self._failed += 1
            if self._first_error is None:
                self._first_error = f"{type(exc).__name__}: {exc}"
                self._hint = _hint_for(exc)
            self._done.notify_all()


def _hint_for(exc: BaseException) -> str:
    """What to do about the first failure; most are an unreachable or unhappy broker."""
    if isinstance(exc, MessageSizeTooLargeError):
        return "a record is larger than Kafka accepts (max.message.bytes); it cannot be sent"
    if isinstance(exc, InvalidTopicError | TopicAuthorizationFailedError):
        return "check the topic name and that this client may write to it"
    return _START_HINT


class DiscardSender:
    """Counts records and drops them: `simulate --no-send`, which only writes files."""

    def __init__(self) -> None:
        self._sent = 0

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def acked(self) -> int:
        return self._sent

    def send(self, key: bytes | None, value: bytes) -> None:
        self._sent += 1

    def flush(
        self,
        on_wait: Callable[[], None] | None = None,
        give_up_at: Callable[[], float | None] = lambda: None,
    ) -> None:
        pass

    def close(self, give_up_at: Callable[[], float | None] = lambda: None) -> None:
        pass
