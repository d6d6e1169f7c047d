"""The one settings object, read from the environment in one place.

Every command (worker, notifier, console tools, rebuild, importer, simulator) builds a
`Settings` with `Settings.from_env()` and passes it down; nothing else reads iocmon's variables
from `os.environ`. Each setting is declared once below, grouped by section: its variable, its
default, the values it accepts, its description and whether it is a secret
(`iocmon.config_fields` derives the reading, the checks, `iocmon config` and the README's
tables from these declarations). The attributes stay flat (`settings.redis_url`): the
sections group the declaration, `iocmon config` and the README, not the call sites.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from iocmon.config_fields import (
    PORT,
    PORT_OR_OFF,
    SECONDS,
    Choice,
    Declared,
    FilePath,
    HostPorts,
    Number,
    Password,
    Secret,
    Source,
    Text,
    TopicName,
    Url,
    Whole,
    check,
    declarations,
    read,
    setting,
)

MIN_RETENTION_DAYS = 35
DEFAULT_ON_TIME_OBJECTIVE = 0.999
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
KAFKA_PROTOCOLS: tuple[KafkaProtocol, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_MECHANISMS: tuple[KafkaMechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
REDIS_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
NOTIFY_BACKOFF_INITIAL_S = 0.5
"""The notifier's first retry delay; IOCMON_NOTIFY_BACKOFF_MAX_S may not be below it."""


@dataclass(frozen=True, slots=True)
class Settings:
    # -- kafka ---------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = setting(
        "KAFKA_BOOTSTRAP_SERVERS",
        "localhost:9092",
        section="kafka",
        kind=HostPorts(),
        help="Kafka brokers, comma-separated",
    )
    kafka_security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        section="kafka",
        kind=Choice(KAFKA_PROTOCOLS, "a Kafka security protocol", ignore_case=True),
        help='how to reach the brokers: `SASL_SSL` beyond one machine (see "Connections" below)',
    )
    kafka_sasl_mechanism: str = setting(
        "KAFKA_SASL_MECHANISM",
        "SCRAM-SHA-512",
        section="kafka",
        kind=Choice(KAFKA_MECHANISMS, "a SASL mechanism", ignore_case=True),
        help="the SASL login's mechanism (`PLAIN` sends the password, inside TLS)",
    )
    kafka_sasl_username: str = setting(
        "KAFKA_SASL_USERNAME",
        "",
        section="kafka",
        help="the SASL login; required with `SASL_*`, refused without",
    )
    kafka_sasl_password: Secret = setting(
        "KAFKA_SASL_PASSWORD",
        Secret(""),
        section="kafka",
        kind=Password(),
        secret=True,
        help="the SASL login's password",
    )
    kafka_ssl_cafile: Path | None = setting(
        "KAFKA_SSL_CAFILE",
        None,
        section="kafka",
        kind=FilePath("a PEM file's path"),
        unset="the system trust store",
        help="PEM file of the CA that signed the brokers' certificates",
    )
    consumer_group: str = setting(
        "IOCMON_CONSUMER_GROUP",
        "iocmon",
        section="kafka",
        help="the workers' consumer group (Faust app id)",
    )
    session_timeout_s: float = setting(
        "IOCMON_SESSION_TIMEOUT_S",
        30.0,
        section="kafka",
        kind=SECONDS,
        help="Kafka group session timeout: how fast a dead worker's partitions move",
    )
    topic_replication_factor: int = setting(
        "IOCMON_TOPIC_REPLICATION_FACTOR",
        1,
        section="kafka",
        kind=Whole(1),
        help="replication of the topics the worker itself creates (Faust's assignor topic); "
        "set it to the cluster's (e.g. `3`) so losing a broker loses none of them",
    )
    # -- topics --------------------------------------------------------------------------------
    events_topic: str = setting(
        "IOCMON_EVENTS_TOPIC",
        "dossier-events",
        section="topics",
        kind=TopicName(),
        help="the dossier events (CONTRACT §1)",
    )
    dlq_topic: str = setting(
        "IOCMON_DLQ_TOPIC",
        "dossier-events-dlq",
        section="topics",
        kind=TopicName(),
        help="events set aside, with the reason (the repair queue)",
    )
    alerts_topic: str = setting(
        "IOCMON_ALERTS_TOPIC",
        "dossier-alerts",
        section="topics",
        kind=TopicName(),
        help="per-dossier alerts: the worker emits them, the notifier delivers them",
    )
    event_partitions: int = setting(
        "IOCMON_EVENT_PARTITIONS",
        12,
        section="topics",
        kind=Whole(1),
        help="partitions of the events topic (must match the topic, and the count the figures "
        'were built with: the worker refuses to start otherwise, see "Changing the partition '
        'count")',
    )
    # -- redis ---------------------------------------------------------------------------------
    redis_url: str = setting(
        "REDIS_URL",
        "redis://localhost:6379/0",
        section="redis",
        kind=Url(
            REDIS_SCHEMES,
            "a Redis URL",
            "redis://127.0.0.1:6379/0",
            described="a Redis URL: redis://, rediss:// (TLS), redis+cluster:// or "
            "rediss+cluster:// (a Redis Cluster), e.g. rediss://USER:PASSWORD@host:6379/0",
            trim_slash=False,
            keep_path=True,
        ),
        secret=True,  # an ACL user's password may be in it
        help="Redis holding every figure; the scheme says TLS (`rediss`) and Redis Cluster "
        "(`+cluster`); an ACL user and its password go in it",
    )
    redis_ssl_ca_file: Path | None = setting(
        "REDIS_SSL_CA_FILE",
        None,
        section="redis",
        kind=FilePath("a PEM file's path"),
        unset="the system trust store",
        help="PEM file of the CA that signed Redis's certificate (`rediss://` only)",
    )
    redis_prefix: str = setting(
        "IOCMON_REDIS_PREFIX",
        "iocmon",
        section="redis",
        help="prefix of every Redis key",
    )
    redis_timeout_s: float = setting(
        "IOCMON_REDIS_TIMEOUT_S",
        1.5,
        section="redis",
        kind=Number("seconds", above=0, most=60),
        help="seconds a Redis call of the API, `/metrics` and the figures refresh may take: a "
        "paused or half-open Redis gives 503s and `iocmon_redis_up 0` after this, not a hang; "
        "the intake's scripts give up after 30 s and are retried after a back-off (the fences "
        "make one that ran after all a no-op)",
    )
    # -- web -----------------------------------------------------------------------------------
    web_host: str = setting(
        "IOCMON_WEB_HOST",
        "127.0.0.1",
        section="web",
        kind=Text("a host name or address"),
        help="the worker's (and the notifier's) HTTP bind address; anything but loopback "
        "needs `IOCMON_API_TOKEN`",
    )
    web_port: int = setting(
        "IOCMON_WEB_PORT",
        6066,
        section="web",
        kind=PORT,
        help="the worker's HTTP port: `/metrics`, the API, `/healthz`, `/readyz`",
    )
    api_token: str = setting(
        "IOCMON_API_TOKEN",
        "",
        section="web",
        kind=Text("the token"),
        secret=True,
        unset="the API is open, on loopback only",
        help="bearer token for `/api/`",
    )
    metrics_refresh_s: float = setting(
        "IOCMON_METRICS_REFRESH_S",
        5.0,
        section="web",
        kind=SECONDS,
        help="how often the worker recomputes the dossier figures `/metrics` serves",
    )
    # -- intake --------------------------------------------------------------------------------
    batch_size: int = setting(
        "IOCMON_BATCH_SIZE",
        2000,
        section="intake",
        kind=Whole(1),
        help="records per batch",
    )
    batch_window_s: float = setting(
        "IOCMON_BATCH_WINDOW_S",
        0.2,
        section="intake",
        kind=SECONDS,
        help="how long to wait to fill a batch",
    )
    agency_label_limit: int = setting(
        "IOCMON_AGENCY_LABEL_LIMIT",
        500,
        section="intake",
        kind=Whole(1),
        help="without an agency catalogue: the first N agency codes seen get their own label, "
        "the rest are `other`",
    )
    clock_offset_s: float = setting(
        "IOCMON_CLOCK_OFFSET_S",
        0.0,
        section="intake",
        kind=Number("seconds"),
        help="shifts the worker's clock (tests and drills)",
    )
    # -- catalogues ----------------------------------------------------------------------------
    calendar_file: Path | None = setting(
        "IOCMON_CALENDAR_FILE",
        None,
        section="catalogues",
        kind=FilePath(),
        help="operator's calendar overrides (`YYYY-MM-DD off|work`), on top of the shipped ones",
    )
    agencies_file: Path | None = setting(
        "IOCMON_AGENCIES_FILE",
        None,
        section="catalogues",
        kind=FilePath(),
        unset="the shipped An Giang catalogue, for names",
        help="agency catalogue CSV; when set, its codes are the `agency` label values",
    )
    procedures_file: Path | None = setting(
        "IOCMON_PROCEDURES_FILE",
        None,
        section="catalogues",
        kind=FilePath(),
        unset="the shipped catalogue of the simulator's procedures",
        help="procedure catalogue CSV (`code,name,field,field_name,online_level,"
        "processing_days`): procedure names and fields (lĩnh vực) in "
        "`/agencies/{code}/procedures` and the periodic report's rows by field (a dossier "
        "keeps the field it had at receipt: run `iocmon rebuild` after editing); checked "
        "whole at start-up",
    )
    # -- alerts --------------------------------------------------------------------------------
    alert_check_interval_s: float = setting(
        "IOCMON_ALERT_CHECK_INTERVAL_S",
        10.0,
        section="alerts",
        kind=SECONDS,
        help="how often each worker checks its partitions for due-soon/overdue dossiers",
    )
    alert_due_soon_share: float = setting(
        "IOCMON_ALERT_DUE_SOON_SHARE",
        0.0,
        section="alerts",
        kind=Number(least=0, below=1, described="0, or a share between 0 and 1 (e.g. 0.75)"),
        help="`0`: warn when a dossier turns due-soon; e.g. `0.75`: once 75 % of the time to "
        "the appointment has passed",
    )
    alert_max_event_age_s: float = setting(
        "IOCMON_ALERT_MAX_EVENT_AGE_S",
        300.0,
        section="alerts",
        kind=SECONDS,
        help="a partition behind Kafka alerts only while its stream time (the newest event "
        "`at` applied) is within this of the worker's clock: a catch-up (backlog, a replay of "
        "history, a restart after a long stop, recovery after Redis lost data) does not page "
        "about history; it alerts once caught up",
    )
    at_risk_threshold: float = setting(
        "IOCMON_AT_RISK_THRESHOLD",
        0.5,
        section="alerts",
        kind=Number(above=0, below=1, described="a chance between 0 and 1, both excluded"),
        help="an open dossier still on track is at risk (the `at_risk` alert, "
        "`/api/v1/at-risk`, `dossiers_at_risk`) once the chance that it ends late, from how "
        "long its procedure's dossiers took, reaches this",
    )
    at_risk_min_samples: int = setting(
        "IOCMON_AT_RISK_MIN_SAMPLES",
        30,
        section="alerts",
        kind=Whole(1),
        help="dossiers a procedure needs to have ended at the dossier's agency within the "
        "retention horizon for the forecast to trust their times; below it, the procedure's in "
        "every agency, then the agency's, then the province's; below it in the province, no "
        "forecast",
    )
    # -- notifier ------------------------------------------------------------------------------
    notify_group: str = setting(
        "IOCMON_NOTIFY_GROUP",
        "iocmon-notify",
        section="notifier",
        help="the notifier's consumer group (offsets committed once delivered)",
    )
    alertmanager_urls: tuple[str, ...] = setting(
        "ALERTMANAGER_URL",
        ("http://127.0.0.1:9095",),
        section="notifier",
        kind=Url(several=True),
        help="Alertmanager; several, comma-separated, for an HA set",
    )
    webhook_url: str | None = setting(
        "IOCMON_WEBHOOK_URL",
        None,
        section="notifier",
        kind=Url(example="https://hooks.example/iocmon"),
        secret=True,  # a receiver's token may be in it
        unset="no webhook",
        help="URL that receives every alert record as JSON (`Idempotency-Key` header)",
    )
    notify_resend_s: float = setting(
        "IOCMON_NOTIFY_RESEND_S",
        60.0,
        section="notifier",
        kind=SECONDS,
        help="how often active alerts are sent to Alertmanager again (their `endsAt` is four "
        "of these ahead)",
    )
    notify_http_timeout_s: float = setting(
        "IOCMON_NOTIFY_HTTP_TIMEOUT_S",
        10.0,
        section="notifier",
        kind=SECONDS,
        help="timeout of one HTTP delivery",
    )
    notify_backoff_max_s: float = setting(
        "IOCMON_NOTIFY_BACKOFF_MAX_S",
        60.0,
        section="notifier",
        kind=Number(
            least=NOTIFY_BACKOFF_INITIAL_S,
            described=f"seconds, at least the first retry delay ({NOTIFY_BACKOFF_INITIAL_S})",
        ),
        help="longest wait between two attempts of a failing delivery",
    )
    notify_max_pending: int = setting(
        "IOCMON_NOTIFY_MAX_PENDING",
        100_000,
        section="notifier",
        kind=Whole(1),
        help="deliveries queued per receiver before consuming pauses",
    )
    notify_port: int = setting(
        "IOCMON_NOTIFY_PORT",
        6067,
        section="notifier",
        kind=PORT_OR_OFF,
        help="the notifier's port: `/metrics`, `/healthz`, `/readyz` (on `IOCMON_WEB_HOST`)",
    )
    # -- retention and objective ---------------------------------------------------------------
    retention_days: int = setting(
        "IOCMON_RETENTION_DAYS",
        400,
        section="retention",
        kind=Whole(
            MIN_RETENTION_DAYS,
            described=f"days, {MIN_RETENTION_DAYS} or more (the contract keeps dossier states "
            "at least a month of late corrections)",
        ),
        help="the retention horizon H of CONTRACT §3a: ended dossiers are forgotten H after "
        "they end, in stream time; events older than H are dead-lettered `beyond_horizon`; "
        "the notifier no longer re-sends alerts about appointments older than H",
    )
    on_time_objective: float = setting(
        "IOCMON_ON_TIME_OBJECTIVE",
        DEFAULT_ON_TIME_OBJECTIVE,
        section="retention",
        kind=Number(
            above=0,
            below=1,
            described="the share of judged dossiers that must end on time, a number between 0 "
            "and 1 (both excluded; 0.999 for 99.9 %, 0.95 for 95 %)",
        ),
        help="the on-time objective: `iocmon live`/`status` list the agencies below it, the "
        "API's rankings flag them (`below_target`), and the dashboards' colours and the SLO "
        "rules are generated from it (`make rules dashboards` with it set; "
        "[deploy/prometheus/README.md](deploy/prometheus/README.md))",
    )
    # -- logging -------------------------------------------------------------------------------
    log_level: str = setting(
        "IOCMON_LOG_LEVEL",
        "info",
        section="logging",
        kind=Choice(LOG_LEVELS, "a log level", ignore_case=True),
        help="log level, of every command",
    )
    log_format: str = setting(
        "IOCMON_LOG_FORMAT",
        "text",
        section="logging",
        kind=Choice(
            LOG_FORMATS,
            "a log format",
            described="'text' (one line a record, for people) or 'json' (one JSON object a "
            "line, for Loki or Elasticsearch)",
        ),
        help='see "Logs" below',
    )
    # -- console -------------------------------------------------------------------------------
    prometheus_url: str = setting(
        "IOCMON_PROMETHEUS_URL",
        "http://127.0.0.1:9090",
        section="console",
        kind=Url(example="http://127.0.0.1:9090"),
        help="Prometheus, for `iocmon doctor` (`--prometheus-url` overrides it)",
    )

    def __post_init__(self) -> None:
        check(self)  # values given in code are held to what the environment may give

    @property
    def retention(self) -> timedelta:
        """CONTRACT §3a's horizon H."""
        return timedelta(days=self.retention_days)

    def now(self) -> datetime:
        """The worker's clock: wall time shifted by `clock_offset_s` (for tests and drills)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `env` (default: the process environment); ConfigError
        names each variable that cannot be used, what is wrong and what is accepted."""
        return read_settings(env)[0]


def read_settings(env: Mapping[str, str] | None = None) -> tuple[Settings, dict[str, Source]]:
    """`Settings.from_env`, and where each setting came from (by attribute): its default,
    the environment, or a file (`NAME_FILE`)."""
    values, sources = read(Settings, os.environ if env is None else env)
    # Each value has its field's type (its kind parsed it), which mypy cannot see through
    # a dict of values.
    return Settings(**values), sources  # type: ignore[arg-type]


def settings_declared() -> tuple[Declared, ...]:
    """Every setting as declared, in order."""
    return declarations(Settings)


def env_name(attr: str) -> str:
    """The variable of the setting `attr` (for messages: "set IOCMON_EVENTS_TOPIC=…")."""
    for declared in declarations(Settings):
        if declared.attr == attr:
            return declared.name
    raise KeyError(attr)


def env_names() -> frozenset[str]:
    """Every variable iocmon reads, the `*_FILE` variants of secrets included."""
    names = set()
    for declared in declarations(Settings):
        names.add(declared.name)
        if declared.file_name:
            names.add(declared.file_name)
    return frozenset(names)


__all__ = [
    "DEFAULT_ON_TIME_OBJECTIVE",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MIN_RETENTION_DAYS",
    "Secret",
    "Settings",
    "Source",
    "env_name",
    "env_names",
    "read_settings",
    "settings_declared",
]
