"""Interleave the events of many planned dossiers into one stream ordered by `at`.

Sources emit events when they happen, so the simulator does too. Dossiers come in arrival
order but each spans days or weeks, and an online submission precedes its arrival by up to
`MAX_SUBMIT_LEAD`. A heap holds planned events; one is released once no dossier still to
come can have an earlier event, which keeps the merge lazy (it works on an endless plan).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from iocmon.producers.lifecycle_plan import MAX_SUBMIT_LEAD, PlannedDossier, PlannedEvent


def merge_by_time(
    dossiers: Iterable[PlannedDossier], max_lead: timedelta = MAX_SUBMIT_LEAD
) -> Iterator[tuple[PlannedEvent, PlannedDossier]]:
    """All events of `dossiers` in `at` order (ties: planning order).

    Requires arrivals in non-decreasing order and no event earlier than its dossier's
    arrival minus `max_lead`.
    """
    heap: list[tuple[datetime, int, PlannedEvent, PlannedDossier]] = []
    tiebreak = itertools.count()
    for dossier in dossiers:
        horizon = dossier.arrival - max_lead
        while heap and heap[0][0] <= horizon:
            _, _, event, owner = heapq.heappop(heap)
            yield event, owner
        for event in dossier.events:
            heapq.heappush(heap, (event.at, next(tiebreak), event, dossier))
    while heap:
        _, _, event, owner = heapq.heappop(heap)
        yield event, owner
