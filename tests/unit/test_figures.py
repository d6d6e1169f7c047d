from __future__ import annotations

import pytest

from iocmon.domain.figures import Figures


def test_on_time_ratio_ignores_withdrawn_and_open() -> None:
    f = Figures(early=90, on_time=8, late=2, withdrawn=50, on_track=10, overdue=5)
    assert f.on_time_ratio == pytest.approx(0.98)


def test_ratio_and_score_are_null_without_dossiers() -> None:
    assert Figures().on_time_ratio is None
    assert Figures().progress_766 is None
    assert Figures(withdrawn=3).on_time_ratio is None


def test_766_progress_score_counts_open_not_overdue_as_good() -> None:
    # 20 x (early + on_time + withdrawn + open not overdue) / (ended + open)
    f = Figures(
        early=6, on_time=2, late=1, withdrawn=1, on_track=5, due_soon=3, overdue=1, paused=1
    )
    assert f.ended == 10 and f.open == 10
    assert f.progress_766 == pytest.approx(20 * (6 + 2 + 1 + 9) / 20)


def test_all_late_scores_zero() -> None:
    assert Figures(late=4, overdue=2).progress_766 == 0
