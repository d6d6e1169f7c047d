"""How long one simulated dossier takes: its pace, and the working day it ends on (issue #18).

The at-risk forecast reads how long dossiers of a procedure take, so the simulator's times
must have the shape real ones have (the numbers are the profile's, `producers.profile`):

- a dossier handled normally takes a log-normal working time around its procedure's typical
  share of the allowance, counted from the moment of receipt, so a dossier received late in
  the day more often ends the next day. One whose time would reach its due date is finished
  on the due date instead, and some are anyway (`Pace.due_day_chance`): those are the
  `on_time` dossiers;
- the dossiers designed late are the stuck ones: they end past the due date by a tail that
  grows with the allowance (`late_days`);
- the overloaded weeks' dossiers take `speed` times as long, end on the due date more often,
  and are late more often (`Pace.late_chance`);
- the slow agency's backlog procedures (`Profile.slow_agency_backlog`, its land procedures by
  default) are the exception: there a dossier's log-normal time is centred near its
  allowance (`Pace.backlog`, `backlog_median`), so the times run across the due date, as in
  a queue, and that time alone says whether it ends early, on its due date or late
  (`backlog_day_number`). Its late dossiers are the slow ones, not a random few: how long
  one has lasted says something about how it will end, which is what the forecast reads.

The outcome of the others is still drawn first and the dates laid out to give it
(`producers.lifecycle_plan`); a backlog dossier's is read from the date its time gives. Either
way the truth file holds what the dates say, as the worker judges them. Pure: a
`random.Random` in, numbers out.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime
from statistics import NormalDist

from iocmon.producers.officehours import MORNING
from iocmon.producers.profile import Procedure, Profile, due_day_weight_of

MAX_LATE_CHANCE = 0.9
"""A dossier's late chance is capped here, so that even a stressed profile has some in time."""
MAX_DUE_DAY_CHANCE = 0.9
MAX_BACKLOG_LATE_CHANCE = 0.95
"""A backlog procedure's late chance (of dossiers not withdrawn) is capped here."""
_MEAN_DAY_GONE = 0.5
"""The mean share of the office day gone at receipt (receipts are uniform over its hours)."""
_OFFICE_DAY_S = 9.5 * 3600
"""7:30 to 17:00: the span over which a receipt is counted as part of its day gone."""
_STANDARD_NORMAL = NormalDist()
_EDGE = 1e-12


@dataclass(frozen=True, slots=True)
class Pace:
    """What shapes one dossier's time, known when it is received."""

    speed: float
    """Its normal working time is this many times its procedure's."""
    late_chance: float
    """Chance it is designed late (of received dossiers)."""
    due_day_chance: float
    """Chance that, handled normally, it ends on its due date (on time) rather than early."""
    backlog: Backlog | None = None
    """Set for a procedure in the slow agency's backlog: its time, which decides its outcome
    (`late_chance` and `due_day_chance` then play no part)."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """The working time of a dossier of a procedure in backlog: log-normal."""

    median: float
    """Working days, from the moment of receipt."""
    spread: float


def pace_of(profile: Profile, agency: str, procedure: Procedure, received_day: date) -> Pace:
    """The pace of a dossier of `procedure` received by `agency` on `received_day`."""
    speed = lateness = 1.0
    if profile.overloaded(agency, received_day):
        speed *= profile.overload_speed
        lateness *= profile.overload_lateness
    due_day = min(MAX_DUE_DAY_CHANCE, profile.due_day_scale * due_day_weight_of(procedure) * speed)
    if profile.in_backlog(agency, procedure):
        if profile.backlog_late_share <= 0:  # a backlog that makes nothing late: no stuck ones
            return Pace(speed=speed, late_chance=0.0, due_day_chance=due_day)
        # Of the dossiers not withdrawn (drawn first), this share runs past the due date.
        late = profile.backlog_late_share / (1 - profile.withdrawn_rate)
        median = backlog_median(procedure, min(late, MAX_BACKLOG_LATE_CHANCE), profile)
        return Pace(
            speed=speed,
            late_chance=0.0,
            due_day_chance=0.0,
            backlog=Backlog(median=median * speed, spread=profile.backlog_spread),
        )
    mean_weight = profile.late_weight_means.get(agency) or 1.0
    late = profile.stuck_rate_of(agency) * procedure.late_weight * lateness / mean_weight
    return Pace(speed=speed, late_chance=min(MAX_LATE_CHANCE, late), due_day_chance=due_day)


def backlog_median(procedure: Procedure, late_chance: float, profile: Profile) -> float:
    """The median working time that makes `late_chance` of a backlog procedure's dossiers
    end after their due date: the one whose working time reaches past the allowance's
    last day, from a receipt half way through its day."""
    chance = min(max(late_chance, _EDGE), 1 - _EDGE)
    beyond = procedure.processing_days + 1 - _MEAN_DAY_GONE
    return beyond * math.exp(-profile.backlog_spread * _STANDARD_NORMAL.inv_cdf(1 - chance))


def backlog_day_number(rng: random.Random, backlog: Backlog, received_at: datetime) -> int:
    """The working-day number (0: the day of receipt) on which a dossier of a procedure in
    backlog ends: its log-normal working time from the moment of receipt, before, on or
    after its due date. One draw of `rng`."""
    u = min(max(rng.random(), _EDGE), 1 - _EDGE)
    working = backlog.median * math.exp(backlog.spread * _STANDARD_NORMAL.inv_cdf(u))
    return math.floor(_share_of_day_gone(received_at) + working)


def early_day_number(
    rng: random.Random, procedure: Procedure, pace: Pace, received_at: datetime
) -> int:
    """The working-day number (0: the day of receipt) on which a dossier ends early: its
    log-normal working time, drawn among the times that end before the due date (number
    `processing_days`). One draw of `rng`."""
    allowance = procedure.processing_days
    gone = _share_of_day_gone(received_at)
    median = allowance * procedure.typical_share * pace.speed
    # Inverse transform within the truncation: working time < allowance - gone.
    z_max = math.log((allowance - gone) / median) / procedure.spread
    top = _STANDARD_NORMAL.cdf(z_max)
    u = min(max(rng.random() * top, _EDGE), 1 - _EDGE)
    working = median * math.exp(procedure.spread * _STANDARD_NORMAL.inv_cdf(u))
    return min(allowance - 1, math.floor(gone + working))


def late_days(rng: random.Random, procedure: Procedure) -> int:
    """Working days past its due date that a stuck dossier ends: at least one, a quarter of
    the allowance on average beyond that (two at least), rarely more than the allowance."""
    allowance = procedure.processing_days
    mean = max(2.0, allowance / 4)
    return 1 + min(int(rng.expovariate(1 / mean)), max(9, allowance))


def _share_of_day_gone(received_at: datetime) -> float:
    """How much of the office day had passed at receipt, in [0, 1)."""
    start = received_at.replace(hour=MORNING[0].hour, minute=MORNING[0].minute, second=0)
    gone = (received_at - start).total_seconds() / _OFFICE_DAY_S
    return min(max(gone, 0.0), 0.999)
