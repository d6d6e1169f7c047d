"""`iocmon rebuild` on the real stack: a new generation of keys, switched partition by partition.

The switch script and the live side's following of `moved:` signposts are tested on real
Redis first; then whole rebuilds while a worker runs: after all keys were deleted mid-stream,
and with nothing lost (same figures, no alert sent twice, and the worker carries on in the
new generation); and after the keys were lost while no worker ran (the records it had not
processed are left to it, dead letters included).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaProducer
from redis.asyncio import Redis

from iocmon.domain.batch import Record, decode_batch, dossier_ids, plan_batch
from iocmon.domain.calendar import load_calendar
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.streams.generations import pointer_key
from iocmon.streams.queries import FigureReader
from iocmon.streams.rebuild import open_rebuild
from iocmon.streams.rebuild_summary import DEFAULT_LIMITS, Summary
from iocmon.streams.store import BatchStore
from tests.integration.harness import REPO, Pipeline, Stack, wait_for
from tests.integration.truth import (
    Expected,
    api_figures,
    assert_dead_letters_as_designed,
    assert_figures_exact,
    expected_from_truth,
)

pytestmark = pytest.mark.integration

SWITCH_LUA = resources.files("iocmon.streams").joinpath("lua/switch.lua").read_text("utf-8")


def _received(offset: int, dossier_id: str) -> Record:
    at = datetime.now(UTC) - timedelta(days=1)
    value = {
        "v": 1,
        "event_id": f"e-{dossier_id}",
        "dossier_id": dossier_id,
        "type": "received",
        "at": at.isoformat(),
        "agency": "A1",
        "procedure": "P1",
        "channel": "online",
        "level": "full",
        "processing_days": 5,
    }
    return Record(offset, dossier_id.encode(), json.dumps(value).encode())


async def _apply(store: BatchStore, records: list[Record]) -> bool:
    calendar = load_calendar(None)
    applied = await store.applied_offset(0)
    fresh = [r for r in records if r.offset > applied]
    decoded = decode_batch(fresh, datetime.now(UTC))
    snapshot = await store.load(0, dossier_ids(decoded))
    plan = plan_batch(decoded, snapshot.states, calendar)
    return await store.apply(0, snapshot.offset, plan) is not None


def test_switch_needs_the_new_generation_caught_up_and_the_live_side_follows(
    stack: Stack,
) -> None:
    base, topic = f"t{uuid.uuid4().hex[:10]}", "events"
    new_prefix = f"{base}:g1"
    records = [_received(i, f"D{i}") for i in range(4)]

    async def scenario() -> None:
        client = Redis.from_url(stack.redis_url)
        switch = client.register_script(SWITCH_LUA)
        live = BatchStore(client, base, topic)
        reader = FigureReader(client, base, topic, 1)
        new = BatchStore(client, new_prefix, topic, follow=False)
        assert await _apply(live, records[:2])
        assert await _apply(new, records[:1])
        keys = [live.keys(0).offset, new.keys(0).offset]
        assert await switch(keys=keys, args=[new_prefix]) == [0, 1]
        assert await _apply(new, records[:2])
        assert await switch(keys=keys, args=[new_prefix]) == [1, 1]
        assert await client.get(keys[0]) == f"moved:{new_prefix}".encode()
        again = await switch(keys=keys, args=[new_prefix])
        assert again == [2, f"moved:{new_prefix}".encode()]

        # A batch planned against the old generation is refused, then planned again there.
        stale_against = (await live.load(0, ["D2"])).offset
        decoded = decode_batch(records[2:3], datetime.now(UTC))
        plan = plan_batch(decoded, {"D2": None}, load_calendar(None))
        assert stale_against == 1 and live.keys(0).prefix == new_prefix  # load followed
        live_late = BatchStore(client, base, topic)
        live_late.generations._by_partition[0] = base  # a worker that has not looked yet
        assert await live_late.apply(0, 1, plan) is None
        assert live_late.keys(0).prefix == new_prefix
        assert await _apply(live_late, records[:3])
        assert await client.get(keys[0]) == f"moved:{new_prefix}".encode()
        assert await client.get(keys[1]) == b"2"
        totals = await reader.totals(datetime.now(UTC))
        assert totals.events["received"] == 3

        # Empty partitions switch too, and leave an offset key in the new generation.
        empty = [_offset_key(base, topic, 5), _offset_key(new_prefix, topic, 5)]
        assert await switch(keys=empty, args=[new_prefix]) == [1, -1]
        assert await client.get(empty[1]) == b"-1"

        # After every key is lost, the live side goes back to the pointer (or the base).
        await client.set(pointer_key(base), new_prefix)
        fresh = BatchStore(client, base, topic)
        await client.delete(*keys)
        assert await fresh.applied_offset(0) == -1
        assert fresh.keys(0).prefix == new_prefix
        await client.aclose()

    asyncio.run(scenario())


def test_the_rebuilds_bulk_writes_equal_the_workers_script(stack: Stack) -> None:
    """The rebuild writes a partition's plan as plain multi-member commands, as fresh keys
    (counters set) and as later plans (counters incremented, index entries moved)."""
    base, topic = f"t{uuid.uuid4().hex[:10]}", "events"
    now = datetime.now(UTC)
    records = [_received(i, f"D{i}") for i in range(30)]
    resolved = [
        Record(30 + i, r.key, r.value.replace(b'"received"', b'"resolved"').replace(b"e-", b"x-"))
        for i, r in enumerate(records[:10])
    ]
    calendar = load_calendar(None)

    def plan_of(batch: list[Record], states: dict[str, Any]) -> Any:
        decoded = decode_batch(batch, now)
        return plan_batch(decoded, {d: states.get(d) for d in dossier_ids(decoded)}, calendar)

    first = plan_of(records, {})
    second = plan_of(resolved, first.states)

    async def scenario() -> list[dict[bytes, Any]]:
        client = Redis.from_url(stack.redis_url)
        contents = []
        for name in ("script", "bulk"):
            store = BatchStore(client, f"{base}:{name}", topic, follow=False)
            for against, plan in ((-1, first), (29, second)):
                if name == "script":
                    assert await store.apply(0, against, plan)
                else:
                    assert await store.apply_unread(0, against, plan, fresh=against == -1)
                    assert not await store.apply_unread(0, against, plan, fresh=False)  # stale
            assert await store.applied_offset(0) == 39
            contents.append(await _dump(client, f"{base}:{name}:"))
        await client.aclose()
        return contents

    script, bulk = asyncio.run(scenario())
    assert len(script) > 10 and bulk == script
    # The duration histograms of the at-risk forecast (issue #18) among them: the rebuild
    # writes the live worker's keys, fields and counts.
    [durations] = [v for k, v in script.items() if b":durations:m:" in k]
    assert durations == {b"ap|A1|P1|0": b"10", b"p|P1|0": b"10", b"a|A1|0": b"10", b"r||0": b"10"}


async def _dump(client: Redis, prefix: str) -> dict[bytes, Any]:
    """Every key under `prefix` (without it) and its value, whatever its type."""
    out: dict[bytes, Any] = {}
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = (await client.type(key)).decode()
        value: Any = {
            "string": client.get,
            "hash": client.hgetall,
            "set": client.smembers,
            "list": lambda k: client.lrange(k, 0, -1),
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        }[kind](key)
        out[key.removeprefix(prefix.encode())] = await value
    return out


def _offset_key(prefix: str, topic: str, partition: int) -> str:
    return f"{prefix}:{{{topic}/{partition}}}:offset"


def _simulate_halves(pipeline: Pipeline, tmp_path: Path, seed: int) -> tuple[Path, Path, Expected]:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    pipeline.iocmon(
        "simulate",
        "--seed", str(seed),
        "--backfill-days", "20",
        "--max-events", "6000",
        "--duration", "0",
        "--rate", "0",
        "--events-out", str(events),
        "--truth-out", str(truth),
        "--no-send",
    )  # fmt: skip
    lines = [line + b"\n" for line in events.read_bytes().split(b"\n") if line]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2 :]))
    assert len(lines) > 4000
    return first, second, expected_from_truth(truth, events)


def _without_clock(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"now", "as_of", "generated_at"}}


def _delete_all_keys(pipeline: Pipeline) -> int:
    client = redis.Redis.from_url(pipeline.stack.redis_url)
    try:
        keys = list(client.scan_iter(match=f"{pipeline.name}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        return len(keys)
    finally:
        client.close()


def test_rebuild_after_all_keys_were_deleted_mid_stream_restores_every_figure(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    first, second, expected = _simulate_halves(pipeline, tmp_path, seed=5)
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(first))
    pipeline.wait_caught_up()
    first_half = sum(pipeline.end_offsets().values())

    replay = subprocess.Popen(
        [sys.executable, "-m", "iocmon", "replay", str(second)],
        env=pipeline.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Keys go while the second half streams in, whatever the machine's speed.
    wait_for(
        lambda: sum(pipeline.end_offsets().values()) > first_half, 60, "the second half to come"
    )
    assert _delete_all_keys(pipeline) > 100
    # Memory for a few dozen states a partition: the folds are written and forgotten again
    # and again, and states come back from the new generation.
    rebuilt = pipeline.iocmon("rebuild", "--keep-dossiers", "400")
    assert "live generation now" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
    output, _ = replay.communicate(timeout=600)
    assert replay.returncode == 0, output

    pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    assert_dead_letters_as_designed(pipeline, expected, replayed=True)


def test_rebuild_with_nothing_lost_changes_no_figure_and_the_worker_carries_on(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    first, second, expected = _simulate_halves(pipeline, tmp_path, seed=6)
    worker = pipeline.start_worker(IOCMON_ALERT_CHECK_INTERVAL_S="0.5")
    pipeline.iocmon("replay", str(first))
    pipeline.wait_caught_up()
    sent = _alerts_settled(pipeline)
    assert sum(a["kind"] == "overdue" for a in sent) > 20
    before = api_figures(worker)

    failed = _rebuild_with_one_process_failing(pipeline)
    after = api_figures(worker)
    assert after[:2] == before[:2]
    assert _without_clock(after[2]) == _without_clock(before[2])

    rebuilt = pipeline.iocmon("rebuild", "--delete-old", "--jobs", "3")  # completes it
    assert "rebuild [" in rebuilt.stderr  # the progress bar
    client = redis.Redis.from_url(pipeline.stack.redis_url)
    try:
        prefix = client.get(pointer_key(pipeline.name))
        assert prefix is not None and prefix.decode().startswith(f"{pipeline.name}:g")
        assert prefix.decode() != failed
        assert _live_prefixes(client, pipeline) == [prefix.decode()] * pipeline.partitions
        left = list(client.scan_iter(match=f"{pipeline.name}:{{*", count=1000))
        assert all(k.endswith(b":offset") for k in left)  # only the signposts stay
    finally:
        client.close()
    after = api_figures(worker)
    assert after[:2] == before[:2]
    assert _without_clock(after[2]) == _without_clock(before[2])

    pipeline.iocmon("replay", str(second))
    pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    assert_dead_letters_as_designed(pipeline, expected, replayed=True)
    # The alerts sent before the rebuild were carried into the rebuilt states: none is sent
    # again, and those of dossiers that ended since were cleared.
    sent = _alerts_settled(pipeline)
    repeated = [i for i, n in Counter(a["alert_id"] for a in sent).items() if n > 1]
    assert repeated == []
    cleared = {a["clears"] for a in sent if a["kind"] == "cleared"}
    active = {
        a["dossier_id"] for a in sent if a["kind"] != "cleared" and a["alert_id"] not in cleared
    }
    ended = [d for d in active if worker.get_json(f"/api/v1/dossiers/{d}")[1]["status"] == "ended"]
    assert ended == []
    assert len(cleared) > 10


def _rebuild_with_one_process_failing(pipeline: Pipeline) -> str:
    """`iocmon rebuild --jobs 3` whose process 1 (partitions 1, 4, 7, 10) fails: another
    writer holds partition 4 of the generation it makes (as a second rebuild would). The
    others are stopped, the partitions already switched stay on the new generation and the
    rest on the live one, and the pointer is not moved (README). Returns that generation."""
    client = redis.Redis.from_url(pipeline.stack.redis_url)
    now = int(time.time())
    held = [
        f"{pipeline.name}:g{t}:{{{pipeline.events_topic}/4}}:offset" for t in range(now, now + 120)
    ]
    try:
        client.mset(dict.fromkeys(held, "5"))
        run = pipeline.iocmon("rebuild", "--jobs", "3", check=False)
        client.delete(*held)
        assert run.returncode == 2, run.stdout + run.stderr
        said = re.search(
            r"rebuild worker process 1 \(partitions 1, 4, 7, 10\) failed: IocmonError: partition "
            r"4 of generation (\S+) was written by someone else",
            run.stderr,
        )
        assert said is not None, run.stderr
        assert "run `iocmon rebuild` again" in run.stderr
        generation = said[1]
        assert client.get(pointer_key(pipeline.name)) is None
        prefixes = _live_prefixes(client, pipeline)
        assert prefixes[4] == pipeline.name
        assert set(prefixes) <= {pipeline.name, generation}, prefixes
        return generation
    finally:
        client.close()


def _live_prefixes(client: redis.Redis, pipeline: Pipeline) -> list[str]:
    """Each partition's live generation, found by following the `moved:` signposts."""
    out = []
    for p in range(pipeline.partitions):
        prefix = pipeline.name
        while (raw := client.get(_offset_key(prefix, pipeline.events_topic, p))) and raw.startswith(
            b"moved:"
        ):
            prefix = raw.removeprefix(b"moved:").decode()
        out.append(prefix)
    return out


def test_the_worker_moved_on_so_the_rebuild_read_on_and_switched_then(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """README: "If the worker moves on meanwhile, the rebuild reads on to where it is and
    switches then". The rebuild's first switch waits until the worker applied the second
    half of the stream: every partition's switch is refused, the rebuild reads the records
    the worker applied meanwhile, and switches at the worker's offset."""
    first, second, expected = _simulate_halves(pipeline, tmp_path, seed=8)
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(first))
    pipeline.wait_caught_up()
    half = pipeline.applied_offsets()
    moved_on: list[dict[int, int]] = []

    async def rebuild() -> Summary:
        async with open_rebuild(pipeline.settings(), DEFAULT_LIMITS, None) as job:
            switch = job._try_switch

            async def once_the_worker_moved_on(p: Any, summary: Summary) -> None:
                if not moved_on:
                    pipeline.iocmon("replay", str(second))
                    pipeline.wait_caught_up()
                    moved_on.append(pipeline.applied_offsets())
                await switch(p, summary)

            job._try_switch = once_the_worker_moved_on  # type: ignore[method-assign]
            return await job.run()

    summary = asyncio.run(rebuild())
    ahead = [p for p in range(pipeline.partitions) if moved_on[0][p] > half[p]]
    assert len(ahead) >= pipeline.partitions - 1
    assert summary.switch_retries >= len(ahead)  # each refused once: the worker was ahead
    client = redis.Redis.from_url(pipeline.stack.redis_url)
    try:
        assert _live_prefixes(client, pipeline) == [summary.prefix] * pipeline.partitions
    finally:
        client.close()
    ends = pipeline.end_offsets()
    assert pipeline.applied_offsets() == {p: end - 1 for p, end in ends.items()}
    assert_figures_exact([worker], expected)
    assert_dead_letters_as_designed(pipeline, expected, replayed=True)


def test_records_no_worker_processed_yet_are_left_to_it_with_their_dead_letters(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """Redis lost every key while no worker ran, and records came meanwhile: the rebuild
    restores what the worker group had processed (its committed offsets) and no more, so the
    worker, started again, dead-letters the bad records among the new ones itself."""
    first, second, expected = _simulate_halves(pipeline, tmp_path, seed=7)
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(first))
    pipeline.wait_caught_up()
    worker.stop()  # commits what it applied
    assert _delete_all_keys(pipeline) > 100
    pipeline.iocmon("replay", str(second))
    producer = KafkaProducer(**kafka_python_kwargs(pipeline.settings()), acks="all")
    bad = [f"bad-{i}".encode() for i in range(24)]
    for key in bad:
        producer.send(pipeline.events_topic, key=key, value=b"{not json")
    producer.flush()
    producer.close()

    rebuilt = pipeline.iocmon("rebuild")
    assert "the worker has not processed yet are left to it" in rebuilt.stdout, rebuilt.stdout

    worker = pipeline.start_worker()
    pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    dead = Counter(key for key, _, _ in pipeline.dead_letters())
    assert {key: dead[key] for key in bad} == dict.fromkeys(bad, 1)
    mine = [(key.decode(), None, "not_json") for key in bad]
    assert_dead_letters_as_designed(pipeline, expected, replayed=True, besides=mine)


def _alerts_settled(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The alerts sent once a few of the worker's alert checks passed without sending more."""
    seen = [-1]

    def settled() -> bool:
        time.sleep(1.5)
        n = len(pipeline.alerts())
        settled, seen[0] = n == seen[0], n
        return settled

    wait_for(settled, 120, "the worker's alert checks to settle")
    return pipeline.alerts()
