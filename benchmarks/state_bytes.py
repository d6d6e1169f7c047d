"""Bytes a dossier's state takes in Redis: the compact format beside the earlier JSON object.

Folds a simulated stream (`iocmon simulate --no-send --events-out FILE`) with the worker's
planner, writes every state twice into the test stack's Redis — as stored now
(`state_codec`) and as the earlier versions stored it (a JSON object with field names, ISO
timestamps and the whole history) — under keys named as the worker names them, and prints
`MEMORY USAGE` averaged over a sample of open and of ended dossiers, side by side.

    .venv/bin/python -m benchmarks.state_bytes EVENTS.jsonl [--sample 200]
"""

from __future__ import annotations

import argparse
import random
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from iocmon.domain.batch import Fold, Record, decode_batch, dossier_ids
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.procedures import field_keys, load_procedures
from iocmon.domain.state_codec import encode_state
from iocmon.producers.replay import key_for_value
from iocmon.redis_connection import sync_redis
from iocmon.streams.keys import PartitionKeys
from tests.integration.harness import Pipeline, start_stack

PARTITIONS = 12


def legacy_json(state: DossierState) -> bytes:
    """The state as versions before the compact format wrote it."""
    out: dict[str, Any] = {}
    for name in DossierState.__slots__:
        value = getattr(state, name)
        if name == "older_ids" or (not value and value != ""):
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif name == "history":
            value = [
                [e, t, datetime.fromtimestamp(at, LOCAL_TZ).isoformat(), x] for e, t, at, x in value
            ]
        elif name == "alerted":
            value = list(value)
        out[name] = value
    return orjson.dumps(out)


def fold_states(events: Path) -> dict[int, dict[str, DossierState]]:
    calendar = load_calendar(None)
    fields = field_keys(load_procedures())  # as the worker stamps them
    now = datetime.now(UTC) + timedelta(days=30)
    by_partition: dict[int, list[Record]] = {}
    for line in events.read_bytes().splitlines():
        key = key_for_value(line)
        records = by_partition.setdefault(zlib.crc32(key or b"") % PARTITIONS, [])
        records.append(Record(len(records), key, line))
    out = {}
    for p, records in by_partition.items():
        fold = Fold(calendar, keep_dead_letters=False, horizon=timedelta(days=400),
                    field_of=fields)  # fmt: skip
        decoded = decode_batch(records, now)
        fold.know(dict.fromkeys(dossier_ids(decoded)))
        for record, item in decoded:
            fold.add(record, item)
        out[p] = dict(fold.take().states)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", type=Path)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()
    states = fold_states(args.events)
    pipeline = Pipeline(start_stack())
    redis = sync_redis(pipeline.settings())
    written: dict[str, list[tuple[str, str]]] = {"open": [], "ended": []}
    for p, by_id in states.items():
        now_keys = PartitionKeys(f"{pipeline.name}:now", "dossier-events", p)
        old_keys = PartitionKeys(f"{pipeline.name}:before", "dossier-events", p)
        pipe = redis.pipeline(transaction=False)
        for dossier_id, state in by_id.items():
            pipe.set(now_keys.dossier(dossier_id), encode_state(state))
            pipe.set(old_keys.dossier(dossier_id), legacy_json(state))
            kind = "open" if state.is_open else "ended" if state.status == "ended" else None
            if kind:
                written[kind].append((now_keys.dossier(dossier_id), old_keys.dossier(dossier_id)))
        pipe.execute()
    rng = random.Random(1)
    for kind, keys in written.items():
        sample = rng.sample(keys, min(args.sample, len(keys)))
        now = sum(redis.memory_usage(k) or 0 for k, _ in sample) / len(sample)
        before = sum(redis.memory_usage(k) or 0 for _, k in sample) / len(sample)
        print(
            f"{kind} dossiers ({len(keys):,}; {len(sample)} sampled): "
            f"before {before:,.0f} bytes, now {now:,.0f} bytes ({now / before:.0%})"
        )
    for match in (f"{pipeline.name}:now:*", f"{pipeline.name}:before:*"):
        for key in redis.scan_iter(match=match, count=5000):
            redis.unlink(key)
    redis.close()


if __name__ == "__main__":
    main()
