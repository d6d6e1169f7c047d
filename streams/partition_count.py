"""The events topic's partition count that the Redis figures were built with.

A dossier's state lives under its partition (`{topic/partition}` in every key), and Kafka
chooses the partition from the key's hash modulo the partition count. Adding partitions to
the events topic therefore sends a dossier's later events to another partition than its
state: they become `unknown_dossier`, or a second `received` counts the dossier twice. So
the count is recorded beside the figures, per generation (`<generation>:partitions:<topic>`,
no personal data), the first time a worker or a rebuild sees it, and a worker or rebuild that
finds the topic with another count refuses to start and says what to do.
"""

from __future__ import annotations

from iocmon.errors import IocmonError
from iocmon.redis_connection import AsyncRedis, SyncRedis
from iocmon.streams.generations import pointer_key

PROCEDURE = "README.md, 'Changing the partition count'"


class PartitionCountChanged(IocmonError):
    """The events topic's partition count is not the one the figures were built with."""


def count_key(generation: str, topic: str) -> str:
    """Plain string: the events topic's partition count the generation was built with."""
    return f"{generation}:partitions:{topic}"


def live_generation(base: str, pointer: bytes | str | None) -> str:
    """The live generation's prefix, given the value of the pointer key."""
    if pointer is None:
        return base
    return pointer.decode("utf-8") if isinstance(pointer, bytes) else pointer


def mismatch(topic: str, have: int, recorded: int, generation: str) -> PartitionCountChanged:
    return PartitionCountChanged(
        f"topic {topic} has {have} partitions, but the figures in Redis ({generation}) were "
        f"built with {recorded}: each dossier's state lives under its partition, and with "
        f"{have} partitions Kafka sends a dossier's later events to another one (they would be "
        f"dead-lettered 'unknown_dossier' or counted twice). Give the topic back its "
        f"{recorded} partitions (recreate it from a copy), or move to a new events topic with "
        f"{have} partitions as {PROCEDURE} says"
    )


def check_recorded(topic: str, have: int, generation: str, raw: bytes | str | None) -> None:
    """Raises `PartitionCountChanged` when `raw` (the stored count) is not `have`."""
    if raw is not None and int(raw) != have:
        raise mismatch(topic, have, int(raw), generation)


def check_and_record_sync(redis: SyncRedis, base: str, topic: str, have: int) -> str:
    """The worker's start-up check: records `have` for the live generation if nothing is
    recorded yet, else compares. Returns the live generation's prefix."""
    generation = live_generation(base, redis.get(pointer_key(base)))
    key = count_key(generation, topic)
    if not redis.set(key, have, nx=True):
        check_recorded(topic, have, generation, redis.get(key))
    return generation


async def check_and_record(redis: AsyncRedis, base: str, topic: str, have: int) -> str:
    """As `check_and_record_sync`, for the rebuild (which runs on asyncio)."""
    generation = live_generation(base, await redis.get(pointer_key(base)))
    key = count_key(generation, topic)
    if not await redis.set(key, have, nx=True):
        check_recorded(topic, have, generation, await redis.get(key))
    return generation


async def record(redis: AsyncRedis, generation: str, topic: str, have: int) -> None:
    """A new generation's count, written before the pointer names it."""
    await redis.set(count_key(generation, topic), have)
