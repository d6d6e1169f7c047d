"""The active set is bounded: alerts about appointments beyond the retention horizon end.

A dossier that never closes keeps its overdue alert active, and the notifier re-posts every
active alert each resend interval: over years that set only grew. An alert whose appointment
is more than IOCMON_RETENTION_DAYS in the past is dropped (and retired, so a re-emitted copy
does not bring it back); Alertmanager resolves it when its last `endsAt` passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iocmon.errors import ConfigError
from iocmon.notifier.book import ActiveBook, Fire
from iocmon.notifier.config import NotifierSettings
from iocmon.notifier.lanes import Refresh
from iocmon.notifier.metrics import NotifierMetrics
from iocmon.notifier.service import Notifier
from tests.unit.test_notifier_book import DUE, alert

HORIZON = timedelta(days=400)


def test_alerts_beyond_the_horizon_leave_the_active_set_and_stay_retired() -> None:
    book = ActiveBook()
    old = alert("D-OLD", "overdue", due=DUE - HORIZON - timedelta(days=1))
    recent = alert("D-NEW", "overdue", due=DUE - timedelta(days=3))
    book.apply(old, 0)
    book.apply(recent, 1)

    assert book.expire(before=DUE - HORIZON) == [old]
    assert book.active() == [recent]
    assert book.apply(old, 0) == []  # a worker re-emitting it after a crash
    assert book.active() == [recent]


def test_an_alert_exactly_at_the_horizon_stays() -> None:
    book = ActiveBook()
    edge = alert("D1", "overdue", due=DUE - HORIZON)
    book.apply(edge, 0)
    assert book.expire(before=DUE - HORIZON) == []
    assert book.active() == [edge]


def settings(**env: str) -> NotifierSettings:
    return NotifierSettings.from_env({"ALERTMANAGER_URL": "http://127.0.0.1:1", **env})


def test_the_horizon_is_iocmon_retention_days() -> None:
    assert settings().alert_horizon == timedelta(days=400)
    assert settings(IOCMON_RETENTION_DAYS="60").alert_horizon == timedelta(days=60)
    with pytest.raises(ConfigError, match="IOCMON_RETENTION_DAYS"):
        settings(IOCMON_RETENTION_DAYS="10")


def test_a_resend_carries_only_alerts_within_the_horizon() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    notifier = Notifier(
        settings(IOCMON_RETENTION_DAYS="60"),
        metrics=NotifierMetrics(),
        clock=lambda: now,
    )
    stale = alert("D-STALE", "overdue", due=now - timedelta(days=61))
    fresh = alert("D-FRESH", "overdue", due=now - timedelta(days=59))
    assert notifier.book.apply(stale, 0) == [Fire(stale)]
    notifier.book.apply(fresh, 0)

    notifier._refresh()

    (lane,) = notifier.lanes
    (job,) = list(lane._queue)
    assert isinstance(job, Refresh)
    assert job.alerts == (fresh,)
    assert len(notifier.book) == 1
