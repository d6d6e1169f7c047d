"""Rebuild rate against the live pipeline's rate, measured in one run on the real stack.

Simulates N records, replays them into a fresh pipeline, times a worker catching up the topic
from a standing start (as `worker_throughput` does), then times `iocmon rebuild` of the same
topic while that worker keeps running. Prints both rates and their ratio; asserts nothing.

    .venv/bin/python -m benchmarks.rebuild_rate --events 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.integration.harness import Pipeline, start_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000, help="rebuild's batch size")
    args = parser.parse_args()
    stack = start_stack()
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            events = Path(tmp) / "events.jsonl"
            # ~7 records per dossier over 30 days: enough dossiers for the asked size.
            per_day = str(max(2900, args.events // 200))
            pipeline.iocmon("simulate", "--seed", "1", "--backfill-days", "30",
                            "--dossiers-per-day", per_day,
                            "--max-events", str(args.events), "--duration", "0",
                            "--rate", "0", "--events-out", str(events), "--no-send")  # fmt: skip
            pipeline.iocmon("replay", str(events))
        total = sum(pipeline.end_offsets().values())

        start = time.monotonic()
        pipeline.start_worker()
        pipeline.wait_caught_up(timeout_s=3600)
        live_s = time.monotonic() - start

        start = time.monotonic()
        done = pipeline.iocmon("rebuild", "--quiet", "--batch-size", str(args.batch_size))
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
