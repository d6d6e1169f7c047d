"""Replaying a hand-worked March 2024 to see when each warning would have fired.

Four dossiers of procedure P (5 working days) received Monday 4 March teach the forecast:
three end late on days 6, 6 and 7, one early on day 3. From the check of Thursday 14 March
08:00 (when the fourth has ended) a P dossier's risk is 3/4 until it turns due soon.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count

import pytest

from iocmon.domain.backtest import Sighting
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import Event, EventType
from iocmon.domain.forecast_replay import ReplayedDossier, ReplayResult, replay

CAL = load_calendar()
_ids = count()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def ev(dossier: str, kind: EventType, when: str, **fields: object) -> Event:
    return Event(event_id=f"e{next(_ids)}", dossier_id=dossier, type=kind, at=at(when), **fields)  # type: ignore[arg-type]


def received(
    dossier: str, when: str, days: int = 5, procedure: str = "P", agency: str = "STP"
) -> Event:
    return ev(
        dossier,
        EventType.RECEIVED,
        when,
        agency=agency,
        procedure=procedure,
        channel="counter",
        level="none",
        processing_days=days,
    )


def resolved(dossier: str, when: str) -> Event:
    return ev(dossier, EventType.RESOLVED, when)


TEACHERS = [
    *(received(f"T{i}", "2024-03-04T09:00") for i in range(1, 5)),
    resolved("T4", "2024-03-07T10:00"),  # day 3
    resolved("T1", "2024-03-12T10:00"),  # day 6
    resolved("T2", "2024-03-12T11:00"),  # day 6
    resolved("T3", "2024-03-13T10:00"),  # day 7
]


def run(*events: Event, thresholds: tuple[float, ...] = (0.5, 0.8)) -> ReplayResult:
    ordered = sorted([*TEACHERS, *events], key=lambda e: e.at)
    return replay(ordered, CAL, thresholds=thresholds, min_samples=4)


def ended(result: ReplayResult, dossier_id: str) -> ReplayedDossier:
    return next(d for d in result.ended if d.dossier_id == dossier_id)


X_AND_Y = (
    received("X", "2024-03-14T09:00"),  # due Thursday 21 March
    received("Y", "2024-03-14T09:00"),
    resolved("Y", "2024-03-18T10:00"),  # early
    resolved("X", "2024-03-22T10:00"),  # late
)


def test_a_dossier_received_once_the_forecast_has_enough_samples_is_flagged_at_receipt() -> None:
    result = run(*X_AND_Y)
    x = ended(result, "X")
    assert x.late
    assert x.first_at_risk == (Sighting(at("2024-03-14T09:00")), None)  # 0.75: not 0.8
    assert x.first_due_soon == Sighting(at("2024-03-20T00:00"))
    assert ended(result, "Y").first_at_risk == (Sighting(at("2024-03-14T09:00")), None)


def test_the_teachers_were_never_forecast_but_got_their_due_soon_warning() -> None:
    result = run(*X_AND_Y)
    for name in ("T1", "T2", "T3"):
        teacher = ended(result, name)
        assert teacher.first_at_risk == (None, None)
        assert teacher.first_due_soon == Sighting(at("2024-03-08T00:00"))
    assert ended(result, "T4").first_due_soon is None  # ended before it


def test_scores_per_threshold_beside_due_soon() -> None:
    result = run(*X_AND_Y)
    half = result.at_risk_score(0.5, CAL, min_lead_days=2)
    assert (half.dossiers, half.late, half.warned, half.warned_late) == (6, 4, 2, 1)
    assert (half.precision, half.recall, half.median_lead_days) == (0.5, 0.25, 5.0)
    strict = result.at_risk_score(0.8, CAL, min_lead_days=2)
    assert (strict.warned, strict.recall) == (0, 0.0)
    due_soon = result.due_soon_score(CAL, min_lead_days=2)
    assert (due_soon.precision, due_soon.recall, due_soon.median_lead_days) == (1.0, 1.0, 1.0)
    assert due_soon.recall_ahead == 0.0


def test_each_agency_s_dossiers_are_forecast_from_the_procedure_s_times_at_that_agency() -> None:
    # Four P dossiers at agency LX all end on day 2. Pooled, P's eight say 3/8 late: X would
    # not be flagged at 0.5; STP's own four say 3/4, and LX's own none.
    fast_elsewhere = [
        *(received(f"L{i}", "2024-03-04T09:00", agency="LX") for i in range(1, 5)),
        *(resolved(f"L{i}", "2024-03-06T10:00") for i in range(1, 5)),
    ]
    result = run(
        *fast_elsewhere,
        *X_AND_Y,
        received("W", "2024-03-14T09:00", agency="LX"),
        resolved("W", "2024-03-18T10:00"),
    )
    assert ended(result, "X").first_at_risk == (Sighting(at("2024-03-14T09:00")), None)
    assert ended(result, "W").first_at_risk == (None, None)


def test_no_forecast_reads_a_dossier_that_ended_after_its_check() -> None:
    # Z arrives Tuesday 12 March 09:00, when only T4 has ended; T1-T3 end later. The check
    # of Thursday 08:00 is the first to hold four samples, so that is when Z is flagged.
    result = run(received("Z", "2024-03-12T09:00"), resolved("Z", "2024-03-20T10:00"))
    z = ended(result, "Z")
    assert z.first_at_risk == (Sighting(at("2024-03-14T08:00")), None)
    assert z.first_due_soon == Sighting(at("2024-03-18T00:00"))


def test_a_pause_moves_the_due_soon_warning_and_its_lead_stays_in_the_dossier_s_clock() -> None:
    result = run(
        received("R", "2024-03-04T09:00"),  # due Monday 11 March
        ev("R", EventType.SUPPLEMENT_REQUESTED, "2024-03-07T09:00"),
        ev("R", EventType.RESUMED, "2024-03-11T09:00"),  # 96 hours paused
        resolved("R", "2024-03-18T09:00"),  # effectively Thursday 14 March: late
    )
    r = ended(result, "R")
    assert r.late
    assert r.first_due_soon == Sighting(at("2024-03-12T00:00"), 96 * 3600)
    due_soon = result.due_soon_score(CAL, min_lead_days=1)
    assert due_soon.warned_late_ahead == 4  # the teachers and R: each one working day ahead


def test_a_dossier_received_already_due_soon_is_warned_at_receipt() -> None:
    result = run(received("Q", "2024-03-04T09:00", days=1), resolved("Q", "2024-03-06T09:00"))
    assert ended(result, "Q").first_due_soon == Sighting(at("2024-03-04T09:00"))


def test_withdrawn_open_and_refused_are_left_out_of_the_scores() -> None:
    result = run(
        received("W", "2024-03-05T09:00"),
        ev("W", EventType.WITHDRAWN, "2024-03-06T09:00"),
        received("V", "2024-03-05T09:00"),
        ev("NEVER", EventType.RESOLVED, "2024-03-06T09:00"),
        ev("W", EventType.RESOLVED, "2024-03-07T09:00"),  # after its end
    )
    assert {d.dossier_id for d in result.ended} == {"T1", "T2", "T3", "T4"}
    assert result.still_open == 1
    assert result.skipped_events == 2


def test_checks_run_once_per_working_day() -> None:
    # From Monday 4 to Wednesday 13 March 10:00: eight working days' checks.
    assert run().checks == 8


def test_thresholds_are_required_and_valid() -> None:
    with pytest.raises(ValueError, match="at least one threshold"):
        replay([], CAL, thresholds=())
    with pytest.raises(ValueError, match="threshold"):
        replay([], CAL, thresholds=(1.5,))


def test_a_dossier_received_overdue_gets_no_due_soon_warning_at_all() -> None:
    late_from_the_start = ev(
        "O",
        EventType.RECEIVED,
        "2024-03-04T09:00",
        agency="STP",
        procedure="P",
        channel="counter",
        level="none",
        due_at=at("2024-03-01T17:00"),
    )
    result = run(late_from_the_start, resolved("O", "2024-03-06T09:00"))
    assert ended(result, "O").first_due_soon is None
