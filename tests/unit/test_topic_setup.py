"""Kafka topics are created on purpose, the same way by the local stack and by compose.

A client that names a missing topic must not create it (it would make `dossier-events` with
one partition and a week's retention), and the compose file must give each topic the
settings `deploy/local/stack.sh` gives it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

BROKER_CONFIGS = (
    DEPLOY / "local/kafka/server.properties.in",  # make up, make run, the test stack
    REPO / "tests/faults/kafka_cluster.py",  # the 3-node cluster of the broker-failure tests
    REPO / "tests/faults/secure_services.py",  # the SASL_SSL broker of the security tests
)


def _compose_services() -> dict:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data["services"]


def test_no_broker_creates_a_topic_because_a_client_named_it() -> None:
    for path in BROKER_CONFIGS:
        settings = re.findall(r"auto\.create\.topics\.enable=(\w+)", path.read_text("utf-8"))
        assert settings == ["false"], f"{path.relative_to(REPO)}: {settings}"
    kafka = _compose_services()["kafka"]["environment"]
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def _compose_topic_configs() -> dict[str, set[str]]:
    """Topic → its `--config` settings, from compose's `kafka-topics` service."""
    script = "\n".join(_compose_services()["kafka-topics"]["command"]).replace("\\\n", " ")
    out: dict[str, set[str]] = {}
    for line in script.splitlines():
        topic = re.search(r"--create .*--topic (\S+)", line)
        if topic:
            out[topic.group(1)] = set(re.findall(r"--config (\S+)", line))
    return out


def _stack_topic_configs() -> dict[str, set[str]]:
    """Topic variable → its `--config` settings, from `ensure_topics` in stack.sh."""
    source = (DEPLOY / "local/stack.sh").read_text("utf-8")
    out: dict[str, set[str]] = {}
    branches = re.finditer(
        r'(?:if|elif) \[\[ \$topic == "\$(\w+)" \]\]; then(.*?)cfg=\(([^)]*)\)', source, re.S
    )
    for branch in branches:
        out[branch.group(1)] = set(re.findall(r"--config (\S+)", branch.group(3)))
    return out


def test_compose_creates_each_topic_with_the_local_stacks_settings() -> None:
    # Issue #14: compose made dossier-alerts without compaction, the local stack compacts it.
    stack = _stack_topic_configs()
    assert stack["ALERTS_TOPIC"] == {"cleanup.policy=compact"}
    assert stack["EVENTS_TOPIC"] == {"retention.ms=-1", "retention.bytes=-1"}
    compose = _compose_topic_configs()
    assert compose == {
        "dossier-events": stack["EVENTS_TOPIC"],
        "dossier-events-dlq": set(),
        "dossier-alerts": stack["ALERTS_TOPIC"],
    }
