"""A seeded generator of hostile `dossier-events` records, none of which may be applied.

Kinds: random bytes, deep JSON, huge strings, wrong types in every field, unicode tricks
(lone surrogates, BOM, NFD/NFC, bidi controls, full-width digits, overlong UTF-8), timestamps
far in the past and future (and offsets out of range), record keys that differ from
`dossier_id`, and near-valid events for dossiers never received. Every record is checked with
the pure core before it is returned: anything it would apply is dropped, so the valid
stream's figures stay those of its ground truth, and the expected dead-letter reason of each
record is known in advance.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from iocmon.domain.batch import DeadLetter, Record, decode_batch, dossier_ids, plan_batch
from iocmon.domain.calendar import load_calendar

KINDS = (
    "random_bytes",
    "deep_json",
    "huge_string",
    "wrong_type",
    "unicode",
    "timestamp",
    "key_mismatch",
    "unknown_dossier",
    "mutation",
)
DESIGNED_REASONS: dict[str, frozenset[str]] = {
    kind: frozenset(reasons.split())
    for kind, reasons in {
        "random_bytes": "not_json",
        "deep_json": "not_json not_an_object too_large",
        "huge_string": "invalid_value too_large",  # ids over 64 characters; over 64 KiB
        "wrong_type": "wrong_type missing_field bad_version unknown_type invalid_value "
        "not_an_object bad_timestamp",
        "unicode": "not_json key_mismatch unknown_type invalid_value",
        "timestamp": "bad_timestamp timestamp_without_offset at_too_old at_in_future invalid_value",
        "key_mismatch": "key_mismatch",
        "unknown_dossier": "unknown_dossier",
        "mutation": "not_json",
    }.items()
}
"""The reasons each kind is made to provoke, written from the contract, not from the pure
core: a run of a few thousand records gives every one of them (`test_hostile` checks it).
Records the core would apply are replaced by others, so a check missing from the core would
otherwise only make the generator quietly skip what it misses."""
FIELDS = ("v", "event_id", "dossier_id", "type", "at", "agency", "procedure", "channel",
          "level", "due_at", "processing_days", "handler")  # fmt: skip
TYPES = ("submitted", "received", "processing", "transferred", "supplement_requested",
         "fee_requested", "resumed", "rescheduled", "resolved", "stopped", "withdrawn",
         "result_returned", "rejected_at_intake")  # fmt: skip
WEIRD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2**63, 10**30, 1.0, 1.5, -0.0, float("inf"), "", " ", "1",
    "null", [], [1], {}, {"a": 1}, "\u0000", "\ud800", "\ufeff", "\u202e", "x" * 65,
)  # fmt: skip
TIMESTAMPS = (
    "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59+07:00", "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-23:59",
    "2200-01-01T00:00:00+07:00", "3000-06-15T12:00:00+07:00", "2024-02-30T08:00:00+07:00",
    "2024-13-01T08:00:00+07:00", "2024-02-05T25:00:00+07:00", "2024-02-05T08:00:60+07:00",
    "2024-02-05T08:00:00+99:99", "2024-02-05T08:00:00", "2024-02-05", "1707100000",
    "２０２４-02-05T08:00:00+07:00", "2024-02-05T08:00:00.1234567890123+07:00",
    "2024-02-05T08:00:00+07:00\n", " 2024-02-05T08:00:00+07:00",
)  # fmt: skip

LOCAL = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class Hostile:
    kind: str
    key: bytes | None
    value: bytes
    reason: str
    """The dead-letter reason the pure core gives it, alone, for a dossier never seen."""


def hostile_records(n: int, seed: int, now: datetime) -> Iterator[Hostile]:
    """`n` records that the worker must dead-letter, deterministic for a seed."""
    rng = random.Random(seed)
    calendar = load_calendar(None)
    made = 0
    tries = 0
    while made < n:
        tries += 1
        if tries > 20 * n + 1000:
            raise AssertionError("the generator keeps making valid records; fix a kind")
        kind = KINDS[made % len(KINDS)]
        key, value = _MAKERS[kind](rng)
        decoded = decode_batch([Record(0, key, value)], now)
        if not all(d.startswith("FZ-") for d in dossier_ids(decoded)):
            continue
        plan = plan_batch(decoded, dict.fromkeys(dossier_ids(decoded)), calendar)
        dead: list[DeadLetter] = plan.dead_letters
        if not dead:  # the pure core would apply it: not hostile enough, make another
            continue
        made += 1
        yield Hostile(kind, key, value, dead[0].reason)


def _recent(hours: int) -> str:
    """Hours before now: an event older than the retention horizon before the valid stream's
    (dated now) would be `beyond_horizon`, whatever it names."""
    return (datetime.now(LOCAL) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


def _template(rng: random.Random) -> dict[str, Any]:
    dossier = f"FZ-{rng.randrange(10**15)}"
    return {
        "v": 1,
        "event_id": f"{dossier}-{rng.randrange(10**6)}",
        "dossier_id": dossier,
        "type": rng.choice(TYPES),
        "at": _recent(hours=2),
        "agency": "FZ.AG",
        "procedure": "1.0001",
        "channel": "online",
        "level": "full",
        "due_at": _recent(hours=-24 * 15),
        "processing_days": 10,
        "handler": "FZ.H",
    }


def _keyed(doc: dict[str, Any]) -> tuple[bytes | None, bytes]:
    raw = doc.get("dossier_id")
    key = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else None
    return key, json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _random_bytes(rng: random.Random) -> tuple[bytes | None, bytes]:
    size = rng.choice((0, 1, 2, 17, 300, 1500))
    return rng.randbytes(rng.randrange(1, 40)), rng.randbytes(size)


def _deep_json(rng: random.Random) -> tuple[bytes | None, bytes]:
    depth = rng.choice((100, 1_000, 3_000)) if rng.random() < 0.9 else 32_000
    if rng.random() < 0.5:
        return b"D", b"[" * depth + b"]" * depth
    doc = _template(rng)
    inner = '{"a":' * depth + "1" + "}" * depth
    text = json.dumps(doc)[:-1] + ', "extra": ' + inner + "}"
    return doc["dossier_id"].encode(), text.encode()


def _huge_string(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    field = rng.choice(("event_id", "dossier_id", "agency", "procedure", "handler", "note"))
    doc[field] = rng.choice("xế😀") * rng.choice((65, 300, 1_000))
    if field == "note" or rng.random() < 0.05:  # over the 64 KiB limit
        doc["type"] = "received"
        doc[field] = rng.choice("xế😀") * 17_000
    return _keyed(doc)


def _wrong_type(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    for field in rng.sample(FIELDS, rng.randint(1, 3)):
        doc[field] = rng.choice(WEIRD_VALUES)
    if rng.random() < 0.2:
        return b"FZ", json.dumps(rng.choice(WEIRD_VALUES)).encode()
    key, value = _keyed(doc)
    return key, value.replace(b"Infinity", rng.choice((b"Infinity", b"NaN", b"-Infinity")))


def _unicode(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    trick = rng.randrange(7)
    if trick == 0:  # a lone surrogate, escaped as JSON allows
        text = json.dumps(doc).replace('"type": "', '"type": "\\ud800', 1)
        return doc["dossier_id"].encode(), text.encode()
    if trick == 1:  # byte order mark before the JSON
        return _keyed(doc)[0], b"\xef\xbb\xbf" + _keyed(doc)[1]
    if trick == 2:  # key NFC, dossier id NFD
        doc["dossier_id"] = "FZ-Tuye\u0302\u0301t"
        return "FZ-Tuyết".encode(), _keyed(doc)[1]
    if trick == 3:  # bidi override and zero-width characters in ids
        doc[rng.choice(("event_id", "agency", "procedure", "dossier_id"))] += "\u202e\u200b"
        return _keyed(doc)
    if trick == 4:  # overlong UTF-8 for '"' and invalid continuation bytes
        key, value = _keyed(doc)
        return key, value.replace(b'"v"', b"\xc0\xa2v\xc0\xa2", 1) + b"\x80"
    if trick == 5:  # UTF-16 encoded JSON
        return _keyed(doc)[0], json.dumps(doc).encode("utf-16")
    doc["type"] = "ｒｅｃｅｉｖｅｄ"  # full-width letters
    return _keyed(doc)


def _timestamp(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    doc["type"] = rng.choice(("received", "rescheduled"))
    doc[rng.choice(("at", "due_at"))] = rng.choice(TIMESTAMPS)
    return _keyed(doc)


def _key_mismatch(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    doc["type"] = "received"
    dossier = doc["dossier_id"]
    key = rng.choice(
        (None, b"", dossier.encode() + b" ", dossier.lower().encode(), b"\xff\xfe",
         f"FZ-{rng.randrange(10**9)}".encode(), dossier.encode() + b"\x00")
    )  # fmt: skip
    return key, _keyed(doc)[1]


def _unknown_dossier(rng: random.Random) -> tuple[bytes | None, bytes]:
    doc = _template(rng)
    doc["type"] = rng.choice([t for t in TYPES if t != "received"])
    doc["at"] = _recent(hours=rng.randrange(24))
    return _keyed(doc)


def _mutation(rng: random.Random) -> tuple[bytes | None, bytes]:
    """Random byte flips, cuts and splices of a valid received event."""
    doc = _template(rng)
    doc["type"] = "received"
    key, value = _keyed(doc)
    data = bytearray(value)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(3)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1:
            del data[i : i + rng.randint(1, 10)]
        else:
            data[i:i] = rng.choice((b"{", b"}", b'"', b",", b"\\", b"[", b"\x00", b"9e999"))
    return key, bytes(data)


_MAKERS: dict[str, Callable[[random.Random], tuple[bytes | None, bytes]]] = {
    "random_bytes": _random_bytes,
    "deep_json": _deep_json,
    "huge_string": _huge_string,
    "wrong_type": _wrong_type,
    "unicode": _unicode,
    "timestamp": _timestamp,
    "key_mismatch": _key_mismatch,
    "unknown_dossier": _unknown_dossier,
    "mutation": _mutation,
}
