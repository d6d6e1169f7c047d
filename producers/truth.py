"""The simulator's ground truth: what the worker should conclude from what was actually sent.

Written by `iocmon simulate --truth-out FILE` at the end of a run, as JSON Lines, one object
per line, each with a `kind`:

``{"kind": "dossier", ...}`` — one per dossier whose `received` event was sent, in order of
receipt::

    {"kind": "dossier", "dossier_id": "000.02.35.H01-240308-0018", "agency": "PT-CHOVAM",
     "procedure": "1.010585", "channel": "online", "level": "full",
     "outcome": "early" | "on_time" | "late" | "withdrawn" | null,
     "received_at": "2024-03-08T14:38:07+07:00", "ended_at": "…" | null,
     "due_at": "2024-03-11T17:00:00+07:00",
     "pauses": [["2024-03-09T09:12:40+07:00", "2024-03-12T09:12:40+07:00"],
                ["2024-03-13T10:02:11+07:00", null]]}

  `outcome` is the designed outcome if the dossier's terminal event was sent, else null
  (still open when the simulator stopped); `ended_at` is that terminal event's `at`.
  `due_at` is the due date that counts for classification (the original one, at 17:00
  when derived from `processing_days`; `rescheduled` does not change it).
  `pauses` (added with the periodic report, CONTRACT §6; older files lack it) lists the
  dossier's pauses as sent, in order: `[start, end]`, where start is the `at` of the
  `supplement_requested` or `fee_requested` that opened the pause and end the `at` of the
  `resumed` that closed it, or null when none was sent (still paused when the simulator
  stopped, or paused at the terminal event: the contract then counts the pause until the
  terminal event, `ended_at`). A pause request while paused extends the same pause; a
  `resumed` while not paused, and anything after the terminal event, changes nothing.

  The ledger reads pauses in the order the events are sent, which is the order the worker
  applies them: each dossier's events have strictly increasing `at` and go out in that
  order (`producers.timeline`), all on the dossier's partition. Repeats of an event
  (`Faults`) go out later, out of time order, but carry an `event_id` already applied, so
  they change nothing here either; the only event sent after a terminal one is the
  informational `result_returned`.

``{"kind": "invalid", ...}`` — one per deliberately bad record sent, in send order::

    {"kind": "invalid", "reason": "key_mismatch", "key": "…" | null, "event_id": "…" | null}

  `reason` is the dead-letter reason the worker should report (its `reason` label).

Dossiers rejected at intake (never received) and repeated records have no line: the first
count in no figure, the second must change nothing. Nothing here comes from judging code;
outcomes are the simulator's design (see `producers.lifecycle_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from iocmon.producers.lifecycle_plan import PAUSE_TYPES, PlannedDossier
from iocmon.producers.records import OutRecord


@dataclass(slots=True)
class _Pause:
    start: datetime
    end: datetime | None = None


class TruthLedger:
    """Follows the records as they are sent and answers for the dossiers they opened."""

    def __init__(self) -> None:
        self._received: dict[str, PlannedDossier] = {}
        self._ended: set[str] = set()
        self._pauses: dict[str, list[_Pause]] = {}
        self._invalid: list[dict[str, Any]] = []

    def record(self, record: OutRecord, dossier: PlannedDossier | None) -> None:
        """Note one sent record (`dossier`: the plan it came from, for valid events)."""
        if record.kind == "invalid":
            self._invalid.append(
                {
                    "kind": "invalid",
                    "reason": record.reason,
                    "key": record.key.decode("utf-8") if record.key is not None else None,
                    "event_id": record.event_id,
                }
            )
            return
        event = record.event
        if record.kind != "event" or event is None or dossier is None:
            return
        dossier_id = dossier.dossier_id
        if event.type == "received":
            self._received.setdefault(dossier_id, dossier)
        elif dossier_id in self._received and dossier_id not in self._ended:
            self._pause_or_resume(dossier_id, event.type, event.at)
        if event.seq == dossier.terminal_seq:
            self._ended.add(dossier_id)

    def _pause_or_resume(self, dossier_id: str, kind: str, at: datetime) -> None:
        pauses = self._pauses.get(dossier_id, [])
        running = pauses[-1] if pauses and pauses[-1].end is None else None
        if kind in PAUSE_TYPES and running is None:
            self._pauses.setdefault(dossier_id, []).append(_Pause(at))
        elif kind == "resumed" and running is not None:
            running.end = at

    @property
    def received(self) -> int:
        return len(self._received)

    @property
    def ended(self) -> int:
        return len(self._ended)

    def lines(self) -> Iterator[dict[str, Any]]:
        for dossier in self._received.values():
            ended = dossier.dossier_id in self._ended
            terminal = dossier.terminal
            assert dossier.due_at is not None and terminal is not None
            yield {
                "kind": "dossier",
                "dossier_id": dossier.dossier_id,
                "agency": dossier.agency,
                "procedure": dossier.procedure,
                "channel": dossier.channel,
                "level": dossier.level,
                "outcome": dossier.outcome if ended else None,
                "received_at": _iso(dossier.arrival),
                "ended_at": _iso(terminal.at) if ended else None,
                "due_at": _iso(dossier.due_at),
                "pauses": [
                    [_iso(p.start), _iso(p.end) if p.end is not None else None]
                    for p in self._pauses.get(dossier.dossier_id, ())
                ],
            }
        yield from self._invalid

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as f:
            for line in self.lines():
                f.write(json.dumps(line, ensure_ascii=False) + "\n")


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")
