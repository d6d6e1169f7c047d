"""Grafana's time ranges, as a panel's queries see them: date math (`now-1M/M`), a panel's
relative time and time shift, and the time macros of the Infinity plugin (`${__timeFrom}`).

Used by the tests to substitute a panel's time macros the way Grafana and the plugin would,
and by the lint to check that a panel's time override can be read. Only the part of Grafana's
date math the dashboards may use is modelled; anything else raises `UnsupportedTimeSyntax`
rather than being guessed.

Grafana's semantics (public/app/core/utils/datemath.ts, PanelTimeRange of @grafana/scenes):

- `now` followed by operations applied left to right: `-Nu` / `+Nu` subtract or add N units,
  `/u` rounds to the start of the unit (the end of it, to the millisecond, for a range's
  upper end). Units: y, Q, M, d, h, m, s (weeks are left out: their start depends on the
  user's settings). Months are calendar months whose day is clamped (31 March - 1M = 28 or
  29 February), days are calendar days, both counted in the dashboard's time zone.
- A panel's relative time (`timeFrom`) replaces the dashboard's range with [timeFrom, now]
  (a bare `5m` means `now-5m`); Grafana applies it only while the dashboard's range is
  relative. Its time shift (`timeShift`) then applies `-<shift>` to both ends, the upper
  one rounded up.
- The Infinity plugin's `${__timeFrom}` / `${__timeTo}` are that panel range, interpolated
  by the plugin's backend: epoch milliseconds, or with `:date:FORMAT` a moment.js format,
  written in the time zone of the Grafana server's process (UTC in the container image).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

UNITS = "yQMdhms"
_OPERATION = re.compile(r"(?P<op>[-+/])(?P<num>\d*)(?P<unit>[a-zA-Z])")
_MOMENT_TOKENS = re.compile(r"YYYY|MM|DD|HH|hh|mm|ss|SSS|.", re.DOTALL)


class UnsupportedTimeSyntax(ValueError):
    """Date math or a date format outside the subset modelled here."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def astimezone(self, tz: timezone | ZoneInfo) -> TimeRange:
        return TimeRange(self.start.astimezone(tz), self.end.astimezone(tz))


def zone(name: str) -> ZoneInfo | timezone:
    """A dashboard's `timezone`: an IANA name or `utc`. `browser` (or empty) is refused: the
    range would depend on the viewer's machine."""
    if name.lower() == "utc":
        return UTC
    if not name or name == "browser":
        raise UnsupportedTimeSyntax(f"time zone {name!r} depends on the viewer's browser")
    return ZoneInfo(name)


def date_math(expression: str, now: datetime, *, round_up: bool = False) -> datetime:
    """`now…` evaluated at `now` (an aware datetime, in the zone the math is done in)."""
    text = re.sub(r"\s", "", expression)
    if not text.startswith("now"):
        raise UnsupportedTimeSyntax(f"{expression!r}: only relative times ('now…') are modelled")
    return apply_math(text[3:], now, round_up=round_up)


def apply_math(math: str, at: datetime, *, round_up: bool = False) -> datetime:
    """The operations of `math` (e.g. `-1M/M`) applied to `at`, left to right."""
    position = 0
    while position < len(math):
        m = _OPERATION.match(math, position)
        if m is None:
            raise UnsupportedTimeSyntax(f"{math!r}: cannot read from {math[position:]!r}")
        position = m.end()
        op, unit = m["op"], m["unit"]
        count = int(m["num"]) if m["num"] else 1
        if unit not in UNITS:
            raise UnsupportedTimeSyntax(f"{math!r}: unit {unit!r} is not one of {UNITS}")
        if op == "/":
            if count != 1:
                raise UnsupportedTimeSyntax(f"{math!r}: rounding takes a single unit")
            at = end_of(at, unit) if round_up else start_of(at, unit)
        else:
            at = shift(at, count if op == "+" else -count, unit)
    return at


def shift(at: datetime, count: int, unit: str) -> datetime:
    """`at` moved by `count` units: calendar units on the local wall clock (moment.js)."""
    if unit in "yQM":
        months = count * {"y": 12, "Q": 3, "M": 1}[unit]
        index = at.year * 12 + at.month - 1 + months
        year, month = divmod(index, 12)
        month += 1
        day = min(at.day, _days_in_month(year, month))
        return _local(at, at.replace(year=year, month=month, day=day, tzinfo=None))
    if unit == "d":
        return _local(at, at.replace(tzinfo=None) + timedelta(days=count))
    seconds = {"h": 3600, "m": 60, "s": 1}[unit]
    return at + timedelta(seconds=count * seconds)


def start_of(at: datetime, unit: str) -> datetime:
    wall = at.replace(tzinfo=None)
    if unit == "y":
        wall = wall.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "Q":
        first = (wall.month - 1) // 3 * 3 + 1
        wall = wall.replace(month=first, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        wall = wall.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "d":
        wall = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "h":
        wall = wall.replace(minute=0, second=0, microsecond=0)
    elif unit == "m":
        wall = wall.replace(second=0, microsecond=0)
    else:
        wall = wall.replace(microsecond=0)
    return _local(at, wall)


def end_of(at: datetime, unit: str) -> datetime:
    """The unit's last millisecond, as moment's `endOf`."""
    return shift(start_of(at, unit), 1, unit) - timedelta(milliseconds=1)


def _local(like: datetime, wall: datetime) -> datetime:
    return wall.replace(tzinfo=like.tzinfo)


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def describe_relative_time(time_from: str) -> tuple[str, str]:
    """A panel's `timeFrom` as a (from, to) pair, as Grafana's `describeTextRange` reads it."""
    if time_from.startswith("+"):
        raise UnsupportedTimeSyntax(f"relative time {time_from!r}: future ranges are not modelled")
    expression = time_from if "now" in time_from else f"now-{time_from}"
    return expression, "now"


def panel_time_range(dashboard: dict[str, Any], panel: dict[str, Any], now: datetime) -> TimeRange:
    """The time range a panel's queries are sent with, at `now`, in the dashboard's zone."""
    tz = zone(str(dashboard.get("timezone", "")))
    local_now = now.astimezone(tz)
    raw = dashboard.get("time") or {"from": "now-6h", "to": "now"}
    start_text, end_text = str(raw["from"]), str(raw["to"])
    if panel.get("timeFrom"):
        if not (start_text.startswith("now") and end_text.startswith("now")):
            raise UnsupportedTimeSyntax("Grafana ignores a panel's relative time in a fixed range")
        start_text, end_text = describe_relative_time(str(panel["timeFrom"]))
    start = date_math(start_text, local_now)
    end = date_math(end_text, local_now, round_up=True)
    if panel.get("timeShift"):
        back = f"-{panel['timeShift']}"
        start = apply_math(back, start)
        end = apply_math(back, end, round_up=True)
    return TimeRange(start, end)


def format_time(at: datetime, fmt: str | None) -> str:
    """`${__timeFrom}` with its format: None (epoch ms), `date` / `date:iso`, `date:seconds`,
    or `date:<moment format>` (tokens YYYY MM DD HH hh mm ss SSS; `:` inside the format is
    kept), written in the zone of `at`."""
    millis = round(at.timestamp() * 1000)
    if fmt is None:
        return str(millis)
    kind, _, pattern = fmt.partition(":")
    if kind != "date":
        raise UnsupportedTimeSyntax(f"time macro format {fmt!r}: only 'date…' is modelled")
    if pattern in ("", "iso"):
        utc = datetime.fromtimestamp(millis / 1000, UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"
    if pattern == "seconds":
        return str(millis // 1000)
    if pattern == "ms":
        return str(millis)
    tokens = {
        "YYYY": f"{at.year:04d}",
        "MM": f"{at.month:02d}",
        "DD": f"{at.day:02d}",
        "HH": f"{at.hour:02d}",
        "hh": f"{(at.hour - 1) % 12 + 1:02d}",
        "mm": f"{at.minute:02d}",
        "ss": f"{at.second:02d}",
        "SSS": f"{at.microsecond // 1000:03d}",
    }
    out = []
    for token in _MOMENT_TOKENS.findall(pattern):
        if token in tokens:
            out.append(tokens[token])
        elif token.isalpha():
            raise UnsupportedTimeSyntax(f"date format {pattern!r}: {token!r} is not modelled")
        else:
            out.append(token)
    return "".join(out)
