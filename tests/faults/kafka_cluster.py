"""A local 3-node Kafka 4.0 KRaft cluster for the broker-failure tests.

The stack's Kafka is a single node, so losing it is an outage, not a failover. This starts
three combined broker+controller nodes (a static three-voter quorum) from the jars that
`deploy/local/stack.sh` resolved into its cache, on free ports, with data and logs under the
test stack's local dir. Topics default to replication factor 3 and `min.insync.replicas` 2,
so with one node down every acknowledged record still has two copies and writes go on.
Single nodes can be killed with SIGKILL and started again on the same ports and data.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError

from tests.integration.harness import REPO, Pipeline, free_port, wait_for

KAFKA_DIR = REPO / "deploy" / "local" / "kafka"
HEAP = os.environ.get("IOCMON_FAULT_KAFKA_HEAP", "-Xms128m -Xmx384m")


def kafka_libs() -> Path:
    """The jar folder stack.sh resolved (named after the pom's version and hash)."""
    pom = KAFKA_DIR / "pom.xml"
    version = re.search(r"<kafka.version>(.*?)</kafka.version>", pom.read_text())
    assert version, f"no <kafka.version> in {pom}"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("IOCMON_CACHE_DIR", REPO / ".cache"))
    libs = cache / f"kafka-{version.group(1)}-{digest}"
    assert (libs / ".complete").exists(), (
        f"Kafka jars missing in {libs}: start the test stack first (deploy/local/stack.sh up)"
    )
    return libs


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.root / f"server-{self.node_id}.properties"

    @property
    def data_dir(self) -> Path:
        return self.root / f"data-{self.node_id}"

    @property
    def log_path(self) -> Path:
        return self.root / f"node-{self.node_id}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class KafkaCluster:
    """Three KRaft nodes; `bootstrap` lists all of them, as a client in production would."""

    root: Path
    size: int = 3
    nodes: list[Node] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def start(self, timeout_s: float = 180) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.nodes = [Node(i, free_port(), free_port(), self.root) for i in range(1, self.size + 1)]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cluster_id = "A" + cluster_id[1:]  # Kafka refuses an id that starts with '-'
        for node in self.nodes:
            node.config_path.write_text(_config(node, voters, replicas=min(3, self.size)))
            subprocess.run(
                [
                    "java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                    f"-Dlog4j.configuration=file:{KAFKA_DIR / 'tools-log4j.properties'}",
                    "-cp", f"{kafka_libs()}/*",
                    "kafka.tools.StorageTool", "format", "-t", cluster_id,
                    "-c", str(node.config_path),
                ],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        for node in self.nodes:
            self.launch(node)
        self.wait_brokers(self.size, timeout_s)

    def launch(self, node: Node) -> None:
        with node.log_path.open("ab") as log:
            node.process = subprocess.Popen(
                [
                    "java", *HEAP.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j.configuration=file:{KAFKA_DIR / 'log4j.properties'}",
                    "-cp", f"{kafka_libs()}/*", "kafka.Kafka", str(node.config_path),
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    def kill9(self, node_id: int) -> None:
        node = self.node(node_id)
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait()

    def restart(self, node_id: int) -> None:
        """Start a killed node again on its ports and data, as an operator would."""
        node = self.node(node_id)
        assert not node.running, f"node {node_id} still runs"
        self.launch(node)

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                os.killpg(node.process.pid, signal.SIGTERM)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait()

    def admin(self) -> KafkaAdminClient:
        alive = ",".join(n.address for n in self.nodes if n.running)
        return KafkaAdminClient(bootstrap_servers=alive, request_timeout_ms=10_000)

    def live_brokers(self) -> int:
        """Brokers registered with the controller quorum (0 while it cannot answer)."""
        try:
            admin = self.admin()
        except KafkaError:
            return 0
        try:
            brokers = admin.describe_cluster()["brokers"]
            return sum(1 for b in brokers if not b.get("is_fenced"))
        except KafkaError:
            return 0
        finally:
            admin.close()

    def wait_brokers(self, count: int, timeout_s: float) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is not None:
                raise AssertionError(f"kafka node {node.node_id} exited; see {node.log_path}")
        wait_for(lambda: self.live_brokers() == count, timeout_s, f"{count} Kafka brokers")

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition → node id of its current leader (-1 while it has none)."""
        admin = self.admin()
        try:
            (described,) = admin.describe_topics([topic])
            return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}
        finally:
            admin.close()

    def in_sync(self, topic: str) -> dict[int, int]:
        """Partition → number of replicas in sync."""
        admin = self.admin()
        try:
            (described,) = admin.describe_topics([topic])
            return {p["partition_index"]: len(p["isr_nodes"]) for p in described["partitions"]}
        finally:
            admin.close()


def create_replicated_topics(pipeline: Pipeline, bootstrap: str) -> None:
    """The pipeline's topics with three replicas, two of which must acknowledge each write."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    safe = {"min.insync.replicas": "2"}
    try:
        admin.create_topics(
            [
                NewTopic(
                    pipeline.events_topic,
                    pipeline.partitions,
                    3,
                    topic_configs={"retention.ms": "-1", **safe},
                ),
                NewTopic(pipeline.dlq_topic, 3, 3, topic_configs=safe),
                NewTopic(f"{pipeline.name}-alerts", 3, 3, topic_configs=safe),
            ]
        )
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def _config(node: Node, voters: str, replicas: int = 3) -> str:
    """One node's server.properties; `replicas` below 3 for a cluster that has fewer nodes."""
    in_sync = min(2, replicas)
    return f"""\
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.voters={voters}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://{node.address},CONTROLLER://127.0.0.1:{node.controller_port}
advertised.listeners=PLAINTEXT://{node.address}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={node.data_dir}

# Every topic (Faust's and Kafka's own included) keeps three copies (as many as there are
# nodes in a smaller cluster); a write needs two (one in a one-node cluster).
default.replication.factor={replicas}
min.insync.replicas={in_sync}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={in_sync}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={in_sync}
unclean.leader.election.enable=false

group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1

# A killed node is fenced (and its partitions get new leaders) after 4 s without heartbeats.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
"""


def wait_in_sync(cluster: KafkaCluster, topic: str, replicas: int, timeout_s: float) -> float:
    """Seconds until every partition of `topic` has `replicas` in sync again."""
    started = time.monotonic()

    def all_in_sync() -> bool:
        try:
            return all(n >= replicas for n in cluster.in_sync(topic).values())
        except KafkaError:
            return False

    wait_for(all_in_sync, timeout_s, f"{replicas} in-sync replicas on every partition")
    return time.monotonic() - started
