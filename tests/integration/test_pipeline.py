"""The live pipeline end to end on real Kafka, Redis and workers: figures equal the truth.

Each test simulates ≥ 20,000 events whose outcomes the simulator designed, pushes them
through `iocmon replay` into real Kafka, and compares the worker's API and metrics with the
simulator's ground truth, dossier by dossier in total — under duplicates, replays, kill -9
and a rebalance between two workers.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.integration import workload
from tests.integration.harness import Pipeline, sum_samples, wait_for
from tests.integration.truth import Expected, assert_figures_exact
from tests.integration.workload import finish, start_replay

pytestmark = pytest.mark.integration

EVENTS = 20_000


def simulate(pipeline: Pipeline, tmp_path: Path, seed: int) -> tuple[Path, Expected]:
    return workload.simulate(pipeline, tmp_path, seed, EVENTS)


def test_simulated_stream_equals_ground_truth_and_a_replay_changes_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, expected = simulate(pipeline, tmp_path, seed=11)
    assert expected.ended and expected.open  # the stream must exercise both
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()

    assert_figures_exact([worker], expected)
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
