"""What the simulated province looks like: agencies, procedures, channel and outcome mixes.

The default follows An Giang's published 2023 figures in shape, not to the dossier: most
dossiers are received by communes and districts, about three quarters arrive online, the
online service level is about 48 % full ("toàn trình") and 30 % partial ("một phần"), and
nearly everything ends before or on its due date (~0.1 % late, ~1 % withdrawn).

The procedure table is generated from a fixed seed, independent of the run's `--seed`, so
procedure codes and their regulated processing days are the same in every run and every test.
All numbers live here, in one frozen object, so a test or a benchmark can change one
(`dataclasses.replace(profile, late_rate=0.2)`) without touching the generator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    agency_cum_weights: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.agencies:
            raise ValueError("a profile needs at least one agency")
        if not self.agency_cum_weights:
            object.__setattr__(
                self, "agency_cum_weights", _cumulative(a.weight for a in self.agencies)
            )


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
    return Profile(agencies=tuple(profiles), dossiers_per_day=dossiers_per_day)


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
        Procedure(
            code=f"{'1' if rng.random() < 0.7 else '2'}.{number:06d}",
            processing_days=rng.choices(list(days_mix), weights=list(days_mix.values()))[0],
        )
        for number in numbers
    )
    weights = [1.0 / (rank**1.1) for rank in range(1, count + 1)]
    return procedures, _cumulative(weights)


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
