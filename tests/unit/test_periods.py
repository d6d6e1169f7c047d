"""Report periods (iocmon/domain/periods.py): each name form read into its local calendar
range, worked out by hand; the forms nest and tile the calendar for any date (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.periods import (
    CURRENT_PERIODS,
    Period,
    PeriodError,
    current_period,
    parse_period,
)

ICT = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has had no DST since 1975


def local(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=ICT)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("2024", "2024-01-01", "2025-01-01"),
        ("2024-H1", "2024-01-01", "2024-07-01"),
        ("2024-H2", "2024-07-01", "2025-01-01"),
        ("2024-Q1", "2024-01-01", "2024-04-01"),
        ("2024-Q2", "2024-04-01", "2024-07-01"),
        ("2024-Q3", "2024-07-01", "2024-10-01"),
        ("2024-Q4", "2024-10-01", "2025-01-01"),
        ("2024-02", "2024-02-01", "2024-03-01"),  # 29 days: a leap year
        ("2023-02", "2023-02-01", "2023-03-01"),  # 28 days
        ("2024-12", "2024-12-01", "2025-01-01"),
        ("2024-02-05", "2024-02-05", "2024-02-06"),
        ("2024-02-29", "2024-02-29", "2024-03-01"),
        ("2024-12-31", "2024-12-31", "2025-01-01"),
    ],
)
def test_each_form_is_its_local_calendar_range(name: str, start: str, end: str) -> None:
    period = parse_period(name)
    assert period == Period(name, local(start), local(end))
    # local midnight: 17:00 UTC the day before
    utc_start = period.start.astimezone(UTC).replace(tzinfo=None)
    assert utc_start == datetime.fromisoformat(start) - timedelta(hours=7)


def test_surrounding_spaces_are_ignored_and_left_out_of_the_name() -> None:
    assert parse_period(" 2024-Q3\n") == parse_period("2024-Q3")
    assert parse_period(" 2024-Q3\n").name == "2024-Q3"


@pytest.mark.parametrize(
    "name",
    ["", "24", "20245", "2024-1", "2024-001", "2024/02", "2024-02-5", "2024-Q0", "2024-Q5",
     "2024-q3", "2024-H0", "2024-H3", "2024-S1", "H1-2024", "2024-02-05T00:00", "last-week",
     "2024-Q3-01", "2024-H1-02"],
)  # fmt: skip
def test_other_forms_are_refused_listing_the_accepted_ones(name: str) -> None:
    with pytest.raises(PeriodError) as refused:
        parse_period(name)
    assert "YYYY, YYYY-H1|H2, YYYY-Q1..Q4, YYYY-MM, YYYY-MM-DD" in str(refused.value)


@pytest.mark.parametrize(
    "name", ["2024-00", "2024-13", "2023-02-29", "2024-04-31", "2024-01-00", "0000", "9999"]
)
def test_days_and_months_that_do_not_exist_are_refused(name: str) -> None:
    # 9999: its end, 10000-01-01, is past what a date can hold
    with pytest.raises(PeriodError, match="does not exist"):
        parse_period(name)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 2024-06-30 23:30 local, a minute's walk from the half-year's end
        (
            datetime(2024, 6, 30, 16, 30, tzinfo=UTC),
            {"today": "2024-06-30", "month": "2024-06", "quarter": "2024-Q2",
             "half_year": "2024-H1", "year": "2024"},
        ),
        # 17:30 UTC on 2024-06-30 is already 2024-07-01 00:30 in Vietnam
        (
            datetime(2024, 6, 30, 17, 30, tzinfo=UTC),
            {"today": "2024-07-01", "month": "2024-07", "quarter": "2024-Q3",
             "half_year": "2024-H2", "year": "2024"},
        ),
        (
            datetime(2025, 12, 31, 23, 59, tzinfo=LOCAL_TZ),
            {"today": "2025-12-31", "month": "2025-12", "quarter": "2025-Q4",
             "half_year": "2025-H2", "year": "2025"},
        ),
    ],
)  # fmt: skip
def test_the_current_period_is_taken_on_the_local_calendar(
    now: datetime, expected: dict[str, str]
) -> None:
    assert {kind: current_period(kind, now).name for kind in CURRENT_PERIODS} == expected


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
instants = st.datetimes(
    min_value=datetime(2000, 1, 2),
    max_value=datetime(2100, 12, 30),
    timezones=st.sampled_from([ICT, UTC, timezone(timedelta(hours=-10)), LOCAL_TZ]),
)


@given(days)
def test_a_day_is_one_local_day(day: date) -> None:
    period = parse_period(day.isoformat())
    assert (period.start, period.end) == (
        local(day.isoformat()),
        local(day.isoformat()) + timedelta(days=1),
    )


@given(instants)
def test_the_current_periods_hold_now_and_nest(now: datetime) -> None:
    periods = [current_period(kind, now) for kind in CURRENT_PERIODS]  # smallest first
    for period in periods:
        assert period.start <= now < period.end
        assert period.start.timetz() == time(0, tzinfo=period.start.tzinfo)
        assert parse_period(period.name) == period
    for inner, outer in pairwise(periods):
        assert outer.start <= inner.start and inner.end <= outer.end


@given(st.integers(min_value=2000, max_value=2100))
def test_months_tile_quarters_tile_halves_tile_the_year(year: int) -> None:
    def tiles(names: list[str], whole: str) -> None:
        parts = [parse_period(n) for n in names]
        assert parts[0].start == parse_period(whole).start
        assert parts[-1].end == parse_period(whole).end
        assert all(a.end == b.start for a, b in pairwise(parts))

    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    for q in range(1, 5):
        tiles(months[3 * q - 3 : 3 * q], f"{year}-Q{q}")
    tiles([f"{year}-Q1", f"{year}-Q2"], f"{year}-H1")
    tiles([f"{year}-Q3", f"{year}-Q4"], f"{year}-H2")
    tiles([f"{year}-H1", f"{year}-H2"], str(year))
    length = (parse_period(str(year)).end - parse_period(str(year)).start).days
    assert length == (366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365)
