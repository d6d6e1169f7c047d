"""The harness's own promises, where a test would pass vacuously if they broke."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from iocmon.kafka_connection import kafka_python_kwargs
from tests.integration import harness
from tests.integration.harness import Pipeline

pytestmark = pytest.mark.integration


class SlowBroker(KafkaConsumer):  # type: ignore[misc]
    """A consumer whose broker hands out nothing for its first 5 seconds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.silent_until = time.monotonic() + 5

    def poll(self, timeout_ms: float = 0, **kwargs: Any) -> Any:
        left = self.silent_until - time.monotonic()
        if left > 0:
            time.sleep(min(left, max(timeout_ms, 100) / 1000))
            return {}
        return super().poll(timeout_ms=timeout_ms, **kwargs)


def test_dead_letters_are_read_to_the_topics_end_however_slow_the_broker(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = KafkaProducer(**kafka_python_kwargs(pipeline.settings()), acks="all")
    try:
        for n in range(7):
            producer.send(pipeline.dlq_topic, key=f"D-{n}".encode(), value=f"bad {n}".encode())
        producer.flush()
    finally:
        producer.close()
    monkeypatch.setattr(harness, "KafkaConsumer", SlowBroker)

    assert sorted(key for key, _, _ in pipeline.dead_letters()) == [
        f"D-{n}".encode() for n in range(7)
    ]


def test_an_empty_topic_reads_as_empty_and_a_missing_one_fails(pipeline: Pipeline) -> None:
    assert pipeline.dead_letters() == []
    with pytest.raises(AssertionError, match="does not exist"):
        pipeline.read_topic(f"{pipeline.name}-never-created")
