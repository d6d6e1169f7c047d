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
