"""The one settings object, read from the environment in one place.

Every component (worker, producers, console tools, tests) builds a `Settings` with
`Settings.from_env()` and passes it down; nothing else reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iocmon.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Secret:
    """A password: `repr` and `str` hide it, so printing Settings or a log line cannot leak
    it; `.value` gives it to the one client that needs it."""

    value: str = field(repr=False)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__


MIN_RETENTION_DAYS = 35
DEFAULT_ON_TIME_OBJECTIVE = 0.999
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: Secret = Secret("")
    kafka_ssl_cafile: Path | None = None
    redis_url: str = field(default="redis://localhost:6379/0", repr=False)  # may hold a password
    redis_ssl_ca_file: Path | None = None
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    events_topic: str = "dossier-events"
    dlq_topic: str = "dossier-events-dlq"
    alerts_topic: str = "dossier-alerts"
    event_partitions: int = 12
    consumer_group: str = "iocmon"
    redis_prefix: str = "iocmon"
    calendar_file: Path | None = None
    agencies_file: Path | None = None
    procedures_file: Path | None = None
    agency_label_limit: int = 500
    batch_size: int = 2000
    batch_window_s: float = 0.2
    log_level: str = "info"
    log_format: str = "text"
    session_timeout_s: float = 30.0
    clock_offset_s: float = 0.0
    alert_check_interval_s: float = 10.0
    alert_due_soon_share: float = 0.0
    alert_max_event_age_s: float = 300.0
    api_token: str = field(default="", repr=False)
    metrics_refresh_s: float = 5.0
    topic_replication_factor: int = 1
    retention_days: int = 400
    redis_timeout_s: float = 1.5
    on_time_objective: float = DEFAULT_ON_TIME_OBJECTIVE

    def __post_init__(self) -> None:
        if not 0 < self.on_time_objective < 1:
            raise ConfigError(
                f"IOCMON_ON_TIME_OBJECTIVE={self.on_time_objective} is out of range: give the "
                "share of judged dossiers that must end on time, a number between 0 and 1 "
                "(both excluded; 0.999 for 99.9 %, 0.95 for 95 %), or unset it for the "
                f"default {DEFAULT_ON_TIME_OBJECTIVE}"
            )
        if self.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(
                f"IOCMON_LOG_LEVEL={self.log_level!r} is not a log level: give one of "
                f"{', '.join(LOG_LEVELS)}, or unset it for 'info'"
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"IOCMON_LOG_FORMAT={self.log_format!r} is not a log format: give 'text' (one "
                "line a record, for people) or 'json' (one JSON object a line, for Loki or "
                "Elasticsearch), or unset it for 'text'"
            )
        if not 0 < self.redis_timeout_s <= 60:
            raise ConfigError(
                f"IOCMON_REDIS_TIMEOUT_S={self.redis_timeout_s} is out of range: give the "
                "seconds a Redis call of the API and the figures may take, more than 0 and "
                "at most 60, or unset it for the default 1.5"
            )
        if self.retention_days < MIN_RETENTION_DAYS:
            raise ConfigError(
                f"IOCMON_RETENTION_DAYS={self.retention_days} is too short: the contract "
                f"keeps dossier states at least {MIN_RETENTION_DAYS} days (a month of late "
                "corrections); set it to 35 or more, or unset it for the default 400"
            )

    @property
    def retention(self) -> timedelta:
        """CONTRACT §3a's horizon H."""
        return timedelta(days=self.retention_days)

    def now(self) -> datetime:
        """The worker's clock: wall time shifted by `clock_offset_s` (for tests and drills)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = _ENV_NAMES[f.name]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(name, raw, f.default)
        # Each value has its field's type (`_convert` converts by the field's default), which
        # a type checker cannot see through `fields()`.
        return cls(**values)  # type: ignore[arg-type]


_ENV_NAMES: dict[str, str] = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "kafka_security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "kafka_sasl_username": "KAFKA_SASL_USERNAME",
    "kafka_sasl_password": "KAFKA_SASL_PASSWORD",
    "kafka_ssl_cafile": "KAFKA_SSL_CAFILE",
    "redis_url": "REDIS_URL",
    "redis_ssl_ca_file": "REDIS_SSL_CA_FILE",
    "web_port": "IOCMON_WEB_PORT",
    "web_host": "IOCMON_WEB_HOST",
    "events_topic": "IOCMON_EVENTS_TOPIC",
    "dlq_topic": "IOCMON_DLQ_TOPIC",
    "alerts_topic": "IOCMON_ALERTS_TOPIC",
    "event_partitions": "IOCMON_EVENT_PARTITIONS",
    "consumer_group": "IOCMON_CONSUMER_GROUP",
    "redis_prefix": "IOCMON_REDIS_PREFIX",
    "calendar_file": "IOCMON_CALENDAR_FILE",
    "agencies_file": "IOCMON_AGENCIES_FILE",
    "procedures_file": "IOCMON_PROCEDURES_FILE",
    "agency_label_limit": "IOCMON_AGENCY_LABEL_LIMIT",
    "batch_size": "IOCMON_BATCH_SIZE",
    "batch_window_s": "IOCMON_BATCH_WINDOW_S",
    "log_level": "IOCMON_LOG_LEVEL",
    "log_format": "IOCMON_LOG_FORMAT",
    "session_timeout_s": "IOCMON_SESSION_TIMEOUT_S",
    "clock_offset_s": "IOCMON_CLOCK_OFFSET_S",
    "alert_check_interval_s": "IOCMON_ALERT_CHECK_INTERVAL_S",
    "alert_due_soon_share": "IOCMON_ALERT_DUE_SOON_SHARE",
    "alert_max_event_age_s": "IOCMON_ALERT_MAX_EVENT_AGE_S",
    "api_token": "IOCMON_API_TOKEN",
    "metrics_refresh_s": "IOCMON_METRICS_REFRESH_S",
    "topic_replication_factor": "IOCMON_TOPIC_REPLICATION_FACTOR",
    "retention_days": "IOCMON_RETENTION_DAYS",
    "redis_timeout_s": "IOCMON_REDIS_TIMEOUT_S",
    "on_time_objective": "IOCMON_ON_TIME_OBJECTIVE",
}


def _convert(name: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if default is None:
            return Path(raw)
        if isinstance(default, Secret):
            return Secret(raw)
        return raw
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a valid {type(default).__name__}; "
            f"unset it to use the default {default!r}"
        ) from None
