"""The simulator's send loop: planned events out to a `Sender`, in time order, on time.

Planned events come in `at` order (`timeline.merge_by_time`). Those already in the past
(the backfill) go out as fast as the pacer allows; the loop then follows the clock, sending
each event once its `at` has passed, so nothing is ever sent ahead of the clock (the worker
dead-letters events more than a day in the future). Repeats and bad records from `Faults`
are sent right after the event that triggered them. Every record sent is shown to the truth
ledger and to an optional sink (the `--events-out` file).

The clock, the sender and the stop signal are parameters, so tests run this loop with a
fake clock and an in-memory sender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from iocmon.producers.lifecycle_plan import PlannedDossier, PlannedEvent
from iocmon.producers.pacing import Clock, Pacer
from iocmon.producers.records import Faults, OutRecord, event_record
from iocmon.producers.sender import Sender
from iocmon.producers.truth import TruthLedger


@dataclass(frozen=True, slots=True)
class Limits:
    duration_s: float | None = None
    """Seconds to run; 0: stop once the backfill is sent; None: until stopped."""
    max_events: int | None = None
    """Records to send at most (events, repeats and bad records alike)."""


@dataclass(slots=True)
class RunStats:
    sent: int = 0
    events: int = 0
    duplicates: int = 0
    invalid: int = 0
    clock: datetime | None = None
    """`at` of the last event sent: how far the simulation has got."""
    live: bool = False
    """True once the backfill is out and the loop waits for the clock."""
    stopped_because: str = "plan exhausted"


class Simulation:
    def __init__(
        self,
        stream: Iterable[tuple[PlannedEvent, PlannedDossier]],
        sender: Sender,
        *,
        clock: Clock,
        faults: Faults,
        ledger: TruthLedger,
        limits: Limits,
        rate: float = 0.0,
        personal_data: bool = True,
        sink: Callable[[OutRecord], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        stats: RunStats | None = None,
    ) -> None:
        self.stats = stats if stats is not None else RunStats()
        self._stream = stream
        self._sender = sender
        self._clock = clock
        self._faults = faults
        self._ledger = ledger
        self._limits = limits
        self._pacer = Pacer(rate, clock)
        self._personal_data = personal_data
        self._sink = sink
        self._on_idle = on_idle or (lambda: None)
        self._should_stop = should_stop
        self._deadline: float | None = None
        self._backfill_end = clock.now()

    def run(self) -> RunStats:
        """Send until the plan, the duration or the event budget runs out, or a stop."""
        if self._limits.duration_s:
            self._deadline = self._clock.monotonic() + self._limits.duration_s
        # The backfill is what was due at the start: fixed here, so that `duration_s=0`
        # sends the same records however long sending them takes.
        self._backfill_end = self._clock.now()
        for event, dossier in self._stream:
            if self._budget_spent() or not self._wait_until(event.at):
                return self.stats
            record = event_record(event, personal_data=self._personal_data)
            if not self._send(record, dossier):
                return self.stats
            self.stats.clock = event.at
            for extra in self._faults.after(record):
                if not self._send(extra, None):
                    return self.stats
        return self.stats

    def _wait_until(self, at: datetime) -> bool:
        """Block until `at` has passed on the clock; False if the run must end first."""
        while True:
            if self._should_stop():
                return self._stop("interrupted")
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                return self._stop("duration reached")
            if at > self._backfill_end:
                self.stats.live = True
                if self._limits.duration_s == 0:
                    return self._stop("backfill sent")
            ahead = (at - self._clock.now()).total_seconds()
            if ahead <= 0:
                return True
            nap = min(1.0, ahead, remaining if remaining is not None else 1.0)
            self._clock.sleep(nap)
            self._on_idle()

    def _budget_spent(self) -> bool:
        limit = self._limits.max_events
        return limit is not None and self.stats.sent >= limit and not self._stop("max events sent")

    def _send(self, record: OutRecord, dossier: PlannedDossier | None) -> bool:
        if self._budget_spent():
            return False
        self._pacer.wait()
        self._sender.send(record.key, record.value)
        self.stats.sent += 1
        if record.kind == "event":
            self.stats.events += 1
        elif record.kind == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.invalid += 1
        self._ledger.record(record, dossier)
        if self._sink is not None:
            self._sink(record)
        self._on_idle()
        return True

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return self._deadline - self._clock.monotonic()

    def _stop(self, reason: str) -> bool:
        self.stats.stopped_because = reason
        return False
