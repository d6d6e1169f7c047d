"""The periodic report (CONTRACT §6) from the worker's counters: hand-worked cases, and
properties over any stream (hypothesis). The counters come from the same `Fold` the worker
and the rebuild use; "before T" sums the buckets `prefix_cover` picks, as the reader does."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.console.report_doc import COLUMNS as CONSOLE_COLUMNS
from iocmon.domain.batch import Fold, Record, decode_batch
from iocmon.domain.buckets import bucket_end, prefix_cover
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.periods import parse_period
from iocmon.domain.report import (
    COLUMNS,
    OUTCOME_COLUMNS,
    ReportCounts,
    ReportRow,
    report_rows,
    total,
)
from tests.unit.test_batch_properties import streams

CAL = load_calendar()
NOW = datetime(2031, 1, 1, tzinfo=LOCAL_TZ)


def at(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).isoformat()


class Stream:
    """One partition's events, folded as the worker folds them; the counters kept."""

    def __init__(self) -> None:
        self.fold = Fold(CAL)
        self.counters: Counter[tuple[object, ...]] = Counter()
        self.offset = 0

    @classmethod
    def of(cls, events: list[dict[str, object]]) -> Stream:
        """A stream of whole events (the property tests' `streams()`), in their order."""
        stream = cls()
        stream.records([Record(i, str(e["dossier_id"]).encode(), json.dumps(e).encode())
                        for i, e in enumerate(events)])  # fmt: skip
        return stream

    def send(self, dossier_id: str, kind: str, when: str, **fields: object) -> None:
        self.offset += 1
        value = {"v": 1, "event_id": f"{dossier_id}-{self.offset}", "dossier_id": dossier_id,
                 "type": kind, "at": at(when), **fields}  # fmt: skip
        self.records([Record(self.offset, dossier_id.encode(), json.dumps(value).encode())])

    def records(self, records: list[Record]) -> None:
        for record, item in decode_batch(records, NOW):
            if hasattr(item, "dossier_id") and item.dossier_id not in self.fold.states:
                self.fold.know({item.dossier_id: None})
            self.fold.add(record, item)
        self.counters.update(self.fold.take().report)

    def received(self, dossier_id: str, when: str, days: int, channel: str = "online") -> None:
        self.send(dossier_id, "received", when, agency="UB", procedure="1.001",
                  channel=channel, level="full", processing_days=days)  # fmt: skip

    def report(self, period: str) -> ReportRow:
        p = parse_period(period)
        counts = ReportCounts(self.before(p.start), self.before(p.end), self.before(p.end))
        rows = report_rows(counts, lambda agency, _: agency)
        assert len(rows) <= 1
        return rows.get("UB", ReportRow())

    def before(self, end: datetime, now: datetime = NOW) -> Counter[tuple[str, str, str]]:
        """As the reader sums it: the signed buckets of `prefix_cover` (which side they are
        read from depends on `now`)."""
        signs = dict(prefix_cover(end, now))
        out: Counter[tuple[str, str, str]] = Counter()
        for (bucket, agency, field, column), n in self.counters.items():
            out[(agency, field, column)] += signs.get(bucket, 0) * n
        return out

    def days_before(self, end: datetime) -> Counter[tuple[str, str, str]]:
        """The same by the plainest rule: every day bucket that ends by `end`."""
        out: Counter[tuple[str, str, str]] = Counter()
        for (bucket, agency, field, column), n in self.counters.items():
            if bucket.resolution == "d" and bucket_end(bucket) <= end.timestamp():
                out[(agency, field, column)] += n
        return out


def test_a_dossier_received_in_march_and_resolved_in_april_is_carried_into_q2() -> None:
    s = Stream()
    s.received("D1", "2024-03-28T09:00", days=5)
    s.send("D1", "resolved", "2024-04-02T10:00")
    assert s.report("2024-Q1") == ReportRow(received_online=1, open_not_due=1)
    assert s.report("2024-Q2") == ReportRow(carried_over=1, early=1)
    assert s.report("2024-03") == s.report("2024-Q1")


def test_a_dossier_paused_before_its_due_date_is_in_process_not_overdue_across_the_end() -> None:
    s = Stream()
    s.received("D1", "2024-03-18T09:00", days=5, channel="counter")  # due 25 March
    s.send("D1", "supplement_requested", "2024-03-22T10:00")
    assert s.report("2024-Q1") == ReportRow(received_direct=1, open_not_due=1)
    s.send("D1", "resumed", "2024-04-05T10:00")  # 14 days paused: overdue from 9 April 00:00
    assert s.report("2024-Q1") == ReportRow(received_direct=1, open_not_due=1)
    assert s.report("2024-04-07") == ReportRow(carried_over=1, open_not_due=1)
    assert s.report("2024-04-08") == ReportRow(carried_over=1, open_overdue=1)


def test_a_dossier_overdue_before_its_pause_stays_overdue_while_paused_and_after() -> None:
    s = Stream()
    s.received("D1", "2024-03-01T09:00", days=5)  # due 8 March: overdue from the 9th
    s.send("D1", "supplement_requested", "2024-03-20T10:00")
    assert s.report("2024-03-08") == ReportRow(carried_over=1, open_overdue=1)
    assert s.report("2024-03-07") == ReportRow(carried_over=1, open_not_due=1)
    assert s.report("2024-Q1") == ReportRow(received_online=1, open_overdue=1)
    s.send("D1", "resumed", "2024-04-10T10:00")
    assert s.report("2024-04") == ReportRow(carried_over=1, open_overdue=1)
    assert s.report("2024-03-09") == ReportRow(carried_over=1, open_overdue=1)


def test_a_late_resolved_for_march_changes_march_s_report() -> None:
    s = Stream()
    s.received("D1", "2024-03-04T09:00", days=3)  # due 7 March
    s.received("D2", "2024-04-25T09:00", days=10)
    assert s.report("2024-03") == ReportRow(received_online=1, open_overdue=1)
    s.send("D1", "resolved", "2024-03-20T10:00")  # arrives after April's events
    assert s.report("2024-03") == ReportRow(received_online=1, late=1)
    assert s.report("2024-04") == ReportRow(received_online=1, open_not_due=1)


def test_a_late_pause_before_the_due_date_takes_the_dossier_out_of_overdue() -> None:
    s = Stream()
    s.received("D1", "2024-03-04T09:00", days=3)  # due 7 March
    s.received("D2", "2024-04-25T09:00", days=10)
    s.send("D1", "fee_requested", "2024-03-06T10:00")
    assert s.report("2024-03") == ReportRow(received_online=1, open_not_due=1)


def test_a_dossier_received_past_its_due_date_is_overdue_from_receipt_not_before() -> None:
    s = Stream()
    s.send("D1", "received", "2024-03-10T09:00", agency="UB", procedure="1.001",
           channel="counter", level="full", due_at=at("2024-02-20T17:00"))  # fmt: skip
    assert s.report("2024-02") == ReportRow()
    assert s.report("2024-03-09") == ReportRow()
    assert s.report("2024-03-10") == ReportRow(received_direct=1, open_overdue=1)
    assert s.report("2024-03") == ReportRow(received_direct=1, open_overdue=1)


def test_withdrawn_dossiers_end_in_their_own_column_whether_or_not_overdue() -> None:
    s = Stream()
    s.received("D1", "2024-03-04T09:00", days=3)
    s.received("D2", "2024-03-25T09:00", days=10)
    s.send("D1", "withdrawn", "2024-03-20T10:00")  # overdue when withdrawn
    s.send("D2", "withdrawn", "2024-03-26T10:00")
    assert s.report("2024-03") == ReportRow(received_online=2, withdrawn=2)
    assert s.report("2024-03-15") == ReportRow(carried_over=1, open_overdue=1)


def test_a_dossier_ending_overdue_leaves_the_overdue_column_from_the_next_day() -> None:
    s = Stream()
    s.received("D1", "2024-03-04T09:00", days=3)
    s.send("D1", "resolved", "2024-03-12T16:00")
    assert s.report("2024-03-12") == ReportRow(carried_over=1, late=1)
    assert s.report("2024-03-11") == ReportRow(carried_over=1, open_overdue=1)
    assert s.report("2024-03-13") == ReportRow()


@settings(max_examples=120, deadline=None)
@given(streams())
def test_every_row_of_every_month_and_quarter_balances(events: list[dict[str, object]]) -> None:
    s = Stream.of(events)
    for year in (2024, 2025):
        for period in [f"{year}-{m:02d}" for m in range(1, 13)] + [
            f"{year}-Q{q}" for q in (1, 2, 3, 4)
        ]:
            p = parse_period(period)
            counts = ReportCounts(s.before(p.start), s.before(p.end), s.before(p.end))
            rows = report_rows(counts, lambda agency, _: agency)
            for key, row in rows.items():
                assert row.balanced, (period, key, row)
                assert all(getattr(row, c) >= 0 for c in COLUMNS), (period, key, row)
            assert total(rows).balanced


@settings(max_examples=120, deadline=None)
@given(streams())
def test_a_quarter_is_its_months_flows_with_the_first_month_s_carry_and_the_last_s_open(
    events: list[dict[str, object]],
) -> None:
    s = Stream.of(events)
    for quarter in range(1, 5):
        months = [_rows(s, f"2024-{3 * quarter - 2 + i:02d}") for i in range(3)]
        whole = _rows(s, f"2024-Q{quarter}")
        for key in whole.keys() | {k for m in months for k in m}:
            row = whole.get(key, ReportRow())
            parts = [m.get(key, ReportRow()) for m in months]
            flows = ("received_online", "received_direct", *OUTCOME_COLUMNS)
            for column in flows:
                assert getattr(row, column) == sum(getattr(p, column) for p in parts)
            assert row.carried_over == parts[0].carried_over
            assert (row.open_not_due, row.open_overdue) == (
                parts[-1].open_not_due,
                parts[-1].open_overdue,
            )


@settings(max_examples=80, deadline=None)
@given(streams(), st.data())
def test_everything_before_a_day_is_the_same_read_from_either_side(
    events: list[dict[str, object]], data: st.DataObject
) -> None:
    """`prefix_cover` reads years, quarters and months from 2000 or subtracts them from all
    time; either way it must equal the sum of the days before. The day is one with figures,
    the start or end of its month."""
    s = Stream.of(events)
    days = sorted({b.id for b, *_ in s.counters if b.resolution == "d"})
    day = datetime.strptime(data.draw(st.sampled_from(days)), "%Y%m%d").replace(tzinfo=LOCAL_TZ)
    end = data.draw(st.sampled_from([day, day + timedelta(days=1), day.replace(day=1)]))
    wanted = {k: n for k, n in s.days_before(end).items() if n}
    for now in (NOW, end + timedelta(days=3)):  # read from 2000, or all time minus after
        assert {k: n for k, n in s.before(end, now).items() if n} == wanted, now


def _rows(s: Stream, period: str) -> dict[str, ReportRow]:
    p = parse_period(period)
    counts = ReportCounts(s.before(p.start), s.before(p.end), s.before(p.end))
    return report_rows(counts, lambda agency, _: agency)


def test_rows_group_by_the_key_given_and_keep_only_what_is_asked() -> None:
    plus = Counter({("A", "p1", "online"): 2, ("A", "p2", "direct"): 1, ("B", "p1", "early"): 1,
                    ("B", "p1", "direct"): 1})  # fmt: skip
    counts = ReportCounts(Counter(), plus, Counter())
    by_procedure = report_rows(counts, lambda _, procedure: procedure)
    assert by_procedure == {
        "p1": ReportRow(received_online=2, received_direct=1, early=1, open_not_due=2),
        "p2": ReportRow(received_direct=1, open_not_due=1),
    }
    only_b = report_rows(counts, lambda agency, _: agency, keep=lambda agency, _: agency == "B")
    assert only_b == {"B": ReportRow(received_direct=1, early=1)}


def test_the_console_keeps_the_columns_in_the_report_s_order() -> None:
    """The console keeps its own copy (importing the domain would load the calendar's
    holidays into every console command); it must be the same."""
    assert CONSOLE_COLUMNS == COLUMNS
