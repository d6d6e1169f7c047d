"""What the simulated province looks like: agencies, procedures, channel and outcome mixes.

The default follows An Giang's published 2023 figures in shape, not to the dossier: most
dossiers are received by communes and districts, about three quarters arrive online, the
online service level is about 48 % full ("toàn trình") and 30 % partial ("một phần"), and
nearly everything ends before or on its due date (~0.1 % late, ~1 % withdrawn).

The procedure table is generated from a fixed seed, independent of the run's `--seed`, so
procedure codes and their regulated processing days are the same in every run and every test.
All numbers live here, in one frozen object, so a test or a benchmark can change one
(`dataclasses.replace(profile, late_rate=0.2)`) without touching the generator.

How long dossiers take (issue #18: the at-risk forecast needs times worth forecasting) is
shaped here too and drawn in `producers.processing_times`:
- each procedure has its own *typical share* of its allowance (the median working time of a
  dossier handled normally, 20–55 % of the regulated days) and a log-normal *spread*; one
  whose time would run past its due date is finished on the due date, so the on-time share
  is highest where the allowance is a day or two;
- the dossiers that end late are the stuck ones (a verification with another agency, a file
  waiting for a signature), more often in procedures with a long allowance (land, building:
  `late_weight`), and they end past their due date by a tail that grows with it;
- agencies differ: the *slow agency* (by default the busiest branch, in An Giang the
  provincial land registration office) has a *backlog*: a few of its procedures (by default
  its land procedures, `slow_agency_backlog`) take so long there that their times, log-normal
  with a narrow spread (`backlog_spread`), run across the due date, and the dossiers whose
  time runs past it are its late ones (`backlog_late_share` of them, calibrated so that the
  agency's late share is `late_rate_of`); its other procedures behave like any agency's. The
  *overloaded agency* (the busiest district) has weeks (`overload_week_share` of them, the
  same in every run) in which dossiers received take longer and end late more often.
The province-wide figures stay those of the profile: `late_rate` is every other agency's
late share, and the on-time share of the rest is calibrated to `early_share`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from iocmon.domain.agencies import Agency

Channel = Literal["counter", "online", "postal"]
Level = Literal["full", "partial", "none"]

PROCEDURE_DAYS = (1, 2, 3, 5, 7, 10, 15, 20, 30)
"""Regulated processing times (working days) that the simulated procedures use."""

PROFILE_SEED = "iocmon-an-giang-2023"

# Processing-day mixes by the level of government that handles a procedure.
_DAYS_MIX: dict[str, dict[int, float]] = {
    "commune": {1: 0.30, 2: 0.15, 3: 0.25, 5: 0.15, 7: 0.08, 10: 0.05, 15: 0.02},
    "district": {2: 0.05, 3: 0.15, 5: 0.25, 7: 0.15, 10: 0.20, 15: 0.12, 20: 0.05, 30: 0.03},
    "province": {3: 0.10, 5: 0.20, 7: 0.15, 10: 0.20, 15: 0.15, 20: 0.12, 30: 0.08},
}
_PROCEDURES_PER_TIER = {"commune": 70, "district": 110, "province": 120}
_TIER_OF_KIND = {
    "commune": "commune",
    "district": "district",
    "department": "province",
    "branch": "province",
    "province": "province",
}
# Relative daily volume of one agency of each kind: communes and districts receive most.
_KIND_WEIGHT = {"commune": 3.0, "district": 6.0, "branch": 5.0, "department": 0.8, "province": 0.3}


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    """National procedure code (MaTTHC), e.g. 1.001234 (central) or 2.002156 (local)."""
    processing_days: int
    typical_share: float = 0.4
    """Median working time of a dossier handled normally, as a share of `processing_days`."""
    spread: float = 0.4
    """Sigma of the log-normal spread of those times around the typical one."""
    late_weight: float = 1.0
    """How often a dossier of this procedure ends late, relative to others at its agency."""


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    """One receiving agency as the simulator uses it."""

    code: str
    kind: str
    id_prefix: str
    """National unit code used in dossier ids (MaHoSo = <prefix>-<yymmdd>-<nnnn>)."""
    weight: float
    procedures: tuple[Procedure, ...]
    procedure_cum_weights: tuple[float, ...]
    handlers: tuple[str, ...]
    """Units a dossier may be transferred to (`transferred.handler`)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the generator draws from. Rates are probabilities per received dossier
    unless said otherwise."""

    agencies: tuple[AgencyProfile, ...]
    dossiers_per_day: float
    """Mean dossiers (received or rejected at intake) per working day, all agencies."""
    level_mix: tuple[tuple[Level, float], ...] = (("full", 0.48), ("partial", 0.30), ("none", 0.22))
    online_share: float = 0.75
    """Share of dossiers submitted online; only `full` and `partial` procedures can be."""
    postal_share_offline: float = 0.12
    """Share of the non-online dossiers that come by post (KenhThucHien 3)."""
    # Designed outcomes.
    late_rate: float = 0.001
    """The late share of every agency's dossiers but the slow agency's (`late_rate_of`)."""
    withdrawn_rate: float = 0.01
    early_share: float = 0.70
    """Of the dossiers that end neither late nor withdrawn, the share that ends early."""
    # Lifecycle details.
    rejected_at_intake_rate: float = 0.02
    """Of online submissions, the share refused at intake (never received)."""
    supplement_rate: float = 0.06
    fee_rate: float = 0.04
    late_by_supplements: float = 0.3
    """Of late dossiers, the share made late by a second supplement request."""
    open_pause_at_end: float = 0.2
    """Of paused dossiers, the share whose last pause is still open at the terminal event."""
    rescheduled_when_late: float = 0.5
    stopped_rate: float = 0.02
    result_returned_as_terminal: float = 0.1
    result_returned_after: float = 0.6
    processing_rate: float = 0.85
    transferred_rate: float = 0.2
    due_at_on_received: float = 0.6
    """Share of `received` events that carry `due_at`; the rest carry `processing_days`."""
    on_time_after_hours: float = 0.15
    """Of on-time dossiers, the share finished after 17:00 on the due date."""
    # Processing times (module doc, `producers.processing_times`).
    slow_agency: str | None = None
    """Code of the agency with a backlog, which ends more dossiers late; None: no such one."""
    slow_agency_late_rate: float | None = None
    """The slow agency's late share; None: `SLOW_LATE_FACTOR` times `late_rate`."""
    slow_agency_backlog: frozenset[str] = field(default=frozenset(), repr=False)
    """Codes of the slow agency's procedures in backlog: their times there run across the due
    date and make its late ones (`backlog_late_share`). Empty: its late dossiers are stuck
    ones, spread over its procedures like any agency's."""
    backlog_spread: float = 0.25
    """Sigma of the log-normal times of a backlog procedure at the slow agency: a queue delays
    every dossier by about as much, so they bunch (the narrowest of the procedures' spreads)."""
    overloaded_agency: str | None = None
    """Code of the agency with overloaded weeks; None: no such one."""
    overload_week_share: float = 0.15
    """Share of the weeks in which it is overloaded (`overloaded`)."""
    overload_speed: float = 1.5
    """In those weeks its dossiers take this many times as long ..."""
    overload_lateness: float = 3.0
    """... and end late this many times as often."""
    agency_cum_weights: tuple[float, ...] = field(default=(), repr=False)
    late_weight_means: dict[str, float] = field(init=False, repr=False, compare=False)
    """Per agency code: mean `late_weight` of its dossiers (over its procedure mix and its
    weeks), which a dossier's late chance is divided by so the agency keeps its late share."""
    due_day_scale: float = field(init=False, repr=False, compare=False)
    """Multiplies `due_day_weight` into the chance that a dossier handled normally ends on
    its due date, so that the province's early share is `early_share`."""
    backlog_share: float = field(init=False, repr=False, compare=False)
    """Share of the slow agency's dossiers that belong to its backlog procedures."""
    backlog_late_share: float = field(init=False, repr=False, compare=False)
    """Late share of the received dossiers of the slow agency's backlog procedures: what
    makes its late share `late_rate_of` with its other procedures at `stuck_rate_of`."""
    slow_stuck_rate: float = field(init=False, repr=False, compare=False)
    """Late share (stuck dossiers) of the slow agency's procedures outside its backlog:
    `late_rate`, unless the backlog alone cannot reach the agency's late share."""

    def __post_init__(self) -> None:
        if not self.agencies:
            raise ValueError("a profile needs at least one agency")
        if not self.agency_cum_weights:
            object.__setattr__(
                self, "agency_cum_weights", _cumulative(a.weight for a in self.agencies)
            )
        means: dict[str, float] = {}
        due_day_weight = volume = backlog_share = 0.0
        for agency in self.agencies:
            mix = _procedure_mix(agency)
            if agency.code == self.slow_agency:
                backlog_share = sum(w for p, w in mix if p.code in self.slow_agency_backlog)
            week_mean = 1.0
            if agency.code == self.overloaded_agency:
                week_mean += self.overload_week_share * (self.overload_lateness - 1)
            stuck = [(p, w) for p, w in mix if not self.in_backlog(agency.code, p)]
            stuck_volume = sum(w for _, w in stuck)
            means[agency.code] = (
                week_mean * sum(w * p.late_weight for p, w in stuck) / stuck_volume
                if stuck_volume
                else 1.0
            )
            due_day_weight += agency.weight * sum(w * due_day_weight_of(p) for p, w in mix)
            volume += agency.weight
        object.__setattr__(self, "late_weight_means", means)
        mean_due_day_weight = due_day_weight / volume if volume else 1.0
        object.__setattr__(self, "due_day_scale", (1 - self.early_share) / mean_due_day_weight)
        self._calibrate_backlog(backlog_share)

    def _calibrate_backlog(self, share: float) -> None:
        """The backlog's late share, and the stuck rate of the rest, that give the slow
        agency its late share: the backlog carries all of it beyond `late_rate` (up to
        `MAX_BACKLOG_LATE_SHARE`; the rest, if any, falls on its other procedures)."""
        target = self.late_rate_of(self.slow_agency) if self.slow_agency else 0.0
        backlog = 0.0
        if share > 0:
            backlog = (target - (1 - share) * self.late_rate) / share
            backlog = min(max(backlog, 0.0), MAX_BACKLOG_LATE_SHARE)
        stuck = (target - share * backlog) / (1 - share) if share < 1 else 0.0
        object.__setattr__(self, "backlog_share", share)
        object.__setattr__(self, "backlog_late_share", backlog)
        object.__setattr__(self, "slow_stuck_rate", max(stuck, 0.0))

    def in_backlog(self, agency: str, procedure: Procedure) -> bool:
        """Whether `procedure` at `agency` is in the slow agency's backlog: its times there
        decide its outcomes (`producers.processing_times`), and it has no stuck dossiers."""
        return agency == self.slow_agency and procedure.code in self.slow_agency_backlog

    def late_rate_of(self, agency: str) -> float:
        """The designed late share of an agency's received dossiers."""
        if agency != self.slow_agency:
            return self.late_rate
        if self.slow_agency_late_rate is not None:
            return self.slow_agency_late_rate
        return min(1.0, SLOW_LATE_FACTOR * self.late_rate)

    def stuck_rate_of(self, agency: str) -> float:
        """The late share of an agency's received dossiers outside the backlog: the stuck
        ones, spread over its procedures by their `late_weight`."""
        if agency == self.slow_agency and self.backlog_share > 0:
            return self.slow_stuck_rate
        return self.late_rate_of(agency)

    def overloaded(self, agency: str, day: date) -> bool:
        """Whether `agency` is overloaded in the ISO week of `day`: a fixed draw per week,
        the same in every run and for every seed (a busy week is a fact of the calendar)."""
        if agency != self.overloaded_agency or self.overload_week_share <= 0:
            return False
        year, week, _ = day.isocalendar()
        draw = random.Random(f"{PROFILE_SEED}:overload:{agency}:{year}-{week}").random()
        return draw < self.overload_week_share


SLOW_LATE_FACTOR = 5.0
"""The slow agency's late share over the others' when none is given (0.5 % in An Giang)."""
MAX_BACKLOG_LATE_SHARE = 0.9
"""A backlog procedure's late share is capped here, so that some of its dossiers are in time."""
BACKLOG_FIELD = "land"
"""The default slow agency's backlog: its procedures of this field (lĩnh vực) of the shipped
catalogue (`producers.procedure_names`): land-use certificates and land changes, the classic
backlog of a one-stop centre."""


def due_day_weight_of(procedure: Procedure) -> float:
    """Relative chance that a dossier of `procedure` handled normally ends on its due date:
    about one day's share of the allowance (a 1-day procedure done the next day is on time;
    a 30-day one seldom ends on the 30th)."""
    return 1.0 / procedure.processing_days


def _procedure_mix(agency: AgencyProfile) -> list[tuple[Procedure, float]]:
    """Each of an agency's procedures with its share of the agency's dossiers."""
    out, previous = [], 0.0
    total = agency.procedure_cum_weights[-1] if agency.procedure_cum_weights else 0.0
    for procedure, cumulative in zip(agency.procedures, agency.procedure_cum_weights, strict=True):
        out.append((procedure, (cumulative - previous) / total))
        previous = cumulative
    return out


def default_profile(agencies: Iterable[Agency], dossiers_per_day: float) -> Profile:
    """The An Giang 2023 profile over a catalogue's agencies (any catalogue works)."""
    agencies = list(agencies)
    rng = random.Random(PROFILE_SEED)
    tables = _procedure_tables(rng)
    prefixes = national_prefixes(agencies)
    by_kind: dict[str, list[str]] = {}
    for agency in agencies:
        by_kind.setdefault(agency.kind, []).append(agency.code)
    profiles = []
    for agency in agencies:
        procedures, cum_weights = tables[_TIER_OF_KIND[agency.kind]]
        weight = _KIND_WEIGHT[agency.kind] * math.exp(rng.gauss(0.0, 0.4))
        profiles.append(
            AgencyProfile(
                code=agency.code,
                kind=agency.kind,
                id_prefix=prefixes[agency.code],
                weight=weight,
                procedures=procedures,
                procedure_cum_weights=cum_weights,
                handlers=_handlers(agency, by_kind),
            )
        )
    slow = _busiest(profiles, "branch", "district")
    return Profile(
        agencies=tuple(profiles),
        dossiers_per_day=dossiers_per_day,
        slow_agency=slow,
        slow_agency_backlog=_backlog_of(next((p for p in profiles if p.code == slow), None)),
        overloaded_agency=_busiest([p for p in profiles if p.code != slow], "district", "commune"),
    )


def _backlog_of(agency: AgencyProfile | None) -> frozenset[str]:
    """The codes of `agency`'s procedures of the field `BACKLOG_FIELD`."""
    if agency is None:
        return frozenset()
    # Imported here: the catalogue's names are drawn from this module's procedure tables.
    from iocmon.producers.procedure_names import codes_of_field

    return frozenset(p.code for p in agency.procedures) & codes_of_field(BACKLOG_FIELD)


def _busiest(agencies: Sequence[AgencyProfile], *kinds: str) -> str | None:
    """The code of the agency with the most dossiers among the first of `kinds` present."""
    for kind in kinds:
        of_kind = [a for a in agencies if a.kind == kind]
        if of_kind:
            return max(of_kind, key=lambda a: a.weight).code
    return None


def procedure_tables() -> dict[str, tuple[Procedure, ...]]:
    """Each tier's procedures ("commune", "district", "province"), most popular first: the
    same in every run, whatever the agencies."""
    return {
        tier: table for tier, (table, _) in _procedure_tables(random.Random(PROFILE_SEED)).items()
    }


def tier_of(kind: str) -> str:
    """The tier whose procedures an agency of this kind receives."""
    return _TIER_OF_KIND[kind]


def _procedure_tables(
    rng: random.Random,
) -> dict[str, tuple[tuple[Procedure, ...], tuple[float, ...]]]:
    numbers = rng.sample(range(100, 13000), sum(_PROCEDURES_PER_TIER.values()))
    tables = {}
    for tier, count in _PROCEDURES_PER_TIER.items():
        tables[tier] = _procedure_table(rng, tier, numbers[:count])
        numbers = numbers[count:]
    return tables


def national_prefixes(agencies: Sequence[Agency]) -> dict[str, str]:
    """MaDonVi-style unit codes: 000.00.NN.H01 for province-level units and districts,
    000.MM.NN.H01 for the communes of district NN (H01 is An Giang's province code)."""
    prefixes: dict[str, str] = {}
    top = [a for a in agencies if a.kind != "commune"]
    for number, agency in enumerate(top, start=1):
        prefixes[agency.code] = f"000.00.{number:02d}.H01"
    orphans = len(top)
    within: dict[str | None, int] = {}
    for agency in agencies:
        if agency.kind != "commune":
            continue
        parent = agency.parent if agency.parent in prefixes else None
        if parent is None:
            orphans += 1
            prefixes[agency.code] = f"000.00.{orphans:02d}.H01"
            continue
        within[parent] = within.get(parent, 0) + 1
        district_number = prefixes[parent].split(".")[2]
        prefixes[agency.code] = f"000.{within[parent]:02d}.{district_number}.H01"
    return prefixes


def _procedure_table(
    rng: random.Random, tier: str, numbers: Sequence[int]
) -> tuple[tuple[Procedure, ...], tuple[float, ...]]:
    """A tier's procedures with Zipf-like popularity: a handful (birth registration,
    certified copies, land-use changes) make up most of the volume."""
    days_mix = _DAYS_MIX[tier]
    count = len(numbers)
    procedures = tuple(
        _timed(
            code=f"{'1' if rng.random() < 0.7 else '2'}.{number:06d}",
            processing_days=rng.choices(list(days_mix), weights=list(days_mix.values()))[0],
        )
        for number in numbers
    )
    weights = [1.0 / (rank**1.1) for rank in range(1, count + 1)]
    return procedures, _cumulative(weights)


def _timed(code: str, processing_days: int) -> Procedure:
    """A procedure with its processing-time shape, drawn from its code alone: the tables'
    own draws (codes, days) stay what they were, and so does the shipped catalogue."""
    rng = random.Random(f"{PROFILE_SEED}:times:{code}")
    return Procedure(
        code=code,
        processing_days=processing_days,
        typical_share=rng.uniform(0.2, 0.55),
        spread=rng.uniform(0.25, 0.5),
        # Stuck dossiers are the ones that need other agencies, site visits, more
        # signatures: procedures with long allowances (land, building) have most of them.
        late_weight=(processing_days / 5) ** 0.75 * math.exp(rng.gauss(0.0, 0.4)),
    )


def _handlers(agency: Agency, by_kind: dict[str, list[str]]) -> tuple[str, ...]:
    """Where a dossier goes when the receiving desk hands it on: up to its parent, or to a
    department for province-level units."""
    if agency.parent is not None and agency.kind in {"commune", "district", "branch"}:
        return (agency.parent,)
    departments = [code for code in by_kind.get("department", []) if code != agency.code]
    return tuple(departments) or (agency.code,)


def _cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return tuple(out)
