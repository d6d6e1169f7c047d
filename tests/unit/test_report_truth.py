"""The periodic report the simulator's truth implies (tests/integration/report_truth.py).

Hand-worked truth lines for the cases of issue #17, then a real simulator run (planned and
sent in-process, without Kafka) whose truth file must balance in every month and whose pauses
must be the ones the sent events describe.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.producers.arrivals import plan_dossiers
from iocmon.producers.profile import default_profile
from iocmon.producers.records import Faults, OutRecord
from iocmon.producers.sender import DiscardSender
from iocmon.producers.simulation import Limits, Simulation
from iocmon.producers.timeline import merge_by_time
from iocmon.producers.truth import TruthLedger
from tests.integration.report_truth import (
    COLUMNS,
    UNKNOWN_FIELD,
    balance_problems,
    expected_report,
    fields_from_catalogue,
    overdue_at,
    total,
)


def local(text: str) -> datetime:
    """'2024-03-28 09:00' in Vietnam."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def iso(text: str | None) -> str | None:
    return None if text is None else local(text).isoformat()


Q1 = (local("2024-01-01 00:00"), local("2024-04-01 00:00"))
Q2 = (local("2024-04-01 00:00"), local("2024-07-01 00:00"))
MARCH = (local("2024-03-01 00:00"), local("2024-04-01 00:00"))
FIELDS = {"1.000001": "land", "2.000002": "civil_status"}


def dossier(
    received: str,
    due: str,
    ended: str | None = None,
    outcome: str | None = None,
    *,
    pauses: tuple[tuple[str, str | None], ...] = (),
    agency: str = "AG-A",
    procedure: str = "1.000001",
    channel: str = "counter",
) -> dict[str, Any]:
    """A truth line (producers/truth.py) from local times."""
    return {
        "kind": "dossier",
        "dossier_id": f"{agency}-{received}",
        "agency": agency,
        "procedure": procedure,
        "channel": channel,
        "level": "full",
        "outcome": outcome,
        "received_at": iso(received),
        "ended_at": iso(ended),
        "due_at": iso(due),
        "pauses": [[iso(start), iso(end)] for start, end in pauses],
    }


def counts(**nonzero: int) -> Counter[str]:
    out: Counter[str] = Counter(dict.fromkeys(COLUMNS, 0))
    out.update(nonzero)
    return out


def report(rows, period, by="agency"):
    return expected_report(rows, *period, by, FIELDS)


# --- hand-worked cases --------------------------------------------------------------------

RECEIVED_28_MARCH_RESOLVED_2_APRIL = dossier(
    "2024-03-28 09:00", due="2024-04-02 17:00", ended="2024-04-02 10:00", outcome="on_time"
)


def test_received_28_march_resolved_2_april_is_carried_into_q2_and_resolved_there():
    assert report([RECEIVED_28_MARCH_RESOLVED_2_APRIL], Q1) == {
        "AG-A": counts(received_direct=1, open_not_due=1)
    }
    assert report([RECEIVED_28_MARCH_RESOLVED_2_APRIL], MARCH) == {
        "AG-A": counts(received_direct=1, open_not_due=1)
    }
    assert report([RECEIVED_28_MARCH_RESOLVED_2_APRIL], Q2) == {
        "AG-A": counts(carried_over=1, on_time=1)
    }


def test_paused_across_31_march_before_its_due_date_is_in_process_not_overdue_at_q1_end():
    # Due 28 March; paused on the 27th, back on 3 April: at the end of Q1 the clock stands
    # at the 27th. Without the pause it would be overdue.
    paused = dossier(
        "2024-03-25 08:00",
        due="2024-03-28 17:00",
        ended="2024-04-03 15:00",
        outcome="early",
        pauses=(("2024-03-27 10:00", "2024-04-03 09:00"),),
        channel="online",
    )
    assert report([paused], Q1) == {"AG-A": counts(received_online=1, open_not_due=1)}
    assert report([paused], Q2) == {"AG-A": counts(carried_over=1, early=1)}
    assert overdue_at({**paused, "pauses": []}, Q1[1])


def test_a_pause_still_running_at_the_period_end_counts_up_to_it():
    # Paused on the due date and never resumed (the simulator stopped, or the pause was
    # open at a terminal event after the period): the clock stopped on the due date.
    still_paused = dossier(
        "2024-03-26 08:00", due="2024-03-29 17:00", pauses=(("2024-03-29 16:00", None),)
    )
    assert report([still_paused], Q1) == {"AG-A": counts(received_direct=1, open_not_due=1)}


def test_overdue_before_its_pause_began_stays_overdue():
    overdue_then_paused = dossier(
        "2024-03-18 09:00", due="2024-03-20 17:00", pauses=(("2024-03-25 09:00", None),)
    )
    assert report([overdue_then_paused], Q1) == {"AG-A": counts(received_direct=1, open_overdue=1)}


def test_a_closed_pause_shorter_than_the_delay_leaves_the_dossier_overdue():
    # Due the 29th; two days paused; at midnight on 1 April the clock reads midnight on the
    # 30th, a day late.
    short_pause = dossier(
        "2024-03-26 09:00",
        due="2024-03-29 17:00",
        pauses=(("2024-03-27 09:00", "2024-03-29 09:00"),),
    )
    assert overdue_at(short_pause, Q1[1])
    assert not overdue_at(short_pause, local("2024-03-31 00:00"))


def test_pauses_that_begin_after_the_period_end_do_not_count():
    paused_later = dossier(
        "2024-03-26 09:00",
        due="2024-03-29 17:00",
        ended="2024-04-15 10:00",
        outcome="late",
        pauses=(("2024-04-02 09:00", "2024-04-10 09:00"),),
    )
    assert report([paused_later], Q1) == {"AG-A": counts(received_direct=1, open_overdue=1)}
    assert report([paused_later], Q2) == {"AG-A": counts(carried_over=1, late=1)}
    due_1_april = dossier(
        "2024-03-27 09:00", due="2024-04-01 17:00", pauses=(("2024-04-02 09:00", None),)
    )
    assert not overdue_at(due_1_april, Q1[1])


def test_overdue_is_judged_on_local_dates():
    # Midnight of 1 April in Vietnam is 17:00 UTC on 31 March: a dossier due 31 March is
    # overdue at the end of March however the period end is written.
    due_31_march = dossier("2024-03-27 09:00", due="2024-03-31 17:00")
    end_in_utc = Q1[1].astimezone(datetime.fromisoformat("2024-01-01T00:00:00+00:00").tzinfo)
    assert overdue_at(due_31_march, end_in_utc)
    assert not overdue_at(due_31_march, local("2024-03-31 23:59"))


def test_withdrawn_dossiers_count_in_the_period_they_are_withdrawn():
    received_and_withdrawn_in_february = dossier(
        "2024-02-10 09:00", due="2024-02-20 17:00", ended="2024-03-05 10:00", outcome="withdrawn"
    )
    carried_from_december = dossier(
        "2023-12-27 09:00",
        due="2024-01-10 17:00",
        ended="2024-01-05 10:00",
        outcome="withdrawn",
        channel="postal",
    )
    rows = [received_and_withdrawn_in_february, carried_from_december]
    assert report(rows, Q1) == {"AG-A": counts(carried_over=1, received_direct=1, withdrawn=2)}
    assert report(rows, Q2) == {}


def test_period_boundaries_belong_to_the_period_that_starts_there():
    received_at_start = dossier(
        "2024-04-01 00:00", due="2024-04-03 17:00", ended="2024-04-02 10:00", outcome="early"
    )
    ended_at_end = dossier(
        "2024-03-20 09:00", due="2024-04-03 17:00", ended="2024-04-01 00:00", outcome="early"
    )
    assert report([received_at_start], Q1) == {}
    assert report([received_at_start], Q2) == {"AG-A": counts(received_direct=1, early=1)}
    assert report([ended_at_end], Q1) == {"AG-A": counts(received_direct=1, open_not_due=1)}
    assert report([ended_at_end], Q2) == {"AG-A": counts(carried_over=1, early=1)}


def test_dossiers_outside_the_period_have_no_row():
    ended_before = dossier(
        "2023-11-02 09:00", due="2023-11-06 17:00", ended="2023-11-03 10:00", outcome="early"
    )
    received_after = dossier("2024-07-02 09:00", due="2024-07-05 17:00")
    assert report([ended_before, received_after], Q1) == {}
    assert report([ended_before, received_after], Q2) == {}


def test_by_field_reads_the_procedure_and_puts_unknown_procedures_in_unknown():
    rows = [
        dossier("2024-02-01 09:00", "2024-02-05 17:00", "2024-02-02 09:00", "early"),
        dossier(
            "2024-02-01 10:00",
            "2024-02-05 17:00",
            "2024-02-06 09:00",
            "late",
            agency="AG-B",
            procedure="2.000002",
            channel="online",
        ),
        dossier("2024-02-01 11:00", "2024-02-02 17:00", agency="AG-B", procedure="9.999999"),
        {"kind": "invalid", "reason": "not_json", "key": None, "event_id": None},
    ]
    by_field = report(rows, Q1, by="field")
    assert by_field == {
        "land": counts(received_direct=1, early=1),
        "civil_status": counts(received_online=1, late=1),
        UNKNOWN_FIELD: counts(received_direct=1, open_overdue=1),
    }
    by_agency = report(rows, Q1)
    assert by_agency == {
        "AG-A": counts(received_direct=1, early=1),
        "AG-B": counts(received_direct=1, received_online=1, late=1, open_overdue=1),
    }
    assert (
        total(by_field)
        == total(by_agency)
        == counts(received_direct=2, received_online=1, early=1, late=1, open_overdue=1)
    )


def test_rows_have_every_column_and_compare_equal_to_an_api_row():
    (row,) = report([RECEIVED_28_MARCH_RESOLVED_2_APRIL], Q2).values()
    api_row = {"key": "AG-A", "name": "…", **dict.fromkeys(COLUMNS, 0)}
    api_row.update(carried_over=1, on_time=1)
    assert dict(row) == {column: api_row[column] for column in COLUMNS}
    assert list(row) == list(COLUMNS)


def test_balance_problems_names_the_rows_that_do_not_balance():
    good = counts(carried_over=2, received_online=1, early=1, open_overdue=2)
    bad = counts(received_direct=3, on_time=1)
    assert balance_problems({"AG-A": good}) == []
    assert balance_problems({"AG-A": good, "AG-B": bad}) == [
        "AG-B: 3 carried over or received, 1 accounted for"
    ]


def test_naive_or_empty_periods_are_refused():
    with pytest.raises(ValueError, match="offset"):
        expected_report([], datetime(2024, 1, 1), datetime(2024, 4, 1), "agency", FIELDS)
    with pytest.raises(ValueError, match="empty"):
        expected_report([], Q1[1], Q1[0], "agency", FIELDS)


def test_the_field_map_is_read_from_the_shipped_catalogue():
    fields = fields_from_catalogue()
    assert fields["2.007823"] == "civil_status"  # Đăng ký khai sinh
    assert fields["1.012500"] == "land"  # a quoted name with a comma in it
    profile = default_profile(load_catalogue(None), dossiers_per_day=1)
    used = {p.code for agency in profile.agencies for p in agency.procedures}
    assert used <= set(fields)
    assert UNKNOWN_FIELD not in fields.values()


def test_the_field_map_skips_comment_and_blank_lines(tmp_path):
    catalogue = tmp_path / "procedures.csv"
    catalogue.write_text(
        "code,name,field,field_name,online_level,processing_days\n"
        "# a comment, with a comma\n"
        "\n"
        '1.000001,"Đăng ký đất đai, lần đầu",land,Đất đai,partial,5\n',
        encoding="utf-8",
    )
    assert fields_from_catalogue(catalogue) == {"1.000001": "land"}


# --- a real simulator run -----------------------------------------------------------------

NOW = datetime(2024, 4, 20, 10, 0, tzinfo=LOCAL_TZ)
MONTHS = [local(f"2024-{m:02d}-01 00:00") for m in (1, 2, 3, 4)]
PERIODS = [*pairwise(MONTHS), (MONTHS[-1], NOW)]
# Rare paths made common, so a few thousand dossiers have every kind of pause and outcome.
STRESS = {
    "late_rate": 0.2,
    "withdrawn_rate": 0.1,
    "supplement_rate": 0.5,
    "fee_rate": 0.4,
    "open_pause_at_end": 0.4,
    "result_returned_as_terminal": 0.3,
}


@dataclasses.dataclass
class Run:
    truth: list[dict[str, Any]]
    sent: list[OutRecord]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """Dossiers received from mid-December 2023 to 20 April 2024, sent up to then (the
    backfill), with repeats and bad records; the truth file as `--truth-out` writes it."""
    calendar = load_calendar(None)
    profile = dataclasses.replace(
        default_profile(load_catalogue(None), dossiers_per_day=40), **STRESS
    )
    clock = _StillClock(NOW)
    sent: list[OutRecord] = []
    ledger = TruthLedger()
    plan = plan_dossiers(profile, random.Random(17), local("2023-12-15 00:00"), None, calendar)
    Simulation(
        merge_by_time(plan),
        DiscardSender(),
        clock=clock,
        faults=Faults(random.Random(18), duplicate_rate=0.05, invalid_rate=0.01),
        ledger=ledger,
        limits=Limits(duration_s=0),
        sink=sent.append,
    ).run()
    path: Path = tmp_path_factory.mktemp("truth") / "truth.jsonl"
    ledger.write(path)
    truth = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return Run(truth, sent)


class _StillClock:
    """The simulator's clock, stopped at `now`: `duration_s=0` sends what is due by then."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("the backfill never waits")


@pytest.mark.parametrize("by", ["agency", "field"])
def test_a_simulator_run_balances_in_every_month(run, by):
    fields = fields_from_catalogue()
    seen: Counter[str] = Counter()
    for start, end in PERIODS:
        month = expected_report(run.truth, start, end, by, fields)
        assert month, (start, end)
        assert balance_problems(month) == [], (start, end)
        seen.update({column for row in month.values() for column, n in row.items() if n})
    assert set(seen) == set(COLUMNS)  # every column is exercised


def test_a_quarter_adds_up_its_months(run):
    """The issue's property on real truth: ended and received columns add up over the
    months, carried over comes from the first month, in process from the last."""
    fields = fields_from_catalogue()
    quarter = expected_report(run.truth, MONTHS[0], MONTHS[3], "field", fields)
    months = [expected_report(run.truth, s, e, "field", fields) for s, e in PERIODS[:3]]
    for key, row in quarter.items():
        of = [m.get(key, Counter()) for m in months]
        for column in ("received_online", "received_direct", "early", "on_time", "late"):
            assert row[column] == sum(m[column] for m in of), (key, column)
        assert row["withdrawn"] == sum(m["withdrawn"] for m in of), key
        assert row["carried_over"] == of[0]["carried_over"], key
        assert row["open_not_due"] == of[2]["open_not_due"], key
        assert row["open_overdue"] == of[2]["open_overdue"], key
    assert total(quarter) == total(expected_report(run.truth, *MONTHS[::3], "agency", fields))


def test_the_truths_pauses_are_well_formed(run):
    dossiers = [line for line in run.truth if line["kind"] == "dossier"]
    assert sum(bool(line["pauses"]) for line in dossiers) > 100
    running_at_end = 0
    for line in dossiers:
        received = datetime.fromisoformat(line["received_at"])
        ended = datetime.fromisoformat(line["ended_at"]) if line["ended_at"] else None
        latest = received
        for n, pause in enumerate(line["pauses"], start=1):
            assert isinstance(pause, list) and len(pause) == 2, line
            start = datetime.fromisoformat(pause[0])
            end = datetime.fromisoformat(pause[1]) if pause[1] is not None else None
            assert latest <= start, line  # after receipt and after the previous pause
            assert end is None or start < end, line
            assert start <= (ended or NOW) and (end or start) <= (ended or NOW), line
            if end is None:
                assert n == len(line["pauses"]), line  # only the last may be still running
                running_at_end += ended is not None
            latest = end or start
    assert running_at_end > 10  # pauses open at the terminal event are recorded as sent


def test_the_truths_pauses_are_those_the_sent_events_describe(run):
    """Replayed from the records as sent: repeats and bad records change nothing, a pause
    request while paused extends the pause, nothing after the terminal event counts."""
    terminal = {"resolved", "stopped", "withdrawn", "result_returned"}
    pauses: dict[str, list[list[str | None]]] = {}
    ended: set[str] = set()
    seen: set[str] = set()
    for record in run.sent:
        if record.kind != "event":
            continue
        event = json.loads(record.value)
        assert event["event_id"] not in seen
        seen.add(event["event_id"])
        dossier_id, kind, at = event["dossier_id"], event["type"], event["at"]
        if kind == "received":
            pauses[dossier_id] = []
        if dossier_id not in pauses or dossier_id in ended:
            continue
        running = pauses[dossier_id] and pauses[dossier_id][-1][1] is None
        if kind in {"supplement_requested", "fee_requested"} and not running:
            pauses[dossier_id].append([at, None])
        elif kind == "resumed" and running:
            pauses[dossier_id][-1][1] = at
        elif kind in terminal:
            ended.add(dossier_id)
    truth = {line["dossier_id"]: line for line in run.truth if line["kind"] == "dossier"}
    assert {k: line["pauses"] for k, line in truth.items()} == pauses
    assert {k for k, line in truth.items() if line["ended_at"]} == ended


def test_the_truths_pauses_give_its_early_and_on_time_outcomes(run):
    """§3 on the truth line alone (a pause open at the end lasts until the end): the
    designed early and on-time outcomes follow from the recorded pauses and dates. Late ones
    may be late by a second supplement request, which the line does not say."""
    checked = 0
    for line in run.truth:
        if line["kind"] != "dossier" or line["outcome"] not in {"early", "on_time"}:
            continue
        ended = datetime.fromisoformat(line["ended_at"])
        paused = sum(
            (
                (datetime.fromisoformat(end) if end else ended) - datetime.fromisoformat(start)
                for start, end in line["pauses"]
            ),
            timedelta(0),
        )
        effective = (ended - paused).astimezone(LOCAL_TZ).date()
        due = datetime.fromisoformat(line["due_at"]).astimezone(LOCAL_TZ).date()
        assert (effective < due) == (line["outcome"] == "early"), line
        assert (effective == due) == (line["outcome"] == "on_time"), line
        checked += bool(line["pauses"])
    assert checked > 50
