"""The pipeline's exactness test, unchanged, against a local 3-master Redis Cluster.

Every key one batch touches carries its partition's hash tag, so each Lua script runs on one
node; reads across partitions are pipelines of single-key commands. If any command crossed
hash slots, redis-py's cluster client would refuse it (CROSSSLOT) and the worker, the figure
reader or the rebuild would fail here. The figures must equal the simulator's truth, the
keys must be spread over all three masters, and `iocmon rebuild` and `iocmon doctor` must
work against the cluster too. CI runs a 4,000-event stream; `make test-faults` also runs
tests/integration/test_pipeline.py's exactness test itself, unchanged, on the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from tests.faults.figures import report
from tests.faults.redis_server import answers
from tests.integration import test_pipeline
from tests.integration.harness import Pipeline, Stack, free_port, wait_for
from tests.integration.truth import assert_figures_exact
from tests.integration.workload import count_records, simulate

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MASTERS = 3
SMALL_EVENTS = 4_000


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Three redis-server processes in cluster mode, slots spread over them; their ports."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.fail("redis-server/redis-cli not found: run deploy/local/stack.sh up once")
    base = tmp_path_factory.mktemp("redis-cluster")
    ports = [free_port() for _ in range(MASTERS)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node_dir = base / str(port)
            node_dir.mkdir()
            args = [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(node_dir),
                "--cluster-enabled", "yes",
                "--cluster-port", str(free_port()),  # not port + 10000: that may be > 65535
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000",
                "--appendonly", "yes",
                "--save", "",
                "--daemonize", "no",
            ]  # fmt: skip
            with (node_dir / "redis.log").open("wb") as log:
                processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        for port in ports:
            wait_for(lambda p=port: answers(p), 30, f"redis-server on port {port} to answer")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        wait_for(lambda: all(_cluster_ok(p) for p in ports), 60, "cluster_state:ok on all nodes")
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster_pipeline(stack: Stack, redis_cluster: list[int]) -> Iterator[Pipeline]:
    """A pipeline on the test stack's Kafka whose Redis is the cluster (one seed node)."""
    p = Pipeline(replace(stack, redis_url=f"redis+cluster://127.0.0.1:{redis_cluster[0]}"))
    p.create_topics()
    yield p
    p.stop()


def test_stream_exact_on_redis_cluster_then_rebuild_and_doctor(
    cluster_pipeline: Pipeline, redis_cluster: list[int], tmp_path: Path
) -> None:
    """The CI-sized check: a smaller stream, then `iocmon rebuild` and `iocmon doctor`."""
    started = time.monotonic()
    events, expected = simulate(cluster_pipeline, tmp_path, seed=21, events=SMALL_EVENTS)
    worker = cluster_pipeline.start_worker()
    cluster_pipeline.iocmon("replay", str(events))
    cluster_pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    applied_s = time.monotonic() - started

    # The partitions' keys are spread over every master: the cluster really was exercised.
    keys_per_node = [_prefixed_keys(p, cluster_pipeline.name) for p in redis_cluster]
    assert all(keys_per_node), keys_per_node

    # Rebuild (switch.lua, the moved: signposts, SCAN + UNLINK of the old generation on
    # every node) on the cluster: the figures stay exact.
    rebuild = cluster_pipeline.iocmon("rebuild", "--delete-old", "--quiet")
    assert "deleted" in rebuild.stdout + rebuild.stderr, rebuild.stdout + rebuild.stderr
    assert_figures_exact([worker], expected)

    doctor = cluster_pipeline.iocmon("doctor", "--json", "--url", worker.url, check=False)
    checks = [c for c in json.loads(doctor.stdout)["checks"] if c["service"] == "redis"]
    assert checks and all(c["ok"] for c in checks), checks
    assert "redis+cluster://" in checks[0]["subject"], checks

    report(
        "Redis Cluster (3 masters), CI size",
        records=count_records(events),
        applied_and_checked_s=round(applied_s, 1),
        keys_per_master="/".join(map(str, keys_per_node)),
    )


@pytest.mark.faults_full
def test_pipeline_exactness_test_unchanged_on_redis_cluster(
    cluster_pipeline: Pipeline, tmp_path: Path
) -> None:
    """tests/integration/test_pipeline.py's exactness test, as it is, on the cluster."""
    started = time.monotonic()
    test_pipeline.test_simulated_stream_equals_ground_truth_and_a_replay_changes_nothing(
        cluster_pipeline, tmp_path
    )
    report(
        "Redis Cluster (3 masters), pipeline exactness test",
        events=f">={test_pipeline.EVENTS:,} twice (a replay)",
        duration_s=round(time.monotonic() - started, 1),
    )


def _cluster_ok(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        return bool(client.cluster("INFO").get("cluster_state") == "ok")
    finally:
        client.close()


def _prefixed_keys(port: int, prefix: str) -> int:
    client = redis.Redis(port=port, socket_timeout=5)
    try:
        return sum(1 for _ in client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()
