"""The dossier event of CONTRACT §1, and the one place raw Kafka records become events.

Validation is strict and total: `parse_record` either returns an `Event` or raises
`RecordRejected` with a bounded reason code (a Prometheus label) and a detail text that names
fields and rules but never echoes a value, because values may carry applicant data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Literal

import orjson

from iocmon.errors import IocmonError

CONTRACT_VERSION = 1
MAX_RECORD_BYTES = 64 * 1024
MAX_ID_CHARS = 64
_LOCAL = timezone(timedelta(hours=7))
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
# An appointment outside these is a typo, and near year 1 or 9999 the calendar arithmetic
# overflows; rejecting it here keeps one bad record from stopping a partition.
EARLIEST_DUE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DUE = datetime(2100, 1, 1, tzinfo=UTC)


class EventType(StrEnum):
    SUBMITTED = "submitted"
    REJECTED_AT_INTAKE = "rejected_at_intake"
    RECEIVED = "received"
    PROCESSING = "processing"
    TRANSFERRED = "transferred"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    FEE_REQUESTED = "fee_requested"
    RESUMED = "resumed"
    RESCHEDULED = "rescheduled"
    RESOLVED = "resolved"
    STOPPED = "stopped"
    WITHDRAWN = "withdrawn"
    RESULT_RETURNED = "result_returned"


_EVENT_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
"""By wire name: a dict lookup, where `EventType(name)` runs Python code on every record."""

Channel = Literal["counter", "online", "postal"]
Level = Literal["full", "partial", "none"]
CHANNELS: frozenset[str] = frozenset({"counter", "online", "postal"})
LEVELS: frozenset[str] = frozenset({"full", "partial", "none"})


class RejectReason(StrEnum):
    """Why a record went to the dead-letter topic; each value is a `reason` label."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    BAD_VERSION = "bad_version"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_TYPE = "unknown_type"
    BAD_TIMESTAMP = "bad_timestamp"
    TIMESTAMP_WITHOUT_OFFSET = "timestamp_without_offset"
    AT_TOO_OLD = "at_too_old"
    AT_IN_FUTURE = "at_in_future"
    KEY_MISMATCH = "key_mismatch"
    UNKNOWN_DOSSIER = "unknown_dossier"
    BEYOND_HORIZON = "beyond_horizon"
    TOO_MANY_EVENTS = "too_many_events"
    BEFORE_RECEIPT = "before_receipt"
    """CONTRACT 1.1 §4: dated before its dossier's `received`."""
    UNREADABLE_STATE = "unreadable_state"
    """The dossier's stored state does not decode (e.g. written by an unknown version): its
    records are set aside until it is repaired, and the partition goes on."""
    JUDGING_FAILED = "judging_failed"
    """Judging the event raised an unexpected error (a defect): the event is set aside with
    the error's type, and the partition goes on."""


class RecordRejected(IocmonError):
    """A record that cannot be applied; it belongs in the dead-letter topic."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event. Only contract fields survive; extra fields are dropped here."""

    event_id: str
    dossier_id: str
    type: EventType
    at: datetime
    agency: str | None = None
    procedure: str | None = None
    channel: Channel | None = None
    level: Level | None = None
    due_at: datetime | None = None
    processing_days: int | None = None
    handler: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The contract's wire form of this event (used by producers and tests)."""
        out: dict[str, Any] = {
            "v": CONTRACT_VERSION,
            "event_id": self.event_id,
            "dossier_id": self.dossier_id,
            "type": self.type.value,
            "at": self.at.isoformat(),
        }
        for name in ("agency", "procedure", "channel", "level", "processing_days", "handler"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.due_at is not None:
            out["due_at"] = self.due_at.isoformat()
        return out


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_timestamp(field: str, raw: object) -> datetime:
    """Parse an RFC 3339 timestamp that must carry its UTC offset."""
    if not isinstance(raw, str):
        raise RecordRejected(RejectReason.WRONG_TYPE, f"field '{field}' must be an RFC 3339 string")
    match = _RFC3339.match(raw)
    if match is None:
        raise RecordRejected(
            RejectReason.BAD_TIMESTAMP,
            f"field '{field}' is not an RFC 3339 timestamp like 2024-02-05T08:30:00+07:00",
        )
    if match.group("offset") is None:
        raise RecordRejected(
            RejectReason.TIMESTAMP_WITHOUT_OFFSET,
            f"field '{field}' has no UTC offset; add one, e.g. +07:00",
        )
    text = raw.replace("t", "T").replace("z", "Z")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest)
        assert digits is not None
        fraction = digits.group(0)
        text = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction) :]}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RecordRejected(
            RejectReason.BAD_TIMESTAMP, f"field '{field}' is not a valid calendar date and time"
        ) from None
    # Judging is in local time (CONTRACT §3), and alert ids and stored states spell instants
    # in it: one spelling per instant, whatever offset the source wrote.
    if value.utcoffset() == _LOCAL.utcoffset(None):
        return value
    try:
        return value.astimezone(_LOCAL)
    except OverflowError:  # year 1 or 9999: left to the range checks that follow
        return value


def parse_record(key: bytes | None, value: bytes | None, now: datetime) -> Event:
    """Validate one Kafka record against CONTRACT §1 and §4 (the checks that need no state)."""
    if value is None:
        raise RecordRejected(RejectReason.NOT_JSON, "record has no value")
    if len(value) > MAX_RECORD_BYTES:
        raise RecordRejected(
            RejectReason.TOO_LARGE, f"record is {len(value)} bytes; the limit is {MAX_RECORD_BYTES}"
        )
    doc = _loads(value)
    if not isinstance(doc, dict):
        raise RecordRejected(RejectReason.NOT_AN_OBJECT, "value must be a JSON object")

    version = doc.get("v")
    if version is None:
        raise RecordRejected(RejectReason.MISSING_FIELD, "field 'v' is required")
    if type(version) is not int or version != CONTRACT_VERSION:
        raise RecordRejected(
            RejectReason.BAD_VERSION, f"field 'v' must be the integer {CONTRACT_VERSION}"
        )

    event_id = _required_id(doc, "event_id")
    dossier_id = _required_id(doc, "dossier_id")
    type_raw = doc.get("type")
    if type_raw is None:
        raise RecordRejected(RejectReason.MISSING_FIELD, "field 'type' is required")
    if not isinstance(type_raw, str):
        raise RecordRejected(RejectReason.WRONG_TYPE, "field 'type' must be a string")
    event_type = _EVENT_TYPES.get(type_raw)
    if event_type is None:
        raise RecordRejected(
            RejectReason.UNKNOWN_TYPE,
            "field 'type' is not one of: " + ", ".join(t.value for t in EventType),
        )
    if "at" not in doc:
        raise RecordRejected(RejectReason.MISSING_FIELD, "field 'at' is required")
    at = parse_timestamp("at", doc["at"])
    if at < EARLIEST_AT:
        raise RecordRejected(RejectReason.AT_TOO_OLD, "field 'at' is before 2000-01-01")
    if at > now + MAX_FUTURE:
        raise RecordRejected(
            RejectReason.AT_IN_FUTURE, "field 'at' is more than one day ahead of the worker's clock"
        )

    key_text = _decode_key(key)
    if key_text != dossier_id:
        raise RecordRejected(
            RejectReason.KEY_MISMATCH, "record key must equal field 'dossier_id' (UTF-8)"
        )

    fields: dict[str, Any] = {}
    if event_type is EventType.RECEIVED:
        fields["agency"] = _required_id(doc, "agency")
        fields["procedure"] = _required_id(doc, "procedure")
        fields["channel"] = _required_choice(doc, "channel", CHANNELS)
        fields["level"] = _required_choice(doc, "level", LEVELS)
        if doc.get("due_at") is not None:
            fields["due_at"] = _due_at(doc["due_at"])
        elif doc.get("processing_days") is not None:
            fields["processing_days"] = _processing_days(doc["processing_days"])
        else:
            raise RecordRejected(
                RejectReason.MISSING_FIELD, "a 'received' event needs 'due_at' or 'processing_days'"
            )
    elif event_type is EventType.RESCHEDULED:
        if doc.get("due_at") is None:
            raise RecordRejected(
                RejectReason.MISSING_FIELD, "a 'rescheduled' event needs field 'due_at'"
            )
        fields["due_at"] = _due_at(doc["due_at"])
    elif event_type is EventType.TRANSFERRED:
        fields["handler"] = _required_id(doc, "handler")

    return Event(event_id=event_id, dossier_id=dossier_id, type=event_type, at=at, **fields)


def _due_at(raw: object) -> datetime:
    due_at = parse_timestamp("due_at", raw)
    if not EARLIEST_DUE <= due_at < LATEST_DUE:
        raise RecordRejected(
            RejectReason.INVALID_VALUE, "field 'due_at' must be between 2000-01-01 and 2099-12-31"
        )
    return due_at


def _loads(value: bytes) -> Any:
    """orjson for speed, `json` for what orjson reads differently, so that what is accepted
    and every reject reason stay as they were: orjson refuses NaN and lone surrogates (json
    takes them) and reads integers beyond 64 bits as floats (json as integers; contract
    fields are never floats, so a top-level float sends the record through json again)."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    else:
        if not isinstance(doc, dict) or float not in map(type, doc.values()):
            return doc
    try:
        return json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RecordRejected(RejectReason.NOT_JSON, "value is not UTF-8 JSON") from None


def _decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _required_id(doc: dict[str, Any], name: str) -> str:
    raw = doc.get(name)
    if raw is None:
        raise RecordRejected(RejectReason.MISSING_FIELD, f"field '{name}' is required")
    if not isinstance(raw, str):
        raise RecordRejected(RejectReason.WRONG_TYPE, f"field '{name}' must be a string")
    if not 1 <= len(raw) <= MAX_ID_CHARS or raw.strip() != raw or not raw.isprintable():
        raise RecordRejected(
            RejectReason.INVALID_VALUE,
            f"field '{name}' must be 1-{MAX_ID_CHARS} printable characters without "
            "surrounding spaces",
        )
    return raw


def _required_choice(doc: dict[str, Any], name: str, choices: frozenset[str]) -> Any:
    raw = doc.get(name)
    if raw is None:
        raise RecordRejected(RejectReason.MISSING_FIELD, f"field '{name}' is required")
    if not isinstance(raw, str):
        raise RecordRejected(RejectReason.WRONG_TYPE, f"field '{name}' must be a string")
    if raw not in choices:
        raise RecordRejected(
            RejectReason.INVALID_VALUE,
            f"field '{name}' must be one of: {', '.join(sorted(choices))}",
        )
    return raw


def _processing_days(raw: object) -> int:
    if type(raw) is not int:
        raise RecordRejected(RejectReason.WRONG_TYPE, "field 'processing_days' must be an integer")
    if not 1 <= raw <= 365:
        raise RecordRejected(
            RejectReason.INVALID_VALUE, "field 'processing_days' must be between 1 and 365"
        )
    return raw
