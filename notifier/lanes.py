"""One delivery lane per receiver: a queue of jobs that a thread of its own delivers in order.

Lanes keep receivers apart: while the webhook is down, Alertmanager still gets every new
alert at once (and the other way round); only the committed offset waits for both. A job is
retried until its receiver takes it (see `retry`), then acknowledged to `Progress`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from iocmon.notifier.errors import DeliveryFailed
from iocmon.notifier.model import AlertRecord
from iocmon.notifier.progress import Progress
from iocmon.notifier.retry import Backoff, deliver_until_done

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one record of the alerts topic asks of one receiver. `item` is what the
    receiver needs (changes for Alertmanager, the record for the webhook), or None/empty when
    it needs nothing: the job then only carries the offset forward."""

    partition: int
    offset: int
    epoch: int
    item: Any
    queued_at: float


@dataclass(frozen=True, slots=True)
class Refresh:
    """Send every active alert again (Alertmanager forgets alerts not re-sent in time)."""

    seq: int
    alerts: tuple[AlertRecord, ...]
    queued_at: float


Job = Delivery | Refresh


class Sink(Protocol):
    """A receiver, as a lane sees it."""

    kind: str  # "alertmanager", "webhook"
    target: str  # host:port
    max_batch: int  # jobs per send()

    def needs_sending(self, job: Job) -> bool: ...

    def send(self, jobs: Sequence[Job]) -> int:
        """Deliver the jobs or raise DeliveryFailed; returns the number of alerts sent."""
        ...


class LaneEvents(Protocol):
    def delivered(self, lane: Lane, alerts: int) -> None: ...

    def failed(self, lane: Lane, exc: DeliveryFailed, attempt: int) -> None: ...


class Lane(threading.Thread):
    def __init__(
        self,
        sink: Sink,
        progress: Progress,
        backoff: Backoff,
        events: LaneEvents,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name=f"lane {sink.kind} {sink.target}", daemon=True)
        self.sink = sink
        self.id = f"{sink.kind} {sink.target}"
        self._progress = progress
        self._backoff = backoff
        self._events = events
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._current: list[Job] = []
        self._latest_refresh = 0
        self._halt = threading.Event()

    # -- called by the service thread ----------------------------------------------------

    def put(self, job: Job) -> None:
        with self._cond:
            if isinstance(job, Refresh):
                self._latest_refresh = max(self._latest_refresh, job.seq)
            self._queue.append(job)
            self._cond.notify()

    def pending(self) -> int:
        """Jobs queued or being delivered."""
        with self._cond:
            return len(self._queue) + len(self._current)

    def oldest_pending_s(self) -> float:
        """Age of the oldest job not yet delivered (0 when there is none)."""
        with self._cond:
            head = self._current[0] if self._current else (self._queue[0] if self._queue else None)
            return 0.0 if head is None else max(0.0, self._clock() - head.queued_at)

    def stop(self) -> None:
        """Stop after the current attempt; undelivered jobs are left undelivered (their
        records are not committed, so the next run delivers them)."""
        self._halt.set()
        with self._cond:
            self._cond.notify_all()

    # -- the lane's thread ---------------------------------------------------------------

    def run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            work = [
                job for job in batch if not self._obsolete(job) and self.sink.needs_sending(job)
            ]
            if work:
                sent = 0

                def send(work: list[Job] = work) -> None:
                    nonlocal sent
                    sent = self.sink.send(work)

                def obsolete(work: list[Job] = work) -> bool:
                    return all(self._obsolete(job) for job in work)

                done = deliver_until_done(
                    send,
                    self._backoff,
                    self._halt,
                    obsolete=obsolete,
                    on_failure=lambda exc, attempt: self._events.failed(self, exc, attempt),
                )
                if self._halt.is_set():
                    return
                if done:
                    self._events.delivered(self, sent)
            self._finish(batch)

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self._queue and not self._halt.is_set():
                self._cond.wait()
            if self._halt.is_set():
                return None
            head = self._queue.popleft()
            batch: list[Job] = [head]
            if isinstance(head, Delivery):
                while (
                    self._queue
                    and isinstance(self._queue[0], Delivery)
                    and len(batch) < self.sink.max_batch
                ):
                    batch.append(self._queue.popleft())
            self._current = batch
            return batch

    def _finish(self, batch: list[Job]) -> None:
        for job in batch:
            if isinstance(job, Delivery):
                self._progress.ack(self.id, job.partition, job.epoch, job.offset)
        with self._cond:
            self._current = []

    def _obsolete(self, job: Job) -> bool:
        """A job whose partition moved elsewhere, or a resend that a newer one replaces."""
        if isinstance(job, Refresh):
            with self._cond:
                return job.seq < self._latest_refresh
        return not self._progress.owns(job.partition, job.epoch)
