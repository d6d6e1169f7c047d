"""Redis restarts and outages under a live stream, against a Redis of the test's own.

- kill -9 of Redis (append-only, fsync every second) mid-stream, then restart: the last
  second of writes may be lost, the worker sees Kafka's committed offset ahead of Redis,
  reads the gap again, and the figures end exact;
- Redis unreachable for 30 s: the worker keeps running, backs off, says what is wrong and what
  to do, `/metrics` shows the outage, and the consumer group never commits past what Redis
  holds (checked every second throughout); then it recovers by itself, figures exact;
- a graceful stop of the worker while Redis is down commits nothing it did not apply;
- Redis paused (`CLIENT PAUSE`, answering nothing) rather than down: the API answers 503 and
  `/metrics` says `iocmon_redis_up 0` while it lasts, and the worker resumes after, exact.

The first two are long (`faults_full`); the others run in CI.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from kafka.admin import KafkaAdminClient

from tests.faults.figures import report
from tests.faults.redis_server import (
    RedisServer,
    answers,
    applied_offsets,
    own_redis,
    pipeline_on,
)
from tests.integration.harness import Pipeline, Stack, Worker, http_get, sum_samples, wait_for
from tests.integration.truth import assert_figures_exact
from tests.integration.workload import finish, simulate, start_replay

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EVENTS = 10_000
OUTAGE_S = 30.0
PAUSE_S = 30


def committed_offsets(pipeline: Pipeline) -> dict[int, int]:
    """The consumer group's committed offset per partition (-1: none committed)."""
    admin = KafkaAdminClient(bootstrap_servers=pipeline.stack.kafka)
    try:
        offsets = admin.list_group_offsets({pipeline.name: None})[pipeline.name]
    finally:
        admin.close()
    out = dict.fromkeys(range(pipeline.partitions), -1)
    for tp, meta in offsets.items():
        if tp.topic == pipeline.events_topic:
            out[tp.partition] = meta.offset
    return out


def applied_count(pipeline: Pipeline, server: RedisServer) -> int:
    client = server.client()
    try:
        return sum(o + 1 for o in applied_offsets(client, pipeline).values())
    except redis.RedisError:  # down while polling: nothing to count
        return 0
    finally:
        client.close()


def assert_commits_within(committed: dict[int, int], applied: dict[int, int]) -> None:
    """Kafka's committed offset is the next record to read: at most applied + 1."""
    ahead = {p: (c, applied[p]) for p, c in committed.items() if c > applied[p] + 1}
    assert not ahead, f"committed past applied (partition: (committed, applied)): {ahead}"


def metric(worker: Worker, name: str) -> float:
    return sum(sum_samples(worker.metrics(fresh=False), name).values())


@pytest.mark.faults_full
def test_redis_kill_9_and_restart_mid_stream_keeps_figures_exact(
    stack: Stack, tmp_path: Path
) -> None:
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            events, expected = simulate(pipeline, tmp_path, seed=21, events=EVENTS)
            worker = pipeline.start_worker()
            sender = start_replay(pipeline, events)
            wait_for(lambda: applied_count(pipeline, server) >= 3_000, 240, "3,000 applied")
            before = applied_count(pipeline, server)
            server.kill9()
            down_at = time.monotonic()
            time.sleep(2)
            server.start()
            after_restart = applied_count(pipeline, server)
            finish(sender)
            pipeline.wait_caught_up()
            caught_up_s = time.monotonic() - down_at
            assert worker.process is not None and worker.process.poll() is None
            assert_figures_exact([worker], expected)
            rewinds = metric(worker, "iocmon_partition_rewinds_total")
            report(
                "redis kill -9 + restart (AOF everysec)",
                events=sum(1 for _ in events.open(encoding="utf-8")),
                applied_at_kill=before,
                applied_after_restart=after_restart,
                lost_writes_records=before - after_restart,
                partition_rewinds=int(rewinds),
                caught_up_after_s=round(caught_up_s, 1),
                figures="exact",
            )
        finally:
            pipeline.stop()


@pytest.mark.faults_full
def test_redis_unreachable_30s_worker_backs_off_commits_nothing_unapplied_and_recovers(
    stack: Stack, tmp_path: Path
) -> None:
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            events, expected = simulate(pipeline, tmp_path, seed=22, events=EVENTS)
            worker = pipeline.start_worker()
            sender = start_replay(pipeline, events)
            wait_for(lambda: applied_count(pipeline, server) >= 2_000, 240, "2,000 applied")
            errors_before = metric(worker, "iocmon_redis_errors_total")
            log_start = worker.log_path.stat().st_size
            server.shutdown()  # clean stop: what Redis holds now is what it will hold after
            down_at = time.monotonic()

            samples = 0
            max_committed = dict.fromkeys(range(pipeline.partitions), -1)
            saw_redis_down = False
            while time.monotonic() - down_at < OUTAGE_S:
                assert worker.process is not None and worker.process.poll() is None, (
                    f"worker died during the outage; see {worker.log_path}"
                )
                for p, c in committed_offsets(pipeline).items():
                    max_committed[p] = max(max_committed[p], c)
                samples += 1
                if metric(worker, "iocmon_redis_up") == 0:
                    saw_redis_down = True
                time.sleep(1)
            outage_errors = metric(worker, "iocmon_redis_errors_total") - errors_before
            with server.on_side_port() as side:  # the worker still cannot reach Redis
                applied = applied_offsets(side, pipeline)
            assert_commits_within(max_committed, applied)
            assert saw_redis_down, "/metrics never showed iocmon_redis_up 0 during the outage"
            assert outage_errors >= 3, "the worker should retry (with backoff) during the outage"
            log = worker.log_path.read_bytes()[log_start:].decode("utf-8", "replace")
            assert "Redis unreachable" in log and "REDIS_URL" in log, log[-3000:]

            server.start()
            up_at = time.monotonic()
            finish(sender)
            pipeline.wait_caught_up()
            recovered_s = time.monotonic() - up_at
            assert worker.process is not None and worker.process.poll() is None
            wait_for(lambda: metric(worker, "iocmon_redis_up") == 1, 60, "iocmon_redis_up 1")
            assert_figures_exact([worker], expected)
            ahead = max(max_committed[p] - (applied[p] + 1) for p in applied)
            report(
                "redis unreachable 30 s",
                events=sum(1 for _ in events.open(encoding="utf-8")),
                commit_samples=samples,
                max_commit_minus_applied_plus_1=ahead,
                redis_errors_during_outage=int(outage_errors),
                worker_alive="yes",
                caught_up_after_redis_back_s=round(recovered_s, 1),
                figures="exact",
            )
        finally:
            pipeline.stop()


def test_graceful_stop_while_redis_is_down_commits_nothing_unapplied(
    stack: Stack, tmp_path: Path
) -> None:
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            events, expected = simulate(pipeline, tmp_path, seed=23, events=4_000)
            # Half before the outage, half during it: a worker that caught up with the whole
            # replay before Redis went down would have nothing left to fail on.
            lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
            before, during = tmp_path / "before.jsonl", tmp_path / "during.jsonl"
            before.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
            during.write_text("".join(lines[len(lines) // 2 :]), encoding="utf-8")
            worker = pipeline.start_worker()
            finish(start_replay(pipeline, before))
            wait_for(lambda: applied_count(pipeline, server) >= 1_000, 240, "1,000 applied")
            server.shutdown()
            finish(start_replay(pipeline, during))  # in Kafka; the worker cannot apply them
            wait_for(
                lambda: metric(worker, "iocmon_redis_errors_total") >= 2, 60, "the worker to retry"
            )
            worker.stop()  # SIGTERM: Faust commits what was acked, then exits
            assert worker.process is not None and worker.process.returncode not in (None, -9)
            committed = committed_offsets(pipeline)
            with server.on_side_port() as side:
                applied = applied_offsets(side, pipeline)
            assert_commits_within(committed, applied)

            server.start()
            restarted = pipeline.start_worker()
            pipeline.wait_caught_up()
            assert_figures_exact([restarted], expected)
            report(
                "graceful worker stop during a Redis outage",
                committed_records=sum(max(c, 0) for c in committed.values()),
                applied_records=sum(a + 1 for a in applied.values()),
                max_commit_minus_applied_plus_1=max(
                    committed[p] - (applied[p] + 1) for p in applied
                ),
                figures_after_restart="exact",
            )
        finally:
            pipeline.stop()


def test_a_paused_redis_gets_503s_and_redis_up_0_then_the_worker_resumes_exact(
    stack: Stack, tmp_path: Path
) -> None:
    """The API's Redis calls give up after IOCMON_REDIS_TIMEOUT_S, not after redis-py's 5 s
    (or never, before redis-py 8) and its retries. Every check below runs within the pause
    (their waits add up to less than it), so a worker that only answers once Redis is back
    fails them."""
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            events, expected = simulate(pipeline, tmp_path, seed=29, events=3_000)
            worker = pipeline.start_worker(IOCMON_REDIS_TIMEOUT_S="0.5")
            sender = start_replay(pipeline, events)
            wait_for(lambda: applied_count(pipeline, server) >= 500, 240, "500 applied")
            wait_for(lambda: metric(worker, "iocmon_redis_up") == 1, 30, "iocmon_redis_up 1")
            side = server.client()
            side.execute_command("CLIENT", "PAUSE", str(PAUSE_S * 1000), "ALL")
            # Answered within the setting, far inside the client's patience (redis-py's own
            # default, 5 s, is not).
            status, body = http_get(f"{worker.url}/api/v1/summary", timeout=4)
            assert status == 503, body
            assert b"Redis is not answering" in body
            wait_for(lambda: metric(worker, "iocmon_redis_up") == 0, 12, "iocmon_redis_up 0")
            finish(sender)
            wait_for(lambda: answers(server.port), PAUSE_S + 30, "the pause to end")
            pipeline.wait_caught_up()
            assert worker.process is not None and worker.process.poll() is None
            wait_for(lambda: metric(worker, "iocmon_redis_up") == 1, 30, "iocmon_redis_up 1")
            assert worker.get_json("/api/v1/summary")[0] == 200
            assert_figures_exact([worker], expected)
            side.close()
        finally:
            pipeline.stop()
