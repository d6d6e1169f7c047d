"""Kafka: the group consumer of the alerts topic, and a reader of partitions from their start.

The consumer never commits by itself; `commit` is called with the offsets every receiver has
acknowledged. A notifier that waits for a receiver keeps polling (with its partitions paused
when its queues are full), so it stays in its group however long the receiver is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from iocmon.kafka_connection import KafkaSecurity, security_kwargs
from iocmon.notifier.errors import NotifierError

log = logging.getLogger(__name__)
CLIENT_ID = "iocmon-notify"


class AlertSource:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        group: str,
        listener: ConsumerRebalanceListener,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.topic = topic
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            **(security_kwargs(security) if security else {}),
            group_id=group,
            client_id=CLIENT_ID,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            # A notifier that dies is replaced within 10 s, not Kafka's default 45 s: its
            # heartbeats come from a thread of their own, so a short session is safe.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
        self._consumer.subscribe([topic], listener=listener)

    def poll(self, timeout_s: float) -> list[ConsumerRecord]:
        """The next records, in offset order within each partition."""
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000))
        return [record for tp in sorted(batches) for record in batches[tp]]

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self._consumer.assignment()}

    def position(self, partition: int) -> int:
        """The offset of the next record the group consumer will return from `partition`."""
        return _position(self._consumer, self._tp(partition))

    def set_paused(self, partitions: Iterable[int]) -> None:
        wanted = {self._tp(p) for p in partitions} & self._consumer.assignment()
        paused = self._consumer.paused()
        if wanted - paused:
            self._consumer.pause(*(wanted - paused))
        if paused - wanted:
            self._consumer.resume(*(paused - wanted))

    def commit(self, offsets: Mapping[int, int]) -> None:
        self._consumer.commit(
            {self._tp(p): OffsetAndMetadata(offset, "", -1) for p, offset in offsets.items()}
        )

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)


def read_from_start(
    bootstrap_servers: str,
    topic: str,
    until: Mapping[int, int],
    *,
    timeout_s: float = 300.0,
    security: KafkaSecurity | None = None,
) -> Iterator[ConsumerRecord]:
    """Every record still in the given partitions, from the start of their retention up to
    (not including) offset `until[partition]`, in offset order within each partition."""
    tps = {TopicPartition(topic, p): end for p, end in until.items() if end > 0}
    if not tps:
        return
    reader = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        **(security_kwargs(security) if security else {}),
        group_id=None,
        client_id=f"{CLIENT_ID}-rebuild",
        enable_auto_commit=False,
    )
    try:
        reader.assign(list(tps))
        reader.seek_to_beginning(*tps)
        todo = {tp for tp, end in tps.items() if _position(reader, tp) < end}
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise NotifierError(
                    f"could not read partitions {sorted(tp.partition for tp in todo)} of "
                    f"{topic} within {timeout_s:.0f} s to rebuild the active alerts; check "
                    "that Kafka is reachable, then restart the notifier"
                )
            for tp, records in reader.poll(timeout_ms=1000, max_records=2000).items():
                yield from (r for r in records if r.offset < tps[tp])
            todo = {tp for tp in todo if _position(reader, tp) < tps[tp]}
    finally:
        reader.close()


def _position(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The consumer's position in `tp`. kafka-python returns None only when a timeout given
    to `position` expires before the offset is known, and none is given here."""
    offset = consumer.position(tp)
    if offset is None:
        raise NotifierError(
            f"Kafka gave no position for {tp.topic}[{tp.partition}]; restart the notifier"
        )
    return offset
