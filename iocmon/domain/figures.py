"""The headline figures of CONTRACT §3: on-time ratio and the 766 progress score."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

PROGRESS_766_POINTS = 20


@dataclass(frozen=True, slots=True)
class Figures:
    """Dossiers that ended in a period (by outcome) and those open now (by state)."""

    early: int = 0
    on_time: int = 0
    late: int = 0
    withdrawn: int = 0
    received: int = 0
    on_track: int = 0
    due_soon: int = 0
    overdue: int = 0
    paused: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @staticmethod
    def total(parts: Iterable[Figures]) -> Figures:
        out = Figures()
        for part in parts:
            out = out + part
        return out

    @property
    def ended(self) -> int:
        return self.early + self.on_time + self.late + self.withdrawn

    @property
    def open(self) -> int:
        return self.on_track + self.due_soon + self.overdue + self.paused

    @property
    def on_time_ratio(self) -> float | None:
        judged = self.early + self.on_time + self.late
        return None if judged == 0 else (self.early + self.on_time) / judged

    @property
    def progress_766(self) -> float | None:
        """Decision 766/QĐ-TTg, "tiến độ giải quyết": 20 points scaled by the share of
        dossiers that ended in time (or were withdrawn) or are open and not overdue.
        """
        total = self.ended + self.open
        if total == 0:
            return None
        good = self.early + self.on_time + self.withdrawn + self.open - self.overdue
        return PROGRESS_766_POINTS * good / total

    def to_json(self) -> dict[str, Any]:
        return {
            "early": self.early,
            "on_time": self.on_time,
            "late": self.late,
            "withdrawn": self.withdrawn,
            "ended": self.ended,
            "received": self.received,
            "open": self.open,
            "on_track": self.on_track,
            "due_soon": self.due_soon,
            "overdue": self.overdue,
            "paused": self.paused,
            "on_time_ratio": self.on_time_ratio,
            "progress_766": self.progress_766,
        }
