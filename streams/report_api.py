"""`GET /api/v1/report` (CONTRACT §6): the periodic report of any period, from the counters.

The report is three sums of the report's counters (`iocmon.domain.report`): everything
before `from`, everything before `to`, and, for the overdue column, everything before `to`
at the resolution it is kept. Each is a few years, quarters and months, and the days at
its edge, read from whichever side of the boundary is shorter (`buckets.prefix_cover`), so
a report over five years reads about as much as one over a month.

Boundaries are local midnights. Per-procedure day counters are kept for the retention
horizon and by month beyond it, so a boundary older than that must be a month's first day.
A period still running is reported as of now: receipts and outcomes up to now, in process
now; `open_overdue` counts the dossiers overdue at the start of the current hour (the
finest the overdue counters are kept), named in the response as `overdue_as_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from iocmon.domain.agencies import AgencyCatalogue
from iocmon.domain.buckets import ALL_TIME, HOURLY_QUERY_WINDOW, SignedCover, prefix_cover
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.periods import current_period
from iocmon.domain.procedures import UNKNOWN_FIELD, ProcedureCatalogue
from iocmon.domain.report import ReportCounts, ReportRow, report_rows, total
from iocmon.streams.api_params import (
    RANGE_PARAMS,
    BadParameter,
    agency_param,
    only,
    parse_range,
)
from iocmon.streams.queries import FigureReader

BY = ("agency", "field")
SCOPES = ("unit", "tree")
_HORIZON_MARGIN = timedelta(days=2)
"""Day counters are trusted from this much after now - horizon: partitions' stream times
differ from the clock, and retire runs once a day of stream time."""

Response = tuple[int, dict[str, Any]]


class ReportApi:
    def __init__(
        self,
        reader: FigureReader,
        agencies: AgencyCatalogue,
        procedures: ProcedureCatalogue,
        horizon: timedelta,
    ) -> None:
        self._reader = reader
        self._agencies = agencies
        self._procedures = procedures
        self._horizon = horizon

    async def report(self, params: Mapping[str, str], now: datetime) -> Response:
        try:
            only(params, RANGE_PARAMS | {"by", "agency", "scope"})
            request = self._request(params, now)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        counts = ReportCounts(*await self._reader.report_counts(request.covers))
        units = request.units
        rows = report_rows(
            counts,
            request.key_of(),
            None if units is None else lambda agency, _: agency in units,
        )
        if request.tree_of is not None:
            rows = _subtrees(rows, request.tree_of, self._agencies)
            whole = rows.get(request.tree_of, ReportRow())
        else:
            whole = total(rows)
        names = self._names(request.by)
        return 200, {
            "from": request.start.isoformat(),
            "to": request.end.isoformat(),
            "by": request.by,
            "period": request.period,
            "agency": request.agency,
            "scope": request.scope,
            "produced_at": now.isoformat(),
            "overdue_as_of": request.overdue_as_of.isoformat(),
            "rows": [
                {"key": key, "name": names.get(key), **row.to_json()}
                for key, row in self._listed(rows, request).items()
            ],
            "total": whole.to_json(),
        }

    def _request(self, params: Mapping[str, str], now: datetime) -> _Request:
        period = params.get("period") or None
        if period or params.get("from") or params.get("to"):
            start, end = parse_range(params, now)
        else:
            month = current_period("month", now)
            period, start, end = month.name, month.start, month.end
        by = params.get("by") or "agency"
        if by not in BY:
            raise BadParameter("'by' is 'agency' or 'field'")
        agency = agency_param(params)
        scope = params.get("scope") or "unit"
        if scope not in SCOPES:
            raise BadParameter("'scope' is 'unit' (the agency alone) or 'tree' (with its units)")
        if scope == "tree" and (agency is None or agency not in self._agencies):
            raise BadParameter("'scope=tree' needs an 'agency' from the agency catalogue")
        if start >= now:
            raise BadParameter(
                f"the period begins at {start.isoformat()}, after now: nothing is received in "
                "it yet; ask for a period that has begun"
            )
        days_from = now - self._horizon + _HORIZON_MARGIN
        running = end > now
        if running:
            end = now
        for name, boundary in (("from", start), ("to", end)):
            if not (running and name == "to"):
                _check_boundary(name, boundary, days_from)
        before_from = prefix_cover(start, now)
        if running:
            overdue_as_of = _floor_hour(now)
            before_to: SignedCover = ((ALL_TIME, 1),)  # everything applied so far
            hours_from = _floor_hour(now - HOURLY_QUERY_WINDOW).replace(hour=0)
            overdue = prefix_cover(overdue_as_of, now, hours_from=hours_from)
        else:
            overdue_as_of = end
            before_to = overdue = prefix_cover(end, now)
        units = None
        if agency is not None:
            units = {agency}
            if scope == "tree":
                units.update(a.code for a in self._agencies.descendants(agency))
        return _Request(
            period=period,
            start=start,
            end=end,
            by=by,
            agency=agency,
            scope=scope,
            units=frozenset(units) if units is not None else None,
            tree_of=agency if scope == "tree" and by == "agency" else None,
            overdue_as_of=overdue_as_of,
            covers=(before_from, before_to, overdue),
        )

    def _names(self, by: str) -> dict[str, str]:
        if by == "field":
            return {f.key: f.name for f in (*self._procedures.fields(), UNKNOWN_FIELD)}
        return {a.code: a.name for a in self._agencies}

    def _listed(self, rows: dict[str, ReportRow], request: _Request) -> dict[str, ReportRow]:
        """The rows of the request, with the catalogue's agencies or fields that have no
        dossier yet listed as zeros: the report a province hands in names every unit."""
        if request.units is not None:
            keys = sorted(request.units) if request.by == "agency" else []
        elif request.by == "agency":
            keys = [a.code for a in self._agencies]
        else:
            keys = [f.key for f in self._procedures.fields()]
        listed = {key: rows.get(key, ReportRow()) for key in keys}
        listed.update(rows)
        return dict(sorted(listed.items()))


@dataclass(frozen=True, slots=True)
class _Request:
    period: str | None
    """The calendar period asked for (this month by default); None for from/to."""
    start: datetime
    end: datetime
    by: str
    agency: str | None
    scope: str
    units: frozenset[str] | None
    """The agencies asked for (`agency`, with its tree for scope=tree); None: all."""
    tree_of: str | None
    """The agency whose tree the rows are, each unit with its descendants added."""
    overdue_as_of: datetime
    covers: tuple[SignedCover, SignedCover, SignedCover]
    """Everything before `from`, before `to`, and before `overdue_as_of`."""

    def key_of(self) -> Callable[[str, str], str]:
        """A row's key from a counter's (agency, field)."""
        if self.by == "field":
            return lambda _, field: field
        return lambda agency, _: agency


def _subtrees(
    rows: dict[str, ReportRow], root: str, agencies: AgencyCatalogue
) -> dict[str, ReportRow]:
    """Each unit of `root`'s tree with its descendants' figures added (scope=tree)."""
    out = {}
    for unit in (root, *(a.code for a in agencies.descendants(root))):
        row = rows.get(unit, ReportRow())
        for below in agencies.descendants(unit):
            row = row + rows.get(below.code, ReportRow())
        out[unit] = row
    return out


def _check_boundary(name: str, at: datetime, days_from: datetime) -> None:
    local = at.astimezone(LOCAL_TZ)
    if local != local.replace(hour=0, minute=0, second=0, microsecond=0):
        raise BadParameter(f"'{name}' must be a local midnight (e.g. 2024-02-05T00:00:00+07:00)")
    if at < _first_of_next_month(days_from) and local.day != 1:
        raise BadParameter(
            f"'{name}' is in a month older than the retention horizon, where the report's "
            "figures are kept by month: give the first day of a month"
        )


def _first_of_next_month(at: datetime) -> datetime:
    """A boundary's days are read from the first of its month (or up to its end): its
    month's days must all still be kept."""
    local = at.astimezone(LOCAL_TZ)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(LOCAL_TZ).replace(minute=0, second=0, microsecond=0)
