"""Where `iocmon backtest` reads its history: a JSON-lines file of events, or the events topic.

Each record is checked as the worker checks it (`parse_record`, CONTRACT §1 and §4): one the
worker would dead-letter is counted as refused and left out, as it never reaches a forecast.
A file line is keyed by its own `dossier_id`, as `iocmon replay` sends it; a topic record
keeps its key. The clock test (an `at` more than a day ahead of the worker's clock) is left
out: a history, simulated or not, may lie anywhere in time.

The history is held in memory and sorted by `at` (ties keep the order read), since a topic's
partitions interleave and a forecast may only read what ended before it: about 0.6 GB per
million events (a simulated year of 565 000 events: 0.36 GB).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from iocmon.console.fmt import integer
from iocmon.console.net import host_port, quiet_kafka_logs, tcp_problem
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.events import Event, EventType, RecordRejected, parse_record
from iocmon.errors import IocmonError
from iocmon.kafka_connection import explain_failure
from iocmon.producers.replay import read_records

_NO_CLOCK_TEST = datetime(9000, 1, 1, tzinfo=LOCAL_TZ)
"""The `now` records are parsed against: far enough ahead that no `at` is "in the future"."""
DEFAULT_TOPIC_TIMEOUT_S = 30.0


class BacktestError(IocmonError):
    """The history cannot be read as asked (a file that holds no events, an unreadable
    file): exit code 2. The message says what to give instead."""


class HistoryUnavailable(IocmonError):
    """Kafka could not give the history (not reachable, no such topic, stalled): exit code 1.
    The message says what to check."""


@dataclass(slots=True)
class History:
    """The events of a history in `at` order, and what was left out on the way."""

    source: str
    events: list[Event] = field(default_factory=list)
    agency_of: dict[str, str] = field(default_factory=dict)
    """Each received dossier's agency, for figures by agency."""
    records: int = 0
    refused: int = 0
    """Records the worker would dead-letter; not replayed."""
    first_problem: str | None = None
    """Why the first refused record was refused, with where it was."""

    def add(self, key: bytes | None, value: bytes | None, where: str) -> None:
        self.records += 1
        try:
            event = parse_record(key, value, _NO_CLOCK_TEST)
        except RecordRejected as exc:
            self.refused += 1
            if self.first_problem is None:
                self.first_problem = f"{where}: {exc}"
            return
        self.events.append(event)
        if event.type is EventType.RECEIVED and event.agency is not None:
            self.agency_of.setdefault(event.dossier_id, event.agency)

    def in_time_order(self) -> History:
        self.events.sort(key=attrgetter("at"))
        return self

    @property
    def first_at(self) -> datetime | None:
        return self.events[0].at if self.events else None

    @property
    def last_at(self) -> datetime | None:
        return self.events[-1].at if self.events else None


Tick = Callable[[History], None]


def read_file(path: Path, tick: Tick = lambda _: None) -> History:
    """Every event of a JSON-lines file (what `iocmon simulate --events-out` and `iocmon
    import` write), in `at` order. `BacktestError` when none of its lines is an event."""
    history = History(source=str(path))
    try:
        for number, (key, value) in enumerate(read_records(path), start=1):
            history.add(key, value, f"line {number}")
            if number % 10_000 == 0:
                tick(history)
    except OSError as exc:
        raise BacktestError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not history.events:
        raise BacktestError(_no_events(str(path), history))
    return history.in_time_order()


def read_topic(
    kafka_options: dict[str, Any],
    topic: str,
    tick: Tick = lambda _: None,
    *,
    timeout_s: float = DEFAULT_TOPIC_TIMEOUT_S,
) -> History:
    """Every event of `topic` from the start of its retention to the end offsets it had when
    reading began, in `at` order. `kafka_options`: `iocmon.kafka_connection`'s
    `kafka_python_kwargs`. `HistoryUnavailable` when Kafka cannot give it, or no progress
    is made for `timeout_s`."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    quiet_kafka_logs()
    servers = kafka_options.get("bootstrap_servers") or ["localhost:9092"]
    bootstrap = ",".join(servers)
    _check_reachable(servers[0], bootstrap, timeout_s)
    history = History(source=f"topic {topic!r} at {bootstrap}")
    try:
        consumer = KafkaConsumer(
            **kafka_options,
            group_id=None,
            client_id="iocmon-backtest",
            enable_auto_commit=False,
            request_timeout_ms=int(max(timeout_s, 31.0) * 1000),
        )
    except KafkaError as exc:
        hint = explain_failure(kafka_options, min(timeout_s, 5.0))
        raise HistoryUnavailable(f"Kafka at {bootstrap}: {exc} — {hint}") from None
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise HistoryUnavailable(
                f"Kafka at {bootstrap} has no topic {topic!r}: name the events topic with "
                "--topic or IOCMON_EVENTS_TOPIC (`iocmon topics` lists them)"
            )
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = {tp: end for tp, end in consumer.end_offsets(tps).items() if end > 0}
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        _read_to(consumer, ends, history, tick, timeout_s)
    except KafkaError as exc:
        raise HistoryUnavailable(
            f"reading {topic!r} from Kafka at {bootstrap} failed: {exc} — run `iocmon doctor`"
        ) from None
    finally:
        consumer.close()
    if not history.events:
        raise HistoryUnavailable(_no_events(f"topic {topic!r}", history))
    return history.in_time_order()


def _check_reachable(first: str, bootstrap: str, timeout_s: float) -> None:
    try:
        host, port = host_port(first, 9092)
    except ValueError:
        raise BacktestError(
            f"cannot read {bootstrap!r} as host:port — set KAFKA_BOOTSTRAP_SERVERS=host:port"
        ) from None
    problem = tcp_problem(host, port, min(timeout_s, 5.0))
    if problem is not None:
        raise HistoryUnavailable(
            f"Kafka at {bootstrap}: {problem} — start it (`make up`), set "
            "KAFKA_BOOTSTRAP_SERVERS, or give the history as a file"
        )


def _read_to(
    consumer: Any, ends: dict[Any, int], history: History, tick: Tick, timeout_s: float
) -> None:
    """Poll until every partition's position reaches its end offset; give up when no record
    came for `timeout_s`."""
    todo = {tp for tp, end in ends.items() if consumer.position(tp) < end}
    last_progress = time.monotonic()
    while todo:
        batches = consumer.poll(timeout_ms=1000, max_records=5000)
        for tp, records in batches.items():
            _add_records(history, records, ends[tp], f"partition {tp.partition}")
        if batches:
            last_progress = time.monotonic()
            tick(history)
        elif time.monotonic() - last_progress > timeout_s:
            left = sorted(tp.partition for tp in todo)
            raise HistoryUnavailable(
                f"no record came from partitions {left} of {next(iter(todo)).topic!r} for "
                f"{timeout_s:g} s before their end offsets: check Kafka (`iocmon doctor`), "
                "or give the history as a file"
            )
        todo = {tp for tp in todo if consumer.position(tp) < ends[tp]}


def _add_records(history: History, records: Iterable[Any], end: int, where: str) -> None:
    for record in records:
        if record.offset < end:
            history.add(record.key, record.value, f"{where} offset {record.offset}")


def _no_events(what: str, history: History) -> str:
    if history.records == 0:
        return f"{what} holds no records: nothing to backtest"
    return (
        f"none of the {integer(history.records)} records of {what} is a contract event (first: "
        f"{history.first_problem}); give the JSON-lines events that `iocmon simulate "
        "--events-out` or `iocmon import` write, one event per line"
    )
