"""Worker throughput on the real stack: records applied per second, batch size side by side.

Simulates N records once, replays them into two fresh pipelines and lets a worker with each
batch size catch up from a standing start. Prints rates and their ratio measured in one run.

    .venv/bin/python -m benchmarks.worker_throughput --events 50000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.integration.harness import Pipeline, Stack, start_stack


def measure(stack: Stack, events: Path, batch_size: int) -> float:
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    pipeline.iocmon("replay", str(events))
    total = sum(pipeline.end_offsets().values())
    start = time.monotonic()
    pipeline.start_worker(IOCMON_BATCH_SIZE=str(batch_size))
    try:
        pipeline.wait_caught_up(timeout_s=1800)
    finally:
        pipeline.stop()
    elapsed = time.monotonic() - start
    print(
        f"batch {batch_size:>5}: {total} records in {elapsed:.1f}s (worker start included)"
        f" = {total / elapsed:,.0f} records/s"
    )
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-sizes", default="100,500")
    args = parser.parse_args()
    stack = start_stack()
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        Pipeline(stack).iocmon("simulate", "--seed", "1", "--backfill-days", "30",
                               "--max-events", str(args.events), "--rate", "0",
                               "--events-out", str(events), "--no-send")  # fmt: skip
        rates = {b: measure(stack, events, b) for b in map(int, args.batch_sizes.split(","))}
    sizes = sorted(rates)
    for b in sizes[1:]:
        print(f"batch {b} / batch {sizes[0]}: {rates[b] / rates[sizes[0]]:.2f}x")


if __name__ == "__main__":
    main()
