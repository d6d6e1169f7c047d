"""Per-dossier alerts for on-call staff: at risk, due soon, overdue, and cleared when the
dossier ends.

Alerts follow the *current appointment* (`alert_due_at`: the original due date, or the one
on the latest apology slip), unlike judging, which keeps the original due date. Each alert
has a stable id (dossier, kind, appointment), so emitting it again after a crash is harmless:
receivers deduplicate by id. Which thresholds a dossier has passed is recorded in its state.

`at_risk` (issue #18) comes from the forecast (`iocmon.domain.risk_check`), not from a
threshold of the clock: it is emitted while the dossier is on track, and a later `due_soon`
or `overdue` alert of the same appointment replaces it, as `overdue` replaces `due_soon`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from iocmon.domain.calendar import WorkingCalendar
from iocmon.domain.judge import OpenClock, open_clock, overdue_days


class AlertKind(StrEnum):
    AT_RISK = "at_risk"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When the early warning fires: at the `due_soon` state (default), or once a share of
    the time between receipt and the appointment has passed (e.g. 0.75).
    """

    due_soon_share: float | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    dossier_id: str
    agency: str
    procedure: str
    due_at: datetime
    overdue_days: int
    state_at: datetime
    clears: str | None = None

    @property
    def alert_id(self) -> str:
        if self.kind is AlertKind.CLEARED:
            return f"{self.clears}:cleared"
        return alert_id(self.dossier_id, self.kind, self.due_at)

    def to_json(self, emitted_at: datetime, agency_name: str | None) -> dict[str, Any]:
        return {
            "v": 1,
            "alert_id": self.alert_id,
            "kind": self.kind.value,
            "dossier_id": self.dossier_id,
            "agency": self.agency,
            "agency_name": agency_name,
            "procedure": self.procedure,
            "due_at": self.due_at.isoformat(),
            "overdue_days": self.overdue_days,
            "state_at": self.state_at.isoformat(),
            "emitted_at": emitted_at.isoformat(),
            **({"clears": self.clears} if self.clears else {}),
        }


DEFAULT_POLICY = AlertPolicy()


def alert_id(dossier_id: str, kind: AlertKind, due_at: datetime) -> str:
    return f"{dossier_id}:{kind.value}:{due_at.isoformat()}"


def alert_clock(
    *,
    received_at: datetime,
    alert_due_at: datetime,
    paused_s: float,
    calendar: WorkingCalendar,
    policy: AlertPolicy,
) -> OpenClock:
    clock = open_clock(alert_due_at, paused_s, calendar)
    if policy.due_soon_share is None:
        return clock
    allowed = alert_due_at - received_at
    warn_at = received_at + allowed * policy.due_soon_share + timedelta(seconds=paused_s)
    return OpenClock(
        due_soon_from=min(warn_at, clock.overdue_from), overdue_from=clock.overdue_from
    )


def alerts_due(
    *,
    dossier_id: str,
    agency: str,
    procedure: str,
    alert_due_at: datetime,
    clock: OpenClock,
    already: tuple[str, ...],
    now: datetime,
) -> list[Alert]:
    """Alerts whose threshold has passed and that were not emitted yet. A dossier found
    already overdue gets only the overdue alert: a stale early warning helps nobody; nor
    does one after the overdue alert (a pause can move the thresholds back).
    """

    def make(kind: AlertKind, state_at: datetime) -> Alert:
        return Alert(kind, dossier_id, agency, procedure, alert_due_at,
                     overdue_days(clock.overdue_from, now), state_at)  # fmt: skip

    soon_id = alert_id(dossier_id, AlertKind.DUE_SOON, alert_due_at)
    overdue_id = alert_id(dossier_id, AlertKind.OVERDUE, alert_due_at)
    if now >= clock.overdue_from:
        return [] if overdue_id in already else [make(AlertKind.OVERDUE, clock.overdue_from)]
    if now >= clock.due_soon_from and soon_id not in already and overdue_id not in already:
        return [make(AlertKind.DUE_SOON, clock.due_soon_from)]
    return []


def clearing(
    *,
    dossier_id: str,
    agency: str,
    procedure: str,
    active: tuple[str, ...],
    due_at: datetime,
    at: datetime,
) -> list[Alert]:
    """`cleared` alerts for every alert still active (on the end or a reschedule)."""
    return [
        Alert(AlertKind.CLEARED, dossier_id, agency, procedure, due_at, 0, at, clears=active_id)
        for active_id in active
    ]
