"""The notifier's settings, read from the environment in one place (to be merged into
`iocmon.config.Settings` later; the variable names are final).

| variable | default | meaning |
|---|---|---|
| `KAFKA_BOOTSTRAP_SERVERS` | `localhost:9092` | Kafka |
| `IOCMON_ALERTS_TOPIC` | `dossier-alerts` | the topic the worker emits alerts to |
| `IOCMON_NOTIFY_GROUP` | `iocmon-notify` | consumer group (offsets committed once delivered) |
| `ALERTMANAGER_URL` | `http://127.0.0.1:9095` | Alertmanager; several comma-separated (HA) |
| `IOCMON_WEBHOOK_URL` | unset | URL that receives every alert record as JSON (optional) |
| `IOCMON_NOTIFY_RESEND_S` | `60` | how often active alerts are sent to Alertmanager again |
| `IOCMON_RETENTION_DAYS` | `400` | alerts about appointments older than this are not re-sent |
| `IOCMON_NOTIFY_HTTP_TIMEOUT_S` | `10` | timeout of one HTTP delivery |
| `IOCMON_NOTIFY_BACKOFF_MAX_S` | `60` | longest wait between two attempts of a failing delivery |
| `IOCMON_NOTIFY_MAX_PENDING` | `100000` | deliveries queued per receiver before consuming pauses |
| `IOCMON_NOTIFY_PORT` | `6067` | port of `/metrics`; 0 turns it off |
| `IOCMON_WEB_HOST` | `127.0.0.1` | address `/metrics` listens on |
| `IOCMON_LOG_LEVEL` | `info` | log level |

Kafka security (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_CAFILE`) is the worker's:
see `iocmon.kafka_connection`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from iocmon.config import Settings
from iocmon.errors import ConfigError
from iocmon.kafka_connection import PLAINTEXT, KafkaSecurity, kafka_security


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    kafka_bootstrap_servers: str = "localhost:9092"
    alerts_topic: str = "dossier-alerts"
    consumer_group: str = "iocmon-notify"
    alertmanager_urls: tuple[str, ...] = ("http://127.0.0.1:9095",)
    webhook_url: str | None = None
    resend_interval_s: float = 60.0
    http_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    max_pending: int = 100_000
    metrics_port: int = 6067
    metrics_host: str = "127.0.0.1"
    log_level: str = "info"
    kafka_security: KafkaSecurity = PLAINTEXT
    # The worker's retention horizon (CONTRACT §3a); bounds the set of active alerts.
    alert_horizon: timedelta = timedelta(days=400)

    @property
    def alert_ttl_s(self) -> float:
        """How long Alertmanager keeps an alert that is not sent again (its `endsAt`): four
        resend intervals, as Prometheus does, so a few failed resends resolve nothing."""
        return 4 * self.resend_interval_s

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifierSettings:
        """Read every setting from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        d = cls()

        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        def number(name: str, default: float) -> float:
            return _positive(name, get(name), default)

        base = Settings.from_env(env)  # Kafka security and the retention horizon
        settings = cls(
            kafka_bootstrap_servers=get("KAFKA_BOOTSTRAP_SERVERS") or d.kafka_bootstrap_servers,
            alerts_topic=get("IOCMON_ALERTS_TOPIC") or d.alerts_topic,
            consumer_group=get("IOCMON_NOTIFY_GROUP") or d.consumer_group,
            alertmanager_urls=_urls("ALERTMANAGER_URL", get("ALERTMANAGER_URL"))
            or d.alertmanager_urls,
            webhook_url=_url("IOCMON_WEBHOOK_URL", get("IOCMON_WEBHOOK_URL")),
            resend_interval_s=number("IOCMON_NOTIFY_RESEND_S", d.resend_interval_s),
            http_timeout_s=number("IOCMON_NOTIFY_HTTP_TIMEOUT_S", d.http_timeout_s),
            backoff_max_s=number("IOCMON_NOTIFY_BACKOFF_MAX_S", d.backoff_max_s),
            max_pending=int(number("IOCMON_NOTIFY_MAX_PENDING", d.max_pending)),
            metrics_port=_port("IOCMON_NOTIFY_PORT", get("IOCMON_NOTIFY_PORT"), d.metrics_port),
            metrics_host=get("IOCMON_WEB_HOST") or d.metrics_host,
            log_level=get("IOCMON_LOG_LEVEL") or d.log_level,
            kafka_security=kafka_security(base),
            alert_horizon=base.retention,
        )
        if settings.backoff_initial_s > settings.backoff_max_s:
            raise ConfigError(
                f"IOCMON_NOTIFY_BACKOFF_MAX_S={settings.backoff_max_s} is below the first "
                f"retry delay ({settings.backoff_initial_s} s); set it to at least that"
            )
        return settings


def _url(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL; e.g. http://127.0.0.1:9095")
    return raw.rstrip("/")


def _urls(name: str, raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    urls = tuple(_url(name, part.strip()) or "" for part in raw.split(",") if part.strip())
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{name}={raw!r} lists the same URL twice")
    return urls


def _positive(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} is not a positive number; unset it for {default}")
    return value


def _port(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number (0 turns /metrics off)")
    return int(raw)
