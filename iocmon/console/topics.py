"""`iocmon topics`: the iocmon topics, their records, and how far behind the worker group is."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import click

from iocmon.config import Settings
from iocmon.console.errors import ConsoleError
from iocmon.console.fmt import NONE, Palette, integer, table
from iocmon.console.net import host_port, quiet_kafka_logs, tcp_problem
from iocmon.console.options import ColorMode, color_option, echo_json, fail, json_option, use_color
from iocmon.kafka_connection import explain_failure, kafka_python_kwargs

DEFAULT_TIMEOUT_S = 5.0


def gather(
    bootstrap: str,
    topics: Sequence[str],
    group: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    client_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Per topic and partition: first and end offsets, records kept, the group's committed
    offset and lag (end − committed; null where the group has committed nothing).

    `client_options`: Kafka security options from `iocmon.kafka_connection`."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec

    quiet_kafka_logs()
    try:
        host, port = host_port(bootstrap.split(",")[0], 9092)
    except ValueError:
        raise ConsoleError(
            f"cannot read {bootstrap!r} as host:port — set KAFKA_BOOTSTRAP_SERVERS=host:port"
        ) from None
    problem = tcp_problem(host, port, timeout_s)
    if problem is not None:
        raise ConsoleError(
            f"Kafka at {bootstrap}: {problem} — start it with `make up`, "
            "or set KAFKA_BOOTSTRAP_SERVERS"
        )
    try:
        admin = KafkaAdminClient(
            **{"bootstrap_servers": bootstrap, **(client_options or {})},
            client_id="iocmon-topics",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except Exception as exc:
        options = client_options or {}
        hint = "run `iocmon doctor`"
        if options.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
            hint = explain_failure(options, timeout_s)  # TLS or the login: say which
        raise ConsoleError(
            f"Kafka at {bootstrap}: no metadata within {timeout_s:g} s ({exc}) — {hint}"
        ) from None
    try:
        described = {t["name"]: t for t in admin.describe_topics(list(topics))}
        parts = [
            TopicPartition(name, p["partition_index"])
            for name in topics
            if not (described.get(name) or {}).get("error_code")
            for p in (described.get(name) or {}).get("partitions") or []
        ]
        begins = _offsets(admin, parts, OffsetSpec.EARLIEST)
        ends = _offsets(admin, parts, OffsetSpec.LATEST)
        committed, group_error = _committed(admin, group, timeout_s)
    finally:
        admin.close()
    return build_report(bootstrap, group, topics, begins, ends, committed, group_error)


def _offsets(admin: Any, parts: list[Any], spec: Any) -> dict[tuple[str, int], int]:
    if not parts:
        return {}
    reply = admin.list_partition_offsets(dict.fromkeys(parts, spec))
    return {(tp.topic, tp.partition): int(o.offset) for tp, o in reply.items()}


def _committed(
    admin: Any, group: str, timeout_s: float
) -> tuple[dict[tuple[str, int], int], str | None]:
    """The group's committed offsets; retried while the broker is still electing the group
    coordinator (the first request for a group on a fresh broker creates __consumer_offsets)."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reply = admin.list_group_offsets({group: None}).get(group) or {}
            return {
                (tp.topic, tp.partition): int(o.offset) for tp, o in reply.items() if o.offset >= 0
            }, None
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() > deadline:
                return {}, f"{type(exc).__name__}: {exc}"
            time.sleep(0.3)


class PartitionRow(TypedDict):
    """One partition of a topic in the `--json` document."""

    partition: int
    begin: int
    end: int
    records: int
    committed: int | None
    lag: int | None


def build_report(
    bootstrap: str,
    group: str,
    topics: Sequence[str],
    begins: Mapping[tuple[str, int], int],
    ends: Mapping[tuple[str, int], int],
    committed: Mapping[tuple[str, int], int],
    group_error: str | None = None,
) -> dict[str, Any]:
    """The `--json` document, from offsets keyed by (topic, partition)."""
    out_topics = []
    for name in topics:
        rows: list[PartitionRow] = []
        for (topic, partition), end in sorted(ends.items()):
            if topic != name:
                continue
            begin = begins.get((topic, partition), 0)
            done = committed.get((topic, partition))
            rows.append(
                {
                    "partition": partition,
                    "begin": begin,
                    "end": end,
                    "records": end - begin,
                    "committed": done,
                    "lag": None if done is None else max(0, end - done),
                }
            )
        lags = [r["lag"] for r in rows if r["lag"] is not None]
        out_topics.append(
            {
                "topic": name,
                "exists": bool(rows),
                "partitions": len(rows),
                "records": sum(r["records"] for r in rows),
                "lag": sum(lags) if lags else None,
                "by_partition": rows,
            }
        )
    return {
        "bootstrap": bootstrap,
        "group": group,
        "group_error": group_error,
        "topics": out_topics,
    }


def render_topics(report: Mapping[str, Any], palette: Palette | None = None) -> list[str]:
    c = palette or Palette(False)
    lines = [
        c.bold(f"Kafka {report['bootstrap']} · nhóm (consumer group) {report['group']}"),
    ]
    if report.get("group_error"):
        lines.append(c.warn(f"  committed offsets unknown: {report['group_error']}"))
    for topic in report["topics"]:
        lines.append("")
        if not topic["exists"]:
            lines.append(
                c.bad(f"✗ {topic['topic']}: does not exist — `make up` creates it; `iocmon doctor`")
            )
            continue
        lag = topic["lag"]
        lag_text = "— (nhóm không đọc / not read by the group)" if lag is None else integer(lag)
        if lag:
            lag_text = c.warn(lag_text)
        lines.append(
            c.bold(topic["topic"])
            + f"  {topic['partitions']} phân vùng (partitions) · "
            + f"{integer(topic['records'])} bản ghi (records) · độ trễ (lag) {lag_text}"
        )
        rows = [
            [
                str(r["partition"]),
                integer(r["begin"]),
                integer(r["end"]),
                integer(r["records"]),
                integer(r["committed"]),
                NONE if r["lag"] is None else (c.warn(integer(r["lag"])) if r["lag"] else "0"),
            ]
            for r in topic["by_partition"]
        ]
        lines += table(
            [
                "Phân vùng (partition)",
                "Đầu (first offset)",
                "Cuối (end offset)",
                "Bản ghi (records)",
                "Đã commit (committed)",
                "Độ trễ (lag)",
            ],
            rows,
            [">", ">", ">", ">", ">", ">"],
            indent="  ",
        )
    return lines


@click.command("topics")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for Kafka.",
)
@json_option
@color_option
def topics_command(timeout: float, as_json: bool, color_mode: ColorMode) -> None:
    """The iocmon topics (events, dead letters, alerts): partitions, first and end offsets,
    records kept, and the consumer group's committed offsets and lag per partition.

    Reads KAFKA_BOOTSTRAP_SERVERS, the topic settings and IOCMON_CONSUMER_GROUP.
    Lag is end offset − committed offset in Kafka. The worker's exactly-once position is kept
    in Redis and may be a little ahead: Faust commits to Kafka every few seconds.
    """
    settings = Settings.from_env()
    names = [settings.events_topic, settings.dlq_topic, settings.alerts_topic]
    try:
        report = gather(
            settings.kafka_bootstrap_servers,
            names,
            settings.consumer_group,
            timeout,
            kafka_python_kwargs(settings),
        )
    except ConsoleError as exc:
        fail(str(exc), as_json)
        return
    if as_json:
        echo_json(report)
        return
    palette = Palette(use_color(color_mode))
    click.echo("\n".join(render_topics(report, palette)), color=palette.enabled)
