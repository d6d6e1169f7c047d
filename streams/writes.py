"""What a batch plan writes to Redis, grouped by key: the one translation of a plan.

Both send it as multi-member commands (`bulk_commands`, run by `lua/commands.lua`), which
cost Redis a fraction of one scripted call per field: the worker in one script, atomic with
the offset and version check (`script_args`, `apply_batch.lua`, see `streams.store`); the
rebuild, writing a generation no one reads before it is complete, in scripts of bounded
size (`bulk_script_args`, `bulk_write.lua`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from iocmon.domain.batch import BatchPlan, OpenEntry
from iocmon.domain.buckets import ROLLED_RESOLUTIONS, Bucket, bucket_end, bucket_start
from iocmon.domain.state_codec import encode_state
from iocmon.streams.keys import (
    PartitionKeys,
    duration_field,
    open_count_fields,
    procedure_field,
)

BULK_CHUNK = 1000
KeyOf = Callable[[PartitionKeys, Bucket], str]
_DELETED_DAYS: frozenset[KeyOf] = frozenset({PartitionKeys.by_procedure, PartitionKeys.report})
"""Kinds whose day hashes are deleted past the horizon, not rolled up (`retire.lua`)."""
"""Members, fields or keys per bulk command."""


@dataclass
class Writes:
    states: dict[str, str] = field(default_factory=dict)
    """Dossier key -> its state as JSON."""
    counts: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Hash key -> field -> increment."""
    rpush: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    strings: dict[str, str] = field(default_factory=dict)
    """Keys set to a value beside the states (the stream time)."""
    zrem: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    zadd: defaultdict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    """Sorted-set key -> member -> score; applied after every `zrem`."""
    sadd: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    hdel: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    hset: defaultdict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    """Hash key -> field -> value, after every `hdel` (the at-risk list's entries)."""


def plan_writes(k: PartitionKeys, plan: BatchPlan) -> Writes:
    w = Writes()
    for dossier_id, state in plan.states.items():
        w.states[k.dossier(dossier_id)] = encode_state(state).decode()
    agencies: set[str] = set()
    buckets: set[Bucket] = set()
    hashes = _Hashes(w, k)
    fields: dict[tuple[str, str, str], str] = {}
    for (bucket, agency, outcome), n in plan.ended.items():
        hashes.of(PartitionKeys.ended, bucket)[f"{agency}|{outcome}"] += n
        agencies.add(agency)
    for (bucket, agency, procedure, outcome), n in plan.by_procedure.items():
        name = fields.get((agency, procedure, outcome)) or fields.setdefault(
            (agency, procedure, outcome), procedure_field(agency, procedure, outcome)
        )
        hashes.of(PartitionKeys.by_procedure, bucket)[name] += n
    for (bucket, agency, field_, column), n in plan.report.items():
        if not n:  # a dossier's overdue instant moved out of a bucket and back
            continue
        name = fields.get((agency, field_, column)) or fields.setdefault(
            (agency, field_, column), procedure_field(agency, field_, column)
        )
        hashes.of(PartitionKeys.report, bucket)[name] += n
    for (bucket, agency, channel, level), n in plan.received.items():
        hashes.of(PartitionKeys.received, bucket)[f"{agency}|{channel}|{level}"] += n
        agencies.add(agency)
    for key_of, bucket in hashes.used:
        if key_of is PartitionKeys.durations:  # deleted past the horizon, never rolled up
            continue
        buckets.add(bucket)
        if bucket.resolution == "d" and key_of in _DELETED_DAYS:
            w.zadd[k.procedure_days][bucket.id] = bucket_start(bucket)
    for bucket in buckets:
        if bucket.resolution == "h":
            w.zadd[k.hour_buckets][bucket.id] = bucket_start(bucket)
        elif bucket.resolution in ROLLED_RESOLUTIONS:
            w.zadd[k.counter_buckets][bucket.name] = bucket_end(bucket)
    for (month, scope, code, label), n in plan.durations.items():
        hashes.of(PartitionKeys.durations, month)[duration_field(scope, code, label)] += n
        w.zadd[k.duration_months][month.id] = bucket_end(month)
    for day, dossier_id in plan.ended_on:
        w.rpush[k.ended_on(day)].append(dossier_id)
        w.zadd[k.ended_days][day] = bucket_start(Bucket("d", day))
    if plan.stream_time is not None:
        w.strings[k.stream_time] = repr(plan.stream_time.timestamp())
    for kind, counter in (
        ("events", plan.events),
        ("ignored", plan.ignored),
        ("rejected", plan.rejected),
    ):
        for name, n in counter.items():
            w.counts[k.stats][f"{kind}|{name}"] += n

    open_delta: Counter[str] = Counter()
    for dossier_id, (before, after) in plan.index_changes.items():
        if before is not None:
            _unindex(w, k, dossier_id, before, open_delta)
        if after is not None:
            _index(w, k, dossier_id, after, open_delta)
            agencies.add(after.agency)
    for name, n in open_delta.items():
        if n:
            w.counts[k.open_counts][name] += n
    w.sadd[k.agencies].extend(sorted(agencies))
    if plan.at_risk_dropped:
        w.hdel[k.at_risk].extend(plan.at_risk_dropped)
    for dossier_id, item in plan.at_risk_set.items():
        w.hset[k.at_risk][dossier_id] = orjson.dumps(item.to_json()).decode()
    return w


class _Hashes:
    """The increments of each counter hash of a plan, by kind and bucket: a key's name is
    built once a plan, not once a counter (a plan holds thousands of counters in a few
    dozen buckets)."""

    def __init__(self, w: Writes, k: PartitionKeys) -> None:
        self._w, self._k = w, k
        self.used: dict[tuple[KeyOf, Bucket], Counter[str]] = {}

    def of(self, key_of: KeyOf, bucket: Bucket) -> Counter[str]:
        counts = self.used.get((key_of, bucket))
        if counts is None:
            counts = self.used[(key_of, bucket)] = self._w.counts[key_of(self._k, bucket)]
        return counts


def _unindex(
    w: Writes, k: PartitionKeys, dossier_id: str, entry: OpenEntry, delta: Counter[str]
) -> None:
    for name in open_count_fields(entry):
        delta[name] -= 1
    if entry.clock is not None:
        for agency in (None, entry.agency):
            w.zrem[k.overdue_from(agency)].append(dossier_id)
            w.zrem[k.due_soon_from(agency)].append(dossier_id)
    if entry.alert_at is not None:
        w.zrem[k.alert_next].append(dossier_id)


def _index(
    w: Writes, k: PartitionKeys, dossier_id: str, entry: OpenEntry, delta: Counter[str]
) -> None:
    for name in open_count_fields(entry):
        delta[name] += 1
    if entry.clock is not None:
        overdue = entry.clock.overdue_from.timestamp()
        due_soon = entry.clock.due_soon_from.timestamp()
        for agency in (None, entry.agency):
            w.zadd[k.overdue_from(agency)][dossier_id] = overdue
            w.zadd[k.due_soon_from(agency)][dossier_id] = due_soon
    if entry.alert_at is not None:
        w.zadd[k.alert_next][dossier_id] = entry.alert_at.timestamp()


class ScriptKeys:
    """The KEYS of one script call, numbered from 1 as Lua counts, each key once."""

    def __init__(self, *first: str) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        for key in first:
            self.number(key)

    def number(self, key: str) -> int:
        if key not in self._index:
            self.names.append(key)
            self._index[key] = len(self.names)
        return self._index[key]


def script_args(w: Writes, offset_key: str, version_key: str) -> tuple[list[str], list[list[Any]]]:
    """KEYS and commands of the worker's `apply_batch.lua` (KEYS[1] is the offset key,
    KEYS[2] the version key): the whole plan in one atomic call."""
    keys = ScriptKeys(offset_key, version_key)
    return keys.names, [_numbered(c, keys) for c in bulk_commands(w, fresh=False)]


def bulk_script_args(
    w: Writes, fresh: bool, max_items: int
) -> Iterator[tuple[list[str], list[list[Any]]]]:
    """KEYS and commands of `bulk_write.lua` calls of about `max_items` items each, so that
    no call holds Redis for long (the rebuild's, for a generation no one reads yet)."""
    keys = ScriptKeys()
    out: list[list[Any]] = []
    items = 0
    for command in bulk_commands(w, fresh):
        out.append(_numbered(command, keys))
        items += len(command[2]) if command[0] == "MSET" else len(command) - 1
        if items >= max_items:
            yield keys.names, out
            keys, out, items = ScriptKeys(), [], 0
    if out:
        yield keys.names, out


def _numbered(command: tuple[Any, ...], keys: ScriptKeys) -> list[Any]:
    name, target, *args = command
    if name == "MSET":
        return [name, [keys.number(key) for key in target], args[0]]
    return [name, keys.number(target), *args]


def bulk_commands(w: Writes, fresh: bool) -> Iterator[tuple[Any, ...]]:
    """Commands writing `w` with many members each (`lua/commands.lua` runs them):
    ("MSET", keys, values) or (name, key, *args); HINCRBY takes many field/increment pairs.
    `fresh`: none of the keys exist yet, so counters are set (HSET) rather than added to."""
    values = {**w.states, **w.strings}
    keys_set = list(values)
    for i in range(0, len(keys_set), BULK_CHUNK):
        keys = keys_set[i : i + BULK_CHUNK]
        yield ("MSET", keys, [values[k] for k in keys])
    counting = "HSET" if fresh else "HINCRBY"
    for key, fields in w.counts.items():
        pairs = list(fields.items())
        for i in range(0, len(pairs), BULK_CHUNK):
            yield (counting, key, *(x for pair in pairs[i : i + BULK_CHUNK] for x in pair))
    for key, members in w.rpush.items():
        for i in range(0, len(members), BULK_CHUNK):
            yield ("RPUSH", key, *members[i : i + BULK_CHUNK])
    for key, members in w.zrem.items():
        for i in range(0, len(members), BULK_CHUNK):
            yield ("ZREM", key, *members[i : i + BULK_CHUNK])
    for key, scored in w.zadd.items():
        scored_pairs = list(scored.items())
        for i in range(0, len(scored_pairs), BULK_CHUNK):
            chunk = scored_pairs[i : i + BULK_CHUNK]
            yield ("ZADD", key, *(x for m, s in chunk for x in (s, m)))
    for key, members in w.sadd.items():
        for i in range(0, len(members), BULK_CHUNK):
            yield ("SADD", key, *members[i : i + BULK_CHUNK])
    for key, members in w.hdel.items():
        for i in range(0, len(members), BULK_CHUNK):
            yield ("HDEL", key, *members[i : i + BULK_CHUNK])
    for key, values_of in w.hset.items():
        entries = list(values_of.items())
        for i in range(0, len(entries), BULK_CHUNK):
            yield ("HSET", key, *(x for entry in entries[i : i + BULK_CHUNK] for x in entry))
