"""The JSON query API of CONTRACT §5, independent of the web framework that serves it.

Each handler takes the query parameters and the current instant and returns (status, body),
so it can be tested against a real Redis without starting a web server.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from iocmon.domain.buckets import cover
from iocmon.domain.events import RecordRejected, parse_timestamp
from iocmon.domain.periods import PeriodError, parse_period
from streams.queries import FigureReader

DEFAULT_PERIOD = timedelta(hours=24)
DEFAULT_OVERDUE_LIMIT = 100
MAX_OVERDUE_LIMIT = 1000

Response = tuple[int, dict[str, Any]]


class BadParameter(ValueError):
    """A query parameter that the API cannot use; the message says what it accepts."""


async def summary(
    reader: FigureReader,
    params: Mapping[str, str],
    now: datetime,
    names: Mapping[str, str] | None = None,
) -> Response:
    """Figures for [from, to) or a calendar `period` (2024, 2024-H1, 2024-Q3, 2024-02, ...)."""
    names = names or {}
    try:
        _only(params, {"from", "to", "period", "agency", "by"})
        if params.get("period"):
            if params.get("from") or params.get("to"):
                raise BadParameter("give either 'period' or 'from'/'to', not both")
            try:
                period = parse_period(params["period"])
            except PeriodError as exc:
                raise BadParameter(str(exc)) from None
            start, end = period.start, period.end
        else:
            start = _timestamp(params, "from") or now - DEFAULT_PERIOD
            end = _timestamp(params, "to") or now
        if end <= start:
            raise BadParameter("'to' must be later than 'from'")
        agency = _agency(params)
        by = params.get("by")
        if by not in (None, "agency"):
            raise BadParameter("'by' accepts only 'agency'")
    except BadParameter as exc:
        return 400, {"error": str(exc)}
    used = cover(start, end, now)
    figures = await reader.figures(used, now, agency)
    body: dict[str, Any] = {
        "from": used.start.isoformat(),
        "to": used.end.isoformat(),
        "requested": {"from": start.isoformat(), "to": end.isoformat()},
        "as_of": now.isoformat(),
        "agency": agency,
        "agency_name": names.get(agency) if agency else None,
        **figures.to_json(),
    }
    if by == "agency":
        per_agency = await reader.figures_by_agency(used, now)
        body["by_agency"] = [
            {"agency": code, "agency_name": names.get(code), **f.to_json()}
            for code, f in per_agency.items()
            if agency is None or code == agency
        ]
    return 200, body


async def overdue(reader: FigureReader, params: Mapping[str, str], now: datetime) -> Response:
    try:
        _only(params, {"agency", "limit"})
        agency = _agency(params)
        limit = _limit(params)
    except BadParameter as exc:
        return 400, {"error": str(exc)}
    return 200, {"as_of": now.isoformat(), "items": await reader.overdue(now, agency, limit)}


def _only(params: Mapping[str, str], accepted: set[str]) -> None:
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise BadParameter(
            f"unknown parameter(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted))}"
        )


def _timestamp(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(name, raw)
    except RecordRejected:
        raise BadParameter(
            f"'{name}' must be an RFC 3339 timestamp with offset, e.g. 2024-02-05T00:00:00+07:00"
        ) from None


def _agency(params: Mapping[str, str]) -> str | None:
    raw = params.get("agency")
    if raw is None or raw == "":
        return None
    if len(raw) > 64:
        raise BadParameter("'agency' is an agency code of at most 64 characters")
    return raw


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_OVERDUE_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_OVERDUE_LIMIT:
        raise BadParameter(f"'limit' must be a whole number from 1 to {MAX_OVERDUE_LIMIT}")
    return int(raw)
