"""Rebuild rate against the live pipeline's rate, measured in one run on the real stack.

Simulates N records, replays them into a fresh pipeline, times a worker catching up the topic
from a standing start (as `worker_throughput` does), then times `iocmon rebuild` of the same
topic while that worker keeps running. Prints both rates and their ratio; asserts nothing.
Runs on the integration tests' stack (`IOCMON_TEST_PORT_OFFSET` picks one of one's own).

    .venv/bin/python -m benchmarks.rebuild_rate --events 1000000 [--jobs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from iocmon.config import Settings
from iocmon.producers.simulate import DEFAULT_DOSSIERS_PER_DAY
from tests.integration.harness import Pipeline, start_stack

STEP_TIMEOUT_S = 3 * 3600  # simulating and replaying a million records takes minutes here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000, help="rebuild's batch size")
    parser.add_argument("--jobs", type=int, default=None, help="rebuild's --jobs (CPU count)")
    args = parser.parse_args()
    stack = start_stack()
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.jsonl"
            # A 30-day back-fill gives ~75 records per dossier-a-day; --max-events cuts at
            # the asked size.
            per_day = str(max(DEFAULT_DOSSIERS_PER_DAY, args.events / 75))
            pipeline.iocmon(
                "simulate", "--seed", "1", "--backfill-days", "30",
                "--dossiers-per-day", per_day,
                "--max-events", str(args.events), "--duration", "0",
                "--rate", "0", "--events-out", str(events), "--no-send",
                timeout_s=STEP_TIMEOUT_S,
            )  # fmt: skip
            pipeline.iocmon("replay", str(events), timeout_s=STEP_TIMEOUT_S)
        total = sum(pipeline.end_offsets().values())

        start = time.monotonic()
        # As deployed: the integration tests refresh /metrics every second, which over a
        # million records keeps a worker busy and would slow both sides of the comparison.
        pipeline.start_worker(IOCMON_METRICS_REFRESH_S=str(Settings().metrics_refresh_s))
        pipeline.wait_caught_up(timeout_s=STEP_TIMEOUT_S)
        live_s = time.monotonic() - start

        start = time.monotonic()
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        done = pipeline.iocmon(
            "rebuild",
            "--quiet",
            "--batch-size",
            str(args.batch_size),
            *jobs,
            timeout_s=STEP_TIMEOUT_S,
        )
        rebuild_s = time.monotonic() - start
    finally:
        pipeline.stop()
    live, rebuild = total / live_s, total / rebuild_s
    print(f"records: {total:,}")
    print(f"live worker catching up: {live_s:.1f}s = {live:,.0f} records/s (worker start included)")
    print(f"iocmon rebuild:          {rebuild_s:.1f}s = {rebuild:,.0f} records/s (process start"
          " included)")  # fmt: skip
    print(f"rebuild / live: {rebuild / live:.2f}x")
    print(done.stdout.strip())


if __name__ == "__main__":
    main()
