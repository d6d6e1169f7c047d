"""Simulated workloads for the pipeline and fault tests: events with a designed truth.

`simulate` writes a JSONL stream plus the outcomes the simulator designed; `start_replay`
pushes it into a pipeline's topic with `iocmon replay`. Shared by tests/integration and
tests/faults so every exactness check compares against the same ground truth.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from iocmon.producers.simulate import DEFAULT_DOSSIERS_PER_DAY
from tests.integration.harness import REPO, Pipeline, Worker, sum_samples
from tests.integration.truth import Expected, expected_from_truth


def simulate(
    pipeline: Pipeline,
    tmp_path: Path,
    seed: int,
    events: int,
    *,
    now: datetime | None = None,
    backfill_days: float = 30,
    dossiers_per_day: float | None = None,
    late_rate: float | None = None,
) -> tuple[Path, Expected]:
    """At least `events` records (2 % repeats, some invalid) and their expected figures.

    `now` pins the simulator's clock (the worker's must then be set near it); the back-fill
    covers `backfill_days` before it, until `events` records are sent."""
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    # A 30-day back-fill gives ~75 records per dossier-a-day: more dossiers for big workloads.
    per_day = dossiers_per_day or max(DEFAULT_DOSSIERS_PER_DAY, events / 75)
    pinned = ["--now", now.isoformat()] if now is not None else []
    late = ["--late-rate", str(late_rate)] if late_rate is not None else []
    pipeline.iocmon(
        "simulate",
        "--seed", str(seed),
        *pinned,
        "--backfill-days", str(backfill_days),
        "--dossiers-per-day", str(per_day),
        *late,
        "--max-events", str(events),
        "--duration", "0",
        "--rate", "0",
        "--duplicate-rate", "0.02",
        "--events-out", str(out),
        "--truth-out", str(truth),
        "--no-send",
    )  # fmt: skip
    assert count_records(out) >= events
    return out, expected_from_truth(truth, out)


def count_records(events: Path) -> int:
    with events.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def start_replay(pipeline: Pipeline, events: Path, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "iocmon", "replay", str(events)],
        env=pipeline.env(**extra_env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout_s: float = 600) -> str:
    """Wait for a replay; it must exit 0 (every record acknowledged by Kafka)."""
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"replay did not finish within {timeout_s:.0f}s:\n{output}") from None
    assert process.returncode == 0, output
    return output


def applied_records(pipeline: Pipeline) -> int:
    """Records applied in Redis so far, summed over the events topic's partitions."""
    return sum(off + 1 for off in pipeline.applied_offsets().values() if off >= 0)


def accounted_records(workers: list[Worker]) -> tuple[int, int, int]:
    """(applied, rejected, duplicates) from Redis's figures, summed over every worker's /metrics.

    Each record sent ends in exactly one of these, so their sum equals the records sent when
    nothing was lost and nothing counted twice. Only the owner of partition 0 reports them.
    """
    applied = rejected = duplicates = 0
    for worker in workers:
        samples = worker.metrics()
        applied += sum(sum_samples(samples, "dossier_events_total").values())
        rejected += sum(sum_samples(samples, "dossier_events_rejected_total").values())
        duplicates += sum(
            sum_samples(samples, "dossier_events_ignored_total", reason="duplicate_event").values()
        )
    return applied, rejected, duplicates


def dead_letter_sources(pipeline: Pipeline) -> set[bytes]:
    """Distinct source `topic/partition/offset` of the dead letters (a crash may repeat one)."""
    return {headers["iocmon-source"] for _, _, headers in pipeline.dead_letters()}


def start_simulator(
    pipeline: Pipeline,
    events_out: Path,
    truth_out: Path,
    *,
    events: int,
    rate: float,
    seed: int,
) -> subprocess.Popen[str]:
    """`iocmon simulate` sending live at `rate` records/s, writing the records it sent and
    their truth: a stream that lasts (a replay of a file is over in seconds), so faults hit
    a producer and workers that are mid-stream."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "iocmon", "simulate",
            "--seed", str(seed),
            "--backfill-days", "30",
            "--max-events", str(events),
            "--duration", "0",
            "--rate", str(rate),
            "--duplicate-rate", "0.02",
            "--events-out", str(events_out),
            "--truth-out", str(truth_out),
        ],
        env=pipeline.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
