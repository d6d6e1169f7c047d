"""The one Faust app: the intake agent, and the HTTP endpoints on the worker's web port.

The agent is thin: it batches raw records, splits them by partition and hands each
partition's records to `BatchApplier`. Raw key/value serializers keep Faust from decoding
anything, so a malformed record reaches our validation (and the dead-letter topic) intact.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.types import TP, EventT
from faust.web import Request, Response, View
from redis.asyncio import Redis
from redis.exceptions import RedisError

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.alerts import Alert, AlertPolicy
from iocmon.domain.batch import DeadLetter, Record
from iocmon.domain.calendar import load_calendar
from streams import api, metrics
from streams.exporter import FigureExporter
from streams.intake import BatchApplier
from streams.labels import AgencyLabels
from streams.queries import FigureReader
from streams.store import BatchStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.consumer_group,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.event_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        broker_session_timeout=settings.session_timeout_s,
        broker_rebalance_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 10),
        datadir=Path(tempfile.gettempdir()) / f"iocmon-faust-{settings.web_port}",
    )
    redis = Redis.from_url(settings.redis_url)
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
    events_topic = app.topic(
        settings.events_topic,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.event_partitions,
        internal=False,
    )
    reporter_tp = TP(settings.events_topic, 0)

    async def dead_letter(partition: int, dead: DeadLetter) -> None:
        await app.producer.send_and_wait(
            settings.dlq_topic,
            dead.record.key,
            dead.record.value,
            partition=None,
            timestamp=None,
            headers=[
                ("iocmon-reason", dead.reason.encode()),
                ("iocmon-detail", dead.detail.encode()),
                (
                    "iocmon-source",
                    f"{settings.events_topic}/{partition}/{dead.record.offset}".encode(),
                ),
            ],
        )
        metrics.DEAD_LETTERS.inc()

    async def send_alert(alert: Alert) -> None:
        value = alert.to_json(settings.now(), agency_names.get(alert.agency))
        await app.producer.send_and_wait(
            settings.alerts_topic,
            alert.dossier_id.encode("utf-8"),
            json.dumps(value, ensure_ascii=False).encode("utf-8"),
            partition=None,
            timestamp=None,
            headers=None,
        )

    applier = BatchApplier(
        store,
        calendar,
        dead_letter,
        send_alert,
        clock=settings.now,
        policy=AlertPolicy(settings.alert_due_soon_share or None),
    )

    @app.timer(settings.alert_check_interval_s)
    async def check_alerts() -> None:
        """Time, not events, drives alerts: a dossier that hears nothing still goes overdue."""
        for tp in sorted(owned_partitions()):
            try:
                await applier.check_alerts(tp.partition)
            except (RedisError, KafkaError) as exc:
                log.warning(
                    "alert check of partition %d failed (%s); retrying at the next tick",
                    tp.partition,
                    type(exc).__name__,
                )

    @app.agent(events_topic, name="intake")
    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_window_s):
            await _apply_events(events)

    async def _apply_events(events: list[EventT]) -> None:
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for event in events:
            message = event.message
            by_partition[message.partition].append(
                Record(message.offset, message.key, message.value)
            )
        now = settings.now()
        for partition, records in by_partition.items():
            plan = await applier.apply(partition, records)
            if plan is None:
                continue
            await labels.note(agency for (_, agency, *_rest) in plan.received)
        for event in events:
            age = now.timestamp() - event.message.timestamp / 1000
            metrics.EVENT_AGE_SECONDS.observe(max(0.0, age))

    def owned_partitions() -> set[TP]:
        actives = {
            tp for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic
        }
        metrics.ASSIGNED_PARTITIONS.set(len(actives))
        metrics.REPORTS_FIGURES.set(int(reporter_tp in actives))
        return actives

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            families: list[Any] = []
            try:
                actives = owned_partitions()
                if reporter_tp in actives:
                    families.extend(await exporter.dossier_families(settings.now()))
                ends = await app.consumer.highwaters(*actives) if actives else {}
                families.append(
                    await exporter.lag_family({tp.partition: n for tp, n in ends.items()})
                )
                metrics.REDIS_UP.set(1)
            except RedisError:
                metrics.REDIS_UP.set(0)
                log.warning("cannot read figures from Redis for /metrics; is it running?")
            return self.bytes(metrics.render(families), content_type="text/plain; version=0.0.4")

    @app.page("/api/v1/summary")
    class SummaryView(View):
        async def get(self, request: Request) -> Response:
            status, body = await api.summary(
                reader, dict(request.query), settings.now(), agency_names
            )
            return self.json(body, status=status)

    @app.page("/api/v1/overdue")
    class OverdueView(View):
        async def get(self, request: Request) -> Response:
            status, body = await api.overdue(reader, dict(request.query), settings.now())
            return self.json(body, status=status)

    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until interrupted."""
    from faust.worker import Worker

    app = create_app(settings)
    Worker(app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()
