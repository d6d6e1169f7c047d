"""The at-risk forecast of an open dossier (issue #18): the chance it will be counted late.

Durations are working-day numbers (`iocmon.domain.durations`): a dossier is late exactly
when its duration exceeds its allowance, the number of its due date. An open dossier that
has survived s days without ending belongs among the samples that lasted longer than s, so
its risk is P(duration > allowance | duration > s) = survival(allowance) / survival(s),
read from the histogram of its procedure at its agency, or its procedure's in every agency,
or its agency's, or the province's (`choose`).

Edge cases, decided here so that the worker, the API and the backtest agree:
- survived ≥ allowance: its due date has passed; risk 1.0 (it is overdue, not at risk).
- more than one supplement request: counted late whatever the dates (CONTRACT §3); risk 1.0.
- no sample lasted longer than s: it is already slower than every dossier of its kind,
  which the data cannot price; risk 1.0, so that someone looks at it while it is on track.
- too few samples even in the province (`choose` gives None): no forecast, risk None, and
  never at risk: a handful of early dossiers would flag everything at a cold start.

`at_risk` holds only while the dossier is `on_track` (CONTRACT §3): once due soon, overdue
or paused, the existing states and alerts already say more than the forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from iocmon.domain.calendar import DUE_TIME, LOCAL_TZ, WorkingCalendar, local_date
from iocmon.domain.durations import allowance_of, day_of_number, paused_until, survived_of
from iocmon.domain.histogram import DurationHistogram
from iocmon.domain.judge import OpenState, open_clock, open_state
from iocmon.domain.lifecycle import DossierState

DEFAULT_THRESHOLD = 0.5
"""`IOCMON_AT_RISK_THRESHOLD`: the risk from which an on-track dossier is at risk."""
DEFAULT_MIN_SAMPLES = 30
"""Samples a histogram needs before it is trusted over the wider one (`choose`)."""


class Scope(StrEnum):
    """Whose histogram a forecast was read from, narrowest first."""

    AGENCY_PROCEDURE = "agency_procedure"
    """One procedure at one agency: the same national procedure code runs at different
    speeds in different agencies (a land office's backlog, a district's staffing)."""
    PROCEDURE = "procedure"
    AGENCY = "agency"
    PROVINCE = "province"


Subject = str | tuple[str, str]
"""Whose histogram within its scope: a procedure's or an agency's code, "" for the province,
(agency, procedure) for a procedure at an agency."""


@dataclass(frozen=True, slots=True)
class ForecastPolicy:
    threshold: float = DEFAULT_THRESHOLD
    min_samples: int = DEFAULT_MIN_SAMPLES

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"the at-risk threshold is in (0, 1], got {self.threshold}")
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be at least 1, got {self.min_samples}")


DEFAULT_FORECAST_POLICY = ForecastPolicy()


@dataclass(frozen=True, slots=True)
class Basis:
    """The histogram a forecast reads, and whose it is (shown to staff beside the risk)."""

    scope: Scope
    histogram: DurationHistogram


def choose(
    *,
    agency_procedure: DurationHistogram,
    procedure: DurationHistogram,
    agency: DurationHistogram,
    province: DurationHistogram,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> Basis | None:
    """The narrowest histogram with at least `min_samples`: the procedure's own times at the
    dossier's agency are the best evidence once there are enough of them, then the
    procedure's in every agency, the agency's, the province's; None when even the province
    has too few."""
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    for scope, histogram in (
        (Scope.AGENCY_PROCEDURE, agency_procedure),
        (Scope.PROCEDURE, procedure),
        (Scope.AGENCY, agency),
        (Scope.PROVINCE, province),
    ):
        if histogram.total >= min_samples:
            return Basis(scope, histogram)
    return None


def risk_of_lateness(
    histogram: DurationHistogram, *, allowance: int, survived: int
) -> float | None:
    """P(duration > allowance | duration > survived) with the edge cases of the module doc;
    None only for an empty histogram with the due date still ahead."""
    if survived >= allowance:
        return 1.0
    if histogram.total == 0:
        return None
    share = histogram.conditional_survival(allowance, survived)
    return 1.0 if share is None else share


@dataclass(frozen=True, slots=True)
class Forecast:
    state: OpenState
    risk: float | None
    """None when there is no basis to forecast from (and the outcome is not certain)."""
    at_risk: bool
    scope: Scope | None
    allowance: int
    survived: int


def forecast(
    state: DossierState,
    now: datetime,
    basis: Basis | None,
    calendar: WorkingCalendar,
    policy: ForecastPolicy = DEFAULT_FORECAST_POLICY,
) -> Forecast:
    """Risk and at-risk flag of an open dossier at `now` (module doc)."""
    if not state.is_open or state.due_at is None:
        raise ValueError(f"dossier {state.dossier_id!r} is not open: only open ones have a risk")
    clock = None if state.is_paused else open_clock(state.due_at, state.paused_s, calendar)
    open_now = open_state(clock, now)
    allowance = allowance_of(state, calendar)
    survived = survived_of(state, now, calendar)
    risk: float | None
    if state.supplement_requests > 1 or survived >= allowance:
        risk = 1.0
    elif basis is None:
        risk = None
    else:
        risk = risk_of_lateness(basis.histogram, allowance=allowance, survived=survived)
    return Forecast(
        state=open_now,
        risk=risk,
        at_risk=open_now is OpenState.ON_TRACK and risk is not None and risk >= policy.threshold,
        scope=None if basis is None else basis.scope,
        allowance=allowance,
        survived=survived,
    )


def expected_end(
    state: DossierState, now: datetime, basis: Basis, calendar: WorkingCalendar
) -> date | None:
    """The local date by which half the dossiers that lasted as long as this one had ended
    (the conditional median), moved later by the time it has been paused, as its due date
    is (CONTRACT §3). None when the histogram cannot say (nothing lasted as long, or the
    median is beyond its last bound)."""
    if state.received_at is None:
        raise ValueError(f"dossier {state.dossier_id!r} was not received: it has no clock")
    survived = survived_of(state, now, calendar)
    number = basis.histogram.quantile(0.5, given=survived)
    if number is None:
        return None
    day = day_of_number(state.received_at, number, calendar)
    shifted = datetime.combine(day, DUE_TIME, tzinfo=LOCAL_TZ) + timedelta(
        seconds=paused_until(state, now)
    )
    return local_date(shifted)
