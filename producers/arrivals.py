"""Dossiers arriving at the desks, day after working day, each with its whole life planned.

`plan_dossiers` is the pure generator behind `iocmon simulate`: given a profile, a seeded
`random.Random`, a time window and the working calendar, it yields `PlannedDossier`s in
arrival order, lazily, forever if `end` is None. The same seed, profile and `start` give the
same dossiers, which is what makes a simulation reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from iocmon.domain.calendar import WorkingCalendar, local_date
from iocmon.producers.applicants import fake_applicant
from iocmon.producers.lifecycle_plan import Intake, PlannedDossier, plan_received, plan_rejected
from iocmon.producers.officehours import office_instant
from iocmon.producers.profile import AgencyProfile, Channel, Level, Profile

# Mondays are busiest, Fridays quietest; make-up Saturdays are light. Mean over Mon–Fri is 1.
_WEEKDAY_FACTOR = (1.12, 1.04, 1.0, 0.96, 0.88, 0.8, 0.8)


def plan_dossiers(
    profile: Profile,
    rng: random.Random,
    start: datetime,
    end: datetime | None,
    calendar: WorkingCalendar,
) -> Iterator[PlannedDossier]:
    """Every dossier arriving in [start, end), in arrival order, with its planned events.

    Arrivals fall in office hours on working days. Events of a dossier may lie before its
    arrival (an online submission, at most `MAX_SUBMIT_LEAD` earlier) and long after it.
    """
    day = local_date(start)
    while end is None or day <= local_date(end):
        if calendar.is_working_day(day):
            mean = profile.dossiers_per_day * _WEEKDAY_FACTOR[day.weekday()]
            arrivals = sorted(office_instant(rng, day) for _ in range(_poisson(rng, mean)))
            numbers: dict[str, int] = {}
            yymmdd = f"{day:%y%m%d}"
            for arrival in arrivals:
                if arrival < start or (end is not None and arrival >= end):
                    continue
                yield _plan_one(rng, profile, calendar, arrival, yymmdd, numbers)
        day += timedelta(days=1)


def _plan_one(
    rng: random.Random,
    profile: Profile,
    calendar: WorkingCalendar,
    arrival: datetime,
    yymmdd: str,
    numbers: dict[str, int],
) -> PlannedDossier:
    agency = rng.choices(profile.agencies, cum_weights=profile.agency_cum_weights)[0]
    procedure = rng.choices(agency.procedures, cum_weights=agency.procedure_cum_weights)[0]
    level, channel = _level_and_channel(rng, profile)
    intake = Intake(
        dossier_id=_dossier_id(agency, yymmdd, numbers),
        agency=agency,
        procedure=procedure,
        channel=channel,
        level=level,
        arrival=arrival,
        applicant=fake_applicant(rng),
    )
    if channel == "online" and rng.random() < profile.rejected_at_intake_rate:
        return plan_rejected(rng, intake)
    return plan_received(rng, profile, calendar, intake)


def _level_and_channel(rng: random.Random, profile: Profile) -> tuple[Level, Channel]:
    """Online needs an online-capable procedure (full or partial level), so the online share
    is taken from those; the rest come to the counter or by post."""
    levels = [level for level, _ in profile.level_mix]
    level = rng.choices(levels, weights=[share for _, share in profile.level_mix])[0]
    online_capable = sum(share for lvl, share in profile.level_mix if lvl != "none")
    online_given_capable = min(1.0, profile.online_share / online_capable) if online_capable else 0
    if level != "none" and rng.random() < online_given_capable:
        return level, "online"
    return level, "postal" if rng.random() < profile.postal_share_offline else "counter"


def _dossier_id(agency: AgencyProfile, yymmdd: str, numbers: dict[str, int]) -> str:
    """National MaHoSo style: <unit code>-<yymmdd>-<number of the day at that unit>."""
    number = numbers[agency.code] = numbers.get(agency.code, 0) + 1
    return f"{agency.id_prefix}-{yymmdd}-{number:04d}"


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation for large means, where it is exact enough)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
