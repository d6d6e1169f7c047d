"""Watching a pipeline's progress from outside: applied offsets in Redis vs Kafka's end offsets.

Fault tests time how long processing stalls after a fault. They poll often, so one Kafka
client is kept open for the end offsets instead of the harness's one-client-per-call helpers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from kafka import KafkaConsumer, TopicPartition

from tests.integration.harness import Pipeline

POLL_S = 0.25


class Progress:
    """Applied offsets (Redis, the pipeline's truth) and end offsets (Kafka) of the events topic."""

    def __init__(self, pipeline: Pipeline, bootstrap: str | None = None) -> None:
        self.pipeline = pipeline
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap or pipeline.stack.kafka)
        self._parts = [TopicPartition(pipeline.events_topic, p) for p in range(pipeline.partitions)]

    def applied(self) -> dict[int, int]:
        return self.pipeline.applied_offsets()

    def ends(self) -> dict[int, int]:
        return {tp.partition: off for tp, off in self._consumer.end_offsets(self._parts).items()}

    def applied_records(self) -> int:
        return sum(off + 1 for off in self.applied().values() if off >= 0)

    def lag(self) -> int:
        """Records in the topic not yet applied (the ends are read after the applied offsets,
        so a record in flight makes it larger, never smaller)."""
        applied = self.applied()
        ends = self.ends()
        return sum(end - (applied[p] + 1) for p, end in ends.items())

    def wait_all_moving(self, since: dict[int, int], started: float, timeout_s: float) -> float:
        """Seconds from `started` (monotonic) until every partition has applied records past
        `since`, unless no record came after `since` there: processing resumed everywhere."""

        def resumed() -> bool:
            applied = self.applied()
            ends = self.ends()
            return all(applied[p] > since[p] or ends[p] - 1 <= since[p] for p in ends)

        return wait_timed(resumed, started, timeout_s, "every partition to apply records again")

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def wait_timed(condition: Callable[[], bool], started: float, timeout_s: float, what: str) -> float:
    """Like harness.wait_for, but returns the seconds from `started` until `condition` held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - started
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of measured seconds, rounded for the figures report."""
    ordered = sorted(values)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return {"min": round(ordered[0], 1), "median": round(median, 1), "max": round(ordered[-1], 1)}
