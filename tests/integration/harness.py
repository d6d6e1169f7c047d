"""Drives the real services for integration tests: the local stack, workers, producers.

The stack is started once per session by `deploy/local/stack.sh` on ports of its own, so a
developer's `make run` stack is left alone. Each test gets fresh topics, a fresh Redis key
prefix and a fresh consumer group, so tests never see each other's figures.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from iocmon.config import Settings
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.redis_connection import sync_redis

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    kafka: str
    redis_url: str
    prometheus_url: str
    alertmanager_url: str
    local_dir: Path
    # Settings every process of a pipeline on this stack gets (e.g. Kafka SASL/TLS, a Redis
    # CA file); the fault tests use it for a Redis Cluster or a secured broker.
    env: Mapping[str, str] = field(default_factory=dict)


# IOCMON_TEST_PORT_OFFSET=N gives a test session a stack of its own (its folder `test-N`, its
# ports 10·N above the default ones), so that several sessions can run on one machine: the
# ports of one stack span 6 numbers, so the stacks of N and N+1 never share one.
_PORT_OFFSET = int(os.environ.get("IOCMON_TEST_PORT_OFFSET", "0") or 0)

STACK_PORTS = {
    name: port + 10 * _PORT_OFFSET
    for name, port in {
        "KAFKA_PORT": 19192,
        "KAFKA_CONTROLLER_PORT": 19193,
        "REDIS_PORT": 16479,
        "PROMETHEUS_PORT": 19190,
        "ALERTMANAGER_PORT": 19195,
    }.items()
}


TEST_LOCAL_DIR = REPO / ".local" / (f"test-{_PORT_OFFSET}" if _PORT_OFFSET else "test")


def _stack_env() -> dict[str, str]:
    return {
        **os.environ,
        **{k: str(v) for k, v in STACK_PORTS.items()},
        "IOCMON_LOCAL_DIR": str(TEST_LOCAL_DIR),
        "IOCMON_SCRAPE_TARGETS": "127.0.0.1:1",
    }


def stack_running() -> bool:
    status = subprocess.run(
        ["bash", str(REPO / "deploy/local/stack.sh"), "status"],
        env=_stack_env(),
        capture_output=True,
    )
    return status.returncode == 0


def stop_stack() -> None:
    subprocess.run(
        ["bash", str(REPO / "deploy/local/stack.sh"), "down"], env=_stack_env(), check=False
    )


def start_stack() -> Stack:
    local_dir = TEST_LOCAL_DIR
    subprocess.run(
        ["bash", str(REPO / "deploy/local/stack.sh"), "up"], env=_stack_env(), check=True
    )
    return Stack(
        kafka=f"127.0.0.1:{STACK_PORTS['KAFKA_PORT']}",
        redis_url=f"redis://127.0.0.1:{STACK_PORTS['REDIS_PORT']}/0",
        prometheus_url=f"http://127.0.0.1:{STACK_PORTS['PROMETHEUS_PORT']}",
        alertmanager_url=f"http://127.0.0.1:{STACK_PORTS['ALERTMANAGER_PORT']}",
        local_dir=local_dir,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pipeline:
    """One isolated pipeline on the shared stack: its own topics, Redis prefix and group."""

    stack: Stack
    partitions: int = 12
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    workers: list[Worker] = field(default_factory=list)

    @property
    def events_topic(self) -> str:
        return f"{self.name}-events"

    @property
    def dlq_topic(self) -> str:
        return f"{self.name}-dlq"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka,
            "REDIS_URL": self.stack.redis_url,
            "IOCMON_EVENTS_TOPIC": self.events_topic,
            "IOCMON_DLQ_TOPIC": self.dlq_topic,
            "IOCMON_ALERTS_TOPIC": f"{self.name}-alerts",
            "IOCMON_EVENT_PARTITIONS": str(self.partitions),
            "IOCMON_CONSUMER_GROUP": self.name,
            "IOCMON_REDIS_PREFIX": self.name,
            **self.stack.env,
            **extra,
        }

    def settings(self) -> Settings:
        """The settings the pipeline's processes run with, for the test's own clients."""
        return Settings.from_env(self.env())

    def create_topics(self) -> None:
        admin = KafkaAdminClient(**kafka_python_kwargs(self.settings()))
        try:
            admin.create_topics(
                [
                    NewTopic(
                        self.events_topic,
                        self.partitions,
                        1,
                        topic_configs={"retention.ms": "-1"},
                    ),
                    NewTopic(self.dlq_topic, 3, 1),
                    NewTopic(f"{self.name}-alerts", 3, 1),
                ]
            )
        finally:
            admin.close()

    def start_worker(self, **extra: str) -> Worker:
        """`python -m iocmon worker`, from the checkout."""
        return self._started(Worker(self, free_port(), extra))

    def start_installed_worker(self, venv: Path) -> Worker:
        """`python -m iocmon worker` from `venv`, run in that folder so that nothing of the
        checkout is importable."""
        return self._started(Worker(self, free_port(), {}, venv=venv))

    def _started(self, worker: Worker) -> Worker:
        worker.start()
        self.workers.append(worker)
        return worker

    def iocmon(
        self, *args: str, check: bool = True, timeout_s: float = 600, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iocmon", *args],
            env=self.env(**extra_env),
            cwd=REPO,
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def send(self, *events: Mapping[str, object]) -> None:
        """Hand-made events into the events topic, keyed by dossier, acknowledged."""
        producer = KafkaProducer(**kafka_python_kwargs(self.settings()), acks="all")
        try:
            for e in events:
                producer.send(self.events_topic, key=str(e["dossier_id"]).encode(),
                              value=json.dumps(e).encode())  # fmt: skip
            producer.flush()
        finally:
            producer.close()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert the pipeline's workers sent, oldest first per partition."""
        return [json.loads(m.value) for m in self.read_topic(f"{self.name}-alerts")]

    def read_topic(self, topic: str, timeout_s: float = 120) -> list[Any]:
        """Every record `topic` held when called, oldest first per partition.

        Reads up to the end offsets taken first, however slowly the broker answers, so an
        empty answer means an empty topic; fails if the end is not reached in `timeout_s`.
        """
        consumer = KafkaConsumer(**kafka_python_kwargs(self.settings()), enable_auto_commit=False)
        try:
            parts = partitions_of(consumer, topic)
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            records: list[Any] = []
            deadline = time.monotonic() + timeout_s
            while behind := {tp.partition for tp in parts if consumer.position(tp) < ends[tp]}:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"read {len(records)} records of {topic} in {timeout_s:.0f} s; "
                        f"partitions {sorted(behind)} still short of their end offsets"
                    )
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            return records
        finally:
            consumer.close()

    def end_offsets(self, topic: str | None = None) -> dict[int, int]:
        """End offsets of every partition of `topic` (the events topic by default)."""
        topic = topic or self.events_topic
        consumer = KafkaConsumer(**kafka_python_kwargs(self.settings()))
        try:
            parts = partitions_of(consumer, topic)
            return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()

    def applied_offsets(self) -> dict[int, int]:
        client = sync_redis(self.settings())
        try:
            out = {}
            for p in range(self.partitions):
                prefix = self.name  # follow `iocmon rebuild`'s moved: signposts
                while True:
                    raw = client.get(f"{prefix}:{{{self.events_topic}/{p}}}:offset")
                    if raw is None or not raw.startswith(b"moved:"):
                        break
                    prefix = raw[len(b"moved:") :].decode()
                out[p] = -1 if raw is None else int(raw)
            return out
        finally:
            client.close()

    def wait_caught_up(self, timeout_s: float = 240) -> None:
        """Until every record in the events topic has been applied in Redis."""
        ends = self.end_offsets()

        def caught_up() -> bool:
            applied = self.applied_offsets()
            return all(applied[p] >= end - 1 for p, end in ends.items())

        wait_for(caught_up, timeout_s, "the worker(s) to apply every record")

    def wait_group_settled(self, live: Sequence[Worker], timeout_s: float = 300) -> None:
        """Until every worker of `live` consumes some partitions and together they consume
        all: the group is stable, so a kill or a stop hits a worker that owns partitions."""

        def settled() -> bool:
            owned = [
                sum(sum_samples(w.metrics(fresh=False), "iocmon_assigned_partitions").values())
                for w in live
            ]
            return all(owned) and sum(owned) == self.partitions

        wait_for(settled, timeout_s, "every worker to own partitions")

    def dead_letters(self) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
        return [(m.key, m.value, dict(m.headers)) for m in self.read_topic(self.dlq_topic)]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@dataclass
class Worker:
    pipeline: Pipeline
    port: int
    extra_env: Mapping[str, str]
    venv: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return (
            self.pipeline.stack.local_dir / "logs" / f"worker-{self.pipeline.name}-{self.port}.log"
        )

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = self.pipeline.env(
            **{
                "IOCMON_WEB_PORT": str(self.port),
                "IOCMON_METRICS_REFRESH_S": "1",
                "IOCMON_SESSION_TIMEOUT_S": "10",
                **self.extra_env,
            }
        )
        python, cwd = (
            (sys.executable, REPO)
            if self.venv is None
            else (str(self.venv / "bin/python"), self.venv)
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [python, "-m", "iocmon", "worker"],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, 90, f"worker on port {self.port} to answer (log: {self.log_path})")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"worker exited with {self.process.returncode}; see {self.log_path}"
            )
        try:
            return http_get(f"{self.url}/metrics", timeout=5)[0] == 200
        except OSError:
            return False

    def kill9(self) -> None:
        """SIGKILL to the worker's three processes; returns once none of them runs.

        Waiting for the Faust process alone is not enough: its applier process, which holds
        the Redis connection, may still be dying, and a test that lets Redis go on at once
        (CLIENT UNPAUSE) then saw the killed worker's held write applied after all (a
        clean-clone run of test_at_risk)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        wait_for(
            lambda: not live_members(self.process.pid), 10, f"worker {self.port}'s processes to die"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = http_get(f"{self.url}{path}")
        return status, json.loads(body)

    def metrics(self, fresh: bool = True) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Samples of /metrics; `fresh` waits for dossier figures read after this call."""
        asked = time.time()
        samples = self._metrics()
        if not fresh:
            return samples

        def snapshot_is_fresh() -> bool:
            nonlocal samples
            samples = self._metrics()
            reports = samples.get(("iocmon_reports_dossier_figures", frozenset()), 0)
            taken = samples.get(("iocmon_figures_snapshot_timestamp_seconds", frozenset()), 0)
            return not reports or taken >= asked

        wait_for(snapshot_is_fresh, 60, f"fresh figures on {self.url}/metrics")
        return samples

    def _metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        from prometheus_client.parser import text_string_to_metric_families

        _, body = http_get(f"{self.url}/metrics")
        out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                out[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return out


def partitions_of(
    consumer: KafkaConsumer, topic: str, timeout_s: float = 60
) -> list[TopicPartition]:
    """Every partition of `topic`, asking the broker again while its metadata is unknown.

    kafka-python answers an empty set when a metadata request fails (a busy broker), which
    once made `wait_caught_up` wait for no partition at all and return at once. A topic
    missing from a list of topics the broker did give fails at once."""
    deadline = time.monotonic() + timeout_s
    while not (numbers := consumer.partitions_for_topic(topic)):
        known = consumer.topics()
        if known and topic not in known:
            raise AssertionError(f"topic {topic} does not exist")
        if time.monotonic() > deadline:
            raise AssertionError(f"no partitions of topic {topic} known after {timeout_s:.0f} s")
        time.sleep(0.5)
    return [TopicPartition(topic, p) for p in sorted(numbers)]


def live_members(group: int) -> list[int]:
    """Pids of the processes of process group `group` that still run (zombies left out:
    their files, sockets included, are closed)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in {"Z", "X"}:
            members.append(int(stat.parent.name))
    return members


def http_get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def sum_samples(
    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str, **match: str
) -> Counter[frozenset[tuple[str, str]]]:
    out: Counter[frozenset[tuple[str, str]]] = Counter()
    for (sample_name, labels), value in samples.items():
        if sample_name == name and all((k, v) in labels for k, v in match.items()):
            out[labels] += int(value)
    return out
