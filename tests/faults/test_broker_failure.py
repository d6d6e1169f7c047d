"""A Kafka broker killed mid-stream in a 3-node cluster: producer and worker carry on alone.

Topics have three replicas and `min.insync.replicas` 2, the producer writes with `acks=all`
and idempotence. Killing the node that leads the busiest partitions (SIGKILL: no clean
leadership hand-over) makes those partitions leaderless until the controller fences the node
(4 s without heartbeats) and elects a new leader from the in-sync replicas. The simulator keeps
producing throughout and the worker keeps consuming; nobody restarts them. Later the node is
started again and catches up as a follower.

Checks: the topic holds exactly the records the simulator wrote to its events file (the
producer's retries doubled nothing, lost nothing), every one of them is applied exactly once
(events + rejected + duplicates == records), and the figures equal the simulator's truth.
Measured (reported, not asserted):

    producer_stall_s = kill → every partition's end offset has grown again (writes resumed)
    worker_stall_s   = kill → every partition has applied records past its offset at the
                       kill, unless no record came after it (consumption resumed)
    back_in_sync_s   = restart → the node is registered and every partition has three
                       in-sync replicas again
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.faults.figures import report
from tests.faults.kafka_cluster import (
    KafkaCluster,
    create_replicated_topics,
    end_offsets,
    wait_in_sync,
)
from tests.faults.progress import POLL_S, Progress
from tests.integration.harness import Pipeline, Stack, Worker, wait_for
from tests.integration.truth import assert_figures_exact, expected_from_truth
from tests.integration.workload import (
    accounted_records,
    count_records,
    dead_letter_sources,
    start_simulator,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(scope="module")
def cluster(stack: Stack) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(stack.local_dir / "kafka-cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def replicated(stack: Stack, cluster: KafkaCluster) -> Iterator[Pipeline]:
    """A pipeline on the 3-node cluster (Redis stays the stack's), all nodes up (a test that
    failed mid-way may have left one down)."""
    for node in cluster.nodes:
        if not node.running:
            cluster.restart(node.node_id)
    cluster.wait_brokers(cluster.size, timeout_s=180)
    pipeline = Pipeline(replace(stack, kafka=cluster.bootstrap))
    create_replicated_topics(pipeline, cluster.bootstrap)
    yield pipeline
    pipeline.stop()


def test_leader_killed_then_restarted_mid_stream(
    replicated: Pipeline, cluster: KafkaCluster, tmp_path: Path
) -> None:
    """The CI version: one kill and restart while 8,000 records are produced at 400/s."""
    run_broker_failures(replicated, cluster, tmp_path, events=8_000, rate=400, kills=1, workers=1)


@pytest.mark.faults_full
def test_two_leaders_killed_in_turn_during_100k_events(
    replicated: Pipeline, cluster: KafkaCluster, tmp_path: Path
) -> None:
    events = int(os.environ.get("IOCMON_FAULT_BROKER_EVENTS", "100000"))
    run_broker_failures(replicated, cluster, tmp_path, events=events, rate=500, kills=2, workers=2)


@dataclass
class Stall:
    node: int
    led_partitions: int
    producer_stall_s: float
    worker_stall_s: float
    back_in_sync_s: float


def run_broker_failures(
    pipeline: Pipeline,
    cluster: KafkaCluster,
    tmp_path: Path,
    *,
    events: int,
    rate: int,
    kills: int,
    workers: int,
) -> None:
    live = [pipeline.start_worker() for _ in range(workers)]
    source, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    producer = start_simulator(pipeline, source, truth, events=events, rate=rate, seed=81)
    stalls: list[Stall] = []
    try:
        with Progress(pipeline) as progress:
            for n in range(kills):
                # Kill points spread over the first 70 % of the stream: the producer still runs.
                at = events * (0.15 + 0.55 * n / max(1, kills))
                wait_for(lambda a=at: sum(progress.ends().values()) >= a, 600, f"{at:.0f} records")
                assert producer.poll() is None, "the simulator finished before the kill"
                stalls.append(kill_busiest_leader(cluster, pipeline, progress, producer))
        output, _ = producer.communicate(timeout=900)
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.communicate()
    assert producer.returncode == 0, output  # the producer carried on by itself

    sent = count_records(source)
    in_topic = sum(
        end_offsets(cluster.bootstrap, pipeline.events_topic, pipeline.partitions).values()
    )
    assert in_topic == sent  # no retry wrote a record twice, none was lost
    pipeline.wait_caught_up(timeout_s=1800)
    assert_all_alive(live)
    assert_figures_exact(live, expected_from_truth(truth, source))
    applied, rejected, duplicates = accounted_records(live)
    assert applied + rejected + duplicates == sent
    assert len(dead_letter_sources(pipeline)) == rejected
    for n, stall in enumerate(stalls, 1):
        report(
            f"Kafka leader kill -9 {n}/{kills} (3 brokers, RF 3, min ISR 2), {sent} records, "
            f"{workers} worker(s)",
            killed_node=stall.node,
            led_partitions=stall.led_partitions,
            producer_stall_s=round(stall.producer_stall_s, 1),
            worker_stall_s=round(stall.worker_stall_s, 1),
            back_in_sync_after_restart_s=round(stall.back_in_sync_s, 1),
            records_in_topic=f"{in_topic}={sent} sent",
            applied_rejected_duplicates=f"{applied}+{rejected}+{duplicates}={sent}",
            figures="exact",
        )


def kill_busiest_leader(
    cluster: KafkaCluster,
    pipeline: Pipeline,
    progress: Progress,
    producer: subprocess.Popen[str],
) -> Stall:
    """SIGKILL the node leading the most records, wait for writes and reads to resume while it
    is down, then start it again and wait until it is back in sync."""
    leaders = cluster.leaders(pipeline.events_topic)
    ends = progress.ends()
    load: dict[int, int] = {}
    for partition, leader in leaders.items():
        load[leader] = load.get(leader, 0) + ends[partition]
    node = max(load, key=lambda n: load[n])
    led = sum(1 for leader in leaders.values() if leader == node)
    print(f"killing node {node}, leader of {led} partitions holding {load[node]} records")

    cluster.kill9(node)
    killed_at = time.monotonic()
    ends_at_kill, applied_at_kill = progress.ends(), progress.applied()
    producer_s = worker_s = None
    deadline = killed_at + 300
    while producer_s is None or worker_s is None:
        ends, applied = progress.ends(), progress.applied()
        assert time.monotonic() < deadline, (
            f"no progress within 300 s of the broker kill: writes resumed after {producer_s} s, "
            f"consumption after {worker_s} s (None: not yet); producer running: "
            f"{producer.poll() is None}; end offsets {ends_at_kill} at the kill, {ends} now; "
            f"applied {applied_at_kill} at the kill, {applied} now"
        )
        now = time.monotonic() - killed_at
        if producer_s is None and (
            all(ends[p] > ends_at_kill[p] for p in ends) or producer.poll() is not None
        ):
            producer_s = now
        if worker_s is None and all(
            applied[p] > applied_at_kill[p] or ends[p] - 1 <= applied_at_kill[p] for p in ends
        ):
            worker_s = now
        time.sleep(POLL_S)
    print(f"writes resumed after {producer_s:.1f}s, consumption after {worker_s:.1f}s")
    time.sleep(max(0.0, 5 - (time.monotonic() - killed_at)))  # down for at least 5 s

    restarted_at = time.monotonic()
    cluster.restart(node)
    cluster.wait_brokers(cluster.size, timeout_s=180)
    wait_in_sync(cluster, pipeline.events_topic, 3, timeout_s=300)
    return Stall(node, led, producer_s, worker_s, time.monotonic() - restarted_at)


def assert_all_alive(workers: list[Worker]) -> None:
    """The workers rode out the broker failure: none exited or had to be restarted."""
    for worker in workers:
        assert worker.process is not None and worker.process.poll() is None, worker.log_path
