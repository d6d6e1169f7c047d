"""Converting a stream of export records into event records, counting what happened.

`convert_records` is the whole import minus files and Kafka: it takes records, hands each
event's (key, value) to `emit` and each rejected record to `reject`, and returns a report.
Every event value is checked with the worker's own validator (`parse_record`) before it is
emitted, so an import never feeds the dead-letter topic.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iocmon.domain.events import Event, RecordRejected, parse_record
from iocmon.producers.importer.errors import RowRejected
from iocmon.producers.importer.mapping import dossier_events
from iocmon.producers.importer.readers import SourceRecord

Emit = Callable[[bytes, bytes], None]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not converted: where it is and why, never what it contains."""

    row: int
    field: str
    reason: str
    dossier_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "field": self.field, "reason": self.reason}
        if self.dossier_id is not None:
            out["dossier_id"] = self.dossier_id
        return out

    def describe(self) -> str:
        return f"row {self.row}: {self.field} {self.reason}"


Reject = Callable[[Rejection], None]


@dataclass(slots=True)
class ImportReport:
    records: int = 0
    converted: int = 0
    events: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    """Rejections by "field: reason", for the closing summary."""

    @property
    def events_total(self) -> int:
        return sum(self.events.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "converted": self.converted,
            "rejected": self.rejected,
            "events": self.events_total,
            "events_by_type": dict(sorted(self.events.items())),
            "rejections": dict(self.rejections.most_common()),
        }


def event_value(event: Event) -> bytes:
    """The event as it goes to Kafka and to JSON Lines: compact UTF-8 JSON."""
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def convert_record(record: SourceRecord, now: datetime) -> list[tuple[Event, bytes, bytes]]:
    """(event, key, value) of every event of one record; raises `RowRejected`."""
    if record.data is None:
        raise RowRejected("(record)", record.problem or "cannot be read")
    events = dossier_events(record.data, now)
    out = []
    for event in events:
        key, value = event.dossier_id.encode(), event_value(event)
        try:
            parse_record(key, value, now)
        except RecordRejected as exc:  # a mapping bug: refuse rather than feed the DLQ
            raise RowRejected(
                "(event)", f"would be dead-lettered by the worker ({exc.reason.value})"
            ) from None
        out.append((event, key, value))
    return out


def convert_records(
    records: Iterable[SourceRecord],
    now: datetime,
    emit: Emit,
    reject: Reject,
    on_record: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    for record in records:
        report.records += 1
        try:
            encoded = convert_record(record, now)
        except RowRejected as exc:
            report.rejected += 1
            report.rejections[f"{exc.field}: {exc.reason}"] += 1
            reject(Rejection(record.row, exc.field, exc.reason, exc.dossier_id))
        else:
            report.converted += 1
            for event, key, value in encoded:
                emit(key, value)
                report.events[event.type.value] += 1
        if on_record is not None:
            on_record(report)
    return report
