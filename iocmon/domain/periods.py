"""Calendar periods that people report in: day, month, quarter, half-year ("6 tháng đầu
năm"), year — in local time. Rolling windows answer "how are we doing"; these answer the
monthly and yearly reports the figures end up in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.errors import IocmonError

PeriodKind = Literal["today", "month", "quarter", "half_year", "year"]
CURRENT_PERIODS: tuple[PeriodKind, ...] = ("today", "month", "quarter", "half_year", "year")


class PeriodError(IocmonError):
    """A period name that cannot be read; the message lists the accepted forms."""


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    start: datetime
    end: datetime


def current_period(kind: PeriodKind, now: datetime) -> Period:
    """The period of `kind` that contains `now` (local calendar)."""
    today = now.astimezone(LOCAL_TZ).date()
    if kind == "today":
        return parse_period(today.isoformat())
    if kind == "month":
        return parse_period(f"{today.year}-{today.month:02d}")
    if kind == "quarter":
        return parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
    if kind == "half_year":
        return parse_period(f"{today.year}-H{1 if today.month <= 6 else 2}")
    return parse_period(str(today.year))


_FORMS = re.compile(
    r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})(?:-(?P<day>\d{2}))?|Q(?P<quarter>[1-4])|H(?P<half>[12])))?$"
)


def parse_period(text: str) -> Period:
    """`2024` (year), `2024-H1` (half), `2024-Q3` (quarter), `2024-02` (month), `2024-02-05`."""
    match = _FORMS.match(text.strip())
    if match is None:
        raise PeriodError(
            f"period {text!r} is not one of: YYYY, YYYY-H1|H2, YYYY-Q1..Q4, YYYY-MM, YYYY-MM-DD"
        )
    year = int(match["year"])
    try:
        if match["day"]:
            start = date(year, int(match["month"]), int(match["day"]))
            end = date.fromordinal(start.toordinal() + 1)
        elif match["month"]:
            start, end = _months(year, int(match["month"]), 1)
        elif match["quarter"]:
            start, end = _months(year, 3 * int(match["quarter"]) - 2, 3)
        elif match["half"]:
            start, end = _months(year, 6 * int(match["half"]) - 5, 6)
        else:
            start, end = date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError:
        raise PeriodError(f"period {text!r} names a day or month that does not exist") from None
    return Period(text.strip(), _midnight(start), _midnight(end))


def _months(year: int, first_month: int, count: int) -> tuple[date, date]:
    last = first_month + count
    end = date(year + 1, 1, 1) if last > 12 else date(year, last, 1)
    return date(year, first_month, 1), end


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
