"""Logs each dossier the worker sets aside, once: a stored state that does not decode, or a
defect met while judging one of its events.

Such a dossier's records are dead-lettered (`unreadable_state`, `judging_failed`) and counted
like every dead letter, and its partition goes on; without this log an operator would see
only a counter. One line per dossier, not per record: a dossier with a broken state sends
every later event to the dead-letter topic, and its partition may carry thousands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from iocmon.domain.batch import DeadLetter
from iocmon.domain.events import RejectReason
from iocmon.logs import fields

log = logging.getLogger(__name__)

LOGGED_LIMIT = 10_000
"""Dossiers remembered as logged; past it the set starts again (a line more, never fewer)."""


class QuarantineLog:
    def __init__(self) -> None:
        self._logged: set[str] = set()

    def note(self, partition: int, unreadable: Mapping[str, str]) -> None:
        for dossier_id, why in unreadable.items():
            if self._first(dossier_id):
                log.error(
                    "partition %d: dossier %s set aside: %s. Its events go to the dead-letter "
                    "topic with reason 'unreadable_state' and the partition goes on; repair "
                    "it with `iocmon rebuild` (README: 'Dossiers set aside')",
                    partition,
                    dossier_id,
                    why,
                    extra=fields(partition=partition, dossier_id=dossier_id),
                )

    def judging_failed(self, partition: int, letters: Sequence[DeadLetter]) -> None:
        for dead in letters:
            if dead.reason != RejectReason.JUDGING_FAILED.value:
                continue
            dossier_id = (dead.record.key or b"").decode("utf-8", "replace")
            if self._first(dossier_id):
                log.error(
                    "partition %d offset %d: dossier %s: %s. The event went to the "
                    "dead-letter topic with reason 'judging_failed' and the partition goes "
                    "on; once fixed, replay it from there",
                    partition,
                    dead.record.offset,
                    dossier_id,
                    dead.detail,
                    extra=fields(
                        partition=partition, offset=dead.record.offset, dossier_id=dossier_id
                    ),
                )

    def _first(self, dossier_id: str) -> bool:
        if dossier_id in self._logged:
            return False
        if len(self._logged) >= LOGGED_LIMIT:
            self._logged.clear()
        self._logged.add(dossier_id)
        return True
