"""What the worker does on its own clock: alerts driven by time, the /metrics snapshot, and
the check that Redis accepts its login."""

from __future__ import annotations

import logging

import faust
from aiokafka.errors import KafkaError
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from iocmon.config import Settings
from iocmon.errors import ConfigError
from iocmon.logs import fields
from iocmon.redis_connection import AsyncRedis, redis_target
from iocmon.streams import metrics
from iocmon.streams.applier_process import ApplierProcess
from iocmon.streams.exporter import FigureExporter
from iocmon.streams.ownership import Ownership

log = logging.getLogger(__name__)


def register_timers(
    app: faust.App,
    settings: Settings,
    redis: AsyncRedis,
    exporter: FigureExporter,
    applier: ApplierProcess,
    ownership: Ownership,
) -> None:
    # faust marks App.task @no_type_check, so the decorator is Any to a type checker.
    @app.task  # type: ignore[untyped-decorator]
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

    # faust annotates the decorator App.timer returns as a bare Callable.
    @app.timer(settings.metrics_refresh_s)  # type: ignore[untyped-decorator]
    async def refresh_figures() -> None:
        """Only the owner of partition 0 reports global figures (see streams.metrics)."""
        try:
            if not ownership.reports_figures():
                exporter.clear()
                await redis.ping()  # every worker's iocmon_redis_up says whether Redis answers
            else:
                await exporter.refresh(settings.now())
            metrics.REDIS_UP.set(1)
        except RedisError as exc:
            metrics.REDIS_UP.set(0)
            log.warning("cannot read figures from Redis (%s); is it running?", type(exc).__name__)

    # faust annotates the decorator App.timer returns as a bare Callable.
    @app.timer(settings.alert_check_interval_s)  # type: ignore[untyped-decorator]
    async def check_alerts() -> None:
        """Time, not events, drives alerts: a dossier that hears nothing still goes overdue.
        The at-risk forecast follows (`BatchApplier.check_risks`): the dossiers changed
        since the last tick, and every on-track one once a working day."""
        owned = sorted(ownership.partitions())
        applier.forget_partitions([tp.partition for tp in owned])
        for tp in owned:
            partition = tp.partition
            try:
                await applier.check_alerts(partition, ownership.highwater(tp))
                await applier.check_risks(partition, ownership.highwater(tp))
            except (RedisError, KafkaError) as exc:
                log.warning(
                    "alert check of partition %d failed (%s); retrying at the next tick",
                    partition,
                    type(exc).__name__,
                    extra=fields(partition=partition),
                )
