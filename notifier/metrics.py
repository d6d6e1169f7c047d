"""The notifier's own metrics, scraped as job `iocmon-notify` (see the Prometheus rules)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import Metric

from iocmon.notifier.errors import DeliveryFailed
from iocmon.notifier.lanes import Lane


class NotifierMetrics:
    """Counters and gauges in a registry of their own (tests pass a fresh one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.records = Counter(
            "iocmon_notify_records",
            "Records read from the alerts topic (including records read again after a restart).",
            registry=self.registry,
        )
        self.invalid = Counter(
            "iocmon_notify_records_invalid",
            "Records of the alerts topic that are not valid alert records; skipped and logged.",
            registry=self.registry,
        )
        self.expired = Counter(
            "iocmon_notify_expired_alerts",
            "Active alerts dropped because their appointment is beyond the retention horizon "
            "(IOCMON_RETENTION_DAYS); no longer re-sent, Alertmanager resolves them.",
            registry=self.registry,
        )
        self.delivered = Counter(
            "iocmon_notify_delivered_alerts",
            "Alerts a receiver acknowledged (resends to Alertmanager included).",
            ["receiver", "target"],
            registry=self.registry,
        )
        self.failures = Counter(
            "iocmon_notify_delivery_failures",
            "Failed delivery attempts, each retried with backoff.",
            ["receiver", "target"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "iocmon_notify_pending_jobs",
            "Deliveries queued for a receiver and not yet acknowledged.",
            ["receiver", "target"],
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "iocmon_notify_oldest_pending_seconds",
            "Age of the oldest delivery a receiver has not acknowledged yet (0 if none).",
            ["receiver", "target"],
            registry=self.registry,
        )
        self.active = Gauge(
            "iocmon_notify_active_alerts",
            "Alerts active (firing) in the partitions this notifier consumes.",
            registry=self.registry,
        )

    def watch(self, lanes: Sequence[Lane], active: Callable[[], int]) -> None:
        """Read queue sizes and ages from the lanes, and the active count, at scrape time."""
        for lane in lanes:
            labels = (lane.sink.kind, lane.sink.target)
            self.pending.labels(*labels).set_function(lane.pending)
            self.oldest_pending.labels(*labels).set_function(lane.oldest_pending_s)
            self.delivered.labels(*labels)
            self.failures.labels(*labels)
        self.active.set_function(active)

    # LaneEvents
    def delivered_to(self, lane: Lane, alerts: int) -> None:
        self.delivered.labels(lane.sink.kind, lane.sink.target).inc(alerts)

    def failed_at(self, lane: Lane, exc: DeliveryFailed) -> None:
        self.failures.labels(lane.sink.kind, lane.sink.target).inc()


def exported_families() -> list[Metric]:
    """Every family the notifier's `/metrics` can show (without samples): the names
    dashboards and rules may query (`dashboards.lint`)."""
    return list(NotifierMetrics(CollectorRegistry(auto_describe=True)).registry.collect())
