"""The tests' own working calendar (tests/integration/truth_calendar.py), which the end-to-end
truth uses instead of the worker's: hand-worked days from the shipped override file and the
government's schedules, so the reference is right before anything is compared with it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.integration.truth_calendar import LOCAL, ReferenceCalendar, read_overrides

CALENDAR = ReferenceCalendar()


def test_the_shipped_override_file_is_read() -> None:
    assert read_overrides() == {date(2026, 1, 2): False, date(2026, 1, 10): True}


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 1), False),  # New Year's Day, a Thursday
        (date(2026, 1, 2), False),  # Friday given off (shipped override)
        (date(2026, 1, 10), True),  # its make-up Saturday (shipped override)
        (date(2026, 1, 11), False),  # Sunday
        (date(2024, 5, 4), True),  # make-up Saturday for 29 April 2024 (holidays.VN)
        (date(2024, 4, 29), False),
        (date(2024, 2, 14), False),  # Tết 2024: 8-14 February
        (date(2024, 2, 15), True),
        (date(2026, 11, 24), False),  # Ngày Văn hóa Việt Nam, from 2026
        (date(2025, 11, 24), True),
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        # Wednesday 31 Dec 2025: 1 Jan off, 2 Jan off, weekend -> Monday 5 January
        ("2025-12-31T09:00:00+07:00", 1, "2026-01-05"),
        # Friday 9 January 2026: the next working day is the make-up Saturday
        ("2026-01-09T16:59:00+07:00", 1, "2026-01-10"),
        # received on a Saturday evening UTC, Sunday in Vietnam: counts from Monday
        ("2026-01-10T18:00:00+00:00", 1, "2026-01-12"),
        # Tết 2024: Wednesday 7 February + 2 -> Thursday 15, Friday 16
        ("2024-02-07T10:00:00+07:00", 2, "2024-02-16"),
        # across 24 November 2026 (a Tuesday): Monday 23 + 2 -> Wednesday 25, Thursday 26
        ("2026-11-23T08:00:00+07:00", 2, "2026-11-26"),
    ],
)
def test_due_dates(received: str, days: int, due: str) -> None:
    at = CALENDAR.due_at(datetime.fromisoformat(received), days)
    assert at == datetime.fromisoformat(f"{due}T17:00:00+07:00")
    assert at.tzinfo == LOCAL


def test_plain_days_are_what_their_weekday_says() -> None:
    assert CALENDAR.is_plain(date(2026, 1, 5)) and CALENDAR.is_plain(date(2026, 1, 11))
    assert not CALENDAR.is_plain(date(2026, 1, 2)) and not CALENDAR.is_plain(date(2026, 1, 10))
