"""The local stack's Kafka: topics exist only when created on purpose, with their settings."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def test_a_client_naming_a_missing_topic_does_not_create_it(stack: Stack) -> None:
    # Issue #14: with auto-creation on, a stray client started before the stack could make
    # `dossier-events` with one partition and the broker's default retention.
    stray = f"t{uuid.uuid4().hex[:10]}-events"
    producer = KafkaProducer(bootstrap_servers=stack.kafka, max_block_ms=3000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(stray, key=b"D1", value=json.dumps({"v": 1}).encode()).get(10)
    finally:
        producer.close(timeout=5)
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka)
    try:
        assert stray not in admin.list_topics()
    finally:
        admin.close()
