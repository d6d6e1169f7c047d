"""What the notifier uses of the one `iocmon.config.Settings`: its settings (section
`notifier` of `iocmon config` and the README), Kafka's, the alerts topic, the bind address and
the retention horizon, with Kafka's security checked once at start. Nothing here reads the
environment or names a variable: `iocmon.config` declares them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from iocmon.config import NOTIFY_BACKOFF_INITIAL_S, Settings
from iocmon.kafka_connection import KafkaSecurity, kafka_security


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    kafka_bootstrap_servers: str
    alerts_topic: str
    consumer_group: str
    alertmanager_urls: tuple[str, ...]
    webhook_url: str | None = field(repr=False)  # a receiver's token may be in it
    resend_interval_s: float
    http_timeout_s: float
    backoff_max_s: float
    max_pending: int
    metrics_port: int
    metrics_host: str
    log_level: str
    kafka_security: KafkaSecurity
    # The worker's retention horizon (CONTRACT §3a); bounds the set of active alerts.
    alert_horizon: timedelta
    backoff_initial_s: float = NOTIFY_BACKOFF_INITIAL_S

    @property
    def alert_ttl_s(self) -> float:
        """How long Alertmanager keeps an alert that is not sent again (its `endsAt`): four
        resend intervals, as Prometheus does, so a few failed resends resolve nothing."""
        return 4 * self.resend_interval_s

    @classmethod
    def of(cls, settings: Settings) -> NotifierSettings:
        """The notifier's part of `settings`; ConfigError if Kafka's security is not
        consistent."""
        return cls(
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            alerts_topic=settings.alerts_topic,
            consumer_group=settings.notify_group,
            alertmanager_urls=settings.alertmanager_urls,
            webhook_url=settings.webhook_url,
            resend_interval_s=settings.notify_resend_s,
            http_timeout_s=settings.notify_http_timeout_s,
            backoff_max_s=settings.notify_backoff_max_s,
            max_pending=settings.notify_max_pending,
            metrics_port=settings.notify_port,
            metrics_host=settings.web_host,
            log_level=settings.log_level,
            kafka_security=kafka_security(settings),
            alert_horizon=settings.retention,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifierSettings:
        """`of(Settings.from_env(env))`."""
        return cls.of(Settings.from_env(env))
