"""The API's query parameters: each read in one place, each refusal saying what is accepted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.events import MAX_ID_CHARS, RecordRejected, parse_timestamp
from iocmon.domain.periods import PeriodError, parse_period

DEFAULT_PERIOD = timedelta(hours=24)
MAX_OVERDUE_LIMIT = 1000
EARLIEST_FIGURES = datetime(2000, 1, 1, tzinfo=LOCAL_TZ)
RANGE_PARAMS = frozenset({"from", "to", "period"})


class BadParameter(ValueError):
    """A query parameter that the API cannot use; the message says what it accepts."""


def only(params: Mapping[str, str], accepted: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise BadParameter(
            f"unknown parameter(s) {', '.join(unknown)}; accepted: "
            + (", ".join(sorted(accepted)) or "none")
        )


def parse_range(
    params: Mapping[str, str], now: datetime, default: timedelta = DEFAULT_PERIOD
) -> tuple[datetime, datetime]:
    if params.get("period"):
        if params.get("from") or params.get("to"):
            raise BadParameter("give either 'period' or 'from'/'to', not both")
        try:
            period = parse_period(params["period"])
        except PeriodError as exc:
            raise BadParameter(str(exc)) from None
        return within_figures(period.start, period.end, now)
    start = timestamp_param(params, "from") or now - default
    end = timestamp_param(params, "to") or now
    if end <= start:
        raise BadParameter("'to' must be later than 'from'")
    return within_figures(start, end, now)


def within_figures(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """No figure is older than 2000 (CONTRACT §4 refuses such events) or later than a day
    ahead. A range starting outside that is refused; one ending after the end of next year
    (which keeps every current period whole) is read up to it, so `to=2100-01-01` still
    means "everything". Either way a request reads at most ~340 month buckets."""
    latest = datetime(now.astimezone(LOCAL_TZ).year + 2, 1, 1, tzinfo=LOCAL_TZ)
    if start < EARLIEST_FIGURES or start >= latest:
        raise BadParameter(
            f"the range must start within {EARLIEST_FIGURES.date()} .. {latest.date()} "
            "(local days): events before 2000 or more than a day ahead are refused, so no "
            "figure exists outside it"
        )
    return start, min(end, latest)


def timestamp_param(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if re.search(r" \d{2}:\d{2}$", raw):
        raw = raw[:-6] + "+" + raw[-5:]  # an unencoded '+' in a URL arrives as a space
    try:
        return parse_timestamp(name, raw)
    except RecordRejected:
        raise BadParameter(
            f"'{name}' must be an RFC 3339 timestamp with offset, e.g. 2024-02-05T00:00:00+07:00"
            " (in a URL, write + as %2B)"
        ) from None


def agency_param(params: Mapping[str, str]) -> str | None:
    raw = params.get("agency")
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_ID_CHARS:
        raise BadParameter(f"'agency' is an agency code of at most {MAX_ID_CHARS} characters")
    return raw


def limit_param(params: Mapping[str, str], default: int) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_OVERDUE_LIMIT:
        raise BadParameter(f"'limit' must be a whole number from 1 to {MAX_OVERDUE_LIMIT}")
    return int(raw)
