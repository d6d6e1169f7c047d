"""The read-only JSON query API (CONTRACT §5 and the duty tools), framework-independent.

Each handler takes the query parameters and the current instant and returns (status, body),
so it can be tested against a real Redis without a web server. Bad parameters get 400 with
a message that says what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from iocmon.domain.agencies import AgencyCatalogue
from iocmon.domain.buckets import Cover, cover, day_buckets
from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar
from iocmon.domain.events import MAX_ID_CHARS
from iocmon.domain.figures import Figures
from iocmon.domain.judge import open_clock, open_state, overdue_days
from iocmon.domain.procedures import ProcedureCatalogue
from iocmon.slo.objective import DEFAULT_ON_TIME_OBJECTIVE, meets, worst_first
from iocmon.streams.api_params import (
    RANGE_PARAMS,
    BadParameter,
    agency_param,
    limit_param,
    only,
    parse_range,
)
from iocmon.streams.labels import OTHER_AGENCY, AgencyLabels
from iocmon.streams.queries import FigureReader

DEFAULT_OVERDUE_LIMIT = 100
MAX_SERIES_DAYS = 5 * 366 + 1
RANKINGS = ("on_time_ratio", "overdue", "late", "progress_766")

Response = tuple[int, dict[str, Any]]


class Api:
    def __init__(
        self,
        reader: FigureReader,
        catalogue: AgencyCatalogue,
        calendar: WorkingCalendar,
        horizon: timedelta,
        procedures: ProcedureCatalogue,
        labels: AgencyLabels,
        objective: float = DEFAULT_ON_TIME_OBJECTIVE,
    ) -> None:
        self._labels = labels
        self._objective = objective
        self._horizon = horizon
        self._procedures = procedures
        self._reader = reader
        self._catalogue = catalogue
        self._names = {a.code: a.name for a in catalogue}
        self._calendar = calendar

    async def summary(self, params: Mapping[str, str], now: datetime) -> Response:
        """Figures for [from, to) or a calendar `period` (2024, 2024-H1, 2024-Q3, 2024-02)."""
        try:
            only(params, RANGE_PARAMS | {"agency", "by", "scope"})
            start, end = parse_range(params, now)
            agency = agency_param(params)
            by = params.get("by")
            if by not in (None, "", "agency"):
                raise BadParameter("'by' accepts only 'agency'")
            scope = params.get("scope") or "unit"
            if scope not in ("unit", "tree"):
                raise BadParameter(
                    "'scope' is 'unit' (the agency alone) or 'tree' (with its units)"
                )
            if scope == "tree" and (agency is None or agency not in self._catalogue):
                raise BadParameter("'scope=tree' needs an 'agency' from the agency catalogue")
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        used = cover(start, end, now)
        units: list[str] = []
        if scope == "tree" and agency is not None:
            units = [agency, *(a.code for a in self._catalogue.descendants(agency))]
            per_agency = await self._reader.figures_of(used, now, units, OTHER_AGENCY)
            figures = Figures.total(per_agency[u] for u in units if u in per_agency)
        else:
            figures = await self._reader.figures(used, now, agency)
        body: dict[str, Any] = {
            **_range_json(used.start, used.end, start, end, now),
            "agency": agency,
            "agency_name": self._names.get(agency) if agency else None,
            "scope": scope,
            **({"units": units} if units else {}),
            **figures.to_json(),
        }
        if by == "agency":
            per_agency = await self._listed_agencies(used, now)
            body["by_agency"] = [
                self._agency_row(code, f)
                for code, f in per_agency.items()
                if agency is None or code == agency or code in units
            ]
        return 200, body

    async def overdue(self, params: Mapping[str, str], now: datetime) -> Response:
        try:
            agency, limit = _list_params(params)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        items = await self._reader.overdue(now, agency, limit)
        for item in items:
            item["agency_name"] = self._names.get(item["agency"])
        return 200, {"as_of": now.isoformat(), "items": items}

    async def at_risk(self, params: Mapping[str, str], now: datetime) -> Response:
        """Open dossiers on track that the forecast says will likely end late (issue #18),
        highest risk first, as the owners of their partitions last assessed them."""
        try:
            agency, limit = _list_params(params)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        found = await self._reader.at_risk(now)
        items = [
            {
                "dossier_id": dossier_id,
                "agency": item.agency,
                "agency_name": self._names.get(item.agency),
                "procedure": item.procedure,
                "due_at": item.due_at.isoformat(),
                "risk": item.risk,
                "expected_end": _iso_date(item.expected_end),
                "basis": item.basis.value,
            }
            for dossier_id, item in found
            if agency is None or item.agency == agency
        ]
        return 200, {"as_of": now.isoformat(), "items": items[:limit]}

    async def rankings(self, params: Mapping[str, str], now: datetime) -> Response:
        """Agencies ranked by a figure: worst first by default (lowest on-time ratio,
        most overdue), which is what an operations center looks for.

        Each row says whether the agency is `below_target`: its on-time ratio under the
        province's objective (IOCMON_ON_TIME_OBJECTIVE, in the answer as `objective`; null
        when it judged nothing). By on-time ratio, ties go to the agency with more late
        dossiers, as on the terminal wall's list of agencies below target."""
        try:
            only(params, RANGE_PARAMS | {"by", "limit", "order"})
            start, end = parse_range(params, now)
            by = params.get("by") or "on_time_ratio"
            if by not in RANKINGS:
                raise BadParameter(f"'by' must be one of: {', '.join(RANKINGS)}")
            order = params.get("order") or (
                "asc" if by in ("on_time_ratio", "progress_766") else "desc"
            )
            if order not in ("asc", "desc"):
                raise BadParameter("'order' must be 'asc' or 'desc'")
            limit = limit_param(params, 20)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        used = cover(start, end, now)
        per_agency = await self._listed_agencies(used, now)
        rows = [
            {
                "value": getattr(f, by),
                **self._agency_row(code, f),
                "below_target": self._below_target(f),
            }
            for code, f in per_agency.items()
            if getattr(f, by) is not None
        ]
        if by == "on_time_ratio":
            rows.sort(key=lambda r: worst_first(r["value"], r["late"], r["agency"]),
                      reverse=order == "desc")  # fmt: skip
        else:
            rows.sort(key=lambda r: (r["value"], r["agency"]), reverse=order == "desc")
        return 200, {**_range_json(used.start, used.end, start, end, now), "by": by,
                     "order": order, "objective": self._objective,
                     "items": rows[:limit]}  # fmt: skip

    async def _listed_agencies(self, used: Cover, now: datetime) -> dict[str, Figures]:
        """Figures of each agency label value (the catalogue's codes, or the first codes
        seen up to IOCMON_AGENCY_LABEL_LIMIT) and of the others summed as `other`."""
        read = await self._reader.figures_of(used, now, await self._labels.allowed(), OTHER_AGENCY)
        if read.get(OTHER_AGENCY) == Figures():
            del read[OTHER_AGENCY]  # no agency outside the label values
        return read

    async def procedures(self, agency: str, params: Mapping[str, str], now: datetime) -> Response:
        """Per-procedure outcomes of one agency (counted by whole local days)."""
        try:
            only(params, RANGE_PARAMS)
            agency_param({"agency": agency})
            start, end = parse_range(params, now)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        # Day counters of procedures are rolled into months past the horizon (§3a).
        days_from = now - self._horizon + timedelta(days=2)
        used = cover(start, end, now, hours=False, days_from=days_from)
        by_procedure = await self._reader.procedures(used, agency)
        items = []
        for procedure, outcomes in sorted(by_procedure.items()):
            f = Figures(**{o: outcomes[o] for o in ("early", "on_time", "late", "withdrawn")})
            listed = self._procedures.get(procedure)
            field = self._procedures.field_of(procedure)
            items.append({"procedure": procedure, "name": listed.name if listed else None,
                          "field": field.key, "field_name": field.name,
                          **_ended_json(f)})  # fmt: skip
        return 200, {**_range_json(used.start, used.end, start, end, now), "agency": agency,
                     "agency_name": self._names.get(agency), "items": items}  # fmt: skip

    async def series(self, params: Mapping[str, str], now: datetime) -> Response:
        """Daily figures (local days) for a period: for trends and reports."""
        try:
            only(params, RANGE_PARAMS | {"agency"})
            start, end = parse_range(params, now, default=timedelta(days=30))
            agency = agency_param(params)
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        if (end - start).days >= MAX_SERIES_DAYS:  # before building a bucket per day
            return 400, {"error": f"a series covers at most {MAX_SERIES_DAYS} days"}
        days = day_buckets(start, end)
        if len(days) > MAX_SERIES_DAYS:
            return 400, {"error": f"a series covers at most {MAX_SERIES_DAYS} days"}
        rows = await self._reader.daily(days, agency)
        return 200, {
            **_range_json(
                datetime.strptime(days[0].id, "%Y%m%d").replace(tzinfo=LOCAL_TZ),
                datetime.strptime(days[-1].id, "%Y%m%d").replace(tzinfo=LOCAL_TZ)
                + timedelta(days=1),
                start,
                end,
                now,
            ),
            "agency": agency,
            "days": [
                {"date": f"{d[:4]}-{d[4:6]}-{d[6:]}", "received": f.received, **_ended_json(f)}
                for d, f in rows
            ],
        }

    async def dossier(self, dossier_id: str, params: Mapping[str, str], now: datetime) -> Response:
        try:
            only(params, set())
        except BadParameter as exc:
            return 400, {"error": str(exc)}
        if not 1 <= len(dossier_id) <= MAX_ID_CHARS:
            return 400, {"error": f"a dossier id has 1 to {MAX_ID_CHARS} characters"}
        state = await self._reader.dossier(dossier_id)
        if state is None:
            return 404, {"error": f"no dossier {dossier_id!r} has been received"}
        body: dict[str, Any] = {
            "dossier_id": state.dossier_id,
            "status": state.status,
            "agency": state.agency,
            "agency_name": self._names.get(state.agency or ""),
            "procedure": state.procedure,
            "channel": state.channel,
            "level": state.level,
            "handler": state.handler,
            "received_at": _iso(state.received_at),
            "due_at": _iso(state.due_at),
            "alert_due_at": _iso(state.alert_due_at),
            "paused_s": state.paused_s,
            "paused": state.is_paused,
            "supplement_requests": state.supplement_requests,
            "ended_at": _iso(state.ended_at),
            "outcome": state.outcome.value if state.outcome else None,
            "state": None,
            "overdue_days": 0,
            "history": [
                {"event_id": e, "type": t, "at": _iso(_local(at)), "effect": effect}
                for e, t, at, effect in state.history
            ],
        }
        if state.is_open and state.due_at is not None:
            clock = (
                None
                if state.is_paused
                else open_clock(state.due_at, state.paused_s, self._calendar)
            )
            body["state"] = open_state(clock, now).value
            if clock is not None:
                body["overdue_days"] = overdue_days(clock.overdue_from, now)
        return 200, body

    def _below_target(self, figures: Figures) -> bool | None:
        ratio = figures.on_time_ratio
        return None if ratio is None else not meets(ratio, self._objective)

    def _agency_row(self, code: str, figures: Figures) -> dict[str, Any]:
        return {"agency": code, "agency_name": self._names.get(code), **figures.to_json()}


def _ended_json(f: Figures) -> dict[str, Any]:
    return {"early": f.early, "on_time": f.on_time, "late": f.late, "withdrawn": f.withdrawn,
            "ended": f.ended, "on_time_ratio": f.on_time_ratio}  # fmt: skip


def _range_json(
    used_from: datetime, used_to: datetime, start: datetime, end: datetime, now: datetime
) -> dict[str, Any]:
    return {
        "from": used_from.isoformat(),
        "to": used_to.isoformat(),
        "requested": {"from": start.isoformat(), "to": end.isoformat()},
        "as_of": now.isoformat(),
    }


def _local(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, LOCAL_TZ)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _list_params(params: Mapping[str, str]) -> tuple[str | None, int]:
    """`agency` and `limit`, the only parameters of the dossier lists (overdue, at risk)."""
    only(params, {"agency", "limit"})
    return agency_param(params), limit_param(params, DEFAULT_OVERDUE_LIMIT)
