"""CONTRACT §3a through the real worker: forgetting past the horizon, and Redis at maxmemory."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.redis_connection import sync_redis
from tests.integration.harness import Pipeline, sum_samples, wait_for
from tests.integration.truth import assert_figures_exact
from tests.integration.workload import simulate

pytestmark = pytest.mark.integration

CLOCK = datetime(2025, 2, 14, 12, tzinfo=LOCAL_TZ)


def event(dossier: str, seq: int, kind: str, at: str, **fields: object) -> dict[str, object]:
    return {"v": 1, "event_id": f"{dossier}-{seq}", "dossier_id": dossier, "type": kind,
            "at": f"{at}+07:00", **fields}  # fmt: skip


def received(dossier: str, at: str) -> dict[str, object]:
    return event(dossier, 1, "received", at, agency="STP", procedure="1.001",
                 channel="online", level="full", processing_days=5)  # fmt: skip


@pytest.mark.partitions(1)
def test_a_dossier_ended_401_days_of_stream_time_ago_is_forgotten_and_2024_stays(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.start_worker(IOCMON_CLOCK_OFFSET_S=str(CLOCK.timestamp() - time.time()))
    old_received = received("OLD", "2024-01-02T08:00:00")
    pipeline.send(old_received, event("OLD", 2, "resolved", "2024-01-05T10:00:00"),
         received("KEPT", "2024-01-03T08:00:00"))  # fmt: skip
    pipeline.wait_caught_up()
    status, year = worker.get_json("/api/v1/summary?period=2024")
    assert status == 200 and year["early"] == 1 and year["open"] == 2 - 1
    status, body = worker.get_json("/api/v1/dossiers/OLD")
    assert status == 200 and body["outcome"] == "early"

    pipeline.send(received("NEW", "2025-02-10T08:00:00"))  # stream time: 402 days after the end
    pipeline.wait_caught_up()
    wait_for(lambda: worker.get_json("/api/v1/dossiers/OLD")[0] == 404, 30, "OLD to be forgotten")
    assert worker.get_json("/api/v1/dossiers/KEPT")[0] == 200  # open: never forgotten

    pipeline.send(old_received, event("OLD", 3, "result_returned", "2025-02-10T09:00:00"))
    pipeline.wait_caught_up()
    reasons = sorted(headers["iocmon-reason"] for _, _, headers in pipeline.dead_letters())
    assert reasons == [b"beyond_horizon", b"unknown_dossier"]
    status, again = worker.get_json("/api/v1/summary?period=2024")
    assert status == 200
    assert {k: again[k] for k in ("early", "on_time", "late", "withdrawn", "received")} == {
        k: year[k] for k in ("early", "on_time", "late", "withdrawn", "received")
    }
    samples = worker.metrics()
    assert sum(sum_samples(samples, "iocmon_dossiers_forgotten_total").values()) == 1


@pytest.mark.partitions(3)
def test_redis_at_maxmemory_pauses_intake_and_it_resumes_with_nothing_lost_or_doubled(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, expected = simulate(pipeline, tmp_path, seed=21, events=3000)
    lines = events.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2 :]))
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(first))
    pipeline.wait_caught_up()

    redis = sync_redis(pipeline.settings())
    try:
        assert redis.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        # Well under what Redis holds: freeing a client buffer must not let a write through.
        redis.config_set("maxmemory", str(int(redis.info("memory")["used_memory"]) // 2))
        before = sum(pipeline.applied_offsets().values())
        pipeline.iocmon("replay", str(second))
        wait_for(
            lambda: (
                sum(sum_samples(worker.metrics(fresh=False), "iocmon_redis_full").values()) == 1
            ),
            60,
            "the worker to say Redis is full",
        )
        time.sleep(2)
        assert sum(pipeline.applied_offsets().values()) == before  # nothing applied, not part
    finally:
        redis.config_set("maxmemory", "0")
        redis.close()
    pipeline.wait_caught_up()
    assert sum(sum_samples(worker.metrics(fresh=False), "iocmon_redis_full").values()) == 0
    assert_figures_exact([worker], expected)
    assert "Redis is full (maxmemory reached)" in worker.log_path.read_text(encoding="utf-8")
