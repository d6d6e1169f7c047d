"""What the worker checks before it joins its consumer group: the events topic exists, and
its partition count is both `IOCMON_EVENT_PARTITIONS` and the one the figures in Redis were
built with (`streams.partition_count`). Any of these wrong, the worker would write figures
that cannot be right; it stops instead, with what to do.

Kafka or Redis not answering yet (a stack still starting) is waited out for
`WAIT_FOR_SERVICES_S`, then reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.errors import KafkaError
from redis.exceptions import AuthenticationError, NoPermissionError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from iocmon.config import Settings
from iocmon.errors import ConfigError, IocmonError
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.redis_connection import sync_redis
from iocmon.streams.partition_count import check_and_record_sync

log = logging.getLogger(__name__)

WAIT_FOR_SERVICES_S = 60.0
RETRY_EVERY_S = 2.0
NEW_TOPIC_GRACE_S = 10.0
"""How long a missing events topic is asked for again before the worker gives up: the
broker it asks may not have learnt yet of a topic created a moment before (a cluster of
several brokers, automation that creates topics and starts workers together)."""
T = TypeVar("T")


class ServiceNotAnswering(IocmonError):
    """Kafka or Redis did not answer the start-up check in time."""


def check_before_start(settings: Settings) -> None:
    """Raises `ConfigError` or `PartitionCountChanged` (each saying what to do) when the
    worker must not start."""
    topic = settings.events_topic
    have = _waiting("Kafka", lambda: events_partition_count(settings))
    appears_by = time.monotonic() + NEW_TOPIC_GRACE_S
    while have is None and time.monotonic() < appears_by:
        time.sleep(RETRY_EVERY_S / 2)  # a topic just created may not be in every broker's metadata
        have = _waiting("Kafka", lambda: events_partition_count(settings))
    if have is None:
        raise ConfigError(
            f"topic {topic} does not exist: `make up` (deploy/local/stack.sh) creates it, or "
            "create it as README.md's 'Topics' says (brokers do not create topics on demand); "
            "or set IOCMON_EVENTS_TOPIC to the topic in use"
        )
    if have != settings.event_partitions:
        raise ConfigError(
            f"topic {topic} has {have} partitions but IOCMON_EVENT_PARTITIONS is "
            f"{settings.event_partitions}: set it to the topic's count (and if the topic "
            "gained partitions, see README.md, 'Changing the partition count')"
        )
    redis = sync_redis(settings, socket_timeout=5, socket_connect_timeout=5)
    try:
        generation = _waiting(
            "Redis", lambda: check_and_record_sync(redis, settings.redis_prefix, topic, have)
        )
    finally:
        redis.close()
    log.info("topic %s: %d partitions, as the figures of %s", topic, have, generation)


def events_partition_count(settings: Settings, timeout_s: float = 10.0) -> int | None:
    """The events topic's partition count; None when it does not exist."""
    from kafka.admin import KafkaAdminClient

    timeout_ms = int(timeout_s * 1000)
    admin = KafkaAdminClient(
        **kafka_python_kwargs(settings),
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        (described,) = admin.describe_topics([settings.events_topic])
    finally:
        admin.close()
    if described.get("error_code") or not described.get("partitions"):
        return None
    return len(described["partitions"])


def _waiting(service: str, call: Callable[[], T]) -> T:
    deadline = time.monotonic() + WAIT_FOR_SERVICES_S
    while True:
        try:
            return call()
        except (AuthenticationError, NoPermissionError) as exc:
            # a setting to fix, not a service still starting: waiting would not help
            raise ConfigError(
                f"{service} refused the login ({type(exc).__name__}): fix the user and "
                "password in REDIS_URL (rediss://USER:PASSWORD@host:port/0) or the user's "
                "ACL rules"
            ) from None
        except (KafkaError, RedisConnectionError, RedisTimeoutError) as exc:
            if time.monotonic() > deadline:
                raise ServiceNotAnswering(
                    f"{service} did not answer the worker's start-up check within "
                    f"{WAIT_FOR_SERVICES_S:.0f} s ({type(exc).__name__}); `iocmon doctor` "
                    "says what is wrong"
                ) from None
            log.warning("waiting for %s (%s)", service, type(exc).__name__)
            time.sleep(RETRY_EVERY_S)
