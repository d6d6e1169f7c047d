"""Vietnamese working days for the tests' truth, computed apart from `iocmon.domain.calendar`.

The simulator plans its dossiers with the worker's own calendar, so a calendar bug would make
both agree and no end-to-end figure would show it. This reference reads the same two sources
on its own — the `holidays` package's Vietnam calendar and the shipped override file
(`iocmon/data/calendar-overrides.txt`, lines `YYYY-MM-DD off|work`, '#' comments) — and counts
days one at a time, straight from CONTRACT §3: a due date derived from `processing_days` is
the N-th working day after the local day of receipt, at 17:00 local.

    calendar = ReferenceCalendar()
    calendar.due_at(datetime(2025, 12, 31, 9, tzinfo=LOCAL), 1)  # 2026-01-05 17:00 (+07:00)
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import holidays

LOCAL = timezone(timedelta(hours=7), "+07:00")
REPO = Path(__file__).resolve().parents[2]
SHIPPED_OVERRIDES = REPO / "iocmon" / "data" / "calendar-overrides.txt"
CLOSING = time(17, 0)


def read_overrides(path: Path = SHIPPED_OVERRIDES) -> dict[date, bool]:
    """Date → True (a working day) or False (a day off), from an override file."""
    out: dict[date, bool] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        day, kind = words
        assert kind.lower() in ("off", "work"), line
        out[date.fromisoformat(day)] = kind.lower() == "work"
    return out


class ReferenceCalendar:
    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = read_overrides() if overrides is None else overrides
        self._years: dict[int, holidays.HolidayBase] = {}

    def _national(self, year: int) -> holidays.HolidayBase:
        if year not in self._years:
            self._years[year] = holidays.country_holidays("VN", years=range(year - 1, year + 2))
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        national = self._national(day.year)
        if day in national.weekend_workdays:  # a make-up Saturday the government declared
            return True
        return day.weekday() < 5 and day not in national

    def is_plain(self, day: date) -> bool:
        """Whether the day is what its weekday alone says (Monday-Friday work, else off)."""
        return self.is_working_day(day) == (day.weekday() < 5)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n >= 1)."""
        assert n >= 1
        while n:
            day += timedelta(days=1)
            n -= self.is_working_day(day)
        return day

    def next_working_day(self, day: date) -> date:
        return self.add_working_days(day, 1)

    def due_at(self, received_at: datetime, processing_days: int) -> datetime:
        due = self.add_working_days(received_at.astimezone(LOCAL).date(), processing_days)
        return datetime.combine(due, CLOSING, LOCAL)
