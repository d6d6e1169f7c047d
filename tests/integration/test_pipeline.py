"""The live pipeline end to end on real Kafka, Redis and workers: figures equal the truth.

Each test simulates ≥ 20,000 events whose outcomes the simulator designed, pushes them
through `iocmon replay` into real Kafka, and compares the worker's API and metrics with the
simulator's ground truth, dossier by dossier in total — under duplicates, replays, kill -9
and a rebalance between two workers.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.integration import workload
from tests.integration.harness import Pipeline, sum_samples, wait_for
from tests.integration.truth import (
    STATES,
    Expected,
    assert_dead_letters_as_designed,
    assert_figures_exact,
)
from tests.integration.workload import finish, start_replay

pytestmark = pytest.mark.integration

EVENTS = 20_000
PINNED = datetime(2026, 1, 9, 15, 0, tzinfo=timezone(timedelta(hours=7)))
"""The first test's clock, for the simulator and the worker: a Friday whose next working day
is Saturday 10 January (a make-up day of the shipped overrides), after two weeks that hold
New Year's Day and 2 January (given off by the overrides). Due dates, the due-soon split and
the calendar periods all depend on the working calendar there, whatever day the test runs."""


def simulate(pipeline: Pipeline, tmp_path: Path, seed: int) -> tuple[Path, Expected]:
    return workload.simulate(pipeline, tmp_path, seed, EVENTS)


def test_simulated_stream_equals_ground_truth_and_a_replay_changes_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, expected = workload.simulate(
        pipeline, tmp_path, 11, EVENTS, now=PINNED, backfill_days=12, dossiers_per_day=700,
        late_rate=0.03,
    )  # fmt: skip
    assert expected.ended and expected.open  # the stream must exercise both
    # ... every open state, and due dates the calendar's special days move (the figures
    # compare these with the tests' own calendar, not the worker's).
    assert {state for _, state in expected.open_states(PINNED)} == set(STATES)
    assert len(expected.calendar_sensitive()) > 500
    worker = pipeline.start_worker(IOCMON_CLOCK_OFFSET_S=str(PINNED.timestamp() - time.time()))
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()

    assert_figures_exact([worker], expected)
    assert_dead_letters_as_designed(pipeline, expected, replayed=True)
    # Nothing lost: every record sent is applied once, dead-lettered, or a known duplicate.
    first = worker.metrics()
    applied = sum(sum_samples(first, "dossier_events_total").values())
    rejected = sum(sum_samples(first, "dossier_events_rejected_total").values())
    duplicates = sum(
        sum_samples(first, "dossier_events_ignored_total", reason="duplicate_event").values()
    )
    sent = sum(1 for line in events.read_text(encoding="utf-8").splitlines() if line.strip())
    assert duplicates > 0 and rejected > 0
    assert applied + rejected + duplicates == sent
    assert len(pipeline.dead_letters()) == rejected

    # The same file again: every valid event is a duplicate now, so no figure moves.
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    assert_dead_letters_as_designed(pipeline, expected, replayed=True, copies=2)
    again = worker.metrics()
    for name in ("dossiers_ended_total", "dossiers_open", "dossiers_received_total",
                 "dossier_events_total"):  # fmt: skip
        assert sum_samples(again, name) == sum_samples(first, name), name


def test_kill_9_mid_stream_then_restart_keeps_figures_exact(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, expected = simulate(pipeline, tmp_path, seed=13)
    worker = pipeline.start_worker()
    replay = start_replay(pipeline, events)
    rng = random.Random()
    target = rng.randrange(2_000, EVENTS - 5_000)
    print(f"kill -9 once {target} records are applied")
    wait_for(lambda: _applied_records(pipeline) >= target, 240, f"{target} records applied")
    worker.kill9()
    finish(replay)
    restarted = pipeline.start_worker()
    pipeline.wait_caught_up()
    assert_figures_exact([restarted], expected)


def test_two_workers_with_a_rebalance_sum_to_the_truth(pipeline: Pipeline, tmp_path: Path) -> None:
    events, expected = simulate(pipeline, tmp_path, seed=14)
    first = pipeline.start_worker()
    replay = start_replay(pipeline, events)
    wait_for(lambda: _applied_records(pipeline) >= 3_000, 240, "3,000 records applied")
    second = pipeline.start_worker()  # joins the group: a rebalance mid-stream
    finish(replay)
    pipeline.wait_caught_up()

    def both_consume() -> bool:
        owned = [
            sum(sum_samples(w.metrics(fresh=False), "iocmon_assigned_partitions").values())
            for w in (first, second)
        ]
        return all(owned) and sum(owned) == pipeline.partitions

    wait_for(both_consume, 60, "both workers to own partitions")
    assert_figures_exact([first, second], expected)
    assert_figures_exact([second, first], expected)


def _applied_records(pipeline: Pipeline) -> int:
    return workload.applied_records(pipeline)
