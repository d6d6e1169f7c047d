"""The intake agent: batches of raw records, split by partition, applied side by side.

The agent is thin: `BatchApplier` does the work, in the applier process. Raw key/value
serializers keep Faust from decoding anything, so a malformed record reaches validation (and
the dead-letter topic) intact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol, cast

import faust
from faust.types import EventT
from redis.exceptions import RedisError

from iocmon.config import Settings
from iocmon.domain.batch import Record
from iocmon.streams import metrics
from iocmon.streams.labels import AgencyLabels

log = logging.getLogger(__name__)


class Applier(Protocol):
    async def wait_ready(self) -> None:
        """Returns once records can be handed over (the agent may start first)."""
        ...

    def submit(self, partition: int, records: Sequence[Record]) -> Awaitable[Collection[str]]:
        """Hands the records over to be applied, in order; the agency codes of the dossiers
        they received once applied."""
        ...


IN_FLIGHT_BATCHES = 4
"""Batches handed to the applier and not yet applied: the agent takes the next batch while
the applier process works on the last ones, so both processes' CPUs work at once."""

NOTE_RETRY_S = 1.0
"""How often agency codes that Redis did not take are sent again."""


class Intake:
    def __init__(
        self,
        applier: Applier,
        labels: AgencyLabels,
        on_error: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        self._applier = applier
        self._labels = labels
        self._on_error = on_error
        self._slots = asyncio.Semaphore(IN_FLIGHT_BATCHES)
        self._in_flight: set[asyncio.Future[None]] = set()
        self._retrying: asyncio.Future[None] | None = None

    async def take(self, events: Sequence[EventT[bytes]]) -> None:
        """Hands a batch to the applier and returns once fewer than `IN_FLIGHT_BATCHES` are
        under way; its records become committable only once applied.

        `take_events` acks the whole batch as soon as this returns, and a worker stopped
        while Redis is down would then commit offsets it never applied. So each message
        holds one extra reference, taken here before anything else can run, until its
        partition's records are in Redis: a batch not applied leaves its messages unacked,
        and the offsets stay uncommitted. Each partition's records are handed over here,
        in the order they came.
        """
        await self._applier.wait_ready()
        await self._slots.acquire()
        by_partition: dict[int, list[Record]] = defaultdict(list)
        held: dict[int, list[EventT[bytes]]] = defaultdict(list)
        for event in events:
            message = event.message
            message.incref()
            held[message.partition].append(event)
            by_partition[message.partition].append(
                Record(message.offset, message.key, message.value)
            )
        handed = [
            (self._applier.submit(p, records), held[p]) for p, records in by_partition.items()
        ]
        task = asyncio.ensure_future(self._finish(events, handed))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()
        if not task.cancelled() and (error := task.exception()) is not None:
            self._in_flight.add(asyncio.ensure_future(self._on_error(error)))

    async def _finish(
        self,
        events: Sequence[EventT[bytes]],
        handed: list[tuple[Awaitable[Collection[str]], list[EventT[bytes]]]],
    ) -> None:
        received = await asyncio.gather(*(self._applied(f, held) for f, held in handed))
        applied_at = time.time()  # latency is wall time, whatever IOCMON_CLOCK_OFFSET_S says
        for event in events:
            age = applied_at - event.message.timestamp  # Faust gives seconds
            metrics.EVENT_AGE_SECONDS.observe(max(0.0, age))
        await self._note_agencies({code for codes in received for code in codes})

    async def _applied(
        self, applied: Awaitable[Collection[str]], held: list[EventT[bytes]]
    ) -> Collection[str]:
        received = await applied
        for event in held:
            # Our reference is often the last one now (take_events acked when `take`
            # returned): an ack, not a bare decref, marks the offset safe to commit then.
            event.ack()
        return received

    async def _note_agencies(self, agencies: set[str]) -> None:
        try:
            await self._labels.note(agencies)
        except RedisError as exc:
            log.warning(
                "cannot note new agency codes in Redis (%s); trying again every %g s until "
                "Redis answers at REDIS_URL",
                type(exc).__name__,
                NOTE_RETRY_S,
            )
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.ensure_future(self._note_until_taken())

    async def _note_until_taken(self) -> None:
        """Sends the codes Redis did not take, also when no batch comes to carry them."""
        while self._labels.pending:
            await asyncio.sleep(NOTE_RETRY_S)
            try:
                await self._labels.note(())
            except RedisError:
                continue


def register_intake(
    app: faust.App, topic: faust.TopicT, settings: Settings, intake: Intake
) -> None:
    @app.agent(topic, name="intake")
    async def agent(stream: faust.StreamT[bytes]) -> None:
        # Faust hands every agent a faust.Stream; its StreamT interface lacks take_events.
        batches = cast("faust.Stream[bytes]", stream).take_events
        async for events in batches(settings.batch_size, within=settings.batch_window_s):
            await intake.take(events)
