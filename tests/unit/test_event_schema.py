"""The published JSON Schema of the CONTRACT §1 event (docs/schema/dossier-event.schema.json)
against the worker's validation (`iocmon.domain.events.parse_record`): a record's value is
valid by the schema iff the worker accepts the record, on every record of the hostile-input
generator (tests/faults/hostile.py) and on simulated traffic (valid events and the
simulator's bad records), but where a difference is one the schema cannot express. Those are
listed in `DIFFERENCES`, each with why, and each is shown real by an example record.

The schema side reads the value as RFC 8259 JSON in UTF-8 (`json_document`), as any consumer
of the topic would, and validates it with `jsonschema` (Draft 2020-12, no format assertion:
the patterns say everything).
"""

from __future__ import annotations

import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import (
    CHANNELS,
    EARLIEST_AT,
    EARLIEST_DUE,
    LATEST_DUE,
    LEVELS,
    MAX_FUTURE,
    MAX_ID_CHARS,
    MAX_RECORD_BYTES,
    EventType,
    RecordRejected,
    parse_record,
    parse_timestamp,
)
from iocmon.producers.arrivals import plan_dossiers
from iocmon.producers.profile import default_profile
from iocmon.producers.records import INVALID_REASONS, Faults, event_record
from iocmon.producers.timeline import merge_by_time
from tests.faults.hostile import KINDS, TIMESTAMPS, WEIRD_VALUES, hostile_records

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "docs" / "schema" / "dossier-event.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
ORJSON_DEPTH = 1024
ID_FIELDS = ("event_id", "dossier_id", "agency", "procedure", "handler")


class NotJson(ValueError):
    pass


def json_document(value: bytes) -> Any:
    """The value as RFC 8259 JSON text in UTF-8: no byte order mark, no NaN or Infinity,
    nested up to orjson's limit (1024; RFC 8259 leaves the limit to the reader). Python's
    `json` reads what orjson refuses but JSON allows (unpaired surrogate escapes)."""

    def refuse(constant: str) -> Any:
        raise NotJson(f"{constant} is not JSON")

    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(value.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotJson("not UTF-8 JSON") from None


def valid_by_schema(value: bytes) -> bool:
    try:
        doc = json_document(value)
    except NotJson:
        return False
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2 * ORJSON_DEPTH)  # jsonschema's messages repr the document
    try:
        return VALIDATOR.is_valid(doc)
    finally:
        sys.setrecursionlimit(limit)


def valid_by_worker(key: bytes | None, value: bytes, now: datetime) -> bool:
    try:
        parse_record(key, value, now)
    except RecordRejected:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# what the schema cannot express


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    now: datetime

    @property
    def doc(self) -> dict[str, Any]:
        """The value as a JSON object; {} when it is none."""
        try:
            doc = json_document(self.value)
        except NotJson:
            return {}
        return doc if isinstance(doc, dict) else {}


def _python_json_only(r: Record) -> bool:
    try:
        json.loads(r.value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    try:
        json_document(r.value)
    except NotJson:
        return True
    return False


def _key_differs(r: Record) -> bool:
    try:
        key = None if r.key is None else r.key.decode("utf-8")
    except UnicodeDecodeError:
        key = None
    return "dossier_id" in r.doc and key != r.doc["dossier_id"]


def _too_large(r: Record) -> bool:
    return len(r.value) > MAX_RECORD_BYTES


def _instant(r: Record, field: str) -> datetime | None:
    try:
        return parse_timestamp(field, r.doc.get(field))  # compared as instants, never moved
    except RecordRejected:
        return None


def _at_ahead_of_now(r: Record) -> bool:
    at = _instant(r, "at")
    return at is not None and at > r.now + MAX_FUTURE


def _near_a_bound(r: Record) -> bool:
    day = timedelta(days=1)
    bounds = {"at": (EARLIEST_AT,), "due_at": (EARLIEST_DUE, LATEST_DUE)}
    return any(
        (at := _instant(r, field)) is not None and any(abs(at - b) <= day for b in near)
        for field, near in bounds.items()
    )


def _unassigned_in_an_id(r: Record) -> bool:
    return any(
        isinstance(r.doc.get(f), str) and any(unicodedata.category(c) == "Cn" for c in r.doc[f])
        for f in ID_FIELDS
    )


def _integral_float(r: Record) -> bool:
    return any(
        isinstance(r.doc.get(f), float) and r.doc[f].is_integer() for f in ("v", "processing_days")
    )


@dataclass(frozen=True)
class Difference:
    name: str
    why: str
    applies: Callable[[Record], bool]
    example: Record
    """A record on which the two differ."""
    schema_says: bool | None = True
    """The schema's verdict where they differ (None: either way)."""


def _event(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "event_id": "E-1", "dossier_id": "D-1", "type": "received",
            "at": "2024-03-04T08:00:00+07:00", "agency": "LX", "procedure": "1.001",
            "channel": "online", "level": "full", "processing_days": 5, **fields}  # fmt: skip


def _record(key: bytes | None = b"D-1", **fields: Any) -> Record:
    return Record(key, json.dumps(_event(**fields)).encode(), NOW)


NOW = datetime(2024, 3, 20, 12, 0, tzinfo=LOCAL_TZ)
DIFFERENCES = (
    Difference(
        "key_mismatch",
        "the record key must equal dossier_id; the key is not part of the value",
        _key_differs,
        _record(key=b"D-2"),
    ),
    Difference(
        "too_large",
        "a record is at most 64 KiB; a schema bounds strings and arrays, not the encoded bytes",
        _too_large,
        _record(note="x" * MAX_RECORD_BYTES),
    ),
    Difference(
        "at_ahead_of_now",
        "'at' at most one day ahead of the worker's clock: a schema has no clock",
        _at_ahead_of_now,
        _record(at="2030-01-01T00:00:00+07:00"),
    ),
    Difference(
        "instant_near_a_bound",
        "'at' from 2000-01-01 and 'due_at' before 2100-01-01 are instants (UTC) to the worker; "
        "a pattern sees the local date, so within a day of a bound the offset decides",
        _near_a_bound,
        _record(at="2000-01-01T05:00:00+07:00"),  # 1999-12-31 22:00 UTC
        schema_says=None,
    ),
    Difference(
        "unassigned_code_point",
        "ids must be printable; which code points are assigned depends on the Unicode "
        "version of the Python running the worker, and listing the unassigned ones would "
        "take hundreds of ranges",
        _unassigned_in_an_id,
        _record(agency="LX\U000e0080"),  # unassigned in Unicode 14 (Python 3.11)
    ),
    Difference(
        "integral_float",
        "JSON Schema's integer is mathematical (1.0 is one); the worker wants a JSON integer",
        _integral_float,
        _record(v=1.0),
    ),
    Difference(
        "python_json_only",
        "the worker reads JSON as Python does, which also takes NaN, Infinity and -Infinity; "
        "in a contract field they are refused anyway (wrong type), in a field it ignores they "
        "pass. Such a value is not JSON (RFC 8259), so no schema can speak of it. Kept so "
        "that a rebuild accepts what the live stream accepted (events._loads)",
        _python_json_only,
        _record(note=float("nan")),
        schema_says=False,
    ),
)


def explained(record: Record, by_schema: bool) -> str | None:
    for d in DIFFERENCES:
        if d.schema_says in (None, by_schema) and d.applies(record):
            return d.name
    return None


def disagreements(records: Iterator[Record]) -> tuple[Counter[str], list[str]]:
    """How records were judged (`agree_valid`, `agree_invalid`, or a listed difference) and
    the records on which schema and worker disagree for no listed reason."""
    tally: Counter[str] = Counter()
    unexplained = []
    for r in records:
        by_schema, by_worker = valid_by_schema(r.value), valid_by_worker(r.key, r.value, r.now)
        if by_schema == by_worker:
            tally["agree_valid" if by_worker else "agree_invalid"] += 1
        elif (name := explained(r, by_schema)) is not None:
            tally[name] += 1
        else:
            unexplained.append(
                f"schema {by_schema}, worker {by_worker}: key {r.key!r} value {r.value[:300]!r}"
            )
    return tally, unexplained


# ---------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("difference", DIFFERENCES, ids=lambda d: d.name)
def test_each_listed_difference_is_real(difference: Difference) -> None:
    r = difference.example
    assert difference.applies(r)
    by_schema = valid_by_schema(r.value)
    assert by_schema != valid_by_worker(r.key, r.value, r.now)
    assert difference.schema_says in (None, by_schema)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_schema_and_worker_agree_on_the_hostile_generators_records(seed: int) -> None:
    now = datetime.now(UTC)
    made = list(hostile_records(900, seed, now))
    assert {h.kind for h in made} == set(KINDS)
    tally, unexplained = disagreements(Record(h.key, h.value, now) for h in made)
    assert unexplained == [], "\n".join(unexplained[:10])
    # both verdicts occur: near-valid events of dossiers never received pass the parser
    assert tally["agree_valid"] > 50 and tally["agree_invalid"] > 300, tally


def test_schema_and_worker_agree_on_simulated_traffic() -> None:
    profile = default_profile(load_catalogue(None), dossiers_per_day=300)
    planned = plan_dossiers(profile, random.Random(7), NOW - timedelta(days=10), NOW,
                            load_calendar(None))  # fmt: skip
    valid = [  # sent once their time has come, as the simulator does
        event_record(e, personal_data=True) for e, _ in merge_by_time(planned) if e.at <= NOW
    ]
    assert len(valid) > 4000
    for out in valid:
        assert valid_by_schema(out.value), out.value
        assert valid_by_worker(out.key, out.value, NOW), out.value
    faults = Faults(random.Random(8), duplicate_rate=0, invalid_rate=1)
    for out in valid[:200]:
        faults.after(out)  # so that bad records name open dossiers, as in a simulation
    bad = [faults.invalid(reason, NOW) for reason in INVALID_REASONS for _ in range(20)]
    tally, unexplained = disagreements(Record(b.key, b.value, NOW) for b in bad)
    assert unexplained == [], "\n".join(unexplained[:10])
    assert tally["agree_invalid"] >= 20 * (len(INVALID_REASONS) - 3), tally


BASES = (
    _event(),
    _event(processing_days=None, due_at="2024-03-08T17:00:00+07:00"),
    {**_event(type="rescheduled", due_at="2024-03-15T17:00:00+07:00")},
    {**_event(type="transferred", handler="LX-P1")},
    {"v": 1, "event_id": "E-2", "dossier_id": "D-1", "type": "resolved",
     "at": "2024-03-06T10:00:00Z"},
)  # fmt: skip


def test_schema_and_worker_agree_on_each_field_removed_or_changed() -> None:
    """Every field of valid events of each shape, removed or given each of the hostile
    generator's odd values and timestamps: the structure the generator leaves whole."""

    def variants() -> Iterator[Record]:
        for base in BASES:
            doc = {k: v for k, v in base.items() if v is not None}
            yield Record(b"D-1", json.dumps(doc).encode(), NOW)
            for field in [*doc, "due_at", "processing_days", "handler"]:
                yield Record(
                    b"D-1", json.dumps({k: v for k, v in doc.items() if k != field}).encode(), NOW
                )
                for odd in (*WEIRD_VALUES, *TIMESTAMPS, 5, 365, 366, "2024-03-08T17:00:00+07:00"):
                    changed = json.dumps({**doc, field: odd}, ensure_ascii=False)
                    yield Record(b"D-1", changed.encode("utf-8", "surrogatepass"), NOW)

    tally, unexplained = disagreements(variants())
    assert unexplained == [], "\n".join(unexplained[:10])
    assert tally["agree_valid"] > 100 and tally["agree_invalid"] > 300, tally


def test_the_schema_names_the_codes_values() -> None:
    """Enumerations and lengths as the worker's constants say (the agreement tests would
    catch most drift; this says where)."""
    assert SCHEMA["properties"]["type"]["enum"] == [t.value for t in EventType]
    received = SCHEMA["allOf"][0]["then"]["properties"]
    assert set(received["channel"]["enum"]) == CHANNELS
    assert set(received["level"]["enum"]) == LEVELS
    assert SCHEMA["$defs"]["id"]["maxLength"] == MAX_ID_CHARS
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_ids_printable_characters_are_pythons() -> None:
    """Every assigned code point is refused by the id pattern iff str.isprintable refuses
    it (a newer Python's Unicode adds characters: regenerate the class then)."""
    refused = re.compile(SCHEMA["$defs"]["id"]["not"]["pattern"])
    differ = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(c := chr(cp)) != "Cn"
        and bool(refused.search(f"x{c}x")) == c.isprintable()
    ]
    assert differ == []
