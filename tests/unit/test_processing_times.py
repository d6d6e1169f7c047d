"""The simulator's processing times (issue #18): procedures, agencies and weeks that differ,
and the An Giang profile still met by default.

Working days are counted here from the dates the planned events carry (receipt, and the
terminal event of a dossier that was never paused), as the judge would count them: the
shapes are checked on what the worker will see, not on the generator's own numbers.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar, load_calendar
from iocmon.domain.procedures import load_procedures
from iocmon.producers.arrivals import plan_dossiers
from iocmon.producers.lifecycle_plan import PAUSE_TYPES, Intake, PlannedDossier, plan_received
from iocmon.producers.officehours import office_instant
from iocmon.producers.processing_times import late_days
from iocmon.producers.profile import AgencyProfile, Procedure, Profile, default_profile
from iocmon.producers.simulate import simulate_command
from tests.unit.test_simulator import expected_outcome

NOW = datetime(2024, 6, 20, 10, 0, tzinfo=LOCAL_TZ)
CALENDAR = load_calendar(None)


@pytest.fixture(scope="module")
def profile() -> Profile:
    return default_profile(load_catalogue(None), dossiers_per_day=600)


def plain(profile: Profile, **overrides: object) -> Profile:
    """No pauses, no withdrawals: every dossier's effective end is its terminal event."""
    return dataclasses.replace(
        profile,
        withdrawn_rate=0.0,
        supplement_rate=0.0,
        fee_rate=0.0,
        **overrides,  # type: ignore[arg-type]
    )


def agency(profile: Profile, code: str) -> AgencyProfile:
    return next(a for a in profile.agencies if a.code == code)


def ordinary_agency(profile: Profile, kind: str) -> AgencyProfile:
    return next(
        a
        for a in profile.agencies
        if a.kind == kind and a.code not in {profile.slow_agency, profile.overloaded_agency}
    )


def working_days_taken(dossier: PlannedDossier, calendar: WorkingCalendar = CALENDAR) -> int:
    """Working days from the day of receipt to the day of the (unpaused) end."""
    terminal = dossier.terminal
    assert terminal is not None
    assert not any(e.type in PAUSE_TYPES for e in dossier.events), "a paused dossier"
    return calendar.working_days_between(
        dossier.arrival.astimezone(LOCAL_TZ).date(), terminal.at.astimezone(LOCAL_TZ).date()
    )


def received_on(
    profile: Profile, where: AgencyProfile, procedure: Procedure, days: Iterable[date], seed: int
) -> list[PlannedDossier]:
    """One dossier of `procedure` at `where` per day of `days`, received in office hours."""
    rng = random.Random(seed)
    out = []
    for n, day in enumerate(days):
        intake = Intake(
            dossier_id=f"{where.id_prefix}-{day:%y%m%d}-{n:05d}",
            agency=where,
            procedure=procedure,
            channel="counter",
            level="none",
            arrival=office_instant(rng, day),
            applicant={},
        )
        out.append(plan_received(rng, profile, CALENDAR, intake))
    return out


def working_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if CALENDAR.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def deciles(values: list[int]) -> list[float]:
    return statistics.quantiles(values, n=10)


# --- procedures ----------------------------------------------------------------------------


def test_a_procedure_s_dossiers_take_its_typical_share_of_the_allowance_with_a_spread(profile):
    base = plain(profile, late_rate=0.0)
    where = ordinary_agency(base, "district")
    days = working_days(date(2024, 3, 4), 150) * 10
    taken = {}
    for share in (0.25, 0.5):
        procedure = Procedure("1.000001", 20, typical_share=share, spread=0.35)
        dossiers = received_on(base, where, procedure, days, seed=int(share * 100))
        taken[share] = [working_days_taken(d) for d in dossiers if d.outcome == "early"]
    quick, slow = deciles(taken[0.25]), deciles(taken[0.5])
    # The median is the typical share of 20 days (plus half a day: receipts spread over it).
    assert 4.5 <= quick[4] <= 6.5
    assert 9.5 <= slow[4] <= 11.5
    # A log-normal spread: the slowest tenth take well over the median, the quickest under.
    for d in (quick, slow):
        assert d[0] < 0.75 * d[4] and d[8] > 1.3 * d[4]
    assert max(taken[0.5]) == 19  # and the tail reaches the day before the due date


def test_short_procedures_end_on_their_due_date_more_often_than_long_ones(profile):
    base = plain(profile, late_rate=0.0)
    where = ordinary_agency(base, "district")
    days = working_days(date(2024, 3, 4), 150) * 8
    on_time = {}
    for allowance in (1, 5, 30):
        procedure = Procedure("1.000002", allowance)
        dossiers = received_on(base, where, procedure, days, seed=allowance)
        on_time[allowance] = sum(d.outcome == "on_time" for d in dossiers) / len(dossiers)
    assert on_time[1] > 0.5 > on_time[5] > 0.1 > on_time[30] > 0.01


def test_late_dossiers_end_past_their_due_date_by_a_tail_that_grows_with_the_allowance():
    rng = random.Random(5)
    tails = {a: [late_days(rng, Procedure("1.000003", a)) for _ in range(3000)] for a in (5, 30)}
    assert min(tails[5]) == min(tails[30]) == 1
    assert statistics.mean(tails[30]) > 2.5 * statistics.mean(tails[5])
    assert max(tails[5]) <= 10 and max(tails[30]) <= 31
    assert max(tails[30]) > 20  # a real tail, not a fixed delay


def test_procedures_of_long_allowances_end_late_more_often(profile):
    dossiers = plan(profile, days=60, late_rate=0.02)
    late_by_days: dict[int, list[bool]] = {}
    allowance = {p.code: p.processing_days for a in profile.agencies for p in a.procedures}
    for d in dossiers:
        if d.received and d.outcome != "withdrawn" and d.agency != profile.slow_agency:
            late_by_days.setdefault(allowance[d.procedure], []).append(d.outcome == "late")
    short = [x for a in (1, 2, 3) for x in late_by_days[a]]
    long = [x for a in (15, 20, 30) for x in late_by_days[a]]
    assert statistics.mean(long) > 2 * statistics.mean(short)


def test_each_procedure_has_its_own_shape_the_same_in_every_run():
    first = default_profile(load_catalogue(None), dossiers_per_day=1)
    again = default_profile(load_catalogue(None), dossiers_per_day=1)
    procedures = {p.code: p for a in first.agencies for p in a.procedures}
    assert procedures == {p.code: p for a in again.agencies for p in a.procedures}
    shares = [p.typical_share for p in procedures.values()]
    spreads = [p.spread for p in procedures.values()]
    assert 0.2 <= min(shares) < 0.25 and 0.5 < max(shares) <= 0.55
    assert min(spreads) >= 0.25 and max(spreads) <= 0.5


# --- agencies and weeks --------------------------------------------------------------------


def plan(
    profile: Profile, *, days: float, seed: int = 1, **overrides: object
) -> list[PlannedDossier]:
    changed = dataclasses.replace(profile, **overrides)  # type: ignore[arg-type]
    start = NOW - timedelta(days=days)
    return list(plan_dossiers(changed, random.Random(seed), start, NOW, CALENDAR))


def test_the_default_slow_and_overloaded_agencies_are_the_land_office_and_a_busy_district(
    profile,
):
    assert profile.slow_agency == "VPDKDD"  # Văn phòng Đăng ký đất đai tỉnh
    assert agency(profile, "CP").kind == "district"
    assert profile.overloaded_agency == "CP"
    assert profile.late_rate_of("VPDKDD") == pytest.approx(5 * profile.late_rate)
    assert profile.late_rate_of("CP") == profile.late_rate


def test_the_slow_agency_s_backlog_is_its_land_procedures_a_small_share_of_its_dossiers(
    profile,
):
    catalogue = load_procedures(None)
    slow = agency(profile, "VPDKDD")
    land = {p.code for p in slow.procedures if catalogue.get(p.code).field.key == "land"}
    assert profile.slow_agency_backlog == land
    assert len(land) >= 5
    assert 0.03 < profile.backlog_share < 0.15  # a few procedures, not the agency's whole work
    # Calibrated: the backlog's late ones and the rest's stuck ones make the agency's share.
    for rate in (None, 0.05, 0.2):
        p = dataclasses.replace(profile, slow_agency_late_rate=rate)
        whole = p.backlog_share * p.backlog_late_share + (1 - p.backlog_share) * p.slow_stuck_rate
        assert whole == pytest.approx(p.late_rate_of("VPDKDD"))
    at_5 = dataclasses.replace(profile, slow_agency_late_rate=0.05)
    assert at_5.slow_stuck_rate == pytest.approx(profile.late_rate)  # the rest: like any agency
    assert 0.4 < at_5.backlog_late_share < 0.8
    # Past what the backlog can carry, the rest of its procedures take the remainder.
    at_half = dataclasses.replace(profile, slow_agency_late_rate=0.5)
    assert at_half.backlog_late_share == pytest.approx(0.9)
    assert at_half.slow_stuck_rate > 0.4
    none = dataclasses.replace(profile, slow_agency_late_rate=0.0)
    assert none.backlog_late_share == none.slow_stuck_rate == 0.0


def backlog_procedure(profile: Profile) -> Procedure:
    """The slow agency's busiest procedure in backlog (a 7-day land procedure in An Giang)."""
    slow = agency(profile, "VPDKDD")
    return next(p for p in slow.procedures if p.code in profile.slow_agency_backlog)


def test_a_backlog_procedure_s_times_at_the_slow_agency_run_across_its_due_date(profile):
    base = plain(profile, slow_agency_late_rate=0.05)
    procedure = backlog_procedure(base)
    allowance = procedure.processing_days
    assert allowance >= 5
    days = working_days(date(2024, 1, 2), 240) * 8
    slow = received_on(base, agency(base, "VPDKDD"), procedure, days, seed=7)
    other = received_on(base, ordinary_agency(base, "branch"), procedure, days, seed=7)
    taken = [working_days_taken(d) for d in slow]
    # Like the "dossiers take 4-7 days of a 5-day allowance": the times bunch around
    # the due date, a tenth of them before it, a tenth more than a day past it.
    tenth, _, _, _, median, _, _, _, ninth = deciles(taken)
    assert tenth < allowance and ninth > allowance + 1
    assert allowance - 1 <= median <= allowance + 2
    assert allowance + 2 < max(taken) < 3 * allowance  # a tail, not a wall
    # The outcome is what the time gives: late exactly when it ends after the due date.
    for dossier, days_taken in zip(slow, taken, strict=True):
        expected = (
            "early" if days_taken < allowance else "on_time" if days_taken == allowance else "late"
        )
        assert dossier.outcome == expected
    late = sum(d.outcome == "late" for d in slow) / len(slow)
    assert late == pytest.approx(base.backlog_late_share, abs=0.04)
    # The same procedure elsewhere: mostly early, hardly ever late.
    elsewhere = [working_days_taken(d) for d in other if d.outcome != "late"]
    assert statistics.median(elsewhere) <= allowance / 2
    assert sum(d.outcome == "early" for d in other) / len(other) > 0.8
    assert sum(d.outcome == "late" for d in other) / len(other) < 0.01


def test_how_long_a_backlog_dossier_has_lasted_says_how_likely_it_is_to_end_late(profile):
    """Most of them end late, and the longer one has lasted the likelier: the late share
    among those still open rises day by day up to the due date."""
    base = plain(profile, slow_agency_late_rate=0.05)
    procedure = backlog_procedure(base)
    allowance = procedure.processing_days
    days = working_days(date(2024, 1, 2), 240) * 8
    slow = received_on(base, agency(base, "VPDKDD"), procedure, days, seed=9)
    taken = [working_days_taken(d) for d in slow]

    def late_share_of_those_lasting_past(survived: int) -> float:
        lasting = [t for t in taken if t > survived]
        return sum(t > allowance for t in lasting) / len(lasting)

    shares = [late_share_of_those_lasting_past(s) for s in range(allowance)]
    assert shares == sorted(shares)
    assert shares[0] > 0.5 and shares[-1] > shares[0] + 0.1


def test_the_default_backlog_makes_few_late_and_times_in_time(profile):
    """At the default late share (0.5 %), the backlog procedures' times stay mostly early."""
    base = plain(profile)
    procedure = backlog_procedure(base)
    days = working_days(date(2024, 1, 2), 240) * 6
    slow = received_on(base, agency(base, "VPDKDD"), procedure, days, seed=13)
    late = sum(d.outcome == "late" for d in slow) / len(slow)
    assert late == pytest.approx(base.backlog_late_share, abs=0.025)
    assert 0.02 < base.backlog_late_share < 0.1
    assert statistics.median(working_days_taken(d) for d in slow) < procedure.processing_days


def test_the_slow_agency_s_other_procedures_behave_like_any_agency_s(profile):
    base = plain(profile, slow_agency_late_rate=0.05)
    slow = agency(base, "VPDKDD")
    other = ordinary_agency(base, "branch")
    assert slow.procedures == other.procedures
    procedure = next(
        p
        for p in slow.procedures
        if p.processing_days >= 10 and p.code not in base.slow_agency_backlog
    )
    assert procedure.code not in base.slow_agency_backlog
    days = working_days(date(2024, 1, 2), 240) * 6
    taken, late = {}, {}
    for where in (slow, other):
        dossiers = received_on(base, where, procedure, days, seed=7)
        taken[where.code] = [working_days_taken(d) for d in dossiers if d.outcome == "early"]
        late[where.code] = sum(d.outcome == "late" for d in dossiers) / len(dossiers)
    assert deciles(taken["VPDKDD"]) == pytest.approx(deciles(taken[other.code]), abs=0.6)
    assert late["VPDKDD"] < 0.01 and late[other.code] < 0.01


def test_the_slow_agency_ends_late_as_often_as_asked_mostly_in_its_backlog(profile):
    shares = Counter[tuple[bool, str]]()
    in_backlog = Counter[str]()
    for d in plan(profile, days=120, slow_agency_late_rate=0.05):
        if d.received:
            shares[(d.agency == "VPDKDD", str(d.outcome))] += 1
            if d.agency == "VPDKDD" and d.outcome == "late":
                in_backlog[str(d.procedure in profile.slow_agency_backlog)] += 1
    slow_total = sum(n for (is_slow, _), n in shares.items() if is_slow)
    rest_total = sum(n for (is_slow, _), n in shares.items() if not is_slow)
    assert shares[(True, "late")] / slow_total == pytest.approx(0.05, abs=0.015)
    assert shares[(False, "late")] / rest_total == pytest.approx(0.001, abs=0.001)
    assert in_backlog["True"] > 10 * in_backlog["False"]


def test_backlog_dossiers_with_pauses_and_withdrawals_still_get_their_outcome_from_dates(
    profile,
):
    base = dataclasses.replace(
        profile, slow_agency_late_rate=0.05, supplement_rate=0.3, fee_rate=0.2, withdrawn_rate=0.05
    )
    days = working_days(date(2024, 1, 2), 200) * 3
    slow = received_on(base, agency(base, "VPDKDD"), backlog_procedure(base), days, seed=17)
    assert {d.outcome for d in slow} == {"early", "on_time", "late", "withdrawn"}
    for dossier in slow:
        events = [e.to_json() for e in dossier.events]
        assert expected_outcome(events, CALENDAR) == dossier.outcome, events


def test_overloaded_weeks_are_a_fixed_share_of_weeks_of_one_agency(profile):
    mondays = [date(2020, 1, 6) + timedelta(weeks=n) for n in range(520)]
    busy = [m for m in mondays if profile.overloaded("CP", m)]
    assert len(busy) / len(mondays) == pytest.approx(profile.overload_week_share, abs=0.04)
    assert not any(profile.overloaded("LX", m) for m in mondays)
    again = default_profile(load_catalogue(None), dossiers_per_day=1)
    assert busy == [m for m in mondays if again.overloaded("CP", m)]
    # a whole ISO week at a time
    monday = busy[0]
    assert all(profile.overloaded("CP", monday + timedelta(days=n)) for n in range(7))


def test_dossiers_received_in_an_overloaded_week_take_longer_and_end_late_more_often(profile):
    base = plain(profile, late_rate=0.02)
    cp = agency(base, "CP")
    procedure = next(p for p in cp.procedures if p.processing_days >= 10)
    days = working_days(date(2022, 1, 3), 1000)
    busy = [d for d in days if base.overloaded("CP", d)] * 8
    calm = [d for d in days if not base.overloaded("CP", d)][: len(busy) // 8] * 8
    taken, late = {}, {}
    for name, chosen in (("busy", busy), ("calm", calm)):
        dossiers = received_on(base, cp, procedure, chosen, seed=11)
        taken[name] = [working_days_taken(d) for d in dossiers if d.outcome == "early"]
        late[name] = sum(d.outcome == "late" for d in dossiers) / len(dossiers)
    assert statistics.median(taken["busy"]) > 1.3 * statistics.median(taken["calm"])
    assert late["busy"] > 2 * late["calm"]


# --- the An Giang profile, still ------------------------------------------------------------


def test_the_default_profile_keeps_its_outcome_mix():
    profile = default_profile(load_catalogue(None), dossiers_per_day=1600)
    received = [d for d in plan(profile, days=28) if d.received]
    assert len(received) > 25000
    outcomes = Counter(d.outcome for d in received)
    total = len(received)
    in_time = outcomes["early"] + outcomes["on_time"]
    assert outcomes["early"] / in_time == pytest.approx(profile.early_share, abs=0.02)
    assert outcomes["withdrawn"] / total == pytest.approx(profile.withdrawn_rate, abs=0.003)
    # ~99.9 % on time: the slow agency's 0.5 % barely moves the province's 0.1 %.
    assert 0.0005 < outcomes["late"] / total < 0.002


def test_the_command_s_slow_agency_late_rate_reaches_the_truth(tmp_path: Path):
    truth = tmp_path / "truth.jsonl"
    result = CliRunner().invoke(
        simulate_command,
        [
            *("--no-send", "--seed", "4", "--now", "2024-05-10T15:00:00+07:00"),
            *("--backfill-days", "60", "--dossiers-per-day", "150", "--duration", "0"),
            *("--rate", "0", "--slow-agency-late-rate", "0.5", "--truth-out", str(truth)),
        ],
        env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert result.exit_code == 0, result.output
    assert "slow agency VPDKDD (late share 50.00%" in result.output
    outcomes: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for line in truth.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["kind"] == "dossier" and row["outcome"] is not None:
            outcomes[row["agency"] == "VPDKDD"][row["outcome"]] += 1
    slow, rest = outcomes[True], outcomes[False]
    # Of those that ended by `now`: the late ones of the last weeks are still open.
    assert slow["late"] / slow.total() > 0.2
    assert rest["late"] / rest.total() < 0.01
