"""Which partitions of the events topic this worker owns now, and what follows from it."""

from __future__ import annotations

import logging

import faust
from aiokafka.errors import IllegalStateError
from faust.types import TP

from iocmon.logs import fields
from iocmon.streams import metrics

log = logging.getLogger(__name__)


class Ownership:
    def __init__(self, app: faust.App, topic: str) -> None:
        self._app = app
        self._topic = topic
        self.reporter = TP(topic, 0)
        """Only the owner of partition 0 reports the global figures (see streams.metrics)."""

    def partitions(self) -> set[TP]:
        actives = {tp for tp in self._app.assignor.assigned_actives() if tp.topic == self._topic}
        metrics.ASSIGNED_PARTITIONS.set(len(actives))
        metrics.REPORTS_FIGURES.set(int(self.reporter in actives))
        return actives

    def highwater(self, tp: TP) -> int | None:
        """The partition's end offset as of the consumer's last fetch (None: not known)."""
        try:
            value = self._app.consumer.highwater(tp)
        except (KeyError, AssertionError, AttributeError):
            return None
        return None if value is None else int(value)

    def reports_figures(self) -> bool:
        return self.reporter in self.partitions()


class ConsumerRewinder:
    """The consumer side of gap handling (`streams.intake.Rewinder`)."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self._app = app
        self._topic = topic

    async def earliest(self, partition: int) -> int:
        tp = TP(self._topic, partition)
        return (await self._app.consumer.earliest_offsets(tp))[tp]

    async def seek(self, partition: int, offset: int) -> None:
        # Through the consumer's own thread: Faust's plain `seek` changes aiokafka's fetch
        # buffers from this thread while the consumer thread reads them, and the fetcher
        # then crashed with KeyError(TopicPartition) after a rewind.
        try:
            await self._app.consumer.seek_wait({TP(self._topic, partition): offset})
        except IllegalStateError:
            log.info(
                "partition %d moved to another worker before the seek to %d; "
                "its new owner reads it from the last committed offset",
                partition,
                offset,
                extra=fields(partition=partition, offset=offset),
            )
