"""The simulator's ground truth: what the worker should conclude from what was actually sent.

Written by `iocmon simulate --truth-out FILE` at the end of a run, as JSON Lines, one object
per line, each with a `kind`:

``{"kind": "dossier", ...}`` — one per dossier whose `received` event was sent, in order of
receipt::

    {"kind": "dossier", "dossier_id": "000.02.35.H01-240308-0018", "agency": "PT-CHOVAM",
     "procedure": "1.010585", "channel": "online", "level": "full",
     "outcome": "early" | "on_time" | "late" | "withdrawn" | null,
     "received_at": "2024-03-08T14:38:07+07:00", "ended_at": "…" | null,
     "due_at": "2024-03-11T17:00:00+07:00"}

  `outcome` is the designed outcome if the dossier's terminal event was sent, else null
  (still open when the simulator stopped); `ended_at` is that terminal event's `at`.
  `due_at` is the due date that counts for classification (the original one, at 17:00
  when derived from `processing_days`; `rescheduled` does not change it).

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
from pathlib import Path
from typing import Any

from producers.lifecycle_plan import PlannedDossier
from producers.records import OutRecord


class TruthLedger:
    """Follows the records as they are sent and answers for the dossiers they opened."""

    def __init__(self) -> None:
        self._received: dict[str, PlannedDossier] = {}
        self._ended: set[str] = set()
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
        if event.type == "received":
            self._received[dossier.dossier_id] = dossier
        if event.seq == dossier.terminal_seq:
            self._ended.add(dossier.dossier_id)

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
                "received_at": dossier.arrival.isoformat(timespec="seconds"),
                "ended_at": terminal.at.isoformat(timespec="seconds") if ended else None,
                "due_at": dossier.due_at.isoformat(timespec="seconds"),
            }
        yield from self._invalid

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as f:
            for line in self.lines():
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
