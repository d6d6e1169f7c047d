"""Rate of the CPU-bound part of the worker and the rebuild, without Kafka or Redis.

Reads a JSONL file of events (`iocmon simulate --no-send --events-out FILE`), splits it
into partitions by key, and runs each batch through what the store does around the pure
planner: open states kept in memory and ended ones decoded from their stored bytes, decode,
plan, the Lua op list serialised (as the live worker does, one plan a batch), and side by
side the rebuild's way: one fold a partition, states kept in memory, one plan at the end
turned into bulk commands. Redis round trips
are left out, so these are the ceilings of one process. `--profile` prints the top of a
cProfile run of each.

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

from iocmon.domain.batch import Fold, Record, decode_batch, dossier_ids, plan_batch
from iocmon.domain.calendar import load_calendar
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.procedures import field_keys, load_procedures
from iocmon.domain.state_codec import decode_state
from iocmon.producers.replay import key_for_value
from iocmon.streams.keys import PartitionKeys
from iocmon.streams.writes import bulk_commands, plan_writes, script_args

HORIZON = timedelta(days=400)
FIELDS = field_keys(load_procedures())  # as the worker stamps them


def _partitions(path: Path, count: int) -> dict[int, list[Record]]:
    parts: dict[int, list[Record]] = defaultdict(list)
    for line in path.read_bytes().splitlines():
        key = key_for_value(line)
        p = zlib.crc32(key or b"") % count
        parts[p].append(Record(len(parts[p]), key, line))
    return parts


def per_batch(parts: dict[int, list[Record]], batch_size: int) -> int:
    """The worker's way: open dossiers' states kept in memory, ended ones read back from
    their stored bytes, one plan a batch turned into the Lua op list."""
    calendar = load_calendar(None)
    now = datetime.now(UTC) + timedelta(days=30)
    stored: dict[str, bytes] = {}
    memory: dict[str, DossierState] = {}
    done = 0
    for p, records in parts.items():
        keys = PartitionKeys("bench", "events", p)
        stream_time = None
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            decoded = decode_batch(chunk, now)
            states: dict[str, DossierState | None] = {}
            for d in dossier_ids(decoded):
                if d in memory:
                    states[d] = memory[d]
                else:
                    states[d] = decode_state(d, stored[d]) if d in stored else None
            plan = plan_batch(
                decoded, states, calendar, horizon=HORIZON, stream_time=stream_time, field_of=FIELDS
            )
            stream_time = plan.stream_time
            writes = plan_writes(keys, plan)
            orjson.dumps(script_args(writes, keys.offset, keys.version)[1])
            for dossier_id, state in plan.states.items():
                if state.is_open:
                    memory[dossier_id] = state
                else:
                    memory.pop(dossier_id, None)
                    stored[dossier_id] = writes.states[keys.dossier(dossier_id)].encode()
            done += len(chunk)
    return done


def folded(parts: dict[int, list[Record]], batch_size: int) -> int:
    calendar = load_calendar(None)
    now = datetime.now(UTC) + timedelta(days=30)
    done = 0
    for p, records in parts.items():
        fold = Fold(calendar, keep_dead_letters=False, horizon=HORIZON, field_of=FIELDS)
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            decoded = decode_batch(chunk, now)
            fold.know(dict.fromkeys(dossier_ids(decoded) - fold.states.keys()))
            for record, item in decoded:
                fold.add(record, item)
            done += len(chunk)
        writes = plan_writes(PartitionKeys("bench", "events", p), fold.take())
        for _ in bulk_commands(writes, fresh=True):
            pass
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", type=Path)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    parts = _partitions(args.events, args.partitions)
    rates = {}
    for name, run in (
        ("one plan a batch (worker)", per_batch),
        ("one fold a partition (rebuild)", folded),
    ):
        start, cpu = time.perf_counter(), time.process_time()
        if args.profile:
            profiler = cProfile.Profile()
            done = profiler.runcall(run, parts, args.batch_size)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        else:
            done = run(parts, args.batch_size)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rates[name] = done / cpu
        print(
            f"{name}: {done:,} records in {seconds:.1f}s = {done / seconds:,.0f} records/s "
            f"({done / cpu:,.0f} records per CPU second; the machine's other load left out)"
        )
    (worker, rebuild) = rates.values()
    print(f"fold / per batch: {rebuild / worker:.2f}x (per CPU second)")


if __name__ == "__main__":
    main()
