"""Scoring a warning against the dossiers that really ended late, on a hand-worked set.

All due on Friday 15 March 2024 (a plain week): Monday 11 March is 4 working days ahead.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from iocmon.domain.backtest import Sighting, Warned, lead_days, score
from iocmon.domain.calendar import LOCAL_TZ, load_calendar

CAL = load_calendar()
DUE = datetime(2024, 3, 15, 17, 0, tzinfo=LOCAL_TZ)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def seen(text: str, paused_s: float = 0.0) -> Sighting:
    return Sighting(at(text), paused_s)


HAND_WORKED = [
    Warned(late=True, due_at=DUE, first=seen("2024-03-11T08:00")),  # lead 4
    Warned(late=True, due_at=DUE, first=seen("2024-03-14T08:00")),  # lead 1
    Warned(late=True, due_at=DUE, first=None),  # missed
    Warned(late=True, due_at=DUE, first=seen("2024-03-14T10:00", 86400)),  # lead 2, paused a day
    Warned(late=False, due_at=DUE, first=seen("2024-03-12T08:00")),  # false alarm
    Warned(late=False, due_at=DUE, first=None),
    Warned(late=False, due_at=DUE, first=None),
]


def test_precision_recall_and_lead_on_a_hand_worked_set() -> None:
    result = score(HAND_WORKED, CAL, min_lead_days=2)
    assert (result.dossiers, result.late, result.warned, result.warned_late) == (7, 4, 4, 3)
    assert result.precision == 0.75
    assert result.recall == 0.75
    assert result.median_lead_days == 2.0  # of 4, 1 and 2
    assert result.warned_late_ahead == 2
    assert result.recall_ahead == 0.5
    assert result.base_rate == pytest.approx(4 / 7)
    assert result.lift == pytest.approx(0.75 * 7 / 4)


def test_a_longer_lead_requirement_counts_fewer_warnings_ahead() -> None:
    assert score(HAND_WORKED, CAL, min_lead_days=4).warned_late_ahead == 1
    assert score(HAND_WORKED, CAL, min_lead_days=5).recall_ahead == 0.0


def test_lead_days_are_working_days_in_the_dossier_s_clock() -> None:
    over_a_weekend = Warned(True, at("2024-03-12T17:00"), seen("2024-03-08T09:00"))
    assert lead_days(over_a_weekend, CAL) == 2  # Monday and Tuesday
    on_the_day = Warned(True, DUE, seen("2024-03-15T08:00"))
    assert lead_days(on_the_day, CAL) == 0
    after_it = Warned(True, DUE, seen("2024-03-18T08:00"))
    assert lead_days(after_it, CAL) == -1
    assert lead_days(Warned(True, DUE, None), CAL) is None


def test_nothing_to_score_gives_no_figures_rather_than_zeros() -> None:
    empty = score([], CAL)
    assert (empty.precision, empty.recall, empty.median_lead_days, empty.lift) == (
        None,
        None,
        None,
        None,
    )
    never_late = score([Warned(False, DUE, seen("2024-03-11T08:00"))], CAL)
    assert (never_late.precision, never_late.recall, never_late.lift) == (0.0, None, None)
