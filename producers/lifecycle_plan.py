"""One dossier's whole life, designed outcome first, then the events that produce it.

The simulator's ground truth must be an *independent* check of the worker's judging, so it
is not computed by running events through judging code: each dossier's outcome is drawn
first (early / on_time / late / withdrawn; for a procedure in the slow agency's backlog, its
date of end is drawn and the outcome is the one that date gives against the due date) and
the events are then laid out so that the rules of CONTRACT §3 give exactly that outcome:

- the due date is the N-th working day after the day of receipt (at 17:00), whether the
  `received` event carries `processing_days` or that same date as `due_at`;
- the *effective end* E (terminal `at` minus paused time) is chosen first, on a date before,
  on or after the due date; pauses are then inserted by shifting everything after a pause's
  start by its length, so terminal `at` = E + total pause length;
- closed pauses last whole days, so every shifted instant keeps its time of day (office
  hours stay office hours), and their lengths are chosen so shifted dates are working days;
- a pause still open at the terminal event starts exactly at E (plus earlier pauses): the
  contract counts it until the terminal event, so E is unchanged however late that comes;
- more than one `supplement_requested` makes a dossier late whatever the dates, so only
  dossiers designed late get a second one; `rescheduled` (only on late dossiers) never
  changes the outcome.

Everything here is pure: a `random.Random`, a calendar and a profile in, a plan out.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from iocmon.domain.calendar import WorkingCalendar, due_at_from_processing_days
from iocmon.producers.officehours import (
    at_local,
    office_instant,
    uniform_between,
    working_days_from,
)
from iocmon.producers.processing_times import (
    Pace,
    backlog_day_number,
    early_day_number,
    late_days,
    pace_of,
)
from iocmon.producers.profile import AgencyProfile, Channel, Level, Procedure, Profile

Outcome = Literal["early", "on_time", "late", "withdrawn"]
TERMINAL_TYPES = frozenset({"resolved", "stopped", "withdrawn", "result_returned"})
PAUSE_TYPES = frozenset({"supplement_requested", "fee_requested"})
MAX_SUBMIT_LEAD = timedelta(days=1)
"""Upper bound of (arrival - earliest event) of any plan; the time merge relies on it, and
plans this far ahead of what it sends, so it is kept short."""

_MIN_WORK = timedelta(minutes=15)
_DUE_TIMES = (time(17, 0),) * 7 + (time(16, 30), time(16, 0), time(11, 0))


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    at: datetime
    dossier_id: str
    seq: int
    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Contract fields beyond the common ones (agency, due_at, handler, …)."""
    applicant: Mapping[str, str] = field(default_factory=dict)
    """Fake personal data a real source would attach; sent only when asked for."""

    @property
    def event_id(self) -> str:
        return f"{self.dossier_id}-{self.seq}"

    def to_json(self, *, personal_data: bool = True) -> dict[str, Any]:
        """The event as CONTRACT §1 puts it on the wire (timestamps with +07:00)."""
        out: dict[str, Any] = {
            "v": 1,
            "event_id": self.event_id,
            "dossier_id": self.dossier_id,
            "type": self.type,
            "at": _rfc3339(self.at),
        }
        for name, value in self.fields.items():
            out[name] = _rfc3339(value) if isinstance(value, datetime) else value
        if personal_data:
            out.update(self.applicant)
        return out


@dataclass(frozen=True, slots=True)
class PlannedDossier:
    dossier_id: str
    agency: str
    procedure: str
    channel: Channel
    level: Level
    arrival: datetime
    """When the desk took it: `received.at`, or `rejected_at_intake.at`."""
    received: bool
    outcome: Outcome | None
    """The designed outcome; None for a dossier rejected at intake."""
    due_at: datetime | None
    """The due date the contract implies (the original one, whatever `rescheduled` says)."""
    events: tuple[PlannedEvent, ...]
    terminal_seq: int | None

    @property
    def terminal(self) -> PlannedEvent | None:
        if self.terminal_seq is None:
            return None
        return self.events[self.terminal_seq - 1]


@dataclass(frozen=True, slots=True)
class Intake:
    """What is known when a dossier reaches the desk, before its life is planned."""

    dossier_id: str
    agency: AgencyProfile
    procedure: Procedure
    channel: Channel
    level: Level
    arrival: datetime
    applicant: Mapping[str, str]


def plan_rejected(rng: random.Random, intake: Intake) -> PlannedDossier:
    """An online submission the desk refused: `submitted`, then `rejected_at_intake`."""
    steps = [
        _Step(intake.arrival - _submit_lead(rng), "submitted"),
        _Step(intake.arrival, "rejected_at_intake"),
    ]
    events, _ = _number(intake.dossier_id, steps)
    return PlannedDossier(
        dossier_id=intake.dossier_id,
        agency=intake.agency.code,
        procedure=intake.procedure.code,
        channel=intake.channel,
        level=intake.level,
        arrival=intake.arrival,
        received=False,
        outcome=None,
        due_at=None,
        events=events,
        terminal_seq=None,
    )


def plan_received(
    rng: random.Random, profile: Profile, calendar: WorkingCalendar, intake: Intake
) -> PlannedDossier:
    """A received dossier: draw its outcome, then lay out events that yield it."""
    received_at = intake.arrival
    days = intake.procedure.processing_days
    due = due_at_from_processing_days(received_at, days, calendar)
    pace = pace_of(profile, intake.agency.code, intake.procedure, received_at.date())
    drawn = _draw_outcome(rng, profile, pace)
    backlog_end: date | None = None
    if drawn is None:  # its time in the backlog decides: late exactly when past the due date
        assert pace.backlog is not None
        number = backlog_day_number(rng, pace.backlog, received_at)
        backlog_end = _nth_from(calendar, received_at.date(), number)
        drawn = _outcome_of_end(backlog_end, due.date())
    outcome: Outcome = drawn
    late_by_supplements = (
        outcome == "late" and backlog_end is None and rng.random() < profile.late_by_supplements
    )
    if late_by_supplements:
        supplements = 3 if rng.random() < 0.2 else 2
    else:
        supplements = 1 if rng.random() < profile.supplement_rate else 0
    fees = 1 if rng.random() < profile.fee_rate else 0

    if backlog_end is not None:
        end_day = backlog_end
    else:
        end_day = _end_day(rng, outcome, late_by_supplements, intake, pace, due.date(), calendar)
    after_hours = outcome == "on_time" and rng.random() < profile.on_time_after_hours
    effective_end = _end_instant(rng, end_day, received_at, after_hours=after_hours)

    pauses = ["supplement_requested"] * supplements + ["fee_requested"] * fees
    rng.shuffle(pauses)
    open_share = 0.5 if outcome == "withdrawn" else profile.open_pause_at_end
    open_last = bool(pauses) and rng.random() < open_share
    steps, terminal_at = _pauses_and_end(
        rng, calendar, pauses, received_at, effective_end, open_last=open_last
    )
    terminal_type = _terminal_type(rng, profile, outcome, open_last)
    steps.append(_Step(terminal_at, terminal_type, terminal=True))

    steps.append(_received_step(rng, profile, intake, days, due))
    if intake.channel == "online":
        steps.append(_Step(received_at - _submit_lead(rng), "submitted"))
    steps.extend(
        _informational(
            rng, profile, calendar, intake, outcome, late_by_supplements, due, terminal_at
        )
    )
    if terminal_type in {"resolved", "stopped"} and rng.random() < profile.result_returned_after:
        steps.append(_Step(_after(rng, calendar, terminal_at), "result_returned"))

    events, terminal_seq = _number(intake.dossier_id, steps)
    return PlannedDossier(
        dossier_id=intake.dossier_id,
        agency=intake.agency.code,
        procedure=intake.procedure.code,
        channel=intake.channel,
        level=intake.level,
        arrival=received_at,
        received=True,
        outcome=outcome,
        due_at=due,
        events=events,
        terminal_seq=terminal_seq,
    )


@dataclass(frozen=True, slots=True)
class _Step:
    at: datetime
    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    applicant: Mapping[str, str] = field(default_factory=dict)
    terminal: bool = False

    def sort_key(self) -> tuple[datetime, int]:
        """Time, then the order a desk would record steps made in the same second."""
        if self.terminal:
            return self.at, 3
        return self.at, _SAME_SECOND_RANK.get(self.type, 2)


_SAME_SECOND_RANK = {"submitted": 0, "received": 1, "result_returned": 4}


def _draw_outcome(rng: random.Random, profile: Profile, pace: Pace) -> Outcome | None:
    """The designed outcome; None for a dossier in backlog not withdrawn: its time decides."""
    draw = rng.random()
    if draw < profile.withdrawn_rate:
        return "withdrawn"
    if pace.backlog is not None:
        return None
    if draw < profile.withdrawn_rate + pace.late_chance:
        return "late"
    return "on_time" if rng.random() < pace.due_day_chance else "early"


def _outcome_of_end(end_day: date, due_day: date) -> Outcome:
    """What an effective end on `end_day` makes of a dossier due on `due_day` (CONTRACT §3,
    with at most one supplement request)."""
    if end_day < due_day:
        return "early"
    return "on_time" if end_day == due_day else "late"


def _end_day(
    rng: random.Random,
    outcome: Outcome,
    late_by_supplements: bool,
    intake: Intake,
    pace: Pace,
    due_day: date,
    calendar: WorkingCalendar,
) -> date:
    """The local date of the effective end that gives `outcome` (see the module docstring);
    how long a dossier takes is `producers.processing_times`."""
    received_day = intake.arrival.date()
    days = intake.procedure.processing_days
    if outcome == "on_time":
        return due_day
    if outcome == "early":  # before the due day
        number = early_day_number(rng, intake.procedure, pace, intake.arrival)
        return _nth_from(calendar, received_day, number)
    if outcome == "late" and not late_by_supplements:
        return calendar.add_working_days(due_day, late_days(rng, intake.procedure))
    if outcome == "late":  # a second supplement request makes it late; any date will do
        return _nth_from(calendar, received_day, rng.randrange(days + 1))
    return _nth_from(calendar, received_day, rng.randrange(days + 4))  # withdrawn


def _nth_from(calendar: WorkingCalendar, day: date, n: int) -> date:
    return day if n == 0 else calendar.add_working_days(day, n)


def _end_instant(
    rng: random.Random, day: date, received_at: datetime, *, after_hours: bool
) -> datetime:
    """A moment on `day`, in office hours (or 17:05–20:30 when finished late in the day),
    at least a quarter of an hour after receipt."""
    lo, hi = (time(17, 5), time(20, 30)) if after_hours else (time(7, 30), time(17, 0))
    start = max(at_local(day, lo), received_at + _MIN_WORK)
    end = at_local(day, hi)
    if start >= end:  # received late in the day: work into the evening, same date
        end = start + timedelta(hours=2)
    return uniform_between(rng, start, end)


def _pauses_and_end(
    rng: random.Random,
    calendar: WorkingCalendar,
    pauses: list[str],
    received_at: datetime,
    effective_end: datetime,
    *,
    open_last: bool,
) -> tuple[list[_Step], datetime]:
    """Pause/resume steps and the terminal `at`, such that terminal − paused = effective_end."""
    closed = pauses[:-1] if open_last else pauses
    starts = _instants_between(rng, calendar, len(closed), received_at, effective_end)
    anchors = [*starts[1:], effective_end][: len(starts)]  # what each pause shifts next
    steps: list[_Step] = []
    shift = 0  # whole days of pause so far
    for kind, start, anchor in zip(closed, starts, anchors, strict=True):
        paused_at = start + timedelta(days=shift)
        length = _pause_days(
            rng, calendar, kind, paused_at.date(), anchor.date() + timedelta(shift)
        )
        shift += length
        steps.append(_Step(paused_at, kind))
        steps.append(_Step(paused_at + timedelta(days=length), "resumed"))
    end_wall = effective_end + timedelta(days=shift)
    if not open_last:
        return steps, end_wall
    # The last pause starts at the effective end and is never resumed: the dossier is judged
    # as of that moment, however long the applicant then takes.
    steps.append(_Step(end_wall, pauses[-1]))
    later = calendar.add_working_days(end_wall.date(), rng.randint(1, 10))
    return steps, office_instant(rng, later)


def _instants_between(
    rng: random.Random, calendar: WorkingCalendar, count: int, lo: datetime, hi: datetime
) -> list[datetime]:
    """`count` distinct sorted instants strictly inside (lo, hi), in office hours if possible."""
    found: set[datetime] = set()
    if count:
        days = working_days_from(calendar, lo.date(), hi.date())
        margin = timedelta(minutes=1)
        for _ in range(50 * count):
            if len(found) == count:
                break
            candidate = office_instant(rng, rng.choice(days))
            if lo + margin < candidate < hi - margin:
                found.add(candidate)
        while len(found) < count:  # a very short dossier: anywhere in between will do
            found.add(uniform_between(rng, lo + timedelta(seconds=1), hi))
    return sorted(found)


def _pause_days(
    rng: random.Random, calendar: WorkingCalendar, kind: str, paused_day: date, next_day: date
) -> int:
    """A pause length in whole days that puts both the resumption and the next shifted
    step on working days (applicants come back when the desk is open)."""
    longest = 10 if kind == "supplement_requested" else 4
    fitting = [
        n
        for n in range(1, longest + 1)
        if calendar.is_working_day(paused_day + timedelta(n))
        and calendar.is_working_day(next_day + timedelta(n))
    ]
    return rng.choice(fitting) if fitting else rng.randint(1, longest)


def _terminal_type(rng: random.Random, profile: Profile, outcome: Outcome, open_last: bool) -> str:
    if outcome == "withdrawn":
        return "withdrawn"
    if open_last:  # the applicant never came back: the desk stops it, or resolves as is
        return "stopped" if rng.random() < 0.5 else "resolved"
    draw = rng.random()
    if draw < profile.stopped_rate:
        return "stopped"
    if draw < profile.stopped_rate + profile.result_returned_as_terminal:
        return "result_returned"
    return "resolved"


def _received_step(
    rng: random.Random, profile: Profile, intake: Intake, days: int, due: datetime
) -> _Step:
    fields: dict[str, Any] = {
        "agency": intake.agency.code,
        "procedure": intake.procedure.code,
        "channel": intake.channel,
        "level": intake.level,
    }
    if rng.random() < profile.due_at_on_received:
        fields["due_at"] = at_local(due.date(), rng.choice(_DUE_TIMES))
    else:
        fields["processing_days"] = days
    return _Step(intake.arrival, "received", fields, intake.applicant)


def _informational(
    rng: random.Random,
    profile: Profile,
    calendar: WorkingCalendar,
    intake: Intake,
    outcome: Outcome,
    late_by_supplements: bool,
    due: datetime,
    terminal_at: datetime,
) -> list[_Step]:
    """`processing`, `transferred` and `rescheduled`: all before the terminal event."""
    received_at = intake.arrival
    span = terminal_at - received_at
    steps = []
    if rng.random() < profile.processing_rate and span > timedelta(minutes=4):
        latest = min(timedelta(hours=3), span / 2)
        steps.append(_Step(received_at + _random_part(rng, latest), "processing"))
    if rng.random() < profile.transferred_rate and span > timedelta(hours=1):
        at = received_at + span * rng.uniform(0.3, 0.9)
        handler = rng.choice(intake.agency.handlers)
        steps.append(_Step(at.replace(microsecond=0), "transferred", {"handler": handler}))
    if (
        outcome == "late"
        and not late_by_supplements
        and rng.random() < profile.rescheduled_when_late
    ):
        # The apology slip usually goes out the working day before the appointment.
        slip = office_instant(rng, calendar.previous_working_day(due.date()))
        if not received_at < slip < terminal_at:
            slip = received_at + _random_part(rng, span)
        new_due = at_local(calendar.add_working_days(due.date(), rng.randint(2, 8)), time(17))
        steps.append(_Step(slip, "rescheduled", {"due_at": new_due}))
    return steps


def _after(rng: random.Random, calendar: WorkingCalendar, terminal_at: datetime) -> datetime:
    """When the result is handed over: later the same day, or within a week."""
    if rng.random() < 0.5:
        return terminal_at + timedelta(seconds=rng.randint(600, 3 * 3600))
    day = calendar.add_working_days(terminal_at.date(), rng.randint(1, 5))
    return office_instant(rng, day)


def _random_part(rng: random.Random, span: timedelta) -> timedelta:
    """A whole number of seconds in (0, span)."""
    return timedelta(seconds=rng.randint(1, max(1, int(span.total_seconds()) - 1)))


def _submit_lead(rng: random.Random) -> timedelta:
    """How long before receipt an online dossier was submitted: minutes to most of a day."""
    seconds = 60 + min(rng.expovariate(1 / (3 * 3600)), 23 * 3600)
    return timedelta(seconds=int(seconds))


def _number(dossier_id: str, steps: list[_Step]) -> tuple[tuple[PlannedEvent, ...], int | None]:
    """Events in time order with seq 1.. (and the terminal's seq), nudging equal timestamps
    one second apart so that every dossier's events have strictly increasing `at`."""
    events: list[PlannedEvent] = []
    terminal_seq: int | None = None
    previous: datetime | None = None
    for seq, step in enumerate(sorted(steps, key=_Step.sort_key), start=1):
        at = step.at
        if previous is not None and at <= previous:
            at = previous + timedelta(seconds=1)
        previous = at
        if step.terminal:
            terminal_seq = seq
        events.append(
            PlannedEvent(at, dossier_id, seq, step.type, dict(step.fields), dict(step.applicant))
        )
    return tuple(events), terminal_seq


def _rfc3339(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")
