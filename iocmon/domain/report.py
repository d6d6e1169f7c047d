"""The periodic report (CONTRACT §6): the counters it is made of, and its rows from them.

Every column is interval counting over counters the worker keeps per agency and field of
procedures (`BatchPlan.report`), each in the buckets of the instant it happened: receipts by
channel class, outcomes, and the two ends of every dossier's overdue stretch — the instant
it became overdue (`DossierState.overdue_from`) and its end if it ended overdue. With
"before T" the sum of every bucket before T (`buckets.prefix_cover`):

    carried_over   = received before `from` - ended before `from`
    in the period  = before `to` - before `from`          (receipts and outcomes)
    open at `to`   = received before `to` - ended before `to`
    open_overdue   = became overdue before `to` - ended overdue before `to`

Rows are agencies or fields, never procedures, so the counters are kept per (agency, field):
a province's ~750 such pairs instead of ~5,000 (agency, procedure) pairs, which a report
over five years must sum from every partition. A dossier's field is the one its procedure
had when it was received (`DossierState.field`), so a catalogue edit cannot unbalance a
row; `iocmon rebuild` re-groups history under the edited catalogue.

A dossier's overdue instant is written when the events first say it, in the buckets of the
instant just before it (a dossier due on the 31st is overdue from midnight, so it counts
as overdue at the end of the month's last day, not before), and moved by a pause or
resume before it. Every write lands at or after the event's own `at`, so buckets beyond
the retention horizon never change and the roll-up may sum them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from iocmon.domain.buckets import Bucket, report_buckets_of

RECEIVED_ONLINE = "online"
RECEIVED_DIRECT = "direct"
BECAME_OVERDUE = "overdue"
ENDED_OVERDUE = "overdue_ended"
OUTCOME_COLUMNS = ("early", "on_time", "late", "withdrawn")
STORED_COLUMNS = (*OUTCOME_COLUMNS, RECEIVED_ONLINE, RECEIVED_DIRECT, BECAME_OVERDUE, ENDED_OVERDUE)
"""The counter fields' last part, `agency|field|<column>` (`streams.keys.report_field`)."""

_JUST_BEFORE = timedelta(microseconds=1)

Counts = Mapping[tuple[str, str, str], int]
"""(agency, field, stored column) -> count, summed over some buckets."""


def received_column(channel: str) -> str:
    """§6: `online` is received online; `counter` and `postal` are received directly."""
    return RECEIVED_ONLINE if channel == "online" else RECEIVED_DIRECT


def overdue_buckets(overdue_from: datetime) -> tuple[Bucket, ...]:
    """Where a dossier's becoming overdue is counted: the buckets of the instant just
    before it, so that "buckets before T" holds exactly the dossiers overdue at T; the
    hour's too, for a running period's report."""
    return report_buckets_of(overdue_from - _JUST_BEFORE)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row of the report: dossiers of one agency, field or the province."""

    carried_over: int = 0
    received_online: int = 0
    received_direct: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    withdrawn: int = 0
    open_not_due: int = 0
    open_overdue: int = 0

    def __add__(self, other: ReportRow) -> ReportRow:
        return ReportRow(*(getattr(self, n) + getattr(other, n) for n in COLUMNS))

    @property
    def balanced(self) -> bool:
        """§6: every dossier the row starts with or receives is ended or still in process."""
        return (
            self.carried_over + self.received_online + self.received_direct
            == (self.early + self.on_time + self.late + self.withdrawn)
            + self.open_not_due
            + self.open_overdue
        )

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ReportRow))


@dataclass(frozen=True, slots=True)
class ReportCounts:
    """The counter sums a report is computed from; see the module docstring.

    `overdue_before_to` gives the `BECAME_OVERDUE` counts: the same as `before_to` for a
    period that has ended, up to the last full hour for one still running."""

    before_from: Counts
    before_to: Counts
    overdue_before_to: Counts


def report_rows(
    counts: ReportCounts,
    key_of: Callable[[str, str], str],
    keep: Callable[[str, str], bool] | None = None,
) -> dict[str, ReportRow]:
    """Rows keyed by `key_of(agency, field)`, of the (agency, field) pairs `keep` accepts
    (all by default)."""
    grouped: dict[str, tuple[Counter[str], Counter[str]]] = {}
    sources: tuple[tuple[Counts, int, Callable[[str], bool]], ...] = (
        (counts.before_from, 0, lambda column: column != BECAME_OVERDUE),
        (counts.before_to, 1, lambda column: column != BECAME_OVERDUE),
        (counts.overdue_before_to, 1, lambda column: column == BECAME_OVERDUE),
    )
    for source, at, wanted in sources:
        for (agency, field, column), n in source.items():
            if n and wanted(column) and (keep is None or keep(agency, field)):
                key = key_of(agency, field)
                grouped.setdefault(key, (Counter(), Counter()))[at][column] += n
    return {key: _row(*pair) for key, pair in sorted(grouped.items())}


def _row(before_from: Counter[str], before_to: Counter[str]) -> ReportRow:
    open_at_to = _received(before_to) - _ended(before_to)
    open_overdue = before_to[BECAME_OVERDUE] - before_to[ENDED_OVERDUE]
    return ReportRow(
        carried_over=_received(before_from) - _ended(before_from),
        received_online=before_to[RECEIVED_ONLINE] - before_from[RECEIVED_ONLINE],
        received_direct=before_to[RECEIVED_DIRECT] - before_from[RECEIVED_DIRECT],
        **{o: before_to[o] - before_from[o] for o in OUTCOME_COLUMNS},
        open_not_due=open_at_to - open_overdue,
        open_overdue=open_overdue,
    )


def _received(counts: Counter[str]) -> int:
    return counts[RECEIVED_ONLINE] + counts[RECEIVED_DIRECT]


def _ended(counts: Counter[str]) -> int:
    return sum(counts[o] for o in OUTCOME_COLUMNS)


def total(rows: Mapping[str, ReportRow]) -> ReportRow:
    out = ReportRow()
    for row in rows.values():
        out = out + row
    return out
