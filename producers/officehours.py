"""Office hours of a one-stop desk, and random instants inside them.

Receipts happen when the desk is open (7:30–11:30 and 13:30–17:00 local, on working days), so
the simulator draws them here. Everything is in local time (Asia/Ho_Chi_Minh, always +07:00).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar

MORNING = (time(7, 30), time(11, 30))
AFTERNOON = (time(13, 30), time(17, 0))
_MORNING_S = 4 * 3600
_OFFICE_S = _MORNING_S + 3 * 3600 + 1800


def at_local(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=LOCAL_TZ)


def office_instant(rng: random.Random, day: date) -> datetime:
    """A uniformly random whole second of `day`'s office hours."""
    offset = rng.randrange(_OFFICE_S)
    if offset < _MORNING_S:
        return at_local(day, MORNING[0]) + timedelta(seconds=offset)
    return at_local(day, AFTERNOON[0]) + timedelta(seconds=offset - _MORNING_S)


def is_office_time(instant: datetime) -> bool:
    """Inside opening hours (start inclusive, end exclusive), whatever the day."""
    local = instant.astimezone(LOCAL_TZ).time()
    return any(start <= local < end for start, end in (MORNING, AFTERNOON))


def uniform_between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A random whole second in [lo, hi); `lo` itself when the span is under a second."""
    span = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randrange(span)) if span > 0 else lo


def working_days_from(calendar: WorkingCalendar, first: date, last: date) -> list[date]:
    """Working days in [first, last]."""
    days = [first] if calendar.is_working_day(first) else []
    day = first
    while True:
        day = calendar.next_working_day(day)
        if day > last:
            return days
        days.append(day)
