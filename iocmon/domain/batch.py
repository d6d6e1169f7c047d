"""Fold one partition's batch of records into the changes it makes (pure, no I/O).

The worker decodes a batch, loads the current state of the dossiers it names, and asks
`plan_batch` for the complete set of changes; the store then applies that plan in one
atomic step together with the partition's offset. Planning again from the same inputs gives
the same plan, which is what makes retries and zombie batches safe. `iocmon rebuild` folds
whole partitions with the same `Fold` and takes one plan at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from iocmon.domain.alerts import (
    DEFAULT_POLICY,
    Alert,
    AlertKind,
    AlertPolicy,
    alert_clock,
    alert_id,
    alerts_due,
)
from iocmon.domain.buckets import Bucket, buckets_of
from iocmon.domain.calendar import WorkingCalendar
from iocmon.domain.durations import duration_of
from iocmon.domain.events import Event, RecordRejected, RejectReason, parse_record
from iocmon.domain.judge import OpenClock, open_clock
from iocmon.domain.lifecycle import (
    DossierState,
    Effect,
    Ended,
    Ignored,
    Received,
    apply_event,
)
from iocmon.domain.procedures import UNKNOWN_FIELD
from iocmon.domain.report import received_column
from iocmon.domain.risk import Scope, Subject
from iocmon.domain.tally import Tally

if TYPE_CHECKING:
    from iocmon.domain.risk_check import AtRiskItem

FieldOf = Callable[[str], str]
"""A procedure code's field key (lĩnh vực), from the procedure catalogue."""


def unknown_field(procedure: str) -> str:
    """Without a catalogue every procedure is in the field `unknown` (CONTRACT §6)."""
    return UNKNOWN_FIELD.key


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class OpenEntry:
    """Where an open dossier sits in the open-dossier index; `clock` None means paused.

    `alert_at` is when its next alert threshold passes (None: paused or nothing pending).
    """

    agency: str
    clock: OpenClock | None
    alert_at: datetime | None = None


@dataclass
class BatchPlan:
    last_offset: int
    states: dict[str, DossierState] = field(default_factory=dict)
    index_before: dict[str, OpenEntry | None] = field(default_factory=dict)
    index_after: dict[str, OpenEntry | None] = field(default_factory=dict)
    ended: Counter[tuple[Bucket, str, str]] = field(default_factory=Counter)
    by_procedure: Counter[tuple[Bucket, str, str, str]] = field(default_factory=Counter)
    """(bucket, agency, procedure, outcome), in day, month and all-time buckets only."""
    report: Counter[tuple[Bucket, str, str, str]] = field(default_factory=Counter)
    """(bucket, agency, field, column): the periodic report's counters (`domain.report`),
    in `report_buckets_of` buckets; hours only for becoming overdue."""
    received: Counter[tuple[Bucket, str, str, str]] = field(default_factory=Counter)
    durations: Counter[tuple[Bucket, Scope, Subject, str]] = field(default_factory=Counter)
    """(month of the end, scope, subject, histogram bucket label): the duration histograms of
    the at-risk forecast (issue #18), one count per ended dossier (not withdrawn) in the
    histogram of its procedure at its agency (subject (agency, procedure)), its procedure's,
    its agency's and the province's (subject "")."""
    events: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    stream_time: datetime | None = None
    """The partition's stream time after the plan (CONTRACT §3a); None: no valid event yet."""
    ended_on: list[tuple[str, str]] = field(default_factory=list)
    """(local day YYYYMMDD, dossier id) of every dossier that ended: what to forget when."""
    at_risk_set: dict[str, AtRiskItem] = field(default_factory=dict)
    """Entries of the partition's at-risk list written (added or changed) by a risk check
    (`domain.risk_check`); batches leave the list alone."""
    at_risk_dropped: list[str] = field(default_factory=list)

    @property
    def index_changes(self) -> dict[str, tuple[OpenEntry | None, OpenEntry | None]]:
        return {
            dossier_id: (self.index_before[dossier_id], after)
            for dossier_id, after in self.index_after.items()
            if self.index_before[dossier_id] != after
        }


Decoded = Event | DeadLetter


def decode_batch(records: Iterable[Record], now: datetime) -> list[tuple[Record, Decoded]]:
    out: list[tuple[Record, Decoded]] = []
    for record in records:
        try:
            out.append((record, parse_record(record.key, record.value, now)))
        except RecordRejected as rejected:
            out.append((record, DeadLetter(record, rejected.reason.value, rejected.detail)))
    return out


def dossier_ids(decoded: Iterable[tuple[Record, Decoded]]) -> set[str]:
    return {item.dossier_id for _, item in decoded if isinstance(item, Event)}


def open_entry(
    state: DossierState | None, calendar: WorkingCalendar, policy: AlertPolicy
) -> OpenEntry | None:
    if state is None or not state.is_open:
        return None
    assert state.agency is not None and state.due_at is not None
    if state.is_paused:
        return OpenEntry(state.agency, None)
    return OpenEntry(
        state.agency,
        open_clock(state.due_at, state.paused_s, calendar),
        _next_alert_at(state, calendar, policy),
    )


def _alert_clock(state: DossierState, calendar: WorkingCalendar, policy: AlertPolicy) -> OpenClock:
    assert state.received_at is not None and state.alert_due_at is not None
    return alert_clock(
        received_at=state.received_at,
        alert_due_at=state.alert_due_at,
        paused_s=state.paused_s,
        calendar=calendar,
        policy=policy,
    )


def _next_alert_at(
    state: DossierState, calendar: WorkingCalendar, policy: AlertPolicy
) -> datetime | None:
    assert state.alert_due_at is not None
    clock = _alert_clock(state, calendar, policy)
    if not state.alerted:  # most dossiers: skip building two alert ids
        return clock.due_soon_from
    if alert_id(state.dossier_id, AlertKind.OVERDUE, state.alert_due_at) in state.alerted:
        return None
    if alert_id(state.dossier_id, AlertKind.DUE_SOON, state.alert_due_at) in state.alerted:
        return clock.overdue_from
    return clock.due_soon_from


class Fold:
    """Folds decoded records into plans of what changed, over as many records as one likes.

    The worker folds one batch and takes its plan (`plan_batch`). The rebuild folds whole
    partitions: it keeps every state in `states` across batches and takes a plan only now
    and then, so a dossier's index entries and its state are computed and written once per
    plan instead of once per batch it appears in; the counters are summed over the span.
    Taking plans more or less often changes nothing in what they add up to.
    """

    def __init__(
        self,
        calendar: WorkingCalendar,
        policy: AlertPolicy = DEFAULT_POLICY,
        keep_dead_letters: bool = True,
        horizon: timedelta | None = None,
        stream_time: datetime | None = None,
        field_of: FieldOf = unknown_field,
    ) -> None:
        self.states: dict[str, DossierState | None] = {}
        """Every dossier the fold knows, as of the last record added."""
        self.horizon = horizon
        """CONTRACT §3a's H; None: nothing is ever beyond it (the property tests' reference)."""
        self.stream_time = stream_time
        """The largest `at` of the valid events applied (the partition's, across plans)."""
        self._edge = _edge(stream_time, horizon)
        self._calendar = calendar
        self._policy = policy
        self._keep_dead_letters = keep_dead_letters
        self._field_of = field_of
        self._tally = Tally()
        self._before: dict[str, DossierState | None] = {}
        self._quarantined: dict[str, str] = {}
        self._plan = BatchPlan(last_offset=-1)
        self.added = 0
        """Records added since the last plan taken."""

    def know(self, states: Mapping[str, DossierState | None]) -> None:
        """Adds the stored states of dossiers the next records name (None: never seen)."""
        self.states.update(states)

    def quarantine(self, unreadable: Mapping[str, str]) -> None:
        """Dossiers whose stored state could not be read (id -> why): their records are
        dead-lettered `unreadable_state` instead of judged against a state that is not
        theirs, and the other dossiers of the partition go on."""
        self._quarantined.update(unreadable)

    def forget(self) -> None:
        """Drops the states kept (to bound memory); only between a `take` and the next `add`."""
        assert not self.added, "take the plan before forgetting the states it needs"
        self.states = {}

    def add(self, record: Record, item: Decoded) -> None:
        """`item`'s dossier must be known (`know`)."""
        plan = self._plan
        plan.last_offset = record.offset
        self.added += 1
        if isinstance(item, DeadLetter):
            self._reject(item)
            return
        dossier_id = item.dossier_id
        if dossier_id in self._quarantined:
            why = self._quarantined[dossier_id]
            self._reject(DeadLetter(record, RejectReason.UNREADABLE_STATE.value, why))
            return
        state = self.states[dossier_id]
        at = item.at
        edge = self._edge
        if edge is not None:
            if at < edge:
                self._reject(DeadLetter(record, RejectReason.BEYOND_HORIZON.value, _BEYOND))
                return
            if _ended_before(state, edge):
                state = None  # forgotten (§3a), whether or not its key is deleted yet
        try:
            transition = apply_event(state, item, self._calendar, self._field_of)
        except RecordRejected as rejected:
            self._reject(DeadLetter(record, rejected.reason.value, rejected.detail))
            return
        except Exception as exc:  # a defect in judging must not stop the partition
            detail = f"{type(exc).__name__} while judging this event: a defect, please report it"
            self._reject(DeadLetter(record, RejectReason.JUDGING_FAILED.value, detail))
            return
        if self.stream_time is None or at > self.stream_time:
            self.stream_time = at
            self._edge = _edge(at, self.horizon)
        effect = transition.effect
        if isinstance(effect, Ignored):
            plan.ignored[effect.reason.value] += 1
        if not transition.counted:
            return
        if dossier_id not in self._before:
            self._before[dossier_id] = self.states[dossier_id]
        after = transition.state
        self.states[dossier_id] = after
        plan.events[item.type.value] += 1
        plan.alerts.extend(transition.clears)
        self._count(state, after, effect)
        if isinstance(effect, Ended):
            plan.ended_on.append((buckets_of(effect.at)[1].id, dossier_id))

    def _count(self, before: DossierState | None, after: DossierState, effect: Effect) -> None:
        """What one counted transition adds to the counters."""
        tally = self._tally
        agency = after.agency or ""
        procedure = after.procedure or ""
        field_ = after.field or self._field_of(procedure)
        if isinstance(effect, Received):
            column = received_column(effect.channel)
            tally.received(effect.at, agency, effect.channel, effect.level, field_, column)
        elif isinstance(effect, Ended):
            overdue = after.overdue_from is not None
            tally.ended(effect.at, agency, procedure, field_, effect.outcome.value, overdue)
            duration = duration_of(after, self._calendar)
            if duration is not None:  # withdrawn dossiers say nothing of how long agencies take
                tally.duration(effect.at, agency, procedure, duration)
        before_overdue = None if before is None else before.overdue_from
        if before_overdue != after.overdue_from:
            if before_overdue is not None:
                tally.overdue_from(before_overdue, agency, field_, -1)
            if after.overdue_from is not None:
                tally.overdue_from(after.overdue_from, agency, field_, 1)

    def _reject(self, dead: DeadLetter) -> None:
        self._plan.rejected[dead.reason] += 1
        if self._keep_dead_letters:
            self._plan.dead_letters.append(dead)

    def take(self) -> BatchPlan:
        """The plan of every record added since the last one taken (or since the start)."""
        plan = self._plan
        calendar, policy = self._calendar, self._policy
        for dossier_id, before in self._before.items():
            state = self.states[dossier_id]
            assert state is not None  # a counted transition always leaves a state
            plan.states[dossier_id] = state
            plan.index_before[dossier_id] = open_entry(before, calendar, policy)
            plan.index_after[dossier_id] = open_entry(state, calendar, policy)
        self._before = {}
        self._tally.spread_into(plan)
        plan.stream_time = self.stream_time
        self._plan = BatchPlan(last_offset=plan.last_offset)
        self.added = 0
        return plan

    def carry_alerted(self, plan: BatchPlan, alerted: Mapping[str, Sequence[str]]) -> None:
        """Records in `plan` (just taken) and in the states kept the alerts another
        generation already emitted for these dossiers.

        A fold emits no alerts, and a state rebuilt from events alone says none were sent:
        the worker would send them all again after the switch, and, worse, never clear them
        when the dossier ends. Only the ids of the dossier's current appointment are kept.
        """
        calendar, policy = self._calendar, self._policy
        for dossier_id, ids in alerted.items():
            state = plan.states.get(dossier_id)
            if state is None or not state.is_open or state.alert_due_at is None:
                continue
            current = {
                alert_id(dossier_id, kind, state.alert_due_at)
                for kind in (AlertKind.AT_RISK, AlertKind.DUE_SOON, AlertKind.OVERDUE)
            }
            kept = tuple(dict.fromkeys([*state.alerted, *(i for i in ids if i in current)]))
            if kept == state.alerted:
                continue
            updated = replace(state, alerted=kept)
            plan.states[dossier_id] = updated
            plan.index_after[dossier_id] = open_entry(updated, calendar, policy)
            if dossier_id in self.states:
                self.states[dossier_id] = updated


_BEYOND = "field 'at' is older than the retention horizon before the partition's stream time"


def _edge(stream_time: datetime | None, horizon: timedelta | None) -> datetime | None:
    """Events before this are beyond the horizon; dossiers that ended before it forgotten."""
    if stream_time is None or horizon is None:
        return None
    return stream_time - horizon


def forgotten(state: DossierState | None, stream_time: datetime | None, horizon: timedelta) -> bool:
    """Whether §3a forgets this dossier at this stream time (it ended more than H before)."""
    edge = _edge(stream_time, horizon)
    return edge is not None and _ended_before(state, edge)


def _ended_before(state: DossierState | None, edge: datetime) -> bool:
    return state is not None and state.ended_at is not None and state.ended_at < edge


def alert_candidates(plan: BatchPlan) -> list[str]:
    """The open dossiers of `plan`: any may have been alerted, by a threshold that passed,
    before a pause (which keeps the alerts sent before it), or as at risk (issue #18), which
    the forecast says of on-track dossiers, before any threshold."""
    return [dossier_id for dossier_id, entry in plan.index_after.items() if entry is not None]


def plan_batch(
    decoded: Sequence[tuple[Record, Decoded]],
    states: Mapping[str, DossierState | None],
    calendar: WorkingCalendar,
    policy: AlertPolicy = DEFAULT_POLICY,
    horizon: timedelta | None = None,
    stream_time: datetime | None = None,
    unreadable: Mapping[str, str] | None = None,
    field_of: FieldOf = unknown_field,
) -> BatchPlan:
    """`states` must hold every dossier named in `decoded` (None for one never seen), but
    those in `unreadable` (see `Fold.quarantine`)."""
    fold = Fold(calendar, policy, horizon=horizon, stream_time=stream_time, field_of=field_of)
    fold.know(states)
    fold.quarantine(unreadable or {})
    for record, item in decoded:
        fold.add(record, item)
    return fold.take()


def plan_alert_check(
    applied_offset: int,
    states: Mapping[str, DossierState | None],
    now: datetime,
    calendar: WorkingCalendar,
    policy: AlertPolicy,
) -> BatchPlan:
    """Alerts due at `now` for the given dossiers (candidates from the alert index), and the
    state changes that record them. The plan leaves the partition's offset where it is.
    """
    plan = BatchPlan(last_offset=applied_offset, stream_time=None)
    for dossier_id, state in states.items():
        entry = open_entry(state, calendar, policy)
        if state is None or entry is None or entry.clock is None:
            continue
        assert state.agency and state.procedure and state.alert_due_at
        emitted = alerts_due(
            dossier_id=dossier_id,
            agency=state.agency,
            procedure=state.procedure,
            alert_due_at=state.alert_due_at,
            clock=_alert_clock(state, calendar, policy),
            already=state.alerted,
            now=now,
        )
        if not emitted:
            continue
        updated = replace(state, alerted=(*state.alerted, *(a.alert_id for a in emitted)))
        plan.alerts.extend(emitted)
        plan.index_before[dossier_id] = entry
        plan.states[dossier_id] = updated
        plan.index_after[dossier_id] = open_entry(updated, calendar, policy)
    return plan
