"""The at-risk check of open dossiers (issue #18): which are at risk now, and what it changes.

The worker forecasts each on-track open dossier of its partitions (`risk.forecast`) from the
duration histograms every partition keeps (`Histories`): once every working day at
`SWEEP_AT` (staff read their warnings when the desk opens) and when it starts owning the
partition, as the backtest's replay does (`forecast_replay`), and again after every event
of a dossier (it may be received, resumed or rescheduled into risk). A forecast moves only
with the working-day clock and the histograms, so checking every dossier more often would
buy nothing.

Checking is split in two so that the costly part runs outside the partition's lock:
`assess` forecasts one dossier (pure, CPU), and `plan_risk_check` turns the assessments into
a plan the store applies like a batch, under the partition's offset and version fence:

- an `at_risk` alert for each dossier found at risk that has none yet for its appointment,
  recorded in the state's `alerted` in the same write (so a restart or rebalance neither
  repeats nor loses it; sent before the write, as every alert: a crash in between repeats it
  with the same id). None once the dossier has a `due_soon` or `overdue` alert, which say
  more; the alert clock's due-soon instant counts too (`IOCMON_ALERT_DUE_SOON_SHARE`).
- the partition's at-risk list (what the API and `dossiers_at_risk` read): entries added,
  changed or dropped; after a sweep, every entry not found at risk is dropped. Nothing is
  written when nothing changed (a sweep of a partition with no dossier at risk writes
  nothing).

The alert is never cleared because the risk fell (a dossier is not un-warned by a
histogram that moved); it is cleared with the others when the dossier ends or is
rescheduled (`lifecycle`), and replaced by the `due_soon` alert when that comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from iocmon.domain.alerts import (
    Alert,
    AlertKind,
    AlertPolicy,
    alert_clock,
    alert_id,
)
from iocmon.domain.batch import BatchPlan, open_entry
from iocmon.domain.buckets import Bucket
from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar, local_date
from iocmon.domain.histogram import DurationHistogram
from iocmon.domain.judge import open_clock
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import (
    DEFAULT_FORECAST_POLICY,
    Basis,
    ForecastPolicy,
    Scope,
    choose,
    expected_end,
    forecast,
)

SWEEP_AT = time(8, 0)
"""Local time of the daily sweep of every on-track dossier (working days only). A sweep made
while the histograms were cold (`Histories.cold`) is made again as soon as they are not."""
_EMPTY = DurationHistogram.empty()


@dataclass(frozen=True, slots=True)
class Histories:
    """The duration histograms a check forecasts from, merged over every partition and the
    months within the retention horizon. Months written before the agency-procedure level
    have none of its fields: it fills as dossiers end, and `choose` falls back meanwhile."""

    agency_procedures: Mapping[tuple[str, str], DurationHistogram] = field(default_factory=dict)
    """By (agency, procedure)."""
    procedures: Mapping[str, DurationHistogram] = field(default_factory=dict)
    agencies: Mapping[str, DurationHistogram] = field(default_factory=dict)
    province: DurationHistogram = _EMPTY

    def cold(self, min_samples: int) -> bool:
        """Too few dossiers ended anywhere to forecast any (a new installation)."""
        return self.province.total < min_samples

    def basis(self, procedure: str, agency: str, min_samples: int) -> Basis | None:
        return choose(
            agency_procedure=self.agency_procedures.get((agency, procedure), _EMPTY),
            procedure=self.procedures.get(procedure, _EMPTY),
            agency=self.agencies.get(agency, _EMPTY),
            province=self.province,
            min_samples=min_samples,
        )


@dataclass(frozen=True, slots=True)
class AtRiskItem:
    """One entry of the at-risk list: what the API shows of a dossier found at risk."""

    agency: str
    procedure: str
    due_at: datetime
    """The original due date, by which the dossier is judged (CONTRACT §3)."""
    risk: float
    expected_end: date | None
    basis: Scope
    until: datetime
    """When it turns due soon and so stops being at risk: readers leave it out from then on,
    whether or not a check has dropped it yet."""

    def to_json(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "procedure": self.procedure,
            "due_at": self.due_at.isoformat(),
            "risk": self.risk,
            "expected_end": None if self.expected_end is None else self.expected_end.isoformat(),
            "basis": self.basis.value,
            "until": self.until.timestamp(),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AtRiskItem:
        end = doc["expected_end"]
        return cls(
            agency=doc["agency"],
            procedure=doc["procedure"],
            due_at=datetime.fromisoformat(doc["due_at"]),
            risk=float(doc["risk"]),
            expected_end=None if end is None else date.fromisoformat(end),
            basis=Scope(doc["basis"]),
            until=datetime.fromtimestamp(float(doc["until"]), LOCAL_TZ),
        )


def assess(
    state: DossierState,
    now: datetime,
    histories: Histories,
    calendar: WorkingCalendar,
    policy: ForecastPolicy = DEFAULT_FORECAST_POLICY,
) -> AtRiskItem | None:
    """The dossier's entry of the at-risk list if it is at risk at `now`, else None (not open,
    paused, due soon, overdue, below the threshold, or nothing to forecast from)."""
    if not state.is_open or state.is_paused or state.due_at is None:
        return None
    assert state.agency is not None and state.procedure is not None
    clock = open_clock(state.due_at, state.paused_s, calendar)
    if now >= clock.due_soon_from:  # the cheap test first: most open dossiers are on track
        return None
    basis = histories.basis(state.procedure, state.agency, policy.min_samples)
    result = forecast(state, now, basis, calendar, policy)
    if not result.at_risk:
        return None
    assert result.risk is not None
    return AtRiskItem(
        agency=state.agency,
        procedure=state.procedure,
        due_at=state.due_at,
        risk=round(result.risk, 4),
        expected_end=None if basis is None else expected_end(state, now, basis, calendar),
        basis=Scope.PROVINCE if result.scope is None else result.scope,
        until=clock.due_soon_from,
    )


Assessed = tuple[DossierState | None, AtRiskItem | None]
"""A dossier's state as assessed (None: not open) and its entry if it is at risk."""


def plan_risk_check(
    applied_offset: int,
    assessed: Mapping[str, Assessed],
    listed: Mapping[str, AtRiskItem],
    now: datetime,
    calendar: WorkingCalendar,
    alert_policy: AlertPolicy,
    *,
    complete: bool = False,
) -> BatchPlan:
    """The alerts and list changes of the assessments (module doc). `listed` is the
    partition's list as it stands; `complete` (a sweep): `assessed` holds every dossier that
    may be at risk, so the list becomes exactly those found at risk. Entries that turned due
    soon are dropped. The plan leaves the partition's offset where it is."""
    plan = BatchPlan(last_offset=applied_offset, stream_time=None)
    found: set[str] = set()
    for dossier_id, (state, item) in assessed.items():
        if item is None:
            continue
        found.add(dossier_id)
        if listed.get(dossier_id) != item:
            plan.at_risk_set[dossier_id] = item
        assert state is not None
        alert = _alert(dossier_id, state, now, calendar, alert_policy)
        if alert is None:
            continue
        updated = replace(state, alerted=(*state.alerted, alert.alert_id))
        plan.alerts.append(alert)
        plan.index_before[dossier_id] = open_entry(state, calendar, alert_policy)
        plan.states[dossier_id] = updated
        plan.index_after[dossier_id] = open_entry(updated, calendar, alert_policy)
    plan.at_risk_dropped = sorted(
        d
        for d, item in listed.items()
        if d not in found and (complete or d in assessed or item.until <= now)
    )
    return plan


def _alert(
    dossier_id: str,
    state: DossierState,
    now: datetime,
    calendar: WorkingCalendar,
    policy: AlertPolicy,
) -> Alert | None:
    """The `at_risk` alert of the dossier's appointment, unless it has one, or a later one."""
    due = state.alert_due_at
    assert due is not None and state.agency is not None and state.procedure is not None
    if state.alerted and any(
        alert_id(dossier_id, kind, due) in state.alerted
        for kind in (AlertKind.AT_RISK, AlertKind.DUE_SOON, AlertKind.OVERDUE)
    ):
        return None
    assert state.received_at is not None
    clock = alert_clock(
        received_at=state.received_at,
        alert_due_at=due,
        paused_s=state.paused_s,
        calendar=calendar,
        policy=policy,
    )
    if now >= clock.due_soon_from:  # the due-soon alert is due: it says more
        return None
    return Alert(AlertKind.AT_RISK, dossier_id, state.agency, state.procedure, due, 0,
                 found_on(now))  # fmt: skip


def found_on(now: datetime) -> datetime:
    """An at-risk alert's `state_at`: the local midnight starting the day it was found at
    risk. Not the instant of the check, so that the alert sent again after a crash (same
    id) says the same thing the same day."""
    return datetime.combine(local_date(now), time(0, 0), tzinfo=LOCAL_TZ)


def next_sweep(after: datetime, calendar: WorkingCalendar, at: time = SWEEP_AT) -> datetime:
    """The first `at` (local) of a working day strictly after `after`."""
    day = local_date(after)
    while True:
        if calendar.is_working_day(day):
            candidate = datetime.combine(day, at, tzinfo=LOCAL_TZ)
            if candidate > after:
                return candidate
        day += timedelta(days=1)


def months_within(now: datetime, horizon: timedelta) -> list[Bucket]:
    """The month buckets (local) of the duration histograms a forecast at `now` reads: from
    the month `horizon` before `now` (CONTRACT §3a's H: the dossiers ended within it) to the
    month of `now`, oldest first."""
    first = (now - horizon).astimezone(LOCAL_TZ)
    last = now.astimezone(LOCAL_TZ)
    year, month = first.year, first.month
    out = []
    while (year, month) <= (last.year, last.month):
        out.append(Bucket("m", f"{year:04d}{month:02d}"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
