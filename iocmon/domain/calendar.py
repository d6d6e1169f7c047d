"""Vietnamese working days: the clock in which regulated processing times are counted.

A processing time of "5 working days" skips weekends, public holidays (Tết with the days the
government adds around it, compensatory days) and counts the Saturdays the government declares
as make-up working days. The base is the `holidays` package (`holidays.VN`), which models
holidays, compensatory days and swapped days ("Day off (substituted from …)" with the matching
make-up Saturday). What it lacks or gets wrong, and what a province decides on its own, comes
from override files: the one shipped in `iocmon/data/calendar-overrides.txt`, then the
operator's file (`IOCMON_CALENDAR_FILE`), whose lines win.

Everything here is pure apart from reading the override files, so the stream workers can call
it per event and tests need no services.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from iocmon.errors import IocmonError

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DUE_TIME = time(17, 0)
"""Closing time of a one-stop desk: an appointment falls due at the end of its working day."""

OVERRIDE_SYNTAX = "'YYYY-MM-DD off' or 'YYYY-MM-DD work', optionally followed by '# comment'"
_SHIPPED_OVERRIDES = "data/calendar-overrides.txt"
_LINE = re.compile(r"(\d{4}-\d{2}-\d{2})\s+(off|work)", re.IGNORECASE)


class CalendarError(IocmonError):
    """A calendar override file cannot be used; the message says which line and why."""


@dataclass(frozen=True, slots=True)
class _Year:
    """One year's working days, kept twice: a set for membership, a sorted tuple for counting."""

    days: tuple[date, ...]
    members: frozenset[date]


class WorkingCalendar:
    """Answers working-day questions; years are computed the first time they are asked for.

    `overrides` maps a date to True (a working day) or False (a day off) and beats the
    national calendar, so an operator can correct anything without a code change.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        self._years: dict[int, _Year] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar({len(self._overrides)} overrides)"

    def is_working_day(self, day: date) -> bool:
        day = _plain_date(day)
        return day in self._year(day.year).members

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day`, so day + 1 is `next_working_day`."""
        day = _plain_date(day)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        year = day.year
        days = self._year(year).days
        index = bisect_right(days, day)
        while n > len(days) - index:
            n -= len(days) - index
            year += 1
            days, index = self._year(year).days, 0
        return days[index + n - 1]

    def next_working_day(self, day: date) -> date:
        return self.add_working_days(day, 1)

    def previous_working_day(self, day: date) -> date:
        day = _plain_date(day)
        year = day.year
        days = self._year(year).days
        index = bisect_left(days, day)
        while index == 0:
            year -= 1
            days = self._year(year).days
            index = len(days)
        return days[index - 1]

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end < start, so counts add up across
        consecutive spans (between(a, b) + between(b, c) == between(a, c))."""
        start, end = _plain_date(start), _plain_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        return self._rank(end, start.year) - self._rank(start, start.year)

    def _rank(self, day: date, base_year: int) -> int:
        """Working days from 1 January of `base_year` up to and including `day`."""
        whole_years = sum(len(self._year(y).days) for y in range(base_year, day.year))
        return whole_years + bisect_right(self._year(day.year).days, day)

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = self._build_year(year)
        return cached

    def _build_year(self, year: int) -> _Year:
        # Neighbouring years too: a swap can cross New Year (31/12/2018 off, made up 5/1/2019).
        neighbours = range(max(year - 1, MINYEAR), min(year + 1, MAXYEAR) + 1)
        official = holidays.country_holidays("VN", years=neighbours)
        days = tuple(
            day for day in _days_of(year) if self._overrides.get(day, official.is_working_day(day))
        )
        return _Year(days=days, members=frozenset(days))


def _days_of(year: int) -> Iterator[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        if day == date.max:
            return
        day += timedelta(days=1)


def _plain_date(day: date) -> date:
    """Reject datetimes: one would silently never equal a calendar date and count as off."""
    if isinstance(day, datetime):
        raise TypeError(f"expected a date, got the datetime {day!r}; use local_date() first")
    return day


def local_date(instant: datetime) -> date:
    """The calendar day in Vietnam, which is what due dates and outcomes are judged on."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} has no UTC offset; only aware datetimes have a local date")
    return instant.astimezone(LOCAL_TZ).date()


def due_at_from_processing_days(
    received_at: datetime, processing_days: int, calendar: WorkingCalendar
) -> datetime:
    """N-th working day after the local day of receipt, at 17:00 local (aware datetime in LOCAL_TZ).

    The hour of receipt does not matter: a dossier received on Friday evening or on a Saturday
    starts counting from the next working day, as the one-stop desks do.
    """
    if processing_days < 1:
        raise ValueError(f"processing_days must be at least 1, got {processing_days}")
    due_day = calendar.add_working_days(local_date(received_at), processing_days)
    return datetime.combine(due_day, DUE_TIME, tzinfo=LOCAL_TZ)


def parse_overrides(text: str, source: str) -> dict[date, bool]:
    """Read override lines (True = working day); every bad line is reported at once so an
    operator fixes the file in one pass."""
    overrides: dict[date, bool] = {}
    first_seen: dict[date, int] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        try:
            day, working = _parse_line(content)
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        if day in first_seen:
            problems.append(
                f"{source}:{number}: {day} is already declared on line {first_seen[day]}; "
                "keep one line per date"
            )
            continue
        first_seen[day] = number
        overrides[day] = working
    if problems:
        raise CalendarError(
            "bad calendar override line(s):\n  "
            + "\n  ".join(problems)
            + f"\neach line must be {OVERRIDE_SYNTAX}; blank lines and '#' comments are allowed"
        )
    return overrides


def _parse_line(content: str) -> tuple[date, bool]:
    match = _LINE.fullmatch(content)
    if match is None:
        raise ValueError(f"cannot read {content!r}")
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        raise ValueError(f"{match.group(1)} is not a date on the calendar") from None
    return day, match.group(2).lower() == "work"


def read_overrides(path: Path) -> dict[date, bool]:
    """Parse an operator's override file, turning I/O and encoding trouble into advice."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CalendarError(
            f"{path}: cannot read the calendar override file ({exc.strerror}); "
            "fix IOCMON_CALENDAR_FILE or unset it to use the shipped calendar"
        ) from None
    return parse_overrides(_decode(data, str(path)), str(path))


def _decode(data: bytes, source: str) -> str:
    # utf-8-sig: Windows editors put a byte-order mark in front of UTF-8 files.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CalendarError(f"{source}:{line}: not UTF-8 text; save the file as UTF-8") from None


def shipped_overrides() -> dict[date, bool]:
    """The corrections to `holidays.VN` that iocmon ships (see the file for sources)."""
    resource = resources.files("iocmon").joinpath(_SHIPPED_OVERRIDES)
    return parse_overrides(
        _decode(resource.read_bytes(), f"iocmon/{_SHIPPED_OVERRIDES}"),
        f"iocmon/{_SHIPPED_OVERRIDES}",
    )


def load_calendar(override_path: Path | None = None) -> WorkingCalendar:
    """The national calendar, corrected by the shipped overrides, then by the operator's file.

    Cached per file and modification time, so callers may ask per request yet an edited file
    is read again.
    """
    if override_path is None:
        return _load_cached(None, 0)
    try:
        stamp = override_path.stat().st_mtime_ns
    except OSError:
        stamp = -1  # read_overrides reports the problem with advice
    return _load_cached(override_path, stamp)


@lru_cache(maxsize=8)
def _load_cached(override_path: Path | None, stamp: int) -> WorkingCalendar:
    overrides = shipped_overrides()
    if override_path is not None:
        overrides.update(read_overrides(override_path))
    return WorkingCalendar(overrides)
