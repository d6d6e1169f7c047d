"""A dossier's life: what each event of CONTRACT §2 does to its state.

`apply_event` is a pure function (state, event) -> (state, effect). The worker folds a
partition's batch through it; the simulator's ground truth and the tests use the same rules.
State is small and holds no applicant data: it is stored as-is in Redis.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from iocmon.domain.alerts import Alert, clearing
from iocmon.domain.calendar import WorkingCalendar, due_at_from_processing_days
from iocmon.domain.events import Event, EventType, RecordRejected, RejectReason
from iocmon.domain.judge import Outcome, judge_outcome, overdue_instant

Status = Literal["submitted", "rejected_at_intake", "open", "ended"]
HistoryEntry = tuple[str, str, float, str]
"""(event_id, type, at as Unix seconds, effect label)."""

MAX_EVENTS = 1000
"""CONTRACT §3a: a dossier accepts at most this many events."""
HISTORY_KEPT = 20
"""Entries of a dossier's history kept for `iocmon dossier`; older event ids are kept as
8-byte digests (`older_ids`), which is all deduplication needs."""
ID_DIGEST_BYTES = 8

PAUSE_TYPES = frozenset({EventType.SUPPLEMENT_REQUESTED, EventType.FEE_REQUESTED})
TERMINAL_TYPES = frozenset(
    {EventType.RESOLVED, EventType.STOPPED, EventType.WITHDRAWN, EventType.RESULT_RETURNED}
)
PRE_RECEIPT_TYPES = frozenset({EventType.SUBMITTED, EventType.REJECTED_AT_INTAKE})


class IgnoreReason(StrEnum):
    """Why a valid event changed nothing; each value is a `reason` label."""

    DUPLICATE_EVENT = "duplicate_event"
    SECOND_RECEIVED = "second_received"
    AFTER_END = "after_end"
    AFTER_REJECTION = "after_rejection"
    NOT_PAUSED = "not_paused"


@dataclass(frozen=True, slots=True)
class DossierState:
    """Everything the judge needs about one dossier, and nothing about its applicant."""

    dossier_id: str
    status: Status
    history: tuple[HistoryEntry, ...] = ()
    """The last `HISTORY_KEPT` distinct events applied: (event_id, type, at, effect)."""
    agency: str | None = None
    procedure: str | None = None
    channel: str | None = None
    level: str | None = None
    handler: str | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    alert_due_at: datetime | None = None
    paused_s: float = 0.0
    pause_started_at: datetime | None = None
    supplement_requests: int = 0
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    alerted: tuple[str, ...] = ()
    """Ids of the alerts emitted for the current appointment and not yet cleared."""
    older_ids: bytes = b""
    """Digests (`id_digest`) of the event ids that left `history`, for deduplication."""
    field: str | None = None
    """The field (lĩnh vực) of its procedure when it was received, from the procedure
    catalogue: the periodic report counts the dossier in it from receipt to end, whatever
    the catalogue says later (`apply_event`'s `field_of`; None without one, and in states
    stored before it existed)."""
    overdue_from: datetime | None = None
    """When the dossier became, or will become, overdue as far as the events known say
    (CONTRACT §6's `open_overdue` counts it from then); None while a pause that began before
    that instant holds it, and for one that ended before it. Set at receipt, moved by a
    pause or resume before it, and fixed once passed: a dossier overdue when its pause began
    stays overdue (§3), so a pause after it changes nothing."""

    @property
    def event_count(self) -> int:
        """Distinct events applied, the history's dropped ones included."""
        return len(self.history) + len(self.older_ids) // ID_DIGEST_BYTES

    def has_event(self, event_id: str) -> bool:
        for entry in self.history:
            if entry[0] == event_id:
                return True
        return bool(self.older_ids) and _holds_digest(self.older_ids, id_digest(event_id))

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_paused(self) -> bool:
        return self.pause_started_at is not None


_STORED_SLOTS: tuple[str, ...] = DossierState.__slots__
_stored_values = operator.attrgetter(*_STORED_SLOTS)


def id_digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=ID_DIGEST_BYTES).digest()


def _holds_digest(digests: bytes, digest: bytes) -> bool:
    at = digests.find(digest)
    while at != -1:
        if at % ID_DIGEST_BYTES == 0:
            return True
        at = digests.find(digest, at + 1)
    return False


@dataclass(frozen=True, slots=True)
class Received:
    agency: str
    channel: str
    level: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Ended:
    agency: str
    outcome: Outcome
    at: datetime


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: IgnoreReason


@dataclass(frozen=True, slots=True)
class Informational:
    """A valid event that was recorded but moves no figure (e.g. `processing`)."""


Effect = Received | Ended | Ignored | Informational


@dataclass(frozen=True, slots=True)
class Transition:
    state: DossierState
    effect: Effect
    counted: bool = field(default=True)
    """False only for a duplicate event_id: it must not count as a new event."""
    clears: tuple[Alert, ...] = ()
    """Alerts to resolve: the dossier ended, or its appointment moved."""


def apply_event(
    state: DossierState | None,
    event: Event,
    calendar: WorkingCalendar,
    field_of: Callable[[str], str] | None = None,
) -> Transition:
    """Apply one event to a dossier's state (None: never seen). Raises `RecordRejected`:
    `unknown_dossier` for an event that needs a received dossier that does not exist,
    `before_receipt` for one dated before its dossier's `received` (`_refuse_before_receipt`),
    `too_many_events` past `MAX_EVENTS`.
    """
    older = b""
    if state is not None:
        if state.has_event(event.event_id):
            return Transition(state, Ignored(IgnoreReason.DUPLICATE_EVENT), counted=False)
        if state.event_count >= MAX_EVENTS:
            raise RecordRejected(
                RejectReason.TOO_MANY_EVENTS,
                f"the dossier already has {MAX_EVENTS} events, the most one dossier accepts",
            )
        older = state.older_ids
    transition = _transition(state, event, calendar, field_of)
    entry = (event.event_id, event.type.value, event.at.timestamp(), _label(transition.effect))
    history = (*(state.history if state else ()), entry)
    if len(history) > HISTORY_KEPT:
        older += id_digest(history[0][0])
        history = history[1:]
    after = transition.state
    if after is state:
        after = evolve(after, history=history, older_ids=older)
    else:  # made by this transition and seen by no one yet: no second copy
        _set(after, "history", history)
        _set(after, "older_ids", older)
    return Transition(after, transition.effect, transition.counted, transition.clears)


_STATE_SLOTS: tuple[str, ...] = DossierState.__slots__
_new = object.__new__
_set = object.__setattr__


def evolve(state: DossierState, **changes: Any) -> DossierState:
    """`dataclasses.replace` for `DossierState`, about twice as fast: the worker and the
    rebuild make one or two new states per event, and `replace` was their largest cost.
    Takes field names only (no validation beyond what the type checker does)."""
    out = _new(DossierState)
    for name, value in zip(_STATE_SLOTS, _stored_values(state), strict=True):
        _set(out, name, value)
    for name, value in changes.items():
        _set(out, name, value)
    return out


EFFECT_LABELS: tuple[str, ...] = (
    "received",
    "recorded",
    *(f"ended:{o.value}" for o in Outcome),
    *(f"ignored:{r.value}" for r in IgnoreReason),
)
"""Every history effect label; their order is part of the stored state (state_codec)."""


def _label(effect: Effect) -> str:
    if isinstance(effect, Ended):
        return f"ended:{effect.outcome.value}"
    if isinstance(effect, Ignored):
        return f"ignored:{effect.reason.value}"
    return "received" if isinstance(effect, Received) else "recorded"


def _transition(
    state: DossierState | None,
    event: Event,
    calendar: WorkingCalendar,
    field_of: Callable[[str], str] | None,
) -> Transition:
    if state is None or state.status == "submitted":
        return _before_receipt(event, calendar, field_of)
    if state.status == "rejected_at_intake":
        return Transition(state, Ignored(IgnoreReason.AFTER_REJECTION))
    _refuse_before_receipt(state, event)
    if state.status == "ended":
        if event.type is EventType.RESULT_RETURNED:
            return Transition(state, Informational())
        return Transition(state, Ignored(IgnoreReason.AFTER_END))
    return _while_open(state, event)


def _refuse_before_receipt(state: DossierState, event: Event) -> None:
    """CONTRACT 1.1 §4: an event (other than `submitted`, `rejected_at_intake`) dated before
    its dossier's receipt is dead-lettered. Checked for ended dossiers too, before the
    after-the-end rule, so the reason does not depend on whether the terminal event came
    first; a second `received` dated earlier than the first is refused the same way (it
    would be ignored as `second_received` when dated later), so the source's disagreement
    about the receipt lands in the repair queue instead of a counter.
    """
    if event.type in PRE_RECEIPT_TYPES:
        return
    received_at = state.received_at
    assert received_at is not None  # open and ended dossiers were received
    if event.at < received_at:
        raise RecordRejected(
            RejectReason.BEFORE_RECEIPT,
            f"a '{event.type.value}' event is dated before its dossier's 'received'",
        )


def _before_receipt(
    event: Event, calendar: WorkingCalendar, field_of: Callable[[str], str] | None
) -> Transition:
    if event.type is EventType.SUBMITTED:
        return Transition(DossierState(event.dossier_id, "submitted"), Informational())
    if event.type is EventType.REJECTED_AT_INTAKE:
        return Transition(DossierState(event.dossier_id, "rejected_at_intake"), Informational())
    if event.type is not EventType.RECEIVED:
        raise RecordRejected(
            RejectReason.UNKNOWN_DOSSIER,
            f"a '{event.type.value}' event arrived for a dossier that was never received",
        )
    assert event.agency and event.procedure and event.channel and event.level
    if event.due_at is not None:
        due_at = event.due_at
    else:
        assert event.processing_days is not None
        due_at = due_at_from_processing_days(event.at, event.processing_days, calendar)
    opened = DossierState(
        dossier_id=event.dossier_id,
        status="open",
        agency=event.agency,
        procedure=event.procedure,
        channel=event.channel,
        level=event.level,
        received_at=event.at,
        due_at=due_at,
        alert_due_at=due_at,
        # Received past its due date (a due date given in the past): overdue from receipt,
        # never before it (the report counts no dossier before it is received).
        overdue_from=max(overdue_instant(due_at, 0.0), event.at + _JUST_AFTER),
        field=None if field_of is None else field_of(event.procedure),
    )
    return Transition(opened, Received(event.agency, event.channel, event.level, event.at))


def _while_open(state: DossierState, event: Event) -> Transition:
    kind = event.type
    if kind is EventType.RECEIVED:
        return Transition(state, Ignored(IgnoreReason.SECOND_RECEIVED))
    if kind in PAUSE_TYPES:
        # A second request while already paused extends the same pause, but a second
        # supplementation request still counts towards the "more than one ⇒ late" rule.
        overdue_from = state.overdue_from
        if state.pause_started_at is None and not _reached(overdue_from, event.at):
            overdue_from = None
        return Transition(
            evolve(
                state,
                supplement_requests=state.supplement_requests
                + (kind is EventType.SUPPLEMENT_REQUESTED),
                pause_started_at=state.pause_started_at or event.at,
                overdue_from=overdue_from,
            ),
            Informational(),
        )
    if kind is EventType.RESUMED:
        if state.pause_started_at is None:
            return Transition(state, Ignored(IgnoreReason.NOT_PAUSED))
        assert state.due_at is not None
        paused_s = state.paused_s + _seconds_between(state.pause_started_at, event.at)
        return Transition(
            evolve(
                state,
                paused_s=paused_s,
                pause_started_at=None,
                overdue_from=state.overdue_from or overdue_instant(state.due_at, paused_s),
            ),
            Informational(),
        )
    if kind is EventType.RESCHEDULED:
        return Transition(
            evolve(state, alert_due_at=event.due_at, alerted=()),
            Informational(),
            clears=_clears(state, event.at),
        )
    if kind is EventType.TRANSFERRED:
        return Transition(evolve(state, handler=event.handler), Informational())
    if kind in TERMINAL_TYPES:
        return _end(state, event)
    return Transition(state, Informational())


def _end(state: DossierState, event: Event) -> Transition:
    paused_s = state.paused_s
    if state.pause_started_at is not None:
        paused_s += _seconds_between(state.pause_started_at, event.at)
    assert state.due_at is not None and state.agency is not None
    if event.type is EventType.WITHDRAWN:
        outcome = Outcome.WITHDRAWN
    else:
        outcome = judge_outcome(
            ended_at=event.at,
            paused_s=paused_s,
            due_at=state.due_at,
            supplement_requests=state.supplement_requests,
        )
    ended = evolve(
        state,
        status="ended",
        paused_s=paused_s,
        pause_started_at=None,
        ended_at=event.at,
        outcome=outcome,
        alerted=(),
        overdue_from=state.overdue_from if _reached(state.overdue_from, event.at) else None,
    )
    return Transition(
        ended, Ended(state.agency, outcome, event.at), clears=_clears(state, event.at)
    )


_JUST_AFTER = timedelta(microseconds=1)


def _reached(overdue_from: datetime | None, at: datetime) -> bool:
    """Whether a dossier overdue from `overdue_from` is overdue at `at`."""
    return overdue_from is not None and overdue_from <= at


def _clears(state: DossierState, at: datetime) -> tuple[Alert, ...]:
    if not state.alerted:
        return ()
    assert state.agency and state.procedure and state.alert_due_at
    return tuple(
        clearing(
            dossier_id=state.dossier_id,
            agency=state.agency,
            procedure=state.procedure,
            active=state.alerted,
            due_at=state.alert_due_at,
            at=at,
        )
    )


def _seconds_between(start: datetime, end: datetime) -> float:
    """A pause that 'ends' before it began (clock skew at the source) lasts zero seconds."""
    return max(0.0, (end - start).total_seconds())
