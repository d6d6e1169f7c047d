"""Reading fields of the national portal's dossier sync format, value by value.

Exports differ in the small things: a status may be `9` or `"9"`, an absent date may be missing,
`null` or `""`, a CSV cell may carry spaces, a list may be a JSON array or (in CSV) the JSON text
of one. These helpers absorb that, so `mapping` can read like the mapping table. They raise
`RowRejected` naming the field, never quoting its value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.events import MAX_ID_CHARS
from iocmon.producers.importer.errors import RowRejected

Record = Mapping[str, Any]

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?$")
DATE_FORMATS = "yyyyMMddHHmmss (or yyyyMMdd), local time in Asia/Ho_Chi_Minh"


def raw_text(record: Record, name: str) -> str | None:
    """The field as stripped text, or None when it is absent, null or blank."""
    raw = record.get(name)
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    return text or None


def first_present(record: Record, *names: str) -> tuple[str, str] | None:
    """(field name, text) of the first of `names` that has a value."""
    for name in names:
        text = raw_text(record, name)
        if text is not None:
            return name, text
    return None


def code(record: Record, *names: str, path: str = "") -> tuple[str, str]:
    """A required code (MaHoSo, MaTTHC, MaDonVi...): 1-64 printable characters."""
    found = first_present(record, *names)
    if found is None:
        raise RowRejected(path + " or ".join(names), "is required")
    name, text = found
    if len(text) > MAX_ID_CHARS or not text.isprintable():
        raise RowRejected(
            path + name, f"must be 1-{MAX_ID_CHARS} printable characters (a code, not free text)"
        )
    return name, text


def small_int(record: Record, name: str) -> int | None:
    """An integer code field (`9`, `"9"`, `"09"`); None when absent."""
    raw = record.get(name)
    if isinstance(raw, bool):
        raise RowRejected(name, "must be a whole number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = raw_text(record, name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise RowRejected(name, "must be a whole number")
    return int(text)


def local_time(record: Record, *names: str, path: str = "") -> tuple[str, datetime] | None:
    """(field name, aware datetime) of the first of `names` that has a value, or None.

    A value that is present but not a date in the portal's format rejects the dossier: a wrong
    date silently skipped would move a dossier between early, on time and late.
    """
    for name in names:
        text = raw_text(record, name)
        if text is None:
            continue
        return name, parse_local(path + name, text)
    return None


def parse_local(field: str, text: str) -> datetime:
    """`yyyyMMddHHmmss` (or `yyyyMMdd`, midnight) in local time -> aware datetime (+07:00)."""
    match = _DATE.match(text)
    if match is None:
        raise RowRejected(field, f"is not a date in the format {DATE_FORMATS}")
    year, month, day, hour, minute, second = (int(p) for p in match.groups(default="0"))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=LOCAL_TZ)
    except ValueError:
        raise RowRejected(field, "is not a valid calendar date and time") from None


def entry_list(record: Record, name: str) -> list[Any]:
    """A list field (DanhSachHoSoBoSung...): a JSON array, or in CSV the JSON text of one."""
    raw = record.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        if not raw.strip():
            return []
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise RowRejected(name, "must be a JSON array of entries") from None
    if not isinstance(raw, list):
        raise RowRejected(name, "must be a JSON array of entries")
    return raw
