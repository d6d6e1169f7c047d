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
- the slow agency's and the overloaded weeks' dossiers take `speed` times as long, end on the
  due date more often, and are late more often (`Pace.late_chance`).

The outcome is still drawn first and the dates laid out to give it
(`producers.lifecycle_plan`), so the truth file stays the simulator's design while lateness
comes from the dates, as the worker judges it. Pure: a `random.Random` in, numbers out.
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


def pace_of(profile: Profile, agency: str, procedure: Procedure, received_day: date) -> Pace:
    """The pace of a dossier of `procedure` received by `agency` on `received_day`."""
    speed = lateness = 1.0
    if agency == profile.slow_agency:
        speed *= profile.slow_agency_speed
    if profile.overloaded(agency, received_day):
        speed *= profile.overload_speed
        lateness *= profile.overload_lateness
    mean_weight = profile.late_weight_means.get(agency) or 1.0
    late = profile.late_rate_of(agency) * procedure.late_weight * lateness / mean_weight
    due_day = profile.due_day_scale * due_day_weight_of(procedure) * speed
    return Pace(
        speed=speed,
        late_chance=min(MAX_LATE_CHANCE, late),
        due_day_chance=min(MAX_DUE_DAY_CHANCE, due_day),
    )


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
