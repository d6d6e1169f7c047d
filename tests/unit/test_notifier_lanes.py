"""Delivery lanes: in order, batched, retried until taken, acknowledged to Progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from iocmon.notifier.errors import DeliveryFailed
from iocmon.notifier.lanes import Delivery, Job, Lane, Refresh
from iocmon.notifier.progress import Progress
from iocmon.notifier.retry import Backoff


class FakeSink:
    """Records what it is sent; fails while `down` is set."""

    kind = "fake"

    def __init__(self, target: str = "fake:1", max_batch: int = 3) -> None:
        self.target = target
        self.max_batch = max_batch
        self.down = threading.Event()
        self.batches: list[list[object]] = []
        self.attempts = 0

    def needs_sending(self, job: Job) -> bool:
        return bool(job.alerts if isinstance(job, Refresh) else job.item)

    def send(self, jobs: Sequence[Job]) -> int:
        self.attempts += 1
        if self.down.is_set():
            raise DeliveryFailed(self.kind, "down")
        items = [j.alerts if isinstance(j, Refresh) else j.item for j in jobs]
        self.batches.append(items)
        return len(items)


class Events:
    def __init__(self) -> None:
        self.alerts = 0
        self.failures = 0

    def delivered(self, lane: Lane, alerts: int) -> None:
        self.alerts += alerts

    def failed(self, lane: Lane, exc: DeliveryFailed, attempt: int) -> None:
        self.failures += 1


def wait_until(condition: Callable[[], bool], timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def make_lane(sink: FakeSink, progress: Progress) -> tuple[Lane, Events]:
    events = Events()
    lane = Lane(sink, progress, Backoff(0.001, 0.01), events)
    lane.start()
    return lane, events


def test_delivers_in_order_in_batches_and_acknowledges_markers_too() -> None:
    sink = FakeSink(max_batch=3)
    progress = Progress(["fake fake:1"])
    epoch = progress.assign(0)
    lane, events = make_lane(sink, progress)
    try:
        sink.down.set()  # hold the first job so that the rest queue up behind it
        lane.put(Delivery(0, 0, epoch, "a", 0.0))
        wait_until(lambda: sink.attempts >= 1)
        for offset, item in enumerate(["b", None, "c", "d", "e"], start=1):
            lane.put(Delivery(0, offset, epoch, item, 0.0))
        sink.down.clear()
        wait_until(lambda: progress.committable() == {0: 6})
        assert sink.batches == [["a"], ["b", "c"], ["d", "e"]]  # the marker is not sent
        assert lane.pending() == 0 and lane.oldest_pending_s() == 0
        assert events.failures >= 1 and events.alerts == 5
    finally:
        lane.stop()
        lane.join(2)


def test_a_receiver_outage_holds_back_commits_and_loses_nothing() -> None:
    am, hook = FakeSink("am:1"), FakeSink("hook:1")
    progress = Progress(["fake am:1", "fake hook:1"])
    epoch = progress.assign(0)
    am_lane, _ = make_lane(am, progress)
    hook_lane, _ = make_lane(hook, progress)
    try:
        hook.down.set()
        for offset in range(10):
            am_lane.put(Delivery(0, offset, epoch, f"r{offset}", time.monotonic()))
            hook_lane.put(Delivery(0, offset, epoch, f"r{offset}", time.monotonic()))
        wait_until(lambda: sum(len(b) for b in am.batches) == 10)  # Alertmanager unaffected
        time.sleep(0.05)
        assert progress.committable() == {}
        assert hook_lane.pending() == 10 and hook_lane.oldest_pending_s() > 0
        hook.down.clear()
        wait_until(lambda: progress.committable() == {0: 10})
        assert [i for b in hook.batches for i in b] == [f"r{n}" for n in range(10)]
    finally:
        for lane in (am_lane, hook_lane):
            lane.stop()
            lane.join(2)


def test_jobs_of_a_partition_that_moved_away_are_dropped() -> None:
    sink = FakeSink(max_batch=1)
    progress = Progress(["fake fake:1"])
    epoch = progress.assign(0)
    lane, _ = make_lane(sink, progress)
    try:
        sink.down.set()
        lane.put(Delivery(0, 0, epoch, "stuck", 0.0))
        lane.put(Delivery(0, 1, epoch, "queued", 0.0))
        wait_until(lambda: sink.attempts >= 2)
        progress.revoke(0)
        wait_until(lambda: lane.pending() == 0)
        assert sink.batches == []
    finally:
        lane.stop()
        lane.join(2)


def test_only_the_latest_resend_is_sent() -> None:
    sink = FakeSink()
    progress = Progress(["fake fake:1"])
    lane, _ = make_lane(sink, progress)
    try:
        sink.down.set()
        lane.put(Refresh(1, ("x",), 0.0))  # type: ignore[arg-type]
        wait_until(lambda: sink.attempts >= 2)
        lane.put(Refresh(2, ("x", "y"), 0.0))  # type: ignore[arg-type]
        lane.put(Refresh(3, ("x", "y", "z"), 0.0))  # type: ignore[arg-type]
        sink.down.clear()
        wait_until(lambda: lane.pending() == 0)
        assert sink.batches == [[("x", "y", "z")]]
    finally:
        lane.stop()
        lane.join(2)


def test_stopping_abandons_the_delivery_in_flight() -> None:
    sink = FakeSink()
    progress = Progress(["fake fake:1"])
    epoch = progress.assign(0)
    lane, _ = make_lane(sink, progress)
    sink.down.set()
    lane.put(Delivery(0, 0, epoch, "a", 0.0))
    wait_until(lambda: sink.attempts >= 1)
    lane.stop()
    lane.join(2)
    assert not lane.is_alive()
    assert progress.committable() == {}
