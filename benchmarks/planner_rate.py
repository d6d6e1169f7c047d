"""Rate of the CPU-bound part of the worker and the rebuild, without Kafka or Redis.

Reads a JSONL file of events (`iocmon simulate --no-send --events-out FILE`), splits it
into partitions by key, and runs each batch through what the store does around the pure
planner: states read back from JSON, decode, plan, the Lua op list serialised. Redis round
trips are left out, so this is the ceiling of one process. `--profile` prints the top of
a cProfile run instead of only the rate.

    .venv/bin/python -m benchmarks.planner_rate EVENTS.jsonl [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import zlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from iocmon.domain.batch import Record, decode_batch, dossier_ids, plan_batch
from iocmon.domain.calendar import load_calendar
from iocmon.domain.lifecycle import DossierState
from producers.replay import key_for_value
from streams.keys import PartitionKeys
from streams.store import _Ops


def _partitions(path: Path, count: int) -> dict[int, list[Record]]:
    parts: dict[int, list[Record]] = defaultdict(list)
    for line in path.read_bytes().splitlines():
        key = key_for_value(line)
        p = zlib.crc32(key or b"") % count
        parts[p].append(Record(len(parts[p]), key, line))
    return parts


def run(parts: dict[int, list[Record]], batch_size: int) -> int:
    calendar = load_calendar(None)
    now = datetime.now(UTC) + timedelta(days=30)
    stored: dict[str, bytes] = {}
    done = 0
    for p, records in parts.items():
        keys = PartitionKeys("bench", "events", p)
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            decoded = decode_batch(chunk, now)
            states = {
                d: None if d not in stored else DossierState.from_json(orjson.loads(stored[d]))
                for d in dossier_ids(decoded)
            }
            plan = plan_batch(decoded, states, calendar)
            ops = _Ops(keys)
            ops.write(plan)
            orjson.dumps(ops.ops)
            for dossier_id, state in plan.states.items():
                stored[dossier_id] = orjson.dumps(state.to_json())
            done += len(chunk)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", type=Path)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    parts = _partitions(args.events, args.partitions)
    start, cpu = time.perf_counter(), time.process_time()
    if args.profile:
        profiler = cProfile.Profile()
        done = profiler.runcall(run, parts, args.batch_size)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    else:
        done = run(parts, args.batch_size)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"planner: {done:,} records in {seconds:.1f}s = {done / seconds:,.0f} records/s "
        f"({done / cpu:,.0f} records per CPU second; the machine's other load left out)"
    )


if __name__ == "__main__":
    main()
