"""Replays a history of events to see when each warning would have fired (issue #18).

The backtest must see what the worker would have seen, and nothing more. So the replay folds
the events through `apply_event` in the order given, counts each dossier's duration into the
histograms of its procedure at its agency, its procedure, its agency and the province as it
ends (as `domain.tally` does), and forecasts from a snapshot of those histograms taken at
the last check: never from a dossier that ended later. Samples
are kept for the whole replay, as the worker keeps those within the retention horizon
(CONTRACT §3a), which a year of history does not outrun.

Checks run every working day at `check_at` (08:00: staff read their warnings when the desk
opens), over every open dossier not yet flagged at every threshold; a dossier is also
forecast right after each of its own events (it may be received, resumed or rescheduled
into risk). Forecasting every open dossier at every event would cost a year's replay hours,
and a working-day clock moves only once a day.

The `due_soon` warning is timed as the worker's alert timer fires it (default policy,
current appointment): at the instant its clock reaches due soon while the dossier is open
and not paused, or at the event that leaves it due soon (received, resumed, rescheduled),
and never once it is overdue (`alerts_due`).

Events should come in time order; one that comes late is applied when it comes, as the worker
would. An event the worker would refuse (`RecordRejected`) is counted and skipped, and so are
events naming a dossier that already ended (whose state the replay forgets to stay small).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from iocmon.domain.alerts import DEFAULT_POLICY, alert_clock
from iocmon.domain.backtest import Score, Sighting, Warned, score
from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar, local_date
from iocmon.domain.durations import duration_of, paused_until
from iocmon.domain.events import Event, RecordRejected
from iocmon.domain.histogram import BUCKET_COUNT, DurationHistogram, bucket_of
from iocmon.domain.judge import OpenClock, OpenState, Outcome
from iocmon.domain.lifecycle import DossierState, Ended, apply_event
from iocmon.domain.risk import (
    DEFAULT_MIN_SAMPLES,
    DEFAULT_THRESHOLD,
    Basis,
    ForecastPolicy,
    Scope,
    Subject,
    choose,
    forecast,
)

DEFAULT_CHECK_AT = time(8, 0)
PROVINCE = ""
"""Key of the province's histogram among the counts (no code is empty, CONTRACT §1)."""


@dataclass(frozen=True, slots=True)
class ReplayedDossier:
    """An ended dossier (not withdrawn) and when each warning first fired for it."""

    dossier_id: str
    late: bool
    due_at: datetime
    first_at_risk: tuple[Sighting | None, ...]
    """One per threshold of the replay, in its order."""
    first_due_soon: Sighting | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    thresholds: tuple[float, ...]
    ended: tuple[ReplayedDossier, ...]
    still_open: int
    skipped_events: int
    checks: int

    def at_risk_score(
        self, threshold: float, calendar: WorkingCalendar, min_lead_days: int
    ) -> Score:
        index = self.thresholds.index(threshold)
        return score(
            (Warned(d.late, d.due_at, d.first_at_risk[index]) for d in self.ended),
            calendar,
            min_lead_days,
        )

    def due_soon_score(self, calendar: WorkingCalendar, min_lead_days: int) -> Score:
        return score(
            (Warned(d.late, d.due_at, d.first_due_soon) for d in self.ended),
            calendar,
            min_lead_days,
        )


@dataclass(slots=True)
class _Watch:
    """What the replay remembers of an open dossier beyond its state."""

    at_risk: list[Sighting | None]
    since: datetime
    """When its last event was applied: its state has held since then."""
    due_soon: Sighting | None = None

    def fully_flagged(self) -> bool:
        return all(s is not None for s in self.at_risk)


@dataclass(slots=True)
class _Durations:
    """Mutable counts per histogram (scope, subject), and the frozen snapshot forecasts
    read: the worker's histograms (`domain.tally`), held in memory."""

    counts: dict[tuple[Scope, Subject], list[int]] = field(default_factory=dict)
    dirty: set[tuple[Scope, Subject]] = field(default_factory=set)
    frozen: dict[tuple[Scope, Subject], DurationHistogram] = field(default_factory=dict)

    def add(self, state: DossierState, duration: int) -> None:
        bucket = bucket_of(duration)
        for key in self._keys(state):
            counts = self.counts.get(key)
            if counts is None:
                counts = self.counts[key] = [0] * BUCKET_COUNT
            counts[bucket] += 1
            self.dirty.add(key)

    def snapshot(self) -> None:
        for key in self.dirty:
            self.frozen[key] = DurationHistogram(tuple(self.counts[key]))
        self.dirty.clear()

    def basis(self, state: DossierState, min_samples: int) -> Basis | None:
        ap, p, a, r = (self.frozen.get(key, _EMPTY) for key in self._keys(state))
        return choose(
            agency_procedure=ap, procedure=p, agency=a, province=r, min_samples=min_samples
        )

    @staticmethod
    def _keys(state: DossierState) -> tuple[tuple[Scope, Subject], ...]:
        """The dossier's histograms, narrowest first, as `domain.tally` counts them."""
        agency, procedure = state.agency, state.procedure
        assert procedure is not None and agency is not None
        return (
            (Scope.AGENCY_PROCEDURE, (agency, procedure)),
            (Scope.PROCEDURE, procedure),
            (Scope.AGENCY, agency),
            (Scope.PROVINCE, PROVINCE),
        )


_EMPTY = DurationHistogram.empty()


class _Replay:
    def __init__(
        self,
        calendar: WorkingCalendar,
        thresholds: tuple[float, ...],
        min_samples: int,
        check_at: time,
    ) -> None:
        self.calendar = calendar
        self.thresholds = thresholds
        self.min_samples = min_samples
        self.policy = ForecastPolicy(threshold=min(thresholds), min_samples=min_samples)
        self.check_at = check_at
        self.states: dict[str, DossierState] = {}
        self.watches: dict[str, _Watch] = {}
        self.ended_ids: set[str] = set()
        self.durations = _Durations()
        self.ended: list[ReplayedDossier] = []
        self.skipped = 0
        self.checks = 0
        self.next_check: datetime | None = None

    def run(self, events: Iterable[Event]) -> ReplayResult:
        for event in events:
            self._checks_until(event.at)
            self._apply(event)
        return ReplayResult(
            thresholds=self.thresholds,
            ended=tuple(self.ended),
            still_open=len(self.watches),
            skipped_events=self.skipped,
            checks=self.checks,
        )

    def _checks_until(self, at: datetime) -> None:
        if self.next_check is None:
            self.next_check = self._check_on(local_date(at), first=True)
        while self.next_check <= at:
            self._check(self.next_check)
            self.next_check = self._check_on(local_date(self.next_check), first=False)

    def _check_on(self, day: date, *, first: bool) -> datetime:
        """The check of `day` if it is a working day and `first`, else of the next one."""
        if not first or not self.calendar.is_working_day(day):
            day = self.calendar.next_working_day(day)
        return datetime.combine(day, self.check_at, tzinfo=LOCAL_TZ)

    def _check(self, now: datetime) -> None:
        self.checks += 1
        self.durations.snapshot()
        for dossier_id, watch in self.watches.items():
            state = self.states[dossier_id]
            self._due_soon_timer(state, watch, now)
            if not state.is_paused and not watch.fully_flagged():
                self._forecast(state, watch, now)

    def _apply(self, event: Event) -> None:
        dossier_id = event.dossier_id
        if dossier_id in self.ended_ids:
            self.skipped += 1
            return
        state = self.states.get(dossier_id)
        watch = self.watches.get(dossier_id)
        if state is not None and watch is not None:
            self._due_soon_timer(state, watch, event.at)
        try:
            transition = apply_event(state, event, self.calendar)
        except RecordRejected:
            self.skipped += 1
            return
        after = transition.state
        if isinstance(transition.effect, Ended):
            self._end(after, watch)
            return
        self.states[dossier_id] = after
        if not after.is_open:
            return
        if watch is None:
            watch = self.watches[dossier_id] = _Watch([None] * len(self.thresholds), event.at)
        watch.since = event.at
        self._due_soon_now(after, watch, event.at)
        if not after.is_paused and not watch.fully_flagged():
            self._forecast(after, watch, event.at)

    def _end(self, state: DossierState, watch: _Watch | None) -> None:
        del self.states[state.dossier_id]
        self.watches.pop(state.dossier_id, None)
        self.ended_ids.add(state.dossier_id)
        duration = duration_of(state, self.calendar)
        if duration is None:  # withdrawn
            return
        self.durations.add(state, duration)
        assert watch is not None and state.due_at is not None
        self.ended.append(
            ReplayedDossier(
                dossier_id=state.dossier_id,
                late=state.outcome is Outcome.LATE,
                due_at=state.due_at,
                first_at_risk=tuple(watch.at_risk),
                first_due_soon=watch.due_soon,
            )
        )

    def _due_soon_timer(self, state: DossierState, watch: _Watch, now: datetime) -> None:
        """The alert timer: no event changed the dossier since `watch.since`, so a due-soon
        instant between then and `now` is when the alert fired. One before it was settled by
        that event (`_due_soon_now`): fired then, or not at all, being overdue already."""
        if watch.due_soon is not None or state.is_paused:
            return
        clock = self._alert_clock(state)
        if watch.since < clock.due_soon_from <= now:
            watch.due_soon = Sighting(clock.due_soon_from, state.paused_s)

    def _due_soon_now(self, state: DossierState, watch: _Watch, now: datetime) -> None:
        """Right after an event: due soon already, and not yet overdue, fires now."""
        if watch.due_soon is not None or state.is_paused:
            return
        clock = self._alert_clock(state)
        if clock.due_soon_from <= now < clock.overdue_from:
            watch.due_soon = Sighting(now, state.paused_s)

    def _alert_clock(self, state: DossierState) -> OpenClock:
        assert state.received_at is not None and state.alert_due_at is not None
        return alert_clock(
            received_at=state.received_at,
            alert_due_at=state.alert_due_at,
            paused_s=state.paused_s,
            calendar=self.calendar,
            policy=DEFAULT_POLICY,
        )

    def _forecast(self, state: DossierState, watch: _Watch, now: datetime) -> None:
        basis = self.durations.basis(state, self.min_samples)
        result = forecast(state, now, basis, self.calendar, self.policy)
        if result.state is not OpenState.ON_TRACK or result.risk is None:
            return
        for index, threshold in enumerate(self.thresholds):
            if watch.at_risk[index] is None and result.risk >= threshold:
                watch.at_risk[index] = Sighting(now, paused_until(state, now))


def replay(
    events: Iterable[Event],
    calendar: WorkingCalendar,
    *,
    thresholds: Sequence[float] = (DEFAULT_THRESHOLD,),
    min_samples: int = DEFAULT_MIN_SAMPLES,
    check_at: time = DEFAULT_CHECK_AT,
) -> ReplayResult:
    """When each warning would first have fired for every dossier of `events` (module doc)."""
    if not thresholds:
        raise ValueError("give at least one threshold to replay")
    for threshold in thresholds:
        ForecastPolicy(threshold=threshold, min_samples=min_samples)  # validates both
    return _Replay(calendar, tuple(thresholds), min_samples, check_at).run(events)
