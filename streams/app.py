"""The one Faust app: the intake agent, and the HTTP endpoints on the worker's web port.

The agent is thin: it batches raw records, splits them by partition and hands each
partition's records to `BatchApplier`. Raw key/value serializers keep Faust from decoding
anything, so a malformed record reaches our validation (and the dead-letter topic) intact.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Sequence

import faust
from aiokafka.errors import IllegalStateError, KafkaError
from faust.types import TP, EventT
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.alerts import Alert, AlertPolicy
from iocmon.domain.batch import BatchPlan, DeadLetter, Record
from iocmon.domain.calendar import load_calendar
from iocmon.errors import ConfigError
from iocmon.redis_connection import async_redis, redis_target
from streams import metrics
from streams.api import Api
from streams.exporter import FigureExporter
from streams.faust_app import build_faust_app, events_topic
from streams.intake import BatchApplier
from streams.labels import AgencyLabels
from streams.queries import FigureReader
from streams.store import BatchStore
from streams.web import register_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    app = build_faust_app(settings)
    redis = async_redis(settings)
    calendar = load_calendar(settings.calendar_file)
    catalogue = load_catalogue(settings.agencies_file)
    labels = AgencyLabels(
        redis,
        settings.redis_prefix,
        settings.agency_label_limit,
        frozenset(a.code for a in catalogue) if settings.agencies_file is not None else None,
    )
    reader = FigureReader(
        redis, settings.redis_prefix, settings.events_topic, settings.event_partitions
    )
    store = BatchStore(redis, settings.redis_prefix, settings.events_topic)
    exporter = FigureExporter(reader, store, labels, catalogue)
    agency_names = {a.code: a.name for a in catalogue}
    events = events_topic(app, settings)
    reporter_tp = TP(settings.events_topic, 0)

    async def dead_letter(partition: int, letters: Sequence[DeadLetter]) -> None:
        sent = []
        for dead in letters:
            source = f"{settings.events_topic}/{partition}/{dead.record.offset}"
            sent.append(
                await app.producer.send(
                    settings.dlq_topic,
                    dead.record.key,
                    dead.record.value,
                    partition=None,
                    timestamp=None,
                    headers=[
                        ("iocmon-reason", dead.reason.encode()),
                        ("iocmon-detail", dead.detail.encode()),
                        ("iocmon-source", source.encode()),
                    ],
                )
            )
        await asyncio.gather(*sent)
        metrics.DEAD_LETTERS.inc(len(letters))

    async def send_alerts(alerts: Sequence[Alert]) -> None:
        sent = []
        for alert in alerts:
            value = alert.to_json(settings.now(), agency_names.get(alert.agency))
            sent.append(
                await app.producer.send(
                    settings.alerts_topic,
                    alert.dossier_id.encode("utf-8"),
                    json.dumps(value, ensure_ascii=False).encode("utf-8"),
                    partition=None,
                    timestamp=None,
                    headers=None,
                )
            )
        await asyncio.gather(*sent)

    class ConsumerRewinder:
        async def earliest(self, partition: int) -> int:
            tp = TP(settings.events_topic, partition)
            return (await app.consumer.earliest_offsets(tp))[tp]

        async def seek(self, partition: int, offset: int) -> None:
            # Through the consumer's own thread: Faust's plain `seek` changes aiokafka's
            # fetch buffers from this thread while the consumer thread reads them, and the
            # fetcher then crashed with KeyError(TopicPartition) after a rewind.
            try:
                await app.consumer.seek_wait({TP(settings.events_topic, partition): offset})
            except IllegalStateError:
                log.info(
                    "partition %d moved to another worker before the seek to %d; "
                    "its new owner reads it from the last committed offset",
                    partition,
                    offset,
                )

    applier = BatchApplier(
        store,
        calendar,
        dead_letter,
        send_alerts,
        clock=settings.now,
        rewinder=ConsumerRewinder(),
        horizon=settings.retention,
        policy=AlertPolicy(settings.alert_due_soon_share or None),
    )

    @app.task
    async def check_redis_login() -> None:
        """A refused login is a setting to fix, not an outage to wait out: stop and say so."""
        try:
            await redis.ping()
        except (AuthenticationError, NoPermissionError) as exc:
            log.error(
                "%s refused the login (%s): fix the user and password in REDIS_URL "
                "(rediss://USER:PASSWORD@host:port/0) or the user's ACL rules",
                redis_target(settings).description,
                type(exc).__name__,
            )
            await app.crash(ConfigError(f"Redis refused the login ({type(exc).__name__})"))
        except RedisError:
            pass  # an outage: the intake and the timers back off and retry

    @app.timer(settings.metrics_refresh_s)
    async def refresh_figures() -> None:
        """Only the owner of partition 0 reports global figures (see streams.metrics)."""
        try:
            if reporter_tp not in owned_partitions():
                exporter.clear()
                await redis.ping()  # every worker's iocmon_redis_up says whether Redis answers
            else:
                await exporter.refresh(settings.now())
            metrics.REDIS_UP.set(1)
        except RedisError as exc:
            metrics.REDIS_UP.set(0)
            log.warning("cannot read figures from Redis (%s); is it running?", type(exc).__name__)

    @app.timer(settings.alert_check_interval_s)
    async def check_alerts() -> None:
        """Time, not events, drives alerts: a dossier that hears nothing still goes overdue."""
        owned = sorted(owned_partitions())
        applier.forget_partitions([tp.partition for tp in owned])
        for tp in owned:
            try:
                await applier.check_alerts(tp.partition)
            except (RedisError, KafkaError) as exc:
                log.warning(
                    "alert check of partition %d failed (%s); retrying at the next tick",
                    tp.partition,
                    type(exc).__name__,
                )

    @app.agent(events, name="intake")
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_window_s):
            await _apply_events(events)

    async def _apply_events(events: list[EventT]) -> None:
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
        now = settings.now()
        plans = await asyncio.gather(
            *(apply_partition(p, records, held[p]) for p, records in by_partition.items())
        )
        agencies = {agency for plan in plans if plan for (_, agency, *_rest) in plan.received}
        try:
            await labels.note(agencies)
        except RedisError as exc:
            log.warning(
                "cannot note new agency codes in Redis (%s); they get their own `agency` "
                "label once seen again while Redis answers at REDIS_URL",
                type(exc).__name__,
            )
        for event in events:
            age = now.timestamp() - event.message.timestamp / 1000
            metrics.EVENT_AGE_SECONDS.observe(max(0.0, age))

    async def apply_partition(
        partition: int, records: list[Record], held: list[EventT]
    ) -> BatchPlan | None:
        """Partitions apply side by side: their Redis round trips and sends overlap."""
        plan = await applier.apply(partition, records)
        for event in held:
            event.message.decref()
        return plan

    def owned_partitions() -> set[TP]:
        actives = {
            tp for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic
        }
        metrics.ASSIGNED_PARTITIONS.set(len(actives))
        metrics.REPORTS_FIGURES.set(int(reporter_tp in actives))
        return actives

    register_routes(
        app,
        settings,
        Api(reader, catalogue, calendar, settings.retention),
        exporter,
        owned_partitions,
    )
    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until interrupted."""
    from faust.worker import Worker

    app = create_app(settings)
    Worker(app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()
