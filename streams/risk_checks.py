"""What the applier's risk checks need beyond the partition's memory (`BatchApplier.check_risks`):
where the histograms come from, the forecast's settings, and assessing many dossiers
without holding the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from iocmon.domain.calendar import WorkingCalendar
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import DEFAULT_FORECAST_POLICY, ForecastPolicy
from iocmon.domain.risk_check import Assessed, Histories, assess

ASSESS_SLICE = 256
"""Dossiers assessed between two yields to the event loop: a sweep of thousands must not
hold back the batches of the other partitions."""


class HistorySource(Protocol):
    async def get(self, now: datetime) -> Histories: ...


@dataclass(frozen=True, slots=True)
class RiskChecks:
    histories: HistorySource
    policy: ForecastPolicy = DEFAULT_FORECAST_POLICY


async def assess_all(
    states: Mapping[str, DossierState | None],
    now: datetime,
    histories: Histories,
    calendar: WorkingCalendar,
    policy: ForecastPolicy,
) -> dict[str, Assessed]:
    """`assess` of each dossier (None: not open), yielding to the event loop now and then."""
    out: dict[str, Assessed] = {}
    for n, (dossier_id, state) in enumerate(states.items(), 1):
        item = None if state is None else assess(state, now, histories, calendar, policy)
        out[dossier_id] = (state, item)
        if n % ASSESS_SLICE == 0:
            await asyncio.sleep(0)
    return out
