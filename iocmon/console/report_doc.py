"""A periodic report (CONTRACT §6) as `GET /api/v1/report` answers it, read and checked once.

The table, CSV and workbook renderers take a `Report`, never the raw JSON, so the fields the
console relies on are read in this one place: an answer that lacks one (a worker of another
version) fails here with a message naming the field, not as a KeyError inside a renderer.
`--format json` prints the answer itself and does not come through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from iocmon.console.errors import MalformedAnswer

# The contract's columns in the order of the government's table; every output keeps it.
COLUMNS: tuple[str, ...] = (
    "carried_over",
    "received_online",
    "received_direct",
    "early",
    "on_time",
    "late",
    "withdrawn",
    "open_not_due",
    "open_overdue",
)
Grouping = Literal["agency", "field"]
GROUPINGS: tuple[Grouping, ...] = ("agency", "field")


@dataclass(frozen=True, slots=True)
class Counts:
    """One row's nine figures, in `COLUMNS` order, and the sums the official form shows."""

    values: tuple[int, ...]

    def __getitem__(self, column: str) -> int:
        return self.values[COLUMNS.index(column)]

    @property
    def to_handle(self) -> int:
        """The form's "Tổng số hồ sơ nhận giải quyết": carried over plus received."""
        return self["carried_over"] + self["received_online"] + self["received_direct"]

    @property
    def resolved(self) -> int:
        """The form's "Số hồ sơ đã giải quyết": early, on time, late (not withdrawn)."""
        return self["early"] + self["on_time"] + self["late"]

    @property
    def in_process(self) -> int:
        """The form's "Số hồ sơ đang giải quyết": in process at the period's end."""
        return self["open_not_due"] + self["open_overdue"]


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    name: str | None  # None: a code the catalogue does not hold
    counts: Counts


@dataclass(frozen=True, slots=True)
class Report:
    start: datetime
    end: datetime
    by: Grouping
    period: str | None  # None when the range was asked with from/to
    produced_at: datetime
    rows: tuple[Row, ...]
    total: Counts
    agency: str | None = None  # the rows were asked for this agency only ...
    tree: bool = False  # ... with its units (scope=tree)
    overdue_as_of: datetime | None = None  # when open_overdue was counted, if not at `to`


def read_report(
    body: Mapping[str, Any],
    *,
    received_at: datetime,
    asked_period: str | None = None,
    asked_by: Grouping = "agency",
) -> Report:
    """The `Report` in a /api/v1/report answer.

    `produced_at` is read from the answer, else its `as_of` (what the worker's other
    endpoints call it), else `received_at`; `period` and `by`, when the answer omits them,
    are what was asked. `agency`, `scope` and `overdue_as_of` are optional. Raises
    MalformedAnswer naming the first field that is missing or not what CONTRACT §6 says.
    """
    by = body.get("by") or asked_by
    if by not in GROUPINGS:
        raise _malformed(f"'by' is {by!r}, not one of {', '.join(GROUPINGS)}")
    period = body.get("period", asked_period)
    if period is not None and not isinstance(period, str):
        raise _malformed(f"'period' is {period!r}, not a string or null")
    rows = body.get("rows")
    if not isinstance(rows, list):
        raise _malformed("'rows' is missing or not a list")
    agency = body.get("agency")
    if agency is not None and not isinstance(agency, str):
        raise _malformed(f"'agency' is {agency!r}, not a string or null")
    end = _instant(body.get("to"), "to")
    overdue_as_of = body.get("overdue_as_of")
    return Report(
        start=_instant(body.get("from"), "from"),
        end=end,
        by=by,
        period=period,
        produced_at=_produced_at(body, received_at),
        rows=tuple(_row(row, i) for i, row in enumerate(rows, start=1)),
        total=_counts(body.get("total"), "'total'"),
        agency=agency,
        tree=agency is not None and body.get("scope") == "tree",
        overdue_as_of=(
            None
            if overdue_as_of is None or _instant(overdue_as_of, "overdue_as_of") == end
            else _instant(overdue_as_of, "overdue_as_of")
        ),
    )


def _row(value: Any, number: int) -> Row:
    where = f"row {number}"
    if not isinstance(value, dict):
        raise _malformed(f"{where} is not an object")
    key, name = value.get("key"), value.get("name")
    if not isinstance(key, str):
        raise _malformed(f"{where} has no string 'key'")
    if name is not None and not isinstance(name, str):
        raise _malformed(f"{where} ({key}) has a 'name' that is neither a string nor null")
    return Row(key, name, _counts(value, f"{where} ({key})"))


def _counts(value: Any, where: str) -> Counts:
    if not isinstance(value, dict):
        raise _malformed(f"{where} is missing or not an object")
    out = []
    for column in COLUMNS:
        n = value.get(column)
        if not isinstance(n, int) or isinstance(n, bool):
            raise _malformed(f"{where} has no whole number '{column}' (found {n!r})")
        out.append(n)
    return Counts(tuple(out))


def _produced_at(body: Mapping[str, Any], received_at: datetime) -> datetime:
    for field in ("produced_at", "as_of"):
        if body.get(field) is not None:
            return _instant(body[field], field)
    return received_at


def _instant(value: Any, field: str) -> datetime:
    """An RFC 3339 timestamp with its offset (the report shows it in local time)."""
    if not isinstance(value, str):
        raise _malformed(f"'{field}' is missing or not a timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _malformed(f"'{field}' is {value!r}, not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise _malformed(f"'{field}' is {value!r}, a timestamp without its offset")
    return moment


def _malformed(detail: str) -> MalformedAnswer:
    return MalformedAnswer(
        f"the worker's report does not read as CONTRACT §6 says: {detail} "
        "(is the worker another iocmon version? `iocmon report --format json` shows the answer)"
    )
