"""What a fold's transitions add to the counters, tallied once per instant's buckets.

Every counted event adds to four to six time buckets at once (its hour, day, month, ...,
all time: `buckets.buckets_of`, `buckets.report_buckets_of`), in up to four counter kinds.
Adding to each bucket as the event is folded cost ~15 Counter updates a record; a batch's
events share a few hours, so the tally keys each count by the instant's whole (cached)
tuple of buckets and spreads it over them once per distinct key when the plan is taken.

Durations of ended dossiers (issue #18) go into the histograms of the local month of the end
of their procedure at their agency, their procedure, their agency and the province
(`DURATION_SCOPES`): four counters per ended dossier, keyed by the histogram's bucket label
(`iocmon.domain.histogram.field_for`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from iocmon.domain.buckets import Bucket, buckets_of, report_buckets_of
from iocmon.domain.histogram import field_for
from iocmon.domain.report import BECAME_OVERDUE, ENDED_OVERDUE, overdue_buckets
from iocmon.domain.risk import Scope

if TYPE_CHECKING:
    from iocmon.domain.batch import BatchPlan

Buckets = tuple[Bucket, ...]
DURATION_SCOPES: tuple[Scope, ...] = (
    Scope.AGENCY_PROCEDURE,
    Scope.PROCEDURE,
    Scope.AGENCY,
    Scope.PROVINCE,
)
PROVINCE_CODE = ""
"""The code under which the province's histogram is counted (no agency or procedure code is
empty, CONTRACT §1)."""


class Tally:
    def __init__(self) -> None:
        self._received: Counter[tuple[Buckets, str, str, str]] = Counter()
        self._ended: Counter[tuple[Buckets, str, str, str]] = Counter()
        """(buckets, agency, procedure, outcome)."""
        self._report: Counter[tuple[Buckets, str, str, str]] = Counter()
        """(report buckets, agency, field, column)."""
        self._durations: Counter[tuple[Bucket, str, str, str]] = Counter()
        """(month of the end, agency, procedure, histogram bucket label)."""

    def received(
        self, at: datetime, agency: str, channel: str, level: str, field: str, column: str
    ) -> None:
        self._received[(buckets_of(at), agency, channel, level)] += 1
        self._report[(report_buckets_of(at), agency, field, column)] += 1

    def ended(
        self,
        at: datetime,
        agency: str,
        procedure: str,
        field: str,
        outcome: str,
        overdue: bool,
    ) -> None:
        self._ended[(buckets_of(at), agency, procedure, outcome)] += 1
        report_buckets = report_buckets_of(at)
        self._report[(report_buckets, agency, field, outcome)] += 1
        if overdue:
            self._report[(report_buckets, agency, field, ENDED_OVERDUE)] += 1

    def duration(self, at: datetime, agency: str, procedure: str, duration: int) -> None:
        """A dossier ended at `at` after `duration` working days (`domain.durations`)."""
        self._durations[(buckets_of(at)[2], agency, procedure, field_for(duration))] += 1

    def overdue_from(self, instant: datetime, agency: str, field: str, n: int) -> None:
        """A dossier becomes overdue at `instant` (n = 1), or no longer does (n = -1)."""
        self._report[(overdue_buckets(instant), agency, field, BECAME_OVERDUE)] += n

    def spread_into(self, plan: BatchPlan) -> None:
        """Adds every tally to `plan`'s counters, bucket by bucket, and starts afresh."""
        for (buckets, agency, channel, level), n in self._received.items():
            for bucket in buckets:
                plan.received[(bucket, agency, channel, level)] += n
        for (buckets, agency, procedure, outcome), n in self._ended.items():
            for bucket in buckets:
                plan.ended[(bucket, agency, outcome)] += n
                if bucket.resolution != "h":
                    plan.by_procedure[(bucket, agency, procedure, outcome)] += n
        report = plan.report
        for (buckets, agency, field, column), n in self._report.items():
            if not n:
                continue
            hours = column == BECAME_OVERDUE
            for bucket in buckets if hours else buckets[1:]:
                report[(bucket, agency, field, column)] += n
        durations = plan.durations
        for (month, agency, procedure, label), n in self._durations.items():
            durations[(month, Scope.AGENCY_PROCEDURE, (agency, procedure), label)] += n
            durations[(month, Scope.PROCEDURE, procedure, label)] += n
            durations[(month, Scope.AGENCY, agency, label)] += n
            durations[(month, Scope.PROVINCE, PROVINCE_CODE, label)] += n
        self._received.clear()
        self._ended.clear()
        self._report.clear()
        self._durations.clear()
