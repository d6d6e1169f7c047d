"""The at-risk forecast on hand-worked procedures (issue #18), in a plain March 2024.

A dossier received Monday 4 March at 10:00 with 5 processing days is due Monday 11 March:
Tuesday is its day 1, Wednesday day 2, and it is due soon from Friday 8 March (day 4).
"""

from __future__ import annotations

from datetime import date

import pytest

from iocmon.domain.calendar import load_calendar
from iocmon.domain.events import Event, EventType
from iocmon.domain.histogram import DurationHistogram
from iocmon.domain.judge import OpenState
from iocmon.domain.lifecycle import DossierState, apply_event
from iocmon.domain.risk import (
    Basis,
    ForecastPolicy,
    Scope,
    choose,
    expected_end,
    forecast,
    risk_of_lateness,
)
from tests.unit.hand_events import hand_event, local

CAL = load_calendar()


def ev(kind: EventType, at: str, **fields: object) -> Event:
    return hand_event("D1", kind, at, **fields)


def open_dossier(*later: Event, days: int = 5) -> DossierState:
    state: DossierState | None = None
    received = ev(
        EventType.RECEIVED,
        "2024-03-04T10:00",
        agency="STP",
        procedure="1.001234",
        channel="online",
        level="full",
        processing_days=days,
    )
    for event in (received, *later):
        state = apply_event(state, event, CAL).state
    assert state is not None and state.is_open
    return state


def procedure_basis(*durations: int, repeat: int = 1) -> Basis:
    return Basis(Scope.PROCEDURE, DurationHistogram.of(list(durations) * repeat))


def test_a_procedure_that_always_takes_3_of_its_5_days_puts_no_dossier_at_risk_on_day_2() -> None:
    result = forecast(open_dossier(), local("2024-03-06T10:00"), procedure_basis(3, repeat=30), CAL)
    assert result.state is OpenState.ON_TRACK
    assert (result.allowance, result.survived) == (5, 1)
    assert result.risk == 0.0
    assert not result.at_risk


def test_a_procedure_taking_4_to_7_of_its_5_days_puts_a_dossier_at_risk_from_day_1() -> None:
    basis = procedure_basis(4, 5, 6, 7, repeat=10)  # half of them end on day 6 or 7: late
    result = forecast(open_dossier(), local("2024-03-05T08:00"), basis, CAL)
    assert result.risk == 0.5
    assert result.at_risk
    assert result.scope is Scope.PROCEDURE
    stricter = forecast(
        open_dossier(), local("2024-03-05T08:00"), basis, CAL, ForecastPolicy(threshold=0.6)
    )
    assert not stricter.at_risk


def test_outlasting_the_fast_dossiers_raises_the_risk() -> None:
    # 10 working days allowed; 30 dossiers took 2 days, 10 took 12.
    basis = procedure_basis(*[2] * 30, *[12] * 10)
    on_day_1 = forecast(open_dossier(days=10), local("2024-03-05T09:00"), basis, CAL)
    on_day_3 = forecast(open_dossier(days=10), local("2024-03-07T09:00"), basis, CAL)
    assert (on_day_1.risk, on_day_1.at_risk) == (0.25, False)
    assert (on_day_3.risk, on_day_3.at_risk) == (1.0, True)


def test_a_pause_holds_the_dossier_s_clock_back() -> None:
    basis = procedure_basis(*[2] * 30, *[12] * 10)
    paused_two_days = open_dossier(
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T10:00"),
        ev(EventType.RESUMED, "2024-03-06T10:00"),
        days=10,
    )
    result = forecast(paused_two_days, local("2024-03-07T15:00"), basis, CAL)
    assert result.survived == 0  # effectively Tuesday 15:00, not Thursday
    assert result.risk == 0.25


def test_a_dossier_slower_than_every_sample_is_at_risk() -> None:
    result = forecast(
        open_dossier(days=10), local("2024-03-11T09:00"), procedure_basis(3, repeat=30), CAL
    )
    assert result.state is OpenState.ON_TRACK  # due 18 March
    assert (result.survived, result.risk, result.at_risk) == (4, 1.0, True)


def test_only_an_on_track_dossier_is_at_risk() -> None:
    basis = procedure_basis(4, 5, 6, 7, repeat=10)
    due_soon = forecast(open_dossier(), local("2024-03-08T09:00"), basis, CAL)
    assert (due_soon.state, due_soon.risk, due_soon.at_risk) == (OpenState.DUE_SOON, 0.5, False)
    overdue = forecast(open_dossier(), local("2024-03-12T09:00"), basis, CAL)
    assert (overdue.state, overdue.risk, overdue.at_risk) == (OpenState.OVERDUE, 1.0, False)
    paused = forecast(
        open_dossier(ev(EventType.FEE_REQUESTED, "2024-03-05T09:00")),
        local("2024-03-05T10:00"),
        basis,
        CAL,
    )
    assert (paused.state, paused.risk, paused.at_risk) == (OpenState.PAUSED, 0.5, False)


def test_a_second_supplement_request_makes_it_late_whatever_the_dates() -> None:
    twice = open_dossier(
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T11:00"),
        ev(EventType.RESUMED, "2024-03-04T12:00"),
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-04T13:00"),
        ev(EventType.RESUMED, "2024-03-04T14:00"),
    )
    result = forecast(twice, local("2024-03-05T09:00"), procedure_basis(1, repeat=30), CAL)
    assert (result.risk, result.at_risk) == (1.0, True)


def test_without_a_basis_there_is_no_forecast_but_an_overdue_one_is_still_certain() -> None:
    early = forecast(open_dossier(), local("2024-03-05T09:00"), None, CAL)
    assert (early.risk, early.at_risk, early.scope) == (None, False, None)
    late = forecast(open_dossier(), local("2024-03-12T09:00"), None, CAL)
    assert late.risk == 1.0


def test_risk_of_lateness_edges() -> None:
    empty = DurationHistogram.empty()
    assert risk_of_lateness(empty, allowance=5, survived=2) is None
    assert risk_of_lateness(empty, allowance=5, survived=5) == 1.0
    assert risk_of_lateness(DurationHistogram.of([3, 8]), allowance=5, survived=3) == 1.0


def test_choose_falls_back_from_procedure_at_agency_to_procedure_agency_province() -> None:
    few, enough, more = (DurationHistogram.of([2] * n) for n in (29, 30, 500))

    def pick(ap: DurationHistogram, p: DurationHistogram, a: DurationHistogram,
             r: DurationHistogram, min_samples: int = 30) -> Basis | None:  # fmt: skip
        return choose(agency_procedure=ap, procedure=p, agency=a, province=r,
                      min_samples=min_samples)  # fmt: skip

    assert pick(enough, more, more, more) == Basis(Scope.AGENCY_PROCEDURE, enough)
    assert pick(few, enough, more, more) == Basis(Scope.PROCEDURE, enough)
    assert pick(few, few, enough, more) == Basis(Scope.AGENCY, enough)
    assert pick(few, few, few, more) == Basis(Scope.PROVINCE, more)
    assert pick(few, few, few, few) is None
    assert pick(few, few, few, few, min_samples=29) == Basis(Scope.AGENCY_PROCEDURE, few)


def test_a_procedure_at_its_agency_answers_even_when_its_histogram_disagrees_with_the_pool() -> (
    None
):
    # 30 dossiers of the procedure at this agency took 7 of 5 days; 270 elsewhere took 3:
    # the pool holds all 300, and would say 0.1 on day 2 (30 of the 300 outlasting day 2
    # outlasted day 5). The agency's own 30 say 1.0.
    here = DurationHistogram.of([7] * 30)
    pooled = DurationHistogram.of([7] * 30 + [3] * 270)
    basis = choose(agency_procedure=here, procedure=pooled, agency=pooled, province=pooled)
    assert basis == Basis(Scope.AGENCY_PROCEDURE, here)
    result = forecast(open_dossier(), local("2024-03-06T10:00"), basis, CAL)
    assert (result.risk, result.at_risk, result.scope) == (1.0, True, Scope.AGENCY_PROCEDURE)
    assert risk_of_lateness(pooled, allowance=5, survived=2) == pytest.approx(0.1)


def test_expected_end_is_the_conditional_median_in_working_days() -> None:
    basis = procedure_basis(4, 5, 6, 7, repeat=10)
    dossier = open_dossier()
    assert expected_end(dossier, local("2024-03-05T09:00"), basis, CAL) == date(2024, 3, 11)
    # Still open on Saturday 9 March: it outlasted day 4, the median of 5, 6, 7 is day 6.
    assert expected_end(dossier, local("2024-03-09T09:00"), basis, CAL) == date(2024, 3, 12)


def test_expected_end_moves_later_by_the_paused_time() -> None:
    paused_a_day = open_dossier(
        ev(EventType.SUPPLEMENT_REQUESTED, "2024-03-05T10:00"),
        ev(EventType.RESUMED, "2024-03-06T10:00"),
    )
    basis = procedure_basis(4, 5, 6, 7, repeat=10)
    assert expected_end(paused_a_day, local("2024-03-06T11:00"), basis, CAL) == date(2024, 3, 12)


def test_policy_refuses_meaningless_settings() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ForecastPolicy(threshold=0)
    with pytest.raises(ValueError, match="min_samples"):
        ForecastPolicy(min_samples=0)
    with pytest.raises(ValueError, match="not open"):
        forecast(DossierState("D9", "submitted"), local("2024-03-05T09:00"), None, CAL)
