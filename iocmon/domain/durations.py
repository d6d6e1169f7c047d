"""How long a dossier takes, in the clock its lateness is judged by: working-day numbers.

The at-risk forecast (issue #18) compares how long a dossier has taken with how long others
of its kind took. Lateness (CONTRACT §3) is decided on local *dates*: late when the date of
the effective end (terminal `at` − paused time) is after the date due. So the measure here
is a date measure too, counted like the due date of `processing_days`:

- the *working-day number* of an instant is the count of working days after the local day
  of receipt up to its own local date, a day off counting as the working day after it. The
  receipt day is number 0 (1 when received on a day off: the clock starts on the next
  working day), and the due date set from N `processing_days` is number N.
- a dossier's *duration* is the number of its effective end; its *allowance* is the number of
  its (original) due date. Then late ⇔ duration > allowance, exactly, whenever the due date is
  a working day, which it always is when set from `processing_days`. (Only a `due_at` given on
  a day off and an end on a later day of the same weekend compare as equal yet judge late.)
- an open dossier at `now` has *survived* the number of (now − paused time) minus one: it
  did not end on any day before today, but may still end today.

A finer measure (working hours / 8, say) was rejected: the judge ignores the hour, so hours
would blur the one comparison that matters, and would make every duration fractional.
Dossiers that were withdrawn are not durations: the applicant ended them, not the agency.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from iocmon.domain.calendar import WorkingCalendar, local_date
from iocmon.domain.judge import Outcome
from iocmon.domain.lifecycle import DossierState


def day_number(received_at: datetime, instant: datetime, calendar: WorkingCalendar) -> int:
    """Working-day number of `instant` for a dossier received at `received_at` (module doc).

    Never negative: an instant before the receipt (which events cannot carry, CONTRACT §4)
    counts as the receipt day.
    """
    return _number(local_date(received_at), local_date(instant), calendar)


def _number(receipt_day: date, day: date, calendar: WorkingCalendar) -> int:
    if day < receipt_day:
        day = receipt_day
    if not calendar.is_working_day(day):
        day = calendar.next_working_day(day)
    return calendar.working_days_between(receipt_day, day)


def allowance_of(state: DossierState, calendar: WorkingCalendar) -> int:
    """The working-day number of the dossier's original due date: a rescheduled appointment
    moves its alerts, not its classification (CONTRACT §2), and lateness is what is forecast."""
    if state.received_at is None or state.due_at is None:
        raise ValueError(f"dossier {state.dossier_id!r} was not received: it has no allowance")
    return day_number(state.received_at, state.due_at, calendar)


def duration_of(state: DossierState, calendar: WorkingCalendar) -> int | None:
    """The working-day number of the effective end of an ended dossier; None for one still
    open or withdrawn, which tell nothing of how long the agency takes."""
    if state.status != "ended" or state.outcome is Outcome.WITHDRAWN:
        return None
    assert state.received_at is not None and state.ended_at is not None
    effective_end = state.ended_at - timedelta(seconds=state.paused_s)
    return day_number(state.received_at, effective_end, calendar)


def paused_until(state: DossierState, now: datetime) -> float:
    """Seconds paused by `now`, the pause still open included (its clock stands still)."""
    paused = state.paused_s
    if state.pause_started_at is not None:
        paused += max(0.0, (now - state.pause_started_at).total_seconds())
    return paused


def survived_of(state: DossierState, now: datetime, calendar: WorkingCalendar) -> int:
    """The last working-day number an open dossier is known to have outlasted at `now`:
    -1 on its receipt day, when it may still end at day 0."""
    if state.received_at is None:
        raise ValueError(f"dossier {state.dossier_id!r} was not received: it has no clock")
    effective_now = now - timedelta(seconds=paused_until(state, now))
    return day_number(state.received_at, effective_now, calendar) - 1


def day_of_number(received_at: datetime, number: int, calendar: WorkingCalendar) -> date:
    """The local date whose working-day number is `number` (a working day, or the receipt
    day for number 0): the inverse of `day_number` on working days."""
    if number < 0:
        raise ValueError(f"a working-day number is never negative, got {number}")
    receipt_day = local_date(received_at)
    if number == 0:
        return receipt_day
    return calendar.add_working_days(receipt_day, number)
