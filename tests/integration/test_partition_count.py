"""A worker refuses figures built with another partition count of the events topic."""

from __future__ import annotations

import json

import pytest
from kafka.admin import KafkaAdminClient, NewPartitions

from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.redis_connection import sync_redis
from iocmon.streams.generations import pointer_key
from iocmon.streams.partition_count import count_key
from tests.integration.harness import Pipeline, free_port

pytestmark = pytest.mark.integration


def received(dossier: str) -> dict[str, object]:
    return {"v": 1, "event_id": f"{dossier}-1", "dossier_id": dossier, "type": "received",
            "at": "2024-03-04T08:00:00+07:00", "agency": "STP", "procedure": "1.001",
            "channel": "online", "level": "full", "processing_days": 5}  # fmt: skip


@pytest.mark.partitions(2)
def test_a_worker_refuses_to_start_after_partitions_were_added(pipeline: Pipeline) -> None:
    # Issue #14: adding partitions splits dossiers from their state; the worker ran on.
    pipeline.start_worker()
    pipeline.send(*(received(f"D{i}") for i in range(6)))
    pipeline.wait_caught_up()
    pipeline.stop()
    redis = sync_redis(pipeline.settings())
    try:
        assert redis.get(count_key(pipeline.name, pipeline.events_topic)) == b"2"
    finally:
        redis.close()

    admin = KafkaAdminClient(**kafka_python_kwargs(pipeline.settings()))
    try:
        admin.create_partitions({pipeline.events_topic: NewPartitions(3)})
    finally:
        admin.close()
    port = str(free_port())
    unchanged = pipeline.iocmon("worker", check=False, timeout_s=90, IOCMON_WEB_PORT=port)
    assert unchanged.returncode != 0
    assert "has 3 partitions but IOCMON_EVENT_PARTITIONS is 2" in unchanged.stderr

    pipeline.partitions = 3  # the operator "fixes" the setting: the figures still say 2
    refused = pipeline.iocmon("worker", check=False, timeout_s=90, IOCMON_WEB_PORT=port)
    assert refused.returncode != 0
    assert "has 3 partitions, but the figures in Redis" in refused.stderr
    assert "were built with 2" in refused.stderr
    assert "Changing the partition count" in refused.stderr

    doctor = pipeline.iocmon("doctor", "--json", check=False, timeout_s=90)
    assert doctor.stdout, f"doctor printed nothing (exit {doctor.returncode}): {doctor.stderr}"
    checks = {c["subject"]: c for c in json.loads(doctor.stdout)["checks"]}
    check = checks[f"partition count of {pipeline.events_topic}"]
    assert not check["ok"] and "were built with 2" in check["detail"]
    assert doctor.returncode == 1


@pytest.mark.partitions(2)
def test_a_rebuild_records_the_count_of_its_generation_and_refuses_another(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.start_worker()
    pipeline.send(*(received(f"R{i}") for i in range(6)))
    pipeline.wait_caught_up()
    pipeline.iocmon("rebuild", "--jobs", "1")
    redis = sync_redis(pipeline.settings())
    try:
        generation = redis.get(pointer_key(pipeline.name))
        assert generation is not None and generation.decode() != pipeline.name
        assert redis.get(count_key(generation.decode(), pipeline.events_topic)) == b"2"
    finally:
        redis.close()
    worker.stop()

    admin = KafkaAdminClient(**kafka_python_kwargs(pipeline.settings()))
    try:
        admin.create_partitions({pipeline.events_topic: NewPartitions(3)})
    finally:
        admin.close()
    pipeline.partitions = 3
    refused = pipeline.iocmon("rebuild", "--jobs", "1", check=False)
    assert refused.returncode != 0
    assert "were built with 2" in refused.stderr
