"""Working-day calendar: hand-worked Vietnamese cases, override files, and the rules that
must hold for any date (checked with hypothesis)."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.domain.calendar import (
    LOCAL_TZ,
    CalendarError,
    WorkingCalendar,
    due_at_from_processing_days,
    load_calendar,
    local_date,
    parse_overrides,
    shipped_overrides,
)
from iocmon.errors import IocmonError

CAL = load_calendar()
BARE = WorkingCalendar()  # holidays.VN alone, to pin down what the library itself provides
VN = LOCAL_TZ


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def write(tmp_path: Path, text: str, name: str = "overrides.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- Tết -------------------------------------------------------------------------------------


def test_tet_2024_five_days_from_friday_before_tet() -> None:
    # Received Fri 2/2. Working days after it: Mon 5 (1), Tue 6 (2), Wed 7 (3); Tết off
    # Thu 8 .. Wed 14 (29 Tết to mùng 5, weekend inside); Thu 15 (4), Fri 16 (5).
    due = due_at_from_processing_days(at("2024-02-02T09:30:00+07:00"), 5, CAL)
    assert due == datetime(2024, 2, 16, 17, 0, tzinfo=VN)
    assert due.tzinfo == LOCAL_TZ


def test_tet_2024_days_off_are_exactly_the_official_schedule() -> None:
    assert not any(CAL.is_working_day(d) for d in days("2024-02-08", "2024-02-14"))
    assert CAL.is_working_day(date(2024, 2, 7))
    assert CAL.is_working_day(date(2024, 2, 15))


@pytest.mark.parametrize(
    ("first_off", "last_off"),
    [
        # Weekdays off for the public sector, from each year's official announcement.
        ("2020-01-23", "2020-01-29"),
        ("2021-02-10", "2021-02-16"),
        ("2022-01-31", "2022-02-04"),
        ("2023-01-20", "2023-01-26"),
        ("2024-02-08", "2024-02-14"),
        ("2025-01-27", "2025-01-31"),
        ("2026-02-16", "2026-02-20"),
    ],
)
def test_tet_weekdays_off_each_year(first_off: str, last_off: str) -> None:
    off = days(first_off, last_off)
    assert not any(CAL.is_working_day(d) for d in off)
    assert CAL.is_working_day(CAL.previous_working_day(off[0]))
    assert CAL.working_days_between(off[0] - timedelta(days=1), off[-1]) == 0


# --- Giỗ Tổ Hùng Vương, 30/4, 1/5, Quốc khánh ---------------------------------------------------


def test_hung_kings_day_2024_thursday() -> None:
    assert not CAL.is_working_day(date(2024, 4, 18))
    # Wed 17/4 + 1 working day skips Thu 18/4 -> Fri 19/4.
    assert CAL.add_working_days(date(2024, 4, 17), 1) == date(2024, 4, 19)


def test_hung_kings_day_2022_on_sunday_gives_monday_off() -> None:
    # 10/3 lunar = Sun 10/4/2022, compensated on Mon 11/4: Fri 8/4 + 1 -> Tue 12/4.
    assert not CAL.is_working_day(date(2022, 4, 11))
    assert CAL.add_working_days(date(2022, 4, 8), 1) == date(2022, 4, 12)


def test_reunification_and_labour_day_2024_with_make_up_saturday() -> None:
    # Công văn 2450/VPCP-KGVX: Mon 29/4 swapped with Sat 4/5, so 27/4-1/5 is off and
    # Saturday 4/5 is a working day. Fri 26/4 + 3: Thu 2/5 (1), Fri 3/5 (2), Sat 4/5 (3).
    assert not any(CAL.is_working_day(d) for d in days("2024-04-27", "2024-05-01"))
    assert CAL.is_working_day(date(2024, 5, 4))
    assert CAL.add_working_days(date(2024, 4, 26), 3) == date(2024, 5, 4)
    assert CAL.add_working_days(date(2024, 4, 26), 4) == date(2024, 5, 6)


def test_reunification_and_labour_day_2022_on_weekend_gives_two_compensatory_days() -> None:
    # Sat 30/4 and Sun 1/5 -> Mon 2/5 and Tue 3/5 off: Fri 29/4 + 1 -> Wed 4/5.
    assert CAL.add_working_days(date(2022, 4, 29), 1) == date(2022, 5, 4)


def test_labour_day_2021_on_saturday_gives_monday_off() -> None:
    # Fri 30/4 off, Sat 1/5 compensated on Mon 3/5: Thu 29/4 + 1 -> Tue 4/5.
    assert CAL.add_working_days(date(2021, 4, 29), 1) == date(2021, 5, 4)


def test_2023_hung_kings_on_saturday_and_30_4_on_sunday() -> None:
    # Sat 29/4 Hùng Kings, Sun 30/4, Mon 1/5; compensated Tue 2/5 and Wed 3/5.
    assert not any(CAL.is_working_day(d) for d in days("2023-04-29", "2023-05-03"))
    assert CAL.add_working_days(date(2023, 4, 28), 1) == date(2023, 5, 4)


def test_2025_swap_with_make_up_saturday_26_april() -> None:
    # Fri 2/5/2025 swapped with Sat 26/4: off 30/4-4/5; Fri 25/4 + 1 -> Sat 26/4.
    assert CAL.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 26)
    assert CAL.add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)


def test_national_day_two_days_since_2021() -> None:
    assert not CAL.is_working_day(date(2024, 9, 2))
    assert not CAL.is_working_day(date(2024, 9, 3))
    assert CAL.add_working_days(date(2024, 8, 30), 1) == date(2024, 9, 4)


# --- make-up Saturdays: what the library gives and what iocmon ships ---------------------------


@pytest.mark.parametrize("saturday", ["2024-05-04", "2025-04-26", "2026-08-22"])
def test_library_make_up_saturdays_are_working_days(saturday: str) -> None:
    # A library upgrade that drops one of these must fail here, not in production.
    assert BARE.is_working_day(date.fromisoformat(saturday))


def test_ordinary_saturday_is_off() -> None:
    assert not CAL.is_working_day(date(2024, 5, 11))


def test_shipped_new_year_2026_swap() -> None:
    # Government decision of 25/12/2025: Fri 2/1/2026 off, made up on Sat 10/1/2026.
    assert shipped_overrides() == {date(2026, 1, 2): False, date(2026, 1, 10): True}
    assert BARE.is_working_day(date(2026, 1, 2))  # the library lacks this swap
    assert not CAL.is_working_day(date(2026, 1, 2))
    assert CAL.is_working_day(date(2026, 1, 10))
    # Wed 31/12/2025 + 1: Thu 1/1 and Fri 2/1 off -> Mon 5/1; +5 -> Sat 10/1.
    assert CAL.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 5)
    assert CAL.add_working_days(date(2025, 12, 31), 5) == date(2026, 1, 9)
    assert CAL.add_working_days(date(2025, 12, 31), 6) == date(2026, 1, 10)


# --- receipt time and time zone ----------------------------------------------------------------


def test_received_on_saturday_counts_from_monday() -> None:
    due = due_at_from_processing_days(at("2024-03-16T09:00:00+07:00"), 1, CAL)
    assert due == datetime(2024, 3, 18, 17, 0, tzinfo=VN)


def test_receipt_day_is_the_local_day_not_the_utc_day() -> None:
    # 16:00Z on Thu 1/2 is 23:00 Thursday in Vietnam; 18:00Z is 01:00 Friday.
    thursday = due_at_from_processing_days(at("2024-02-01T16:00:00+00:00"), 5, CAL)
    friday = due_at_from_processing_days(at("2024-02-01T18:00:00+00:00"), 5, CAL)
    assert thursday == datetime(2024, 2, 15, 17, 0, tzinfo=VN)
    assert friday == datetime(2024, 2, 16, 17, 0, tzinfo=VN)


def test_local_date_converts_offsets() -> None:
    assert local_date(at("2024-02-01T17:00:00Z")) == date(2024, 2, 2)
    assert local_date(datetime(2024, 2, 2, 0, 30, tzinfo=timezone(timedelta(hours=9)))) == date(
        2024, 2, 1
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        local_date(datetime(2024, 2, 2, 9, 0))
    with pytest.raises(ValueError):
        due_at_from_processing_days(datetime(2024, 2, 2, 9, 0), 5, CAL)


def test_processing_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        due_at_from_processing_days(at("2024-02-02T09:00:00+07:00"), 0, CAL)
    with pytest.raises(ValueError, match="at least 1"):
        CAL.add_working_days(date(2024, 2, 2), 0)


def test_datetime_where_a_date_is_expected_is_refused() -> None:
    with pytest.raises(TypeError, match="local_date"):
        CAL.is_working_day(datetime(2024, 2, 5, 9, 0, tzinfo=VN))


def test_due_time_at_the_365_day_maximum_crosses_years() -> None:
    due = due_at_from_processing_days(at("2024-06-03T08:00:00+07:00"), 365, CAL)
    assert due.hour == 17
    assert CAL.working_days_between(date(2024, 6, 3), local_date(due)) == 365


# --- years outside the announced ones ----------------------------------------------------------


def test_far_years_still_work() -> None:
    assert not CAL.is_working_day(date(2035, 1, 1))  # solar New Year
    assert CAL.add_working_days(date(2099, 12, 31), 1) == date(2100, 1, 4)
    assert CAL.next_working_day(date(2150, 6, 5)) == date(2150, 6, 8)  # Fri -> Mon


# --- override files ----------------------------------------------------------------------------


def test_operator_file_adds_a_day_off(tmp_path: Path) -> None:
    path = write(tmp_path, "# An Giang's own extra Tết day\n2024-02-15 off  # UBND tỉnh\n")
    calendar = load_calendar(path)
    assert not calendar.is_working_day(date(2024, 2, 15))
    # The Tết case again: Thu 15 is now off, so 5 working days end on Mon 19.
    assert calendar.add_working_days(date(2024, 2, 2), 5) == date(2024, 2, 19)


def test_operator_file_adds_a_working_saturday(tmp_path: Path) -> None:
    calendar = load_calendar(write(tmp_path, "2024-03-09 work\n"))
    assert calendar.is_working_day(date(2024, 3, 9))
    assert calendar.next_working_day(date(2024, 3, 8)) == date(2024, 3, 9)


def test_operator_file_wins_over_shipped_overrides(tmp_path: Path) -> None:
    calendar = load_calendar(write(tmp_path, "2026-01-02 work\n"))
    assert calendar.is_working_day(date(2026, 1, 2))
    assert calendar.is_working_day(date(2026, 1, 10))  # the rest of the shipped file still holds


def test_operator_file_can_remove_a_library_holiday(tmp_path: Path) -> None:
    calendar = load_calendar(write(tmp_path, "2024-04-18 work\n"))
    assert calendar.is_working_day(date(2024, 4, 18))


def test_blank_lines_comments_crlf_bom_and_case(tmp_path: Path) -> None:
    path = tmp_path / "o.txt"
    path.write_bytes(
        "\ufeff\r\n# header\r\n\r\n  2024-03-09   WORK   \r\n2024-03-11 Off#x\r\n".encode()
    )
    calendar = load_calendar(path)
    assert calendar.is_working_day(date(2024, 3, 9))
    assert not calendar.is_working_day(date(2024, 3, 11))


def test_edited_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, "2024-03-11 off\n")
    assert not load_calendar(path).is_working_day(date(2024, 3, 11))
    path.write_text("2024-03-12 off\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    calendar = load_calendar(path)
    assert calendar.is_working_day(date(2024, 3, 11))
    assert not calendar.is_working_day(date(2024, 3, 12))


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("2024-02-30 off", "not a date on the calendar"),
        ("2024-02-15 of", "cannot read"),
        ("15/02/2024 off", "cannot read"),
        ("2024-02-15", "cannot read"),
        ("2024-02-15 off extra day", "cannot read"),
        ("20240215 off", "cannot read"),
    ],
)
def test_bad_line_names_file_line_and_syntax(tmp_path: Path, line: str, why: str) -> None:
    path = write(tmp_path, f"# ok\n2024-03-09 work\n{line}\n")
    with pytest.raises(CalendarError) as caught:
        load_calendar(path)
    message = str(caught.value)
    assert f"{path}:3: " in message
    assert why in message
    assert "'YYYY-MM-DD off' or 'YYYY-MM-DD work'" in message
    assert isinstance(caught.value, IocmonError)


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "nope\n2024-03-09 work\n2024-03-09 off\n")
    with pytest.raises(CalendarError) as caught:
        load_calendar(path)
    message = str(caught.value)
    assert f"{path}:1: " in message
    assert f"{path}:3: 2024-03-09 is already declared on line 2" in message


def test_missing_file_tells_which_setting(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="IOCMON_CALENDAR_FILE"):
        load_calendar(tmp_path / "absent.txt")


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(b"2024-03-09 work\n2024-03-11 off # ngh\xe9\n")
    with pytest.raises(CalendarError, match=r"latin\.txt:2: not UTF-8"):
        load_calendar(path)


# --- properties --------------------------------------------------------------------------------

dates = st.dates(min_value=date(2019, 6, 1), max_value=date(2031, 12, 31))
counts = st.integers(min_value=1, max_value=400)


@given(dates, counts)
def test_add_working_days_lands_on_a_later_working_day(day: date, n: int) -> None:
    result = CAL.add_working_days(day, n)
    assert result > day
    assert CAL.is_working_day(result)
    assert CAL.working_days_between(day, result) == n


@given(dates, counts)
def test_add_working_days_is_strictly_increasing_one_working_day_at_a_time(
    day: date, n: int
) -> None:
    nth = CAL.add_working_days(day, n)
    following = CAL.add_working_days(day, n + 1)
    assert following > nth
    assert following == CAL.next_working_day(nth)


@given(dates, st.integers(min_value=1, max_value=30))
def test_add_working_days_matches_walking_day_by_day(day: date, n: int) -> None:
    walked, left = day, n
    while left:
        walked += timedelta(days=1)
        left -= CAL.is_working_day(walked)
    assert CAL.add_working_days(day, n) == walked


@given(dates)
def test_next_and_previous_are_inverse_on_working_days(day: date) -> None:
    working = CAL.next_working_day(day)
    assert CAL.previous_working_day(working) < working
    assert CAL.next_working_day(CAL.previous_working_day(working)) == working
    assert CAL.previous_working_day(CAL.next_working_day(working)) == working
    assert CAL.previous_working_day(working + timedelta(days=1)) == working


@given(dates)
def test_next_working_day_skips_only_days_off(day: date) -> None:
    following = CAL.next_working_day(day)
    between = [day + timedelta(days=i) for i in range(1, (following - day).days)]
    assert not any(CAL.is_working_day(d) for d in between)


@given(dates, dates, dates)
def test_working_days_between_adds_up_across_spans(a: date, b: date, c: date) -> None:
    assert CAL.working_days_between(a, b) + CAL.working_days_between(b, c) == (
        CAL.working_days_between(a, c)
    )
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)
    assert CAL.working_days_between(a, a) == 0


@given(dates)
def test_a_day_counts_once_exactly_when_it_is_working(day: date) -> None:
    counted = CAL.working_days_between(day - timedelta(days=1), day)
    assert counted == int(CAL.is_working_day(day))


@given(st.dictionaries(dates, st.booleans(), max_size=20), dates)
@settings(max_examples=50)
def test_overrides_always_win(overrides: dict[date, bool], day: date) -> None:
    calendar = WorkingCalendar(overrides)
    expected = overrides.get(day, BARE.is_working_day(day))
    assert calendar.is_working_day(day) == expected
    for overridden, working in overrides.items():
        assert calendar.is_working_day(overridden) == working


@given(st.dictionaries(dates, st.booleans(), max_size=20), st.sampled_from(["", "  # note"]))
def test_override_text_round_trips(overrides: dict[date, bool], comment: str) -> None:
    text = "".join(f"{d} {'work' if w else 'off'}{comment}\n" for d, w in overrides.items())
    assert parse_overrides(text, "generated") == overrides


@given(dates, counts)
@settings(max_examples=50)
def test_due_at_is_a_working_day_at_five_pm_local(day: date, n: int) -> None:
    received = datetime(day.year, day.month, day.day, 10, 0, tzinfo=VN)
    due = due_at_from_processing_days(received, n, CAL)
    assert (due.hour, due.minute, due.tzinfo) == (17, 0, LOCAL_TZ)
    assert CAL.is_working_day(due.date())
    assert CAL.working_days_between(day, due.date()) == n
