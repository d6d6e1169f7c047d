"""The one `faust.App` and the events topic, built from the settings.

Kept apart from the agents and routes so that anything measuring Faust itself (the intake
benchmark's no-op agent) runs on exactly the worker's settings.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from time import monotonic
from typing import Any

import faust
import mode.loop
from faust.sensors import Monitor
from faust.types import TP, EventT, Message, StreamT

from iocmon.config import Settings
from iocmon.errors import ConfigError
from iocmon.kafka_connection import bootstrap_list, faust_credentials
from iocmon.streams.faust_transport import Transport

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class LeanMonitor(Monitor):
    """Faust's Monitor keeping only what Faust reads itself: when each partition's stream
    last took an event (its slow-stream check) and the end offsets. Its per-event counters
    and timings feed only Faust's own /stats pages, which iocmon does not serve, and cost
    5-13 % of a no-op agent's CPU (docs/faust-cost.md)."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[Any, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT[Any],
        event: EventT[Any],
        state: dict[Any, Any] | None = None,
    ) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass


def use_worker_loop() -> None:
    """Every event loop Faust makes is uvloop's (as `faust -L uvloop`): 1.2-1.3x less CPU
    per record for Faust's per-message work, measured (docs/faust-cost.md). Call before the
    app is built."""
    mode.loop.use("uvloop")


def build_faust_app(settings: Settings, app_id: str | None = None) -> faust.App:
    """The worker's Faust app; `app_id` overrides the consumer group (benchmarks)."""
    if settings.web_host not in LOOPBACK_HOSTS and not settings.api_token:
        raise ConfigError(
            f"IOCMON_WEB_HOST={settings.web_host} exposes the API beyond this machine; "
            "set IOCMON_API_TOKEN to require a bearer token, or bind to 127.0.0.1"
        )
    app = faust.App(
        app_id or settings.consumer_group,
        broker=[f"kafka://{host}" for host in bootstrap_list(settings)],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.event_partitions,
        # Faust's own topics (the assignor's leader topic) need the cluster's replication,
        # or losing one broker takes them away.
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        # Do not wait for in-flight batches on stop or rebalance: during a Redis outage they
        # never finish, and the stop or rebalance would hang. Their messages stay unacked
        # (see `streams.agents.intake`), so nothing unapplied is committed; the offset fence
        # turns a batch the new owner reads again into a no-op.
        stream_wait_empty=False,
        producer_acks=-1,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        # Faust's own pages would answer without the API token: /router lists every worker's
        # URL, /table reads tables, the statistics pages show sensors and the partition
        # assignment. iocmon uses none of them (no tables, no table routing); its routes are
        # /metrics and the token-checked /api/ (streams/web.py). "/" stays Faust's index,
        # which answers {"status": "OK"} and nothing else.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        broker_session_timeout=settings.session_timeout_s,
        broker_rebalance_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 10),
        datadir=Path(tempfile.gettempdir()) / f"iocmon-faust-{settings.web_port}",
        Monitor=LeanMonitor,
    )
    app.transport = Transport(app.conf.broker_consumer, app)
    return app


def events_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """`dossier-events` as raw bytes: a malformed record reaches validation intact."""
    return app.topic(
        settings.events_topic,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.event_partitions,
        internal=False,
    )
