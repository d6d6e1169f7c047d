"""What the applier remembers of each partition it owns, between batches and checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from iocmon.domain.batch import BatchPlan
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk_check import AtRiskItem
from iocmon.streams.unrecorded import Unrecorded, forget_written

MAX_CHANGED = 20_000
"""Dossiers changed since the last risk check beyond which the next one sweeps instead (a
backlog: assessing them one by one would cost more than a sweep)."""


@dataclass
class RiskWatch:
    """What the last risk check of a partition left (`BatchApplier.check_risks`)."""

    listed: dict[str, AtRiskItem]
    """The partition's at-risk list in Redis, as this worker wrote it."""
    next_sweep: datetime
    cold: bool
    """The last sweep had too few histograms to forecast from: sweep again once there are."""


@dataclass
class PartitionMemory:
    """What this worker knows of a partition it applies: valid while no one else wrote it.

    The offset fence makes the owner of a partition its only writer, so the states of its
    open dossiers can stay in memory between batches instead of being read from Redis for
    each one. Every write checks the partition's offset and version; when another writer
    moved either (a rebalance, a zombie, a rebuild's switch, lost data) the write is refused
    and the memory dropped, and the next batch starts again from Redis.
    """

    offset: int
    version: int
    stream_time: datetime | None
    open_states: dict[str, DossierState] = field(default_factory=dict)
    retired_through: float = float("-inf")
    """The forgetting edge (Unix s) of the last `retire` that finished its work."""
    changed: set[str] = field(default_factory=set)
    """Dossiers written since the last risk check: their risk is assessed again."""
    risk: RiskWatch | None = None
    """None: the next risk check sweeps the partition (it has not since this memory began)."""
    unrecorded: Unrecorded = field(default_factory=dict)
    """Alerts a previous writer may have sent without recording them (`unrecorded`), noted
    when this memory began: a batch ending their dossiers clears them too."""

    def remember(self, plan: BatchPlan, version: int, changes_risk: bool = True) -> None:
        self.offset, self.version = plan.last_offset, version
        if plan.stream_time is not None:
            self.stream_time = plan.stream_time
        if self.unrecorded:
            forget_written(self.unrecorded, plan.states)
        for dossier_id, state in plan.states.items():
            if state.is_open:
                self.open_states[dossier_id] = state
            else:
                self.open_states.pop(dossier_id, None)
        if changes_risk and plan.states:
            self.changed.update(plan.states)
            if len(self.changed) > MAX_CHANGED:
                self.changed.clear()
                self.risk = None


@dataclass(frozen=True, slots=True)
class Recalled:
    memory: PartitionMemory
    states: dict[str, DossierState | None]
    unreadable: dict[str, str]
    """Dossiers whose stored state does not decode (id -> why): quarantined."""
