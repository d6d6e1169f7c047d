"""Alerts that a partition's previous writer may have sent without recording them.

Alerts leave before the write that records them in their dossier's state (`intake`), so a
crash in between repeats an alert (same id), never loses one: the next owner's alert check
finds the threshold passed and nothing recorded, and sends it again. That check waits until
the partition is caught up, though (`IOCMON_ALERT_MAX_EVENT_AGE_S`), and a dossier that ends
or is rescheduled in the backlog before it was ended from the state in Redis, which does not
know the alert: its `cleared` named only the alerts recorded, and the one sent before the
crash stayed active at every receiver (the notifier kept re-sending it to Alertmanager for
a dossier long ended). A write refused because another writer moved the partition on leaves
the same gap.

So when a worker starts from Redis (its memory of a partition begins), it notes the due-soon
and overdue alerts whose thresholds have passed and that no state records: those a previous
writer may have sent. A batch that ends or reschedules one of these dossiers clears them too,
with the recorded ones. A note is forgotten once a write records the alert (the check sending
it again) or clears it. The note is a guess: an alert that was never sent (a threshold passed
while no worker ran) may be cleared, which receivers take as a no-op (the notifier only
retires the id). The `at_risk` forecast cannot be guessed from a state and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from iocmon.domain.alerts import Alert, AlertKind, AlertPolicy, alert_clock, alert_id, clearing
from iocmon.domain.batch import BatchPlan, Decoded, Record
from iocmon.domain.calendar import WorkingCalendar
from iocmon.domain.events import Event, EventType
from iocmon.domain.lifecycle import DossierState
from iocmon.streams.store import BatchStore

NOTED_AT_MOST = 1000
"""Dossiers a partition's note reads at most (the alert index's earliest thresholds first)."""

Unrecorded = dict[str, tuple[str, ...]]
"""Dossier id -> ids of alerts about its current appointment that may have been sent and
that its state does not record."""


def unrecorded(
    states: Mapping[str, DossierState | None],
    now: datetime,
    calendar: WorkingCalendar,
    policy: AlertPolicy,
) -> Unrecorded:
    """The due-soon and overdue alerts of open dossiers that a check at or before `now` may
    have sent, less those their states record (none once the overdue one is: it replaced
    the due-soon one)."""
    out: Unrecorded = {}
    for dossier_id, state in states.items():
        if state is None or not state.is_open or state.is_paused:
            continue
        due, received = state.alert_due_at, state.received_at
        if due is None or received is None:
            continue
        overdue = alert_id(dossier_id, AlertKind.OVERDUE, due)
        if overdue in state.alerted:
            continue
        clock = alert_clock(
            received_at=received,
            alert_due_at=due,
            paused_s=state.paused_s,
            calendar=calendar,
            policy=policy,
        )
        ids = []
        if now >= clock.due_soon_from:
            ids.append(alert_id(dossier_id, AlertKind.DUE_SOON, due))
        if now >= clock.overdue_from:
            ids.append(overdue)
        noted = tuple(i for i in ids if i not in state.alerted)
        if noted:
            out[dossier_id] = noted
    return out


async def read_unrecorded(
    store: BatchStore,
    partition: int,
    now: datetime,
    calendar: WorkingCalendar,
    policy: AlertPolicy,
) -> Unrecorded:
    """`unrecorded` of the partition's dossiers whose next alert threshold has passed."""
    candidates = await store.alert_candidates(partition, now, NOTED_AT_MOST)
    if not candidates:
        return {}
    snapshot = await store.load(partition, candidates)
    return unrecorded(snapshot.states, now, calendar, policy)


def noted_clears(
    noted: Unrecorded,
    before: Mapping[str, DossierState | None],
    plan: BatchPlan,
    decoded: Sequence[tuple[Record, Decoded]],
) -> list[Alert]:
    """The `cleared` alerts for the noted alerts of dossiers that `plan` ends or moves to
    another appointment (`before`: their states before it)."""
    out: list[Alert] = []
    for dossier_id, ids in noted.items():
        after, prior = plan.states.get(dossier_id), before.get(dossier_id)
        if after is None or prior is None or not prior.is_open:
            continue
        if after.is_open and after.alert_due_at == prior.alert_due_at:
            continue
        at = after.ended_at if not after.is_open else _rescheduled_at(decoded, dossier_id)
        assert prior.agency and prior.procedure and prior.alert_due_at and at is not None
        out.extend(
            clearing(
                dossier_id=dossier_id,
                agency=prior.agency,
                procedure=prior.procedure,
                active=ids,
                due_at=prior.alert_due_at,
                at=at,
            )
        )
    return out


def forget_written(noted: Unrecorded, states: Mapping[str, DossierState]) -> None:
    """Drops from `noted` what a write of `states` settled: the dossiers it ended or moved to
    another appointment (their notes were cleared with it), and the alerts it recorded."""
    for dossier_id, state in states.items():
        ids = noted.get(dossier_id)
        if ids is None:
            continue
        due = state.alert_due_at
        if not state.is_open or due is None:
            del noted[dossier_id]
            continue
        if alert_id(dossier_id, AlertKind.OVERDUE, due) in state.alerted:
            del noted[dossier_id]
            continue
        kept = tuple(
            i
            for i in ids
            if i not in state.alerted
            and i
            in (
                alert_id(dossier_id, AlertKind.DUE_SOON, due),
                alert_id(dossier_id, AlertKind.OVERDUE, due),
            )
        )
        if kept:
            noted[dossier_id] = kept
        else:
            del noted[dossier_id]


def _rescheduled_at(decoded: Sequence[tuple[Record, Decoded]], dossier_id: str) -> datetime | None:
    """When the batch's last `rescheduled` event of the dossier happened."""
    at = None
    for _, item in decoded:
        if (
            isinstance(item, Event)
            and item.dossier_id == dossier_id
            and item.type is EventType.RESCHEDULED
        ):
            at = item.at if at is None else max(at, item.at)
    return at
