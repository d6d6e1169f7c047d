"""`iocmon doctor`: is every part of the pipeline there, and if not, what to do.

Each `check_*` function takes plain addresses (no settings object, no environment) and returns
`Check`s, one per line of output, so tests point them at real services or at closed ports.
The services are checked in parallel, each with a short timeout, so a dead stack answers in
seconds.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import click

from iocmon.config import Settings, env_name
from iocmon.console.client import ApiClient
from iocmon.console.errors import ApiError, WorkerUnreachable
from iocmon.console.fmt import Palette
from iocmon.console.net import host_port, network_reason, quiet_kafka_logs, redact, tcp_problem
from iocmon.console.options import (
    ColorMode,
    color_option,
    echo_json,
    json_option,
    use_color,
    worker_options,
)
from iocmon.kafka_connection import explain_failure, kafka_python_kwargs

DEFAULT_TIMEOUT_S = 5.0
METRICS_TIMEOUT_FACTOR = 2  # the worker computes its figures for each /metrics answer
START_IT = "start it with `make up`"
TOPIC_ENV = {
    "events": env_name("events_topic"),
    "dlq": env_name("dlq_topic"),
    "alerts": env_name("alerts_topic"),
}
KAFKA_ENV = env_name("kafka_bootstrap_servers")
PARTITIONS_ENV = env_name("event_partitions")
REDIS_ENV = env_name("redis_url")
PROMETHEUS_ENV = env_name("prometheus_url")
PORT_ENV = env_name("web_port")


@dataclass(frozen=True, slots=True)
class Check:
    service: str  # kafka | redis | prometheus | worker
    ok: bool
    subject: str  # what was checked: "Redis at redis://localhost:6379/0"
    detail: str  # what was found, and when not ok, what to do

    @property
    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.subject}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "ok": self.ok,
            "subject": self.subject,
            "detail": self.detail,
            "line": self.line,
        }


# ---------------------------------------------------------------------------------------------
# Kafka


def check_kafka(
    bootstrap: str,
    topics: Mapping[str, str],
    partitions: int,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    client_options: Mapping[str, Any] | None = None,
) -> list[Check]:
    """The broker answers (TCP, then metadata); each topic in `topics` (role -> name: events,
    dlq, alerts) exists; the events topic has `partitions` partitions and keeps everything.

    `client_options`: Kafka security options from `iocmon.kafka_connection` (SASL, TLS)."""
    subject = f"Kafka at {bootstrap}"
    problems = []
    for address in bootstrap.split(","):
        try:
            host, port = host_port(address, 9092)
        except ValueError:
            return [
                Check(
                    "kafka",
                    False,
                    subject,
                    f"cannot read {address!r} as host:port — set {KAFKA_ENV}=host:port[,host:port]",
                )
            ]
        problem = tcp_problem(host, port, timeout_s)
        if problem is None:
            break
        problems.append(problem)
    else:
        reason = ", ".join(sorted(set(problems)))
        return [Check("kafka", False, subject, f"{reason} — {START_IT}, or set {KAFKA_ENV}")]

    from kafka import KafkaAdminClient

    quiet_kafka_logs()
    try:
        admin = KafkaAdminClient(
            **{"bootstrap_servers": bootstrap, **(client_options or {})},
            client_id="iocmon-doctor",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except Exception as exc:  # kafka-python raises many kinds; all mean "no metadata"
        options = client_options or {}
        if options.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
            detail = explain_failure(options, timeout_s)  # TLS or the login: say which
        else:
            detail = (
                f"the port is open but no Kafka metadata came back within {timeout_s:g} s "
                f"({type(exc).__name__}) — is Kafka (not something else) listening there? "
                "Its log: .local/logs/kafka.log"
            )
        return [Check("kafka", False, subject, detail)]
    try:
        return _check_kafka_metadata(admin, subject, topics, partitions)
    finally:
        admin.close()


def _check_kafka_metadata(
    admin: Any, subject: str, topics: Mapping[str, str], partitions: int
) -> list[Check]:
    try:
        brokers = len(admin.describe_cluster().get("brokers") or [])
        described = {t["name"]: t for t in admin.describe_topics(list(topics.values()))}
    except Exception as exc:
        return [Check("kafka", False, subject, f"metadata request failed: {exc}")]
    out = [Check("kafka", True, subject, f"answers, {brokers} broker(s)")]
    for role, name in topics.items():
        topic = described.get(name)
        env = TOPIC_ENV.get(role, "the topic setting")
        if topic is None or topic.get("error_code") or not topic.get("partitions"):
            out.append(
                Check(
                    "kafka",
                    False,
                    f"topic {name}",
                    f"does not exist — `make up` creates it (deploy/local/stack.sh), "
                    f"or set {env} to the topic in use",
                )
            )
            continue
        have = len(topic["partitions"])
        if role == "events" and have != partitions:
            out.append(
                Check(
                    "kafka",
                    False,
                    f"topic {name}",
                    f"has {have} partitions but {PARTITIONS_ENV} is {partitions} — the "
                    f"worker keeps figures per partition: set {PARTITIONS_ENV}={have}, "
                    "or recreate the topic (`make reset` wipes the local stack)",
                )
            )
            continue
        detail = f"{have} partition(s)"
        if role == "events":
            retention = _retention_ms(admin, name)
            if retention is not None and retention >= 0:
                out.append(
                    Check(
                        "kafka",
                        False,
                        f"topic {name}",
                        f"{detail}, but it keeps records only {retention / 86_400_000:g} days "
                        f"(retention.ms={retention}); a rebuild needs the whole history — "
                        f"kafka-configs.sh --bootstrap-server … --alter --entity-type topics "
                        f"--entity-name {name} --add-config retention.ms=-1",
                    )
                )
                continue
            if retention is not None:
                detail += ", kept forever (retention.ms=-1)"
        out.append(Check("kafka", True, f"topic {name}", detail))
    return out


def _retention_ms(admin: Any, topic: str) -> int | None:
    """The topic's retention.ms, or None if the broker does not say."""
    from kafka.admin import ConfigResource, ConfigResourceType

    try:
        reply = admin.describe_configs(
            # describe_configs reads only the keys of `configs`.
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": ""})],
            config_filter="all",
        )
        return int(reply["topic"][topic]["retention.ms"]["value"])
    except Exception:  # an older broker or client: the check is a bonus, not a verdict
        return None


# ---------------------------------------------------------------------------------------------
# Redis


def check_redis(
    url: str, timeout_s: float = DEFAULT_TIMEOUT_S, ca_file: Path | None = None
) -> list[Check]:
    """PING answers; append-only persistence is on (counters survive a Redis restart).

    `url` and `ca_file` are REDIS_URL and REDIS_SSL_CA_FILE (see iocmon.redis_connection)."""
    from redis.exceptions import (
        AuthenticationError,
        RedisClusterException,
        RedisError,
        ResponseError,
    )

    from iocmon.errors import ConfigError
    from iocmon.redis_connection import sync_redis

    subject = f"Redis at {redact(url)}"
    client = None
    problem: str | None = None
    try:
        settings = Settings(redis_url=url, redis_ssl_ca_file=ca_file)
        # A cluster client connects (and may fail) as it is built; a single Redis at PING.
        client = sync_redis(settings, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        client.ping()
    except (ConfigError, ValueError) as exc:
        problem = f"{exc} — set {REDIS_ENV}=redis://host:port/db"
    except AuthenticationError:
        problem = (
            f"authentication failed — put the ACL user and password in {REDIS_ENV} "
            "(redis://USER:PASSWORD@host:port/0, rediss:// with TLS)"
        )
    except (RedisError, RedisClusterException) as exc:
        problem = f"{network_reason(exc)} — {START_IT}, or set {REDIS_ENV}"
    if problem is not None or client is None:
        if client is not None:
            client.close()
        return [Check("redis", False, subject, problem or "no client")]
    try:
        out = [Check("redis", True, subject, "answers PING")]
        aof_subject = f"Redis persistence at {redact(url)}"
        try:
            # redis-py annotates replies as decoded (str); this client does not decode them.
            reply = cast("dict[bytes | str, bytes | str]", client.config_get("appendonly"))
        except ResponseError as exc:
            out.append(
                Check(
                    "redis",
                    False,
                    aof_subject,
                    f"cannot read appendonly ({exc}) — make sure append-only persistence is on "
                    "(appendonly yes), or counters are lost when Redis restarts",
                )
            )
            return out
        value = _text(reply.get("appendonly") or reply.get(b"appendonly") or "")
        if value == "yes":
            out.append(Check("redis", True, aof_subject, "append-only file on (appendonly yes)"))
        else:
            out.append(
                Check(
                    "redis",
                    False,
                    aof_subject,
                    f"append-only file is off (appendonly {value or '?'}): the figures would "
                    f"not survive a Redis restart — run `redis-cli -u {redact(url)} CONFIG SET "
                    "appendonly yes` and put `appendonly yes` in redis.conf (make up does)",
                )
            )
        return out
    finally:
        client.close()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


# ---------------------------------------------------------------------------------------------
# Prometheus


def _http_get(url: str, timeout_s: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def check_prometheus(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[Check]:
    """Ready (/-/ready), and scraping at least one `iocmon` target that is up."""
    import json

    base = url.rstrip("/")
    subject = f"Prometheus at {base}"
    fix = f"{START_IT}, or set {PROMETHEUS_ENV}"
    try:
        status, _ = _http_get(f"{base}/-/ready", timeout_s)
    except (urllib.error.URLError, OSError) as exc:
        return [Check("prometheus", False, subject, f"{network_reason(exc)} — {fix}")]
    if status != 200:
        return [
            Check(
                "prometheus",
                False,
                subject,
                f"not ready (HTTP {status} from /-/ready) — it may still be starting; "
                "wait a few seconds, else see .local/logs/prometheus.log",
            )
        ]
    out = [Check("prometheus", True, subject, "ready")]
    target_subject = "Prometheus targets of job iocmon"
    try:
        status, body = _http_get(f"{base}/api/v1/targets?state=active", timeout_s)
        targets = json.loads(body)["data"]["activeTargets"] if status == 200 else None
        answer = str(status)
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        targets, answer = None, f"{type(exc).__name__}: {exc}"
    if targets is None:
        out.append(
            Check(
                "prometheus",
                False,
                target_subject,
                f"/api/v1/targets did not answer ({answer}) — is {base} really Prometheus?",
            )
        )
        return out
    out.append(target_check(targets, target_subject))
    return out


def target_check(targets: Sequence[Mapping[str, Any]], subject: str) -> Check:
    """At least one active target of job `iocmon` is up."""
    ours = [t for t in targets if (t.get("labels") or {}).get("job") == "iocmon"]
    if not ours:
        return Check(
            "prometheus",
            False,
            subject,
            "Prometheus has no `iocmon` scrape job — use the stack's configuration "
            "(deploy/local/prometheus/prometheus.yml.in; `make up` writes it)",
        )
    up = sorted(str(t["labels"].get("instance")) for t in ours if t.get("health") == "up")
    down = [t for t in ours if t.get("health") != "up"]
    if up:
        return Check("prometheus", True, subject, f"{len(up)} up ({', '.join(up)})")
    why = "; ".join(
        f"{t['labels'].get('instance')} {t.get('health')}"
        + (f" ({t.get('lastError')})" if t.get("lastError") else "")
        for t in down[:3]
    )
    return Check(
        "prometheus",
        False,
        subject,
        f"none is up: {why} — start the worker, and list its host:port in the stack's "
        "prometheus/targets.json (`make run` writes it; IOCMON_SCRAPE_TARGETS seeds it)",
    )


# ---------------------------------------------------------------------------------------------
# the worker


def check_worker(
    url: str,
    topic: str,
    partitions: int,
    token: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[Check]:
    """/metrics answers; the worker owns partitions, reaches Redis; its API answers."""
    from prometheus_client.parser import text_string_to_metric_families

    base = url.rstrip("/")
    subject = f"worker at {base}"
    try:
        status, body = _http_get(f"{base}/metrics", timeout_s * METRICS_TIMEOUT_FACTOR)
    except (urllib.error.URLError, OSError) as exc:
        unreachable = WorkerUnreachable(base, network_reason(exc))
        return [
            Check(
                "worker",
                False,
                subject,
                f"not answering ({unreachable.reason}) — is `iocmon worker` running? "
                f"(make run starts it); or pass --url / set {PORT_ENV}",
            )
        ]
    if status != 200:
        return [Check("worker", False, subject, f"/metrics answered HTTP {status} — see its log")]
    samples: dict[str, float] = {}
    lag = 0.0
    try:
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                if sample.name == "iocmon_partition_lag_records":
                    lag += sample.value
                elif not sample.labels:
                    samples[sample.name] = sample.value
    except ValueError as exc:
        return [Check("worker", False, subject, f"/metrics is not Prometheus text ({exc})")]
    out = [worker_check(subject, samples, lag, topic, partitions)]
    api = ApiClient(base, token, timeout_s)
    try:
        api.get("/api/v1/overdue", limit=1)
        out.append(Check("worker", True, f"worker API at {base}", "answers"))
    except (WorkerUnreachable, ApiError) as exc:
        out.append(Check("worker", False, f"worker API at {base}", str(exc)))
    return out


def worker_check(
    subject: str, samples: Mapping[str, float], lag: float, topic: str, partitions: int
) -> Check:
    """The verdict on one worker's own gauges (iocmon_assigned_partitions, iocmon_redis_up)."""
    if "iocmon_assigned_partitions" not in samples:
        return Check(
            "worker",
            False,
            subject,
            "/metrics answers but has no iocmon_assigned_partitions — is this an iocmon "
            f"worker? (--url / {PORT_ENV})",
        )
    if samples.get("iocmon_redis_up", 1) == 0:
        return Check(
            "worker",
            False,
            subject,
            f"cannot read Redis (iocmon_redis_up 0) — check the worker's {REDIS_ENV} and that "
            "Redis runs; the worker's log says more",
        )
    owned = int(samples["iocmon_assigned_partitions"])
    if owned == 0:
        return Check(
            "worker",
            False,
            subject,
            f"owns no partition of {topic} — it is still joining its consumer group (wait a "
            "few seconds), or more workers than partitions run; see its log",
        )
    return Check(
        "worker",
        True,
        subject,
        f"answers; owns {owned} of {partitions} partitions of {topic}, {int(lag)} record(s) behind",
    )


# ---------------------------------------------------------------------------------------------
# the command


def run_checks(checks: Sequence[Callable[[], list[Check]]]) -> list[Check]:
    """Run each group of checks in its own thread; results in the given order."""
    with ThreadPoolExecutor(max_workers=len(checks) or 1) as pool:
        return [c for group in pool.map(_guarded, checks) for c in group]


def _guarded(group: Callable[[], list[Check]]) -> list[Check]:
    """A group that raises what it does not expect (a client library's error it does not
    name) is one failed check, not a traceback that hides every other answer."""
    try:
        return group()
    except Exception as exc:
        named = group.func if isinstance(group, partial) else group
        name = str(getattr(named, "__name__", "") or "a check")
        return [
            Check(
                "doctor",
                False,
                name.removeprefix("check_").replace("_", " "),
                f"the check itself failed ({type(exc).__name__}: {exc}); run it again, and "
                "report it if it fails the same way",
            )
        ]


@click.command("doctor")
@worker_options
@click.option(
    "--prometheus-url",
    default=lambda: Settings.from_env().prometheus_url,
    show_default=f"${PROMETHEUS_ENV} ({Settings().prometheus_url})",
    help="Prometheus's base URL.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for each service.",
)
@json_option
@color_option
def doctor_command(
    url: str,
    token: str | None,
    prometheus_url: str,
    timeout: float,
    as_json: bool,
    color_mode: ColorMode,
) -> None:
    """Check Kafka (broker, topics, partitions), Redis (PING, append-only file, the partition
    count the figures were built with), Prometheus (ready, scraping an iocmon target) and the
    worker (/metrics, partitions, API).

    One line per check, ✓ or ✗, each ✗ saying what is wrong and what to do. Exit code 1 if
    any check fails. Addresses come from KAFKA_BOOTSTRAP_SERVERS, REDIS_URL,
    IOCMON_WEB_PORT (or --url), IOCMON_PROMETHEUS_URL and the topic settings.
    """
    from iocmon.console.partition_check import check_partition_count

    settings = Settings.from_env()
    kafka_options = kafka_python_kwargs(settings)  # a ConfigError says which setting to fix
    topics = {
        "events": settings.events_topic,
        "dlq": settings.dlq_topic,
        "alerts": settings.alerts_topic,
    }
    checks = run_checks(
        [
            partial(
                check_kafka,
                settings.kafka_bootstrap_servers,
                topics,
                settings.event_partitions,
                timeout,
                kafka_options,
            ),
            partial(check_redis, settings.redis_url, timeout, settings.redis_ssl_ca_file),
            partial(check_partition_count, settings, timeout),
            partial(check_prometheus, prometheus_url, timeout),
            partial(
                check_worker, url, settings.events_topic, settings.event_partitions, token, timeout
            ),
        ]
    )
    ok = all(c.ok for c in checks)
    if as_json:
        echo_json({"ok": ok, "checks": [c.to_json() for c in checks]})
    else:
        c = Palette(use_color(color_mode))
        lines = [c.good(ch.line) if ch.ok else c.bad(ch.line) for ch in checks]
        failed = sum(1 for ch in checks if not ch.ok)
        lines.append("")
        lines.append(
            c.good("all checks passed") if ok else c.bad(f"{failed} of {len(checks)} checks failed")
        )
        click.echo("\n".join(lines), color=c.enabled)
    if not ok:
        raise click.exceptions.Exit(1)
