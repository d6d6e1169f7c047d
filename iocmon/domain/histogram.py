"""Mergeable histograms of dossier durations (working-day numbers, `iocmon.domain.durations`).

Every worker, and the rebuild, counts the dossiers that end on its partitions; the forecast
needs the province's whole picture. So the bucket boundaries are fixed here for everyone, a
histogram is integer counts per bucket, and merging is adding counts: exact, associative and
commutative, whichever worker or replay counted what. In Redis a histogram is a hash whose
fields are bucket labels (`field_for`) and whose values are counts, so a worker adds a
dossier with one `HINCRBY key field 1` and a reader merges by summing what `HGETALL` returns.

Boundaries (`UPPER_BOUNDS`, inclusive upper bounds, as Prometheus's `le`): one bucket per
working day up to 60, where nearly every regulated processing time lies and where the
forecast needs exact counts; then 70, 80, 90, 100, 120, 150, 180, 240, 300, 365 for the few
long procedures, which keep the field count bounded (71 at most) so that reading a histogram
per forecast stays cheap; then one overflow bucket, beyond 365 working days. Within a coarse
bucket durations are taken as spread evenly over its whole days (linear interpolation); in
the overflow nothing is known but that they lasted longer than 365.

Field labels are the upper bounds themselves ("0" … "365", "+Inf"), not positions: a reader
of `HGETALL` sees what each count means, and a hash written under other boundaries fails to
load (`HistogramError`) instead of being read into the wrong buckets. Changing the
boundaries therefore needs new keys.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from iocmon.errors import IocmonError

UPPER_BOUNDS: tuple[int, ...] = (
    *range(61),
    *(70, 80, 90, 100, 120, 150, 180, 240, 300, 365),
)
"""Inclusive upper bound of each finite bucket; bucket i holds UPPER_BOUNDS[i-1] < d ≤ it."""
LAST_BOUND = UPPER_BOUNDS[-1]
OVERFLOW_LABEL = "+Inf"
BUCKET_COUNT = len(UPPER_BOUNDS) + 1
"""The finite buckets and the overflow, which holds every duration beyond `LAST_BOUND`."""
LABELS: tuple[str, ...] = (*(str(bound) for bound in UPPER_BOUNDS), OVERFLOW_LABEL)
_INDEX_OF_LABEL = {label: index for index, label in enumerate(LABELS)}
_LOWER_BOUNDS: tuple[int, ...] = (-1, *UPPER_BOUNDS[:-1])
_TOLERANCE = 1e-9


class HistogramError(IocmonError):
    """Stored histogram fields cannot be read; the message says which and what to do."""


def bucket_of(duration: int) -> int:
    """Index of the bucket that counts `duration` (working days, never negative)."""
    if duration < 0:
        raise ValueError(f"a duration is never negative, got {duration}")
    return bisect_left(UPPER_BOUNDS, duration)


def index_of_label(label: str) -> int:
    """The bucket a stored field label names; `HistogramError` if it names none."""
    index = _INDEX_OF_LABEL.get(label)
    if index is None:
        raise HistogramError(
            f"histogram field {label!r} is not a bucket of this version "
            f"({LABELS[0]}…{LABELS[-2]}, {OVERFLOW_LABEL}); the key was written with "
            "other boundaries: delete it and run `iocmon rebuild`"
        )
    return index


def field_for(duration: int) -> str:
    """The hash field a worker increments (`HINCRBY key field 1`) for one ended dossier."""
    return LABELS[bucket_of(duration)]


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """Counts of durations per bucket (`counts[i]` for bucket i of `LABELS`); immutable,
    so a histogram read once can be shared by every forecast of a check."""

    counts: tuple[int, ...]
    _longer: tuple[int, ...] = field(init=False, repr=False, compare=False)
    """_longer[i]: samples in bucket i and after it, so survival is one lookup."""

    def __post_init__(self) -> None:
        if len(self.counts) != BUCKET_COUNT:
            raise ValueError(f"a histogram has {BUCKET_COUNT} counts, got {len(self.counts)}")
        if any(type(c) is not int or c < 0 for c in self.counts):
            raise ValueError("histogram counts are integers, never negative")
        longer = [0] * (BUCKET_COUNT + 1)
        for index in range(BUCKET_COUNT - 1, -1, -1):
            longer[index] = longer[index + 1] + self.counts[index]
        object.__setattr__(self, "_longer", tuple(longer))

    @classmethod
    def empty(cls) -> DurationHistogram:
        return cls((0,) * BUCKET_COUNT)

    @classmethod
    def of(cls, durations: Iterable[int]) -> DurationHistogram:
        counts = [0] * BUCKET_COUNT
        for duration in durations:
            counts[bucket_of(duration)] += 1
        return cls(tuple(counts))

    @property
    def total(self) -> int:
        return self._longer[0]

    def to_fields(self) -> dict[str, int]:
        """Non-zero buckets as hash fields (`LABELS`), the form kept in Redis."""
        return {LABELS[i]: count for i, count in enumerate(self.counts) if count}

    @classmethod
    def from_fields(
        cls, fields: Mapping[str, str | bytes | int] | Mapping[bytes, str | bytes | int]
    ) -> DurationHistogram:
        """A histogram from `HGETALL`'s answer; missing fields are zero."""
        counts = [0] * BUCKET_COUNT
        for raw_label, raw_count in fields.items():
            label = raw_label.decode() if isinstance(raw_label, bytes) else raw_label
            index = index_of_label(label)
            try:
                count = int(raw_count)
            except ValueError:
                raise HistogramError(
                    f"histogram field {label!r} holds {raw_count!r}, not a count; "
                    "delete the key and run `iocmon rebuild`"
                ) from None
            if count < 0:
                raise HistogramError(
                    f"histogram field {label!r} holds the negative count {count}; "
                    "delete the key and run `iocmon rebuild`"
                )
            counts[index] = count
        return cls(tuple(counts))

    def survival(self, days: int) -> float:
        """How many samples lasted longer than `days`: exact on every bucket boundary (each
        working day up to 60), interpolated inside a coarse bucket; beyond the last bound the
        whole overflow counts as longer."""
        if days < 0:
            return float(self.total)
        if days >= LAST_BOUND:
            return float(self.counts[-1])
        index = bisect_left(UPPER_BOUNDS, days)
        upper, lower = UPPER_BOUNDS[index], _LOWER_BOUNDS[index]
        inside = self.counts[index] * (upper - days) / (upper - lower)
        return self._longer[index + 1] + inside

    def conditional_survival(self, days: int, given: int) -> float | None:
        """P(duration > days | duration > given); None when no sample lasted beyond
        `given`, for then the samples say nothing (the caller decides, `risk`)."""
        base = self.survival(given)
        if base <= 0:
            return None
        if days <= given:
            return 1.0
        return min(1.0, self.survival(days) / base)

    def quantile(self, q: float, given: int = -1) -> int | None:
        """The smallest working-day number d > `given` by which a share `q` of the samples
        that outlasted `given` had ended (nearest rank; q = 0.5 is the conditional median).
        None when no sample outlasted `given`, or when the answer lies beyond `LAST_BOUND`.
        """
        if not 0 < q <= 1:
            raise ValueError(f"a quantile's share is in (0, 1], got {q}")
        base = self.survival(given)
        if base <= 0:
            return None
        still_open = base * (1 - q) + base * _TOLERANCE
        low, high = max(given + 1, 0), LAST_BOUND
        if self.survival(high) > still_open:
            return None
        while low < high:
            middle = (low + high) // 2
            if self.survival(middle) <= still_open:
                high = middle
            else:
                low = middle + 1
        return low


def merge(*histograms: DurationHistogram) -> DurationHistogram:
    """The histogram of the union of the samples: counts added bucket by bucket."""
    if not histograms:
        return DurationHistogram.empty()
    return DurationHistogram(tuple(map(sum, zip(*(h.counts for h in histograms), strict=True))))
