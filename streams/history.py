"""Reading whole partitions of the events topic from their beginning, for `iocmon rebuild`.

The rebuild reads every record ever sent, as fast as it can, with no consumer group and no
commits. kafka-python decodes record batches in pure Python (about 17 µs a record here, a
fifth of the rebuild's whole budget); confluent-kafka's librdkafka does it in C (about
3.5 µs), so the rebuild reads through it. The live worker keeps Faust's aiokafka and the
producers kafka-python: only this bulk read is worth a third client.
"""

from __future__ import annotations

from collections.abc import Iterable

import confluent_kafka as ck

from iocmon.config import Settings
from iocmon.domain.batch import Record
from iocmon.errors import IocmonError
from iocmon.kafka_connection import librdkafka_config

TIMEOUT_S = 30.0


class PartitionReader:
    """One topic's partitions, assigned by hand and read from their beginning."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.events_topic
        self._servers = settings.kafka_bootstrap_servers
        self._group = settings.consumer_group
        self._config = librdkafka_config(settings)
        self._consumer = ck.Consumer(
            {
                **self._config,
                "group.id": "iocmon-rebuild",  # required by the client; never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 8 * 1024 * 1024,
                "queued.max.messages.kbytes": 256 * 1024,
            }
        )

    def partitions(self) -> list[int]:
        """The topic's partition numbers; IocmonError (what to check) when it is missing."""
        try:
            metadata = self._consumer.list_topics(self._topic, timeout=TIMEOUT_S)
        except ck.KafkaException as exc:
            raise IocmonError(
                f"cannot read the topic list from {self._servers} ({exc.args[0]}): is Kafka "
                "running? Check KAFKA_BOOTSTRAP_SERVERS and the KAFKA_SECURITY_* settings"
            ) from None
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise IocmonError(
                f"topic {self._topic} not found at {self._servers}; "
                "check KAFKA_BOOTSTRAP_SERVERS and IOCMON_EVENTS_TOPIC"
            )
        return sorted(topic.partitions)

    def bounds(self, partition: int) -> tuple[int, int]:
        """(first offset kept, offset the next record will get)."""
        low, high = self._consumer.get_watermark_offsets(
            ck.TopicPartition(self._topic, partition), timeout=TIMEOUT_S
        )
        return int(low), int(high)

    def read_from_beginning(self, partitions: Iterable[int]) -> None:
        self._consumer.assign(
            [ck.TopicPartition(self._topic, p, ck.OFFSET_BEGINNING) for p in partitions]
        )

    def poll(self, max_records: int, timeout_s: float) -> dict[int, list[Record]]:
        """Records fetched so far (waiting up to `timeout_s` for the first), by partition."""
        out: dict[int, list[Record]] = {}
        for message in self._consumer.consume(num_messages=max_records, timeout=timeout_s):
            error = message.error()
            if error is not None:
                if error.fatal() or not error.retriable():
                    raise IocmonError(
                        f"reading {self._topic} failed: {error.str()}; check the brokers and "
                        "run `iocmon rebuild` again"
                    )
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:  # confluent-kafka: only on error messages
                raise IocmonError(
                    f"reading {self._topic} gave a record without partition or offset; run "
                    "`iocmon rebuild` again"
                )
            out.setdefault(partition, []).append(Record(offset, message.key(), message.value()))
        return out

    def position(self, partition: int) -> int | None:
        """The offset of the next record to read (None: nothing read or fetched yet)."""
        [tp] = self._consumer.position([ck.TopicPartition(self._topic, partition)])
        return tp.offset if tp.offset >= 0 else None

    def pause(self, partition: int) -> None:
        self._consumer.pause([ck.TopicPartition(self._topic, partition)])

    def resume(self, partition: int) -> None:
        self._consumer.resume([ck.TopicPartition(self._topic, partition)])

    def committed(self, partitions: Iterable[int]) -> dict[int, int]:
        """The worker group's committed offsets (the next record it reads; -1: none)."""
        group = ck.Consumer({**self._config, "group.id": self._group})  # never joins
        try:
            found = group.committed(
                [ck.TopicPartition(self._topic, p) for p in partitions], timeout=TIMEOUT_S
            )
        except ck.KafkaException as exc:
            raise IocmonError(
                f"cannot read the committed offsets of group {self._group} from "
                f"{self._servers} ({exc.args[0]}); check IOCMON_CONSUMER_GROUP and that "
                "Kafka answers"
            ) from None
        finally:
            group.close()
        return {tp.partition: max(tp.offset, -1) for tp in found}

    def close(self) -> None:
        self._consumer.close()
