"""Records as they go to Kafka: valid events, repeats of them, and deliberately bad ones.

Real feeds repeat records (at-least-once delivery, replays) and send garbage now and then; the
worker must absorb repeats without counting twice and dead-letter the garbage with a reason
(CONTRACT §4). `Faults` adds both to the simulated stream, at given rates, from its own
random generator so that changing a rate never changes the planned dossiers.

Each bad record carries the reason the worker is expected to report, named as the worker's
`reason` label (`dossier_events_rejected_total{reason}`): see `INVALID_REASONS`.
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from iocmon.producers.lifecycle_plan import TERMINAL_TYPES, PlannedEvent

RecordKind = Literal["event", "duplicate", "invalid"]

INVALID_REASONS = (
    "not_json",  # a truncated record
    "not_an_object",  # JSON, but an array
    "missing_field",  # no v, event_id, type or at
    "bad_version",  # "v": 2
    "wrong_type",  # "at" as a number
    "unknown_type",  # "type": "archived"
    "timestamp_without_offset",  # "at": "2024-02-05T08:30:00"
    "at_too_old",  # "at" in 1999
    "key_mismatch",  # record key is another dossier's id
    "unknown_dossier",  # `processing` for a dossier that is never received
    "too_large",  # a valid-looking event over 64 KiB
)
OVERSIZE_BYTES = 64 * 1024 + 512
GHOST_UNIT = "000.00.00.H01"
"""A unit code no simulated agency has, so dossier ids under it are never received."""


@dataclass(frozen=True, slots=True)
class OutRecord:
    key: bytes | None
    value: bytes
    kind: RecordKind
    reason: str | None = None
    """For an invalid record: the dead-letter reason the worker should give."""
    event: PlannedEvent | None = None
    """For a valid record or a repeat: the event it carries."""

    @property
    def event_id(self) -> str | None:
        if self.event is not None:
            return self.event.event_id
        try:
            doc = json.loads(self.value)
        except ValueError:
            return None
        value = doc.get("event_id") if isinstance(doc, dict) else None
        return value if isinstance(value, str) else None


def encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_record(event: PlannedEvent, *, personal_data: bool) -> OutRecord:
    """The record for a planned event: key = dossier id, value = contract JSON."""
    value = encode(event.to_json(personal_data=personal_data))
    return OutRecord(event.dossier_id.encode("utf-8"), value, "event", event=event)


class Faults:
    """Decides, after each valid record, whether to add a repeat and/or a bad record."""

    def __init__(
        self,
        rng: random.Random,
        *,
        duplicate_rate: float,
        invalid_rate: float,
        memory: int = 1000,
    ) -> None:
        self._rng = rng
        self._duplicate_rate = duplicate_rate
        self._invalid_rate = invalid_rate
        self._recent: deque[OutRecord] = deque(maxlen=memory)
        self._open: list[str] = []
        self._open_index: dict[str, int] = {}
        self._bad = 0

    def after(self, record: OutRecord) -> list[OutRecord]:
        """Extra records to send right after `record` (a valid event just sent)."""
        self._track(record)
        extra: list[OutRecord] = []
        if self._duplicate_rate and self._rng.random() < self._duplicate_rate:
            earlier = self._rng.choice(self._recent)
            extra.append(OutRecord(earlier.key, earlier.value, "duplicate", event=earlier.event))
        if self._invalid_rate and self._rng.random() < self._invalid_rate:
            assert record.event is not None
            extra.append(self.invalid(self._rng.choice(INVALID_REASONS), record.event.at))
        return extra

    def invalid(self, reason: str, at: datetime) -> OutRecord:
        """A record the worker must dead-letter for `reason`, stamped `at` where it has one.

        It names an open dossier when there is one, so it looks like a corrupted record of
        real traffic; it is never a contract-valid event for a received dossier.
        """
        self._bad += 1
        dossier = self._some_open() or self._ghost(at)
        if reason == "unknown_dossier":
            dossier = self._ghost(at)
        event_id = f"{dossier}-x{self._bad}"
        doc: dict[str, Any] = {
            "v": 1,
            "event_id": event_id,
            "dossier_id": dossier,
            "type": "processing",
            "at": at.isoformat(timespec="seconds"),
        }
        key: bytes | None = dossier.encode("utf-8")
        if reason == "not_json":
            return self._bad_record(key, encode(doc)[:-20], reason)
        if reason == "not_an_object":
            return self._bad_record(key, encode([doc["type"], dossier, doc["at"]]), reason)
        if reason == "missing_field":
            del doc[self._rng.choice(("v", "event_id", "type", "at"))]
        elif reason == "bad_version":
            doc["v"] = 2
        elif reason == "wrong_type":
            doc["at"] = int(at.timestamp())
        elif reason == "unknown_type":
            doc["type"] = "archived"
        elif reason == "timestamp_without_offset":
            doc["at"] = at.replace(tzinfo=None).isoformat(timespec="seconds")
        elif reason == "at_too_old":
            doc["at"] = "1999-12-31T08:00:00+07:00"
        elif reason == "key_mismatch":
            other = self._some_open(besides=dossier)
            key = (other or f"{GHOST_UNIT}-000000-0000").encode("utf-8")
        elif reason == "too_large":
            doc["note"] = "." * OVERSIZE_BYTES
        elif reason != "unknown_dossier":
            raise ValueError(f"unknown invalid-record reason {reason!r}")
        return self._bad_record(key, encode(doc), reason)

    def _bad_record(self, key: bytes | None, value: bytes, reason: str) -> OutRecord:
        return OutRecord(key, value, "invalid", reason=reason)

    def _track(self, record: OutRecord) -> None:
        event = record.event
        if event is None:
            return
        self._recent.append(record)
        if event.type == "received" and event.dossier_id not in self._open_index:
            self._open_index[event.dossier_id] = len(self._open)
            self._open.append(event.dossier_id)
        elif event.type in TERMINAL_TYPES and event.dossier_id in self._open_index:
            index = self._open_index.pop(event.dossier_id)
            last = self._open.pop()
            if last != event.dossier_id:
                self._open[index] = last
                self._open_index[last] = index

    def _some_open(self, besides: str | None = None) -> str | None:
        candidates = len(self._open) - (1 if besides in self._open_index else 0)
        if candidates <= 0:
            return None
        while True:
            pick = self._rng.choice(self._open)
            if pick != besides:
                return pick

    def _ghost(self, at: datetime) -> str:
        return f"{GHOST_UNIT}-{at:%y%m%d}-{self._bad:04d}"
