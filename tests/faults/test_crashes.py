"""Workers killed with SIGKILL again and again mid-stream: the figures still equal the truth.

A kill -9 leaves no chance to commit offsets or finish a Redis write, so Kafka redelivers
whatever the dead worker had not committed; the per-partition CAS on the last applied offset
must skip what was already applied. Each kill is followed at once by a replacement worker (as a
supervisor would start one), and the test measures how long processing stalls:

    recovery = from the kill until every partition of the events topic has applied records
               past its applied offset at the kill (unless no record came after it).

The dead worker's partitions stay silent until the group coordinator gives them to a survivor
or to the replacement (the session timeout, 10 s in the tests, bounds it), so this is the time
an operator sees some agencies' figures frozen. Times are reported, never asserted.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.figures import report
from tests.faults.progress import Progress, spread
from tests.integration.harness import Pipeline, Worker, sum_samples, wait_for
from tests.integration.truth import (
    assert_dead_letters_as_designed,
    assert_figures_exact,
    expected_from_truth,
)
from tests.integration.workload import (
    accounted_records,
    count_records,
    dead_letter_sources,
    finish,
    start_simulator,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_3_kills_of_2_workers_during_15k_events(pipeline: Pipeline, tmp_path: Path) -> None:
    """The CI version: three kills, two workers, a 60 s stream."""
    run_kills(pipeline, tmp_path, events=15_000, rate=250, kills=3, workers=2, seed=71)


@pytest.mark.faults_full
def test_10_kills_of_3_workers_during_100k_events(pipeline: Pipeline, tmp_path: Path) -> None:
    events = int(os.environ.get("IOCMON_FAULT_CRASH_EVENTS", "100000"))
    run_kills(pipeline, tmp_path, events=events, rate=300, kills=10, workers=3, seed=72)


def run_kills(
    pipeline: Pipeline,
    tmp_path: Path,
    *,
    events: int,
    rate: float,
    kills: int,
    workers: int,
    seed: int,
) -> None:
    """`events` records sent live at `rate`/s (slower than the workers apply, so every
    partition keeps receiving records and a dead owner shows as a stalled partition)."""
    rng = random.Random()
    rng_seed = rng.randrange(1 << 30)
    rng.seed(rng_seed)
    # Kill points spread over 10-85 % of the stream, so every kill finds the stream running.
    step = 0.75 / kills
    targets = [int(events * (0.10 + step * (i + rng.random()))) for i in range(kills)]
    print(f"{events} records at {rate}/s, kills at {targets} applied (rng seed {rng_seed})")

    live: list[Worker] = [pipeline.start_worker() for _ in range(workers)]
    source, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    producer = start_simulator(pipeline, source, truth, events=events, rate=rate, seed=seed)
    recoveries: list[float] = []
    restarts: list[float] = []
    with (
        Progress(pipeline) as progress,
        ThreadPoolExecutor(max_workers=1) as pool,
        stopped_at_exit(producer),
    ):
        for n, target in enumerate(targets, 1):
            wait_group_settled(pipeline, live)
            wait_for(
                lambda t=target: progress.applied_records() >= t, 900, f"{target} records applied"
            )
            victim = rng.choice(live)
            victim.kill9()
            killed_at = time.monotonic()
            at_kill = progress.applied()
            live.remove(victim)
            replacement: Future[tuple[Worker, float]] = pool.submit(start_timed, pipeline)
            recovered_s = progress.wait_all_moving(at_kill, killed_at, timeout_s=300)
            worker, answered_at = replacement.result(timeout=300)
            restart_s = answered_at - killed_at
            live.append(worker)
            recoveries.append(recovered_s)
            restarts.append(restart_s)
            print(
                f"kill {n}/{kills} at {progress.applied_records()} applied: "
                f"recovered in {recovered_s:.1f}s"
            )
        finish(producer, timeout_s=1800)
        pipeline.wait_caught_up(timeout_s=1800)
    sent = count_records(source)
    expected = expected_from_truth(truth, source)

    assert_figures_exact(live, expected)
    applied, rejected, duplicates = accounted_records(live)
    assert applied + rejected + duplicates == sent  # nothing lost, nothing counted twice
    assert len(dead_letter_sources(pipeline)) == rejected
    assert_dead_letters_as_designed(pipeline, expected, replayed=False)
    skipped = sum(
        sum(sum_samples(w.metrics(fresh=False), "iocmon_records_skipped_total").values())
        for w in live
    )
    report(
        f"kill -9 x{kills}, {workers} workers, {sent} records live at {rate:g}/s",
        recovery_s=spread(recoveries),
        replacement_up_s=spread(restarts),
        figures="exact",
        applied_rejected_duplicates=f"{applied}+{rejected}+{duplicates}={sent}",
        redelivered_skipped_by_last_workers=skipped,
    )


@contextmanager
def stopped_at_exit(process: subprocess.Popen[str]) -> Iterator[None]:
    """The producer does not outlive a failed test."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def start_timed(pipeline: Pipeline) -> tuple[Worker, float]:
    """A replacement worker, and when (monotonic) it answered on its web port."""
    worker = pipeline.start_worker()
    return worker, time.monotonic()


def wait_group_settled(pipeline: Pipeline, live: list[Worker]) -> None:
    """Every live worker consumes some partitions and together they consume all: the group
    is stable, so the next kill hits a worker that owns partitions."""

    def settled() -> bool:
        owned = [
            sum(sum_samples(w.metrics(fresh=False), "iocmon_assigned_partitions").values())
            for w in live
        ]
        return all(owned) and sum(owned) == pipeline.partitions

    wait_for(settled, 300, "every worker to own partitions")
