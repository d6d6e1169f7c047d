"""The worker, assembled: one Faust app (`streams.faust_app`), the intake agent
(`streams.agents.intake`), the timers (`streams.agents.timers`) and the web routes
(`streams.web`) around one `BatchApplier` (`streams.intake`) in a process of its own
(`streams.applier_process`), the JSON API in a third (`streams.api_process`) and the
figures of `/metrics` in a fourth (`streams.figures_process`).
"""

from __future__ import annotations

import faust

from iocmon import logs
from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import load_calendar
from iocmon.domain.procedures import load_procedures
from iocmon.redis_connection import async_redis
from iocmon.streams.agents.intake import Intake, register_intake
from iocmon.streams.agents.timers import register_timers
from iocmon.streams.api_process import ApiProcess
from iocmon.streams.applier_process import ApplierProcess
from iocmon.streams.child_process import ChildService
from iocmon.streams.exporter import FigureExporter
from iocmon.streams.faust_app import build_faust_app, events_topic, use_worker_loop
from iocmon.streams.figures_process import FiguresProcess
from iocmon.streams.health import Readiness, register_health
from iocmon.streams.labels import agency_labels
from iocmon.streams.ownership import ConsumerRewinder, Ownership
from iocmon.streams.preflight import check_before_start
from iocmon.streams.sinks import KafkaSinks
from iocmon.streams.store import BatchStore
from iocmon.streams.web import register_routes


def create_app(settings: Settings) -> faust.App:
    """The worker: the Faust app with its intake agent, timers and web routes."""
    app = build_faust_app(settings)
    # A Redis that stops answering (paused, half-open) must turn into 503s and
    # iocmon_redis_up 0 within seconds, not hang the API and /metrics.
    redis = async_redis(settings, timeout_s=settings.redis_timeout_s)
    # Read here too so that a bad file stops the worker with its error before the applier
    # and API processes, which read them again, are started.
    load_calendar(settings.calendar_file)
    load_procedures(settings.procedures_file)
    catalogue = load_catalogue(settings.agencies_file)
    labels = agency_labels(settings, redis, catalogue)
    store = BatchStore(redis, settings.redis_prefix, settings.events_topic)  # offsets, for lag
    figures = FiguresProcess(settings)
    app.service(ChildService(app, figures))  # type: ignore[arg-type]  # an instance: below
    exporter = FigureExporter(figures.figures, store)
    sinks = KafkaSinks(app, settings, {a.code: a.name for a in catalogue})
    ownership = Ownership(app, settings.events_topic)
    applier = ApplierProcess(settings, sinks, ConsumerRewinder(app, settings.events_topic))
    # faust annotates App.service for a service class; it takes an instance too (as here).
    app.service(ChildService(app, applier))  # type: ignore[arg-type]
    intake = Intake(applier, labels, on_error=app.crash)
    register_intake(app, events_topic(app, settings), settings, intake)
    register_timers(app, settings, redis, exporter, applier, ownership)
    api = ApiProcess(settings)
    app.service(ChildService(app, api))  # type: ignore[arg-type]  # an instance: see above
    register_routes(app, settings, api, exporter, ownership.partitions, applier.metrics)
    register_health(app, Readiness(app, ownership, redis.ping, settings.redis_timeout_s))
    return app


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until interrupted; SIGTERM or SIGINT end it within
    `streams.stop_deadline.STOP_GRACE_S`, with Kafka gone too."""
    from iocmon.streams.stop_deadline import BoundedStopWorker

    check_before_start(settings)
    use_worker_loop()
    app = create_app(settings)
    worker = BoundedStopWorker(
        app,
        loglevel=settings.log_level.upper(),
        quiet=True,
        # Faust sets up logging itself: the same handler and format as every other command.
        logging_config=logs.dict_config(settings.log_level, settings.log_format),
    )
    worker.execute_from_commandline()
