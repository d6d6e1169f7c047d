"""The intake agent: batches of raw records, split by partition, applied side by side.

The agent is thin: `BatchApplier` does the work. Raw key/value serializers keep Faust from
decoding anything, so a malformed record reaches validation (and the dead-letter topic) intact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import faust
from faust.types import EventT
from redis.exceptions import RedisError

from iocmon.config import Settings
from iocmon.domain.batch import BatchPlan, Record
from streams import metrics
from streams.intake import BatchApplier
from streams.labels import AgencyLabels

log = logging.getLogger(__name__)


class Intake:
    def __init__(self, applier: BatchApplier, labels: AgencyLabels) -> None:
        self._applier = applier
        self._labels = labels

    async def apply_events(self, events: list[EventT]) -> None:
        """Apply a batch; its records become committable only once applied.

        `take_events` acks the whole batch when this returns *or is cancelled*, and a worker
        stopped while Redis is down would then commit offsets it never applied. So each
        message holds one extra reference until its partition's records are in Redis: an
        interrupted batch leaves its messages unacked, and the offsets stay uncommitted.
        """
        by_partition: dict[int, list[Record]] = defaultdict(list)
        held: dict[int, list[EventT]] = defaultdict(list)
        for event in events:
            message = event.message
            message.incref()
            held[message.partition].append(event)
            by_partition[message.partition].append(
                Record(message.offset, message.key, message.value)
            )
        plans = await asyncio.gather(
            *(self._apply(p, records, held[p]) for p, records in by_partition.items())
        )
        applied_at = time.time()  # latency is wall time, whatever IOCMON_CLOCK_OFFSET_S says
        for event in events:
            age = applied_at - event.message.timestamp  # Faust gives seconds
            metrics.EVENT_AGE_SECONDS.observe(max(0.0, age))
        await self._note_agencies(plans)

    async def _apply(
        self, partition: int, records: list[Record], held: list[EventT]
    ) -> BatchPlan | None:
        plan = await self._applier.apply(partition, records)
        for event in held:
            event.message.decref()
        return plan

    async def _note_agencies(self, plans: list[BatchPlan | None]) -> None:
        agencies = {agency for plan in plans if plan for (_, agency, *_rest) in plan.received}
        try:
            await self._labels.note(agencies)
        except RedisError as exc:
            log.warning(
                "cannot note new agency codes in Redis (%s); they get their own `agency` "
                "label once seen again while Redis answers at REDIS_URL",
                type(exc).__name__,
            )


def register_intake(
    app: faust.App, topic: faust.TopicT, settings: Settings, intake: Intake
) -> None:
    @app.agent(topic, name="intake")
    async def agent(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_window_s):
            await intake.apply_events(events)
