"""How a dossier is judged (CONTRACT §3): its outcome when it ends, its state while open.

Dates are local dates in Asia/Ho_Chi_Minh. Paused time shifts the dossier's own clock back:
a dossier paused for two days is judged as if it were two days earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar, local_date


class Outcome(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"
    WITHDRAWN = "withdrawn"


class OpenState(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PAUSED = "paused"


def judge_outcome(
    *, ended_at: datetime, paused_s: float, due_at: datetime, supplement_requests: int
) -> Outcome:
    """Outcome of a dossier that ended by `resolved`, `stopped` or `result_returned`."""
    if supplement_requests > 1:
        return Outcome.LATE
    effective_end = local_date(ended_at - timedelta(seconds=paused_s))
    due = local_date(due_at)
    if effective_end < due:
        return Outcome.EARLY
    if effective_end == due:
        return Outcome.ON_TIME
    return Outcome.LATE


@dataclass(frozen=True, slots=True)
class OpenClock:
    """The two instants at which an open, unpaused dossier changes state.

    Stored as sorted-set scores so that "how many are overdue now" is one range count.
    """

    due_soon_from: datetime
    overdue_from: datetime


@lru_cache(maxsize=65536)
def open_clock(due_at: datetime, paused_s: float, calendar: WorkingCalendar) -> OpenClock:
    """When a dossier becomes due-soon and overdue, given the pauses it has had so far.

    Overdue: date(T - paused) > due date, i.e. T >= midnight after the due date + paused.
    Due soon: the due date is at most the next working day after date(T - paused), which
    holds exactly from the last working day before the due date onwards.

    Cached: it is asked for every open dossier of every batch (index before and after, and
    the alert clock), mostly for the same few appointment times and no pause. The answer
    depends only on the instant `due_at` names, so equal instants may share an entry.
    """
    due = local_date(due_at)
    due_soon_from = _local_midnight(calendar.previous_working_day(due)) + timedelta(
        seconds=paused_s
    )
    return OpenClock(due_soon_from=due_soon_from, overdue_from=overdue_instant(due_at, paused_s))


def overdue_instant(due_at: datetime, paused_s: float) -> datetime:
    """When an unpaused dossier with `paused_s` of pauses behind it becomes overdue:
    date(T - paused) > date(due) holds from the local midnight after the due date + paused."""
    return _local_midnight(local_date(due_at) + timedelta(days=1)) + timedelta(seconds=paused_s)


def open_state(clock: OpenClock | None, now: datetime) -> OpenState:
    """State of an open dossier at `now`; `clock` is None while the dossier is paused."""
    if clock is None:
        return OpenState.PAUSED
    if now >= clock.overdue_from:
        return OpenState.OVERDUE
    if now >= clock.due_soon_from:
        return OpenState.DUE_SOON
    return OpenState.ON_TRACK


def overdue_days(overdue_from: datetime, now: datetime) -> int:
    """Calendar days past the due date, as on-call staff read it ("quá hạn 3 ngày")."""
    if now < overdue_from:
        return 0
    return (now - overdue_from).days + 1


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ)
