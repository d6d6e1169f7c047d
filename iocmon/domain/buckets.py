"""Time buckets of the rolling counters, and how a query range is covered by them.

Every counted event is added to four buckets at once: its local hour, day and month, and
the all-time total that Prometheus counters report. Hours are kept for `HOURLY_RETENTION`,
the others for good (days and months, once closed beyond the horizon, summed over the
partitions: `streams.rollup`). A range is answered by
the fewest buckets that cover it: whole months, then whole days, then hours at the edges,
so five years cost ~60 month buckets plus a few dozen days and hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, NamedTuple

from iocmon.domain.calendar import LOCAL_TZ

Resolution = Literal["h", "d", "m", "q", "y", "t"]
RESOLUTIONS: tuple[Resolution, ...] = ("h", "d", "m", "q", "y", "t")
HOURLY_RETENTION = timedelta(days=100)
HOURLY_QUERY_WINDOW = timedelta(days=90)
ROLLED_RESOLUTIONS = frozenset({"d", "m", "q", "y"})
"""Buckets whose counters are summed over the partitions once closed beyond the horizon."""


class Bucket(NamedTuple):
    """A tuple, not a dataclass: every counted event adds to four (bucket, agency, ...)
    counter keys, and a tuple hashes in C where a dataclass hashes in Python."""

    resolution: Resolution
    id: str

    @property
    def name(self) -> str:
        return f"{self.resolution}:{self.id}"


@dataclass(frozen=True, slots=True)
class Cover:
    """The buckets that answer a query, and the range they really span."""

    start: datetime
    end: datetime
    buckets: tuple[Bucket, ...]


ALL_TIME = Bucket("t", "all")


def parse_bucket(name: str) -> Bucket:
    """The bucket of a `Bucket.name`."""
    resolution, _, id_ = name.partition(":")
    if resolution not in RESOLUTIONS or not id_:
        raise ValueError(f"not a bucket name: {name!r}")
    return Bucket(resolution, id_)


def buckets_of(at: datetime) -> tuple[Bucket, ...]:
    local = at.astimezone(LOCAL_TZ)
    return _buckets_of_hour(local.year, local.month, local.day, local.hour)


@lru_cache(maxsize=16384)
def _buckets_of_hour(year: int, month: int, day: int, hour: int) -> tuple[Bucket, ...]:
    """Cached per local hour: every counted event asks, and `strftime` was a visible cost."""
    local = datetime(year, month, day, hour)
    return (
        Bucket("h", local.strftime("%Y%m%d%H")),
        Bucket("d", local.strftime("%Y%m%d")),
        Bucket("m", local.strftime("%Y%m")),
        ALL_TIME,
    )


@lru_cache(maxsize=4096)
def bucket_end(bucket: Bucket) -> float:
    """Unix seconds at the local end of a day, month, quarter or year bucket."""
    if bucket.resolution == "d":
        return bucket_start(bucket) + 24 * 3600  # Vietnam keeps no daylight saving time
    months = {"m": 1, "q": 3, "y": 12}[bucket.resolution]
    at = datetime.fromtimestamp(bucket_start(bucket), LOCAL_TZ)
    for _ in range(months):
        at = _next_month(at)
    return at.timestamp()


@lru_cache(maxsize=4096)
def bucket_start(bucket: Bucket) -> float:
    """Unix seconds at the local start of an hour, day, month, quarter or year bucket."""
    if bucket.resolution == "q":
        year, quarter = bucket.id.split("Q")
        first = datetime(int(year), 3 * int(quarter) - 2, 1, tzinfo=LOCAL_TZ)
        return first.timestamp()
    form = {"h": "%Y%m%d%H", "d": "%Y%m%d", "m": "%Y%m", "y": "%Y"}[bucket.resolution]
    return datetime.strptime(bucket.id, form).replace(tzinfo=LOCAL_TZ).timestamp()


def report_buckets_of(at: datetime) -> tuple[Bucket, ...]:
    """The buckets of the periodic report's counters (`iocmon.domain.report`): day, month,
    quarter, year and all time, so that "everything before T" is a handful of buckets
    (`prefix_cover`); the hour is first, for the counters that need it."""
    local = at.astimezone(LOCAL_TZ)
    return _report_buckets_of_hour(local.year, local.month, local.day, local.hour)


@lru_cache(maxsize=16384)
def _report_buckets_of_hour(year: int, month: int, day: int, hour: int) -> tuple[Bucket, ...]:
    hour_, day_, month_, _ = _buckets_of_hour(year, month, day, hour)
    return (
        hour_,
        day_,
        month_,
        Bucket("q", f"{year}Q{(month - 1) // 3 + 1}"),
        Bucket("y", str(year)),
        ALL_TIME,
    )


SignedCover = tuple[tuple[Bucket, int], ...]
"""Buckets to add (+1) or subtract (-1): a sum of counters over some span of time."""

EARLIEST = datetime(2000, 1, 1, tzinfo=LOCAL_TZ)
LATEST = datetime(2100, 1, 1, tzinfo=LOCAL_TZ)
"""No counted instant lies outside these (events before 2000 are refused, due dates are
before 2100)."""


def prefix_cover(
    end: datetime,
    now: datetime,
    *,
    hours_from: datetime | None = None,
    rolled_before: datetime | None = None,
) -> SignedCover:
    """The buckets of everything before `end` (report buckets): either those of
    [2000, end), or all time minus those of [end, 2100), whichever reads fewer buckets
    holding figures. Both are whole years, quarters and months, then days and, from
    `hours_from` on, hours at the edge. `end` must be a local midnight (an hour, from
    `hours_from` on).

    Buckets that end before `rolled_before` (default: 400 days before `now`, the default
    horizon) are one hash summed over the partitions; later ones, and all time, are one per
    partition: a report's boundaries near now are read from the far side, where the years
    are."""
    rolled = (rolled_before or now - DEFAULT_ROLLED_AFTER).timestamp()
    ahead = _aligned(end, LATEST, hours_from)
    behind = _aligned(EARLIEST, end, hours_from)
    year = now.astimezone(LOCAL_TZ).year
    if PER_PARTITION + _weight(ahead, year, rolled) < _weight(behind, year, rolled):
        return ((ALL_TIME, 1), *((b, -1) for b in ahead))
    return tuple((b, 1) for b in behind)


DEFAULT_ROLLED_AFTER = timedelta(days=400)
PER_PARTITION = 8
"""What reading a bucket kept per partition costs against one summed over them (a guess
of the partitions a province runs; the choice is one of speed only)."""


def _weight(buckets: list[Bucket], year: int, rolled: float) -> int:
    """Roughly the hashes with figures that reading `buckets` costs: years after this one
    hold only far due dates' overdue instants and years more than ten back are before
    most deployments (either is a missing-key lookup)."""
    weight = 0
    for bucket in buckets:
        if bucket.resolution == "y" and not year - 10 <= int(bucket.id) <= year:
            weight += 0 if int(bucket.id) > year + 1 else 1
        elif bucket.resolution in ("h", "d") or bucket_end(bucket) > rolled:
            weight += PER_PARTITION
        else:
            weight += 1
    return weight


def _aligned(start: datetime, end: datetime, hours_from: datetime | None) -> list[Bucket]:
    """The fewest buckets exactly covering [start, end); raises ValueError if they cannot."""
    at, end = start.astimezone(LOCAL_TZ), end.astimezone(LOCAL_TZ)
    out: list[Bucket] = []
    while at < end:
        step = _largest_step(at, end, hours_from)
        if step is None:
            raise ValueError(f"{at.isoformat()} .. {end.isoformat()} is not on bucket edges")
        bucket, at = step
        out.append(bucket)
    return out


def _largest_step(
    at: datetime, end: datetime, hours_from: datetime | None
) -> tuple[Bucket, datetime] | None:
    if at == _floor_day(at):
        if at.month == 1 and at.day == 1:
            year_end = at.replace(year=at.year + 1)
            if year_end <= end:
                return Bucket("y", str(at.year)), year_end
        if at.day == 1 and at.month % 3 == 1:
            quarter_end = _next_month(_next_month(_next_month(at)))
            if quarter_end <= end:
                return Bucket("q", f"{at.year}Q{(at.month - 1) // 3 + 1}"), quarter_end
        if at.day == 1 and _next_month(at) <= end:
            return Bucket("m", at.strftime("%Y%m")), _next_month(at)
        if at + timedelta(days=1) <= end:
            return Bucket("d", at.strftime("%Y%m%d")), at + timedelta(days=1)
    if hours_from is not None and at >= hours_from and at == _floor_hour(at):
        return Bucket("h", at.strftime("%Y%m%d%H")), at + timedelta(hours=1)
    return None


def cover(
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    hours: bool = True,
    days_from: datetime | None = None,
) -> Cover:
    """Buckets covering [start, end): widened to whole hours within the last 90 days, to
    whole days before that (the contract allows this rounding; the response reports it).
    `hours=False` widens to whole days everywhere, for counters kept without hours;
    `days_from`: whole months before it, for counters whose old days are rolled into months.
    """
    hourly_from = _floor_day(now.astimezone(LOCAL_TZ) - HOURLY_QUERY_WINDOW)
    if not hours:
        hourly_from = _ceil_day(now.astimezone(LOCAL_TZ)) + timedelta(days=1)
    start = start.astimezone(LOCAL_TZ)
    end = end.astimezone(LOCAL_TZ)
    lo = _floor_hour(start) if start >= hourly_from else _floor_day(start)
    hi = _ceil_hour(end) if end > hourly_from else _ceil_day(end)
    if days_from is not None and lo < days_from:
        lo = _floor_month(lo)
    if hi <= lo:
        return Cover(lo, lo, ())

    picked: list[Bucket] = []
    at = lo
    while at < hi:
        month_end = _next_month(at)
        day_end = at + timedelta(days=1)
        if days_from is not None and at < days_from:
            picked.append(Bucket("m", at.strftime("%Y%m")))
            at = month_end
            hi = max(hi, at)
        elif at == _floor_month(at) and month_end <= hi:
            picked.append(Bucket("m", at.strftime("%Y%m")))
            at = month_end
        elif at == _floor_day(at) and day_end <= hi:
            picked.append(Bucket("d", at.strftime("%Y%m%d")))
            at = day_end
        else:
            picked.append(Bucket("h", at.strftime("%Y%m%d%H")))
            at = at + timedelta(hours=1)
    return Cover(lo, hi, tuple(picked))


def day_buckets(start: datetime, end: datetime) -> tuple[Bucket, ...]:
    """One bucket per local day touched by [start, end), for daily time series."""
    day = _floor_day(start.astimezone(LOCAL_TZ))
    stop = _ceil_day(end.astimezone(LOCAL_TZ))
    out = []
    while day < stop:
        out.append(Bucket("d", day.strftime("%Y%m%d")))
        day = day + timedelta(days=1)
    return tuple(out)


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(t: datetime) -> datetime:
    floored = _floor_hour(t)
    return floored if floored == t else floored + timedelta(hours=1)


def _floor_day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(t: datetime) -> datetime:
    floored = _floor_day(t)
    return floored if floored == t else floored + timedelta(days=1)


def _floor_month(t: datetime) -> datetime:
    return _floor_day(t).replace(day=1)


def _next_month(t: datetime) -> datetime:
    first = _floor_month(t)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
