from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.domain.buckets import (
    ALL_TIME,
    Bucket,
    bucket_end,
    buckets_of,
    cover,
    parse_bucket,
    prefix_cover,
)
from iocmon.domain.calendar import LOCAL_TZ

NOW = datetime(2026, 11, 30, 15, 20, tzinfo=LOCAL_TZ)


def span(b: Bucket) -> tuple[datetime, datetime]:
    if b.resolution == "h":
        start = datetime.strptime(b.id, "%Y%m%d%H").replace(tzinfo=LOCAL_TZ)
        return start, start + timedelta(hours=1)
    if b.resolution == "d":
        start = datetime.strptime(b.id, "%Y%m%d").replace(tzinfo=LOCAL_TZ)
        return start, start + timedelta(days=1)
    start = datetime.strptime(b.id, "%Y%m").replace(tzinfo=LOCAL_TZ)
    end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start, end


def test_an_event_counts_in_its_local_hour_day_month_and_all_time() -> None:
    at = datetime.fromisoformat("2024-01-31T17:30:00+00:00")  # 1 Feb 00:30 in Vietnam
    assert buckets_of(at) == (
        Bucket("h", "2024020100"),
        Bucket("d", "20240201"),
        Bucket("m", "202402"),
        ALL_TIME,
    )


def test_last_24_hours_is_widened_to_whole_hours() -> None:
    c = cover(NOW - timedelta(hours=24), NOW, NOW)
    assert c.start == datetime(2026, 11, 29, 15, tzinfo=LOCAL_TZ)
    assert c.end == datetime(2026, 11, 30, 16, tzinfo=LOCAL_TZ)
    assert [b.resolution for b in c.buckets].count("d") == 0
    assert len(c.buckets) == 25


def test_a_year_uses_months() -> None:
    c = cover(datetime(2023, 1, 1, tzinfo=LOCAL_TZ), datetime(2024, 1, 1, tzinfo=LOCAL_TZ), NOW)
    assert [b.id for b in c.buckets] == [f"2023{m:02d}" for m in range(1, 13)]


def test_old_ranges_are_rounded_to_days() -> None:
    c = cover(
        datetime(2022, 3, 5, 10, 30, tzinfo=LOCAL_TZ),
        datetime(2022, 3, 7, 9, 0, tzinfo=LOCAL_TZ),
        NOW,
    )
    assert (c.start, c.end) == (
        datetime(2022, 3, 5, tzinfo=LOCAL_TZ),
        datetime(2022, 3, 8, tzinfo=LOCAL_TZ),
    )
    assert {b.resolution for b in c.buckets} == {"d"}


instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=LOCAL_TZ)
)


@settings(max_examples=300, deadline=None)
@given(instants, instants)
def test_cover_tiles_the_widened_range_exactly(a: datetime, b: datetime) -> None:
    start, end = min(a, b), max(a, b)
    c = cover(start, end, NOW)
    assert c.start <= start and (end <= c.end or c.start == c.end)
    edge = c.start
    for bucket in c.buckets:
        lo, hi = span(bucket)
        assert lo == edge
        edge = hi
        if bucket.resolution == "h":
            assert lo >= NOW - timedelta(days=91)
    assert edge == c.end
    assert c.start - start < timedelta(days=1) and c.end - end < timedelta(days=1)
    if start >= NOW - timedelta(days=89):
        assert start - c.start < timedelta(hours=1) and c.end - end < timedelta(hours=1)
    assert len(c.buckets) <= 12 * 7 + 31 * 2 + 24 * 2 + 2


def test_days_before_days_from_are_answered_by_whole_months() -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=LOCAL_TZ)
    days_from = datetime(2025, 5, 20, tzinfo=LOCAL_TZ)
    used = cover(
        datetime(2025, 3, 10, tzinfo=LOCAL_TZ),
        datetime(2025, 5, 25, tzinfo=LOCAL_TZ),
        now,
        hours=False,
        days_from=days_from,
    )
    names = [b.name for b in used.buckets]
    assert names == ["m:202503", "m:202504", "m:202505"]
    assert used.start == datetime(2025, 3, 1, tzinfo=LOCAL_TZ)
    assert used.end == datetime(2025, 6, 1, tzinfo=LOCAL_TZ)
    recent = cover(datetime(2025, 6, 3, tzinfo=LOCAL_TZ), datetime(2025, 6, 5, tzinfo=LOCAL_TZ),
                   now, hours=False, days_from=days_from)  # fmt: skip
    assert [b.name for b in recent.buckets] == ["d:20250603", "d:20250604"]


@given(at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_day_and_a_month_end_where_their_span_ends(at: datetime) -> None:
    _, day, month, _ = buckets_of(at.replace(tzinfo=LOCAL_TZ))
    assert bucket_end(day) == span(day)[1].timestamp()
    assert bucket_end(month) == span(month)[1].timestamp()


def test_bucket_names_parse_back() -> None:
    for bucket in (Bucket("d", "20240105"), Bucket("m", "202401"), ALL_TIME):
        assert parse_bucket(bucket.name) == bucket
    with pytest.raises(ValueError, match="not a bucket name"):
        parse_bucket("x:1")


def test_everything_before_a_day_is_read_from_the_shorter_side() -> None:
    now = datetime(2026, 12, 7, 10, tzinfo=LOCAL_TZ)
    recent = prefix_cover(datetime(2026, 11, 20, tzinfo=LOCAL_TZ), now)
    assert recent[0] == (ALL_TIME, 1)
    assert (Bucket("d", "20261120"), -1) in recent and (Bucket("m", "202612"), -1) in recent
    assert (Bucket("y", "2099"), -1) in recent  # far due dates' overdue instants
    old = prefix_cover(datetime(2024, 7, 1, tzinfo=LOCAL_TZ), now)
    assert [b for b, sign in old if sign < 0] == []
    assert {Bucket("y", "2023"), Bucket("q", "2024Q1"), Bucket("q", "2024Q2")} <= {
        b for b, _ in old
    }
    assert len(old) == 24 + 2  # the years 2000-2023 and two quarters


def test_hours_are_used_only_from_where_they_are_kept() -> None:
    now = datetime(2026, 12, 7, 10, 30, tzinfo=LOCAL_TZ)
    at = datetime(2026, 12, 7, 10, tzinfo=LOCAL_TZ)
    covered = prefix_cover(at, now, hours_from=datetime(2026, 9, 1, tzinfo=LOCAL_TZ))
    assert (Bucket("h", "2026120709"), 1) in covered or (Bucket("h", "2026120710"), -1) in covered
    with pytest.raises(ValueError, match="not on bucket edges"):
        prefix_cover(at, now)
