"""`iocmon doctor`'s check that the events topic still has the partition count its figures
were built with (`streams.partition_count` says why it matters; the worker refuses to start
otherwise, and this check says so before anyone restarts one)."""

from __future__ import annotations

from iocmon.config import Settings
from iocmon.console.doctor import Check


def partition_count_check(
    topic: str, have: int, generation: str, recorded: bytes | str | None
) -> Check:
    """The check's line, from the topic's count and the one stored for `generation`."""
    from iocmon.streams.partition_count import mismatch

    subject = f"partition count of {topic}"
    if recorded is None:
        return Check(
            "redis", True, subject, f"{have}; none recorded yet (the first worker records it)"
        )
    if int(recorded) != have:
        return Check("redis", False, subject, str(mismatch(topic, have, int(recorded), generation)))
    return Check("redis", True, subject, f"{have}, as the figures of {generation} were built")


def check_partition_count(settings: Settings, timeout_s: float) -> list[Check]:
    """Nothing when Kafka, the topic or Redis is missing: their own checks report that."""
    from kafka.errors import KafkaError
    from redis.exceptions import RedisError

    from iocmon.redis_connection import sync_redis
    from iocmon.streams.generations import pointer_key
    from iocmon.streams.partition_count import count_key, live_generation
    from iocmon.streams.preflight import events_partition_count

    try:
        have = events_partition_count(settings, timeout_s)
    except (KafkaError, OSError):
        return []
    if have is None:
        return []
    base, topic = settings.redis_prefix, settings.events_topic
    try:
        client = sync_redis(settings, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            generation = live_generation(base, client.get(pointer_key(base)))
            recorded = client.get(count_key(generation, topic))
        finally:
            client.close()
    except RedisError:
        return []
    return [partition_count_check(topic, have, generation, recorded)]
