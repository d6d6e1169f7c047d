"""How good a warning was, judged against the dossiers that really ended late (issue #18).

A warning (the at-risk forecast at some threshold, or the `due_soon` alert) is scored over
the dossiers that ended by resolution: withdrawn ones are neither late nor in time, and open
ones have no answer yet. Per warning:

- precision: of the dossiers it warned about, the share that ended late;
- recall: of the late dossiers, the share it warned about at all;
- recall ahead: of the late dossiers, the share warned at least `min_lead_days` working days
  before their due date, which is what gives staff time to act (the issue's acceptance
  figure);
- median lead: over the late dossiers it warned about, the working days from the first
  warning to the due date. Leads of dossiers that ended in time would measure nothing
  anyone acted on.

Lead is counted in the dossier's own clock, like its due date: the warning's instant minus
the time the dossier had been paused by then, so a pause after the warning (which moves the
due date later) does not shrink the lead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from iocmon.domain.calendar import WorkingCalendar, local_date

DEFAULT_MIN_LEAD_DAYS = 2


@dataclass(frozen=True, slots=True)
class Sighting:
    """When a warning first fired for a dossier, and its paused time by then."""

    at: datetime
    paused_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Warned:
    """One ended dossier as one warning saw it."""

    late: bool
    due_at: datetime
    first: Sighting | None


@dataclass(frozen=True, slots=True)
class Score:
    dossiers: int
    late: int
    warned: int
    warned_late: int
    warned_late_ahead: int
    """Late dossiers first warned at least `min_lead_days` before their due date."""
    min_lead_days: int
    median_lead_days: float | None

    @property
    def precision(self) -> float | None:
        return self.warned_late / self.warned if self.warned else None

    @property
    def recall(self) -> float | None:
        return self.warned_late / self.late if self.late else None

    @property
    def recall_ahead(self) -> float | None:
        return self.warned_late_ahead / self.late if self.late else None

    @property
    def base_rate(self) -> float | None:
        """The late share: the precision of warning about every dossier."""
        return self.late / self.dossiers if self.dossiers else None

    @property
    def lift(self) -> float | None:
        """Precision over the base rate (the issue asks for at least 3)."""
        precision, base = self.precision, self.base_rate
        return precision / base if precision is not None and base else None


def lead_days(warned: Warned, calendar: WorkingCalendar) -> int | None:
    """Working days from the first warning (in the dossier's clock) to the due date: 0 when
    warned on the due date itself, negative when warned after it."""
    if warned.first is None:
        return None
    effective = warned.first.at - timedelta(seconds=warned.first.paused_s)
    return calendar.working_days_between(local_date(effective), local_date(warned.due_at))


def score(
    dossiers: Iterable[Warned],
    calendar: WorkingCalendar,
    min_lead_days: int = DEFAULT_MIN_LEAD_DAYS,
) -> Score:
    total = late = warned = warned_late = ahead = 0
    leads: list[int] = []
    for dossier in dossiers:
        total += 1
        late += dossier.late
        if dossier.first is None:
            continue
        warned += 1
        if dossier.late:
            lead = lead_days(dossier, calendar)
            assert lead is not None
            warned_late += 1
            ahead += lead >= min_lead_days
            leads.append(lead)
    return Score(
        dossiers=total,
        late=late,
        warned=warned,
        warned_late=warned_late,
        warned_late_ahead=ahead,
        min_lead_days=min_lead_days,
        median_lead_days=float(median(leads)) if leads else None,
    )
