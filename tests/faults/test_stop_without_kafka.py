"""SIGTERM stops `iocmon worker` and `iocmon simulate` even when Kafka is already gone.

A service manager (systemd, Kubernetes, run.sh) sends SIGTERM and waits a grace period before
SIGKILL; an operator stopping everything often stops Kafka first. Both processes must then
give up on what Kafka will never acknowledge and exit: the wanted bound is 10 s, the deadline
here is generous (a busy machine), so this checks that they exit, not how fast.

Kafka here is a one-node cluster of the test's own (tests/faults/kafka_cluster.py), so stopping
it leaves the shared stack alone; Redis is the stack's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.faults.kafka_cluster import KafkaCluster
from tests.integration.harness import Pipeline, Stack, wait_for
from tests.integration.workload import start_simulator

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EXIT_DEADLINE_S = 20.0


@pytest.fixture
def lone_kafka(stack: Stack, tmp_path: Path) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(stack.local_dir / f"kafka-lone-{tmp_path.name}", size=1)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def exited_by(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], deadline: float, own_group: bool
) -> bool:
    """Whether the process has exited by `deadline` (monotonic), and with `own_group` (it was
    started in a session of its own) so have the children it started."""
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    if not own_group:
        return True
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not group_alive(process.pid)


def test_sigterm_stops_the_worker_and_the_simulator_after_kafka_stopped(
    stack: Stack, lone_kafka: KafkaCluster, tmp_path: Path
) -> None:
    pipeline = Pipeline(replace(stack, kafka=lone_kafka.bootstrap), partitions=3)
    pipeline.create_topics()
    worker = pipeline.start_worker()
    simulator = start_simulator(
        pipeline,
        tmp_path / "events.jsonl",
        tmp_path / "truth.jsonl",
        events=1_000_000,
        rate=200,
        seed=14,
    )
    try:
        wait_for(lambda: sum(pipeline.end_offsets().values()) > 0, 60, "records in Kafka")
        wait_for(lambda: max(pipeline.applied_offsets().values()) >= 0, 60, "applied records")
        assert simulator.poll() is None, "the simulator stopped on its own"

        lone_kafka.stop()
        time.sleep(3)  # both notice: the producer's sends and the consumer's fetches now fail
        assert worker.process is not None

        # To the processes, not their groups: each must stop what it started itself.
        simulator.send_signal(signal.SIGTERM)
        worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + EXIT_DEADLINE_S
        simulator_exited = exited_by(simulator, deadline, own_group=False)
        worker_exited = exited_by(worker.process, deadline, own_group=True)
        assert (simulator_exited, worker_exited) == (True, True), (
            f"still running {EXIT_DEADLINE_S:g} s after SIGTERM with Kafka stopped: "
            f"simulator {'exited' if simulator_exited else 'RUNNING'}, "
            f"worker {'exited' if worker_exited else 'RUNNING'} (log {worker.log_path})"
        )
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()
        if worker.process is not None and group_alive(worker.process.pid):
            worker.kill9()  # the whole group: the worker and its applier process
