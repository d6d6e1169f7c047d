"""Which alert is active for each dossier: the state the notifier keeps Alertmanager in.

A dossier has at most one active alert: the latest `at_risk`, `due_soon` or `overdue` record
about it. A newer one replaces it (a `due_soon` or `overdue` replaces the `at_risk` forecast of
the same appointment, an `overdue` its `due_soon`; after a reschedule, alerts about the new
appointment replace those about the old); when the two are different alerts in
Alertmanager's eyes, the old one is resolved. A record never replaces an alert further along
about the same appointment (`RANK`: an `at_risk` arriving while the dossier's `due_soon` or
`overdue` is active is retired at once), so on-call staff never see a dossier step back from
overdue to a forecast. A `cleared` record resolves the alert it names, if that is still the
active one. An alert that was cleared or replaced is *retired*: its id never fires again, so
neither a worker re-emitting an old alert after a crash nor a record read twice can revive it.

The book is rebuilt after a restart by applying the topic's records from its beginning up to
the committed offset (see `service`); applying is idempotent, so replaying records that were
already applied changes nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from iocmon.notifier.model import AlertRecord

# Retired alert ids remembered to refuse them; the oldest are forgotten first.
RETIRED_MEMORY = 200_000

RANK = {"at_risk": 0, "due_soon": 1, "overdue": 2}
"""How far along a dossier's firing alert is: the forecast, then the last working day, then
past the due date. The worker emits them in this order for one appointment."""


@dataclass(frozen=True, slots=True)
class Fire:
    """Send this alert to Alertmanager as firing."""

    alert: AlertRecord


@dataclass(frozen=True, slots=True)
class Resolve:
    """Send this (previously fired) alert to Alertmanager as resolved."""

    alert: AlertRecord


Change = Fire | Resolve


class ActiveBook:
    def __init__(self, retired_memory: int = RETIRED_MEMORY) -> None:
        self._active: dict[str, tuple[int, AlertRecord]] = {}  # dossier_id -> (partition, alert)
        self._retired: OrderedDict[str, None] = OrderedDict()
        self._retired_memory = retired_memory

    def apply(self, alert: AlertRecord, partition: int) -> list[Change]:
        """Record `alert` (read from `partition`) and say what Alertmanager must be told."""
        current = self._active.get(alert.dossier_id)
        if not alert.fires:
            assert alert.clears is not None
            self._retire(alert.clears)
            if current is not None and current[1].alert_id == alert.clears:
                del self._active[alert.dossier_id]
                return [Resolve(current[1])]
            return []
        if alert.alert_id in self._retired:
            return []
        if current is not None and _behind(alert, current[1]):
            self._retire(alert.alert_id)
            return []
        self._active[alert.dossier_id] = (partition, alert)
        if current is None or current[1].alert_id == alert.alert_id:
            return [Fire(alert)]
        self._retire(current[1].alert_id)
        if current[1].identity != alert.identity:
            return [Resolve(current[1]), Fire(alert)]
        return [Fire(alert)]

    def expire(self, before: datetime) -> list[AlertRecord]:
        """Drop and retire the active alerts about appointments before `before` (the
        retention horizon); returns them. A dossier that never closes would otherwise stay in
        the set re-sent every resend interval for ever, and the set grow for years. They are
        not sent as resolved: Alertmanager resolves each when the `endsAt` of its last resend
        passes, and a dossier that is forgotten by the worker (CONTRACT §3a) is no one's to
        page about any more."""
        expired = [a for _, a in self._active.values() if a.due_at < before]
        for alert in expired:
            del self._active[alert.dossier_id]
            self._retire(alert.alert_id)
        return expired

    def drop_partition(self, partition: int) -> None:
        """Forget the alerts of a partition this notifier no longer consumes."""
        for dossier_id in [d for d, (p, _) in self._active.items() if p == partition]:
            del self._active[dossier_id]

    def active(self) -> list[AlertRecord]:
        return [alert for _, alert in self._active.values()]

    def __len__(self) -> int:
        return len(self._active)

    def __iter__(self) -> Iterator[AlertRecord]:
        return iter(self.active())

    def _retire(self, alert_id: str) -> None:
        self._retired[alert_id] = None
        self._retired.move_to_end(alert_id)
        while len(self._retired) > self._retired_memory:
            self._retired.popitem(last=False)


def _behind(alert: AlertRecord, active: AlertRecord) -> bool:
    """`alert` is about the same appointment as the active alert, and less far along."""
    return alert.due_at == active.due_at and RANK[alert.kind] < RANK[active.kind]
