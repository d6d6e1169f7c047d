"""The worker's side of the at-risk forecast (issue #18), pure: the fold counts durations into
the histograms, and the risk check turns forecasts into `at_risk` alerts and list entries.

Hand-worked in a plain March 2024 (as tests/unit/test_risk.py): a dossier received Monday 4
March at 10:00 with 5 processing days is due Monday 11 March; Tuesday is its day 1,
Wednesday day 2; it is due soon from Friday 8 March 00:00 (the working day before Monday).
History: dossiers of the same procedure received on the working days of January 2024, each
resolved a fixed number of working days later.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from iocmon.domain.alerts import AlertKind, AlertPolicy, alert_id
from iocmon.domain.batch import BatchPlan, Fold, Record, decode_batch, plan_alert_check, plan_batch
from iocmon.domain.buckets import Bucket
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.histogram import BUCKET_COUNT, DurationHistogram, index_of_label
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import ForecastPolicy, Scope, Subject
from iocmon.domain.risk_check import (
    AtRiskItem,
    Histories,
    assess,
    found_on,
    months_within,
    next_sweep,
    plan_risk_check,
)
from iocmon.domain.state_codec import decode_state, encode_state
from iocmon.notifier.book import ActiveBook, Fire, Resolve
from iocmon.notifier.model import decode

CAL = load_calendar()
POLICY = AlertPolicy()
NOW = datetime(2031, 1, 1, tzinfo=LOCAL_TZ)
PROCEDURE = "1.001234"
DUE = datetime(2024, 3, 11, 17, tzinfo=LOCAL_TZ)
_EVENT_IDS = count()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


class Stream:
    """Records of hand-made events, numbered as one partition's offsets."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, dossier: str, kind: str, at: datetime, **fields: object) -> Record:
        seq = len(self.records)
        doc = {"v": 1, "event_id": f"{dossier}-{next(_EVENT_IDS)}", "dossier_id": dossier,
               "type": kind, "at": at.isoformat(), **fields}  # fmt: skip
        record = Record(seq, dossier.encode(), json.dumps(doc).encode())
        self.records.append(record)
        return record

    def received(
        self, dossier: str, at: datetime, procedure: str = PROCEDURE, agency: str = "STP"
    ) -> Record:
        return self.add(dossier, "received", at, agency=agency, procedure=procedure,
                        channel="online", level="full", processing_days=5)  # fmt: skip


def history(
    took: int, n: int = 40, procedure: str = PROCEDURE, agency: str = "STP", prefix: str = "H"
) -> list[Record]:
    """`n` dossiers of `procedure` at `agency`, received on January 2024's working days at
    09:00 (5 days allowed), each resolved at 15:00 `took` working days later."""
    stream = Stream()
    day = date(2024, 1, 2)
    for i in range(n):
        while not CAL.is_working_day(day):
            day += timedelta(days=1)
        received = datetime.combine(day, datetime.min.time(), LOCAL_TZ).replace(hour=9)
        end = datetime.combine(CAL.add_working_days(day, took), received.timetz()).replace(hour=15)
        stream.received(f"{prefix}{i}", received, procedure, agency)
        stream.add(f"{prefix}{i}", "resolved", end)
        day += timedelta(days=1) if i % 2 else timedelta(0)  # two dossiers a day
    return stream.records


def fold(records: list[Record], states: dict[str, DossierState | None] | None = None) -> BatchPlan:
    known: dict[str, DossierState | None] = dict(states or {})
    decoded = decode_batch(records, NOW)
    for _, item in decoded:
        known.setdefault(item.dossier_id, None)  # type: ignore[union-attr]
    return plan_batch(decoded, known, CAL, POLICY)


def histories_of(*plans: BatchPlan) -> Histories:
    """What the reader merges from the partitions' month hashes, from plans' counters."""
    counts: dict[tuple[Scope, Subject], list[int]] = {}
    for plan in plans:
        for (_, scope, subject, label), n in plan.durations.items():
            counts.setdefault((scope, subject), [0] * BUCKET_COUNT)[index_of_label(label)] += n
    by_scope: dict[Scope, dict[Any, DurationHistogram]] = {s: {} for s in Scope}
    for (scope, subject), c in counts.items():
        by_scope[scope][subject] = DurationHistogram(tuple(c))
    return Histories(by_scope[Scope.AGENCY_PROCEDURE], by_scope[Scope.PROCEDURE],
                     by_scope[Scope.AGENCY],
                     by_scope[Scope.PROVINCE].get("", DurationHistogram.empty()))  # fmt: skip


def open_dossier(dossier: str = "D") -> DossierState:
    stream = Stream()
    stream.received(dossier, local("2024-03-04T10:00"))
    return fold(stream.records).states[dossier]


def risk_check(
    state: DossierState,
    at: str,
    histories: Histories,
    listed: dict[str, AtRiskItem] | None = None,
    policy: AlertPolicy = POLICY,
    sweep: bool = True,
) -> BatchPlan:
    now = local(at)
    assessed = {state.dossier_id: (state, assess(state, now, histories, CAL))}
    return plan_risk_check(0, assessed, listed or {}, now, CAL, policy, complete=sweep)


LATE_HISTORY = histories_of(fold(history(took=7)))
"""40 dossiers of the procedure, each 7 working days of its 5: all late."""


# --- the histograms the fold keeps ------------------------------------------------------------


def test_an_end_adds_its_duration_to_its_procedure_at_its_agency_and_the_wider_ones() -> None:
    stream = Stream()
    stream.received("D", local("2024-02-28T10:00"))  # Wednesday; day 1 is Thursday 29
    stream.add("D", "resolved", local("2024-03-08T16:00"))  # Friday 8 March: day 7
    plan = fold(stream.records)
    march = Bucket("m", "202403")
    assert plan.durations == Counter({
        (march, Scope.AGENCY_PROCEDURE, ("STP", PROCEDURE), "7"): 1,
        (march, Scope.PROCEDURE, PROCEDURE, "7"): 1,
        (march, Scope.AGENCY, "STP", "7"): 1,
        (march, Scope.PROVINCE, "", "7"): 1,
    })  # fmt: skip


def test_durations_are_counted_once_per_end_and_never_for_withdrawn_or_open_dossiers() -> None:
    stream = Stream()
    stream.received("A", local("2024-03-04T10:00"))
    resolved = stream.add("A", "resolved", local("2024-03-07T10:00"))  # day 3
    stream.records.append(Record(len(stream.records), resolved.key, resolved.value))  # again
    stream.add("A", "result_returned", local("2024-03-08T10:00"))  # informational after it
    stream.add("A", "stopped", local("2024-03-08T11:00"))  # after the end: ignored
    stream.received("W", local("2024-03-04T10:00"))
    stream.add("W", "withdrawn", local("2024-03-05T10:00"))
    stream.received("O", local("2024-03-04T10:00"))
    plan = fold(stream.records)
    assert sum(plan.durations.values()) == 4  # A's end, in four histograms
    subjects = {subject for _, _, subject, _ in plan.durations}
    assert subjects == {("STP", PROCEDURE), PROCEDURE, "STP", ""}
    assert {label for *_, label in plan.durations} == {"3"}

    again = fold(stream.records[2:], {"A": plan.states["A"]})  # a redelivery
    assert again.durations == Counter()


def test_paused_time_is_not_a_duration() -> None:
    stream = Stream()
    stream.received("D", local("2024-03-04T10:00"))
    stream.add("D", "supplement_requested", local("2024-03-05T10:00"))
    stream.add("D", "resumed", local("2024-03-07T10:00"))  # two days paused
    stream.add("D", "resolved", local("2024-03-08T10:00"))  # day 4, less 2 days: day 2
    plan = fold(stream.records)
    assert {label for *_, label in plan.durations} == {"2"}


def test_history_helper_gives_forty_late_samples_of_the_procedure() -> None:
    assert LATE_HISTORY.agency_procedures[("STP", PROCEDURE)].total == 40
    assert LATE_HISTORY.procedures[PROCEDURE].total == 40
    assert LATE_HISTORY.procedures[PROCEDURE].counts[index_of_label("7")] == 40
    assert LATE_HISTORY.agencies["STP"].total == LATE_HISTORY.province.total == 40


# --- the risk check ----------------------------------------------------------------------------


def test_an_on_track_dossier_of_a_procedure_that_runs_late_is_alerted_at_risk_once() -> None:
    state = open_dossier()
    plan = risk_check(state, "2024-03-06T08:00", LATE_HISTORY)  # day 2 of 5
    [alert] = plan.alerts
    assert alert.kind is AlertKind.AT_RISK
    assert alert.alert_id == alert_id("D", AlertKind.AT_RISK, DUE)
    assert alert.due_at == DUE and alert.state_at == local("2024-03-06T00:00")
    assert plan.states["D"].alerted == (alert.alert_id,)
    assert plan.index_changes == {}  # its alert clock still waits for due soon
    item = plan.at_risk_set["D"]
    assert (item.risk, item.basis, item.due_at) == (1.0, Scope.AGENCY_PROCEDURE, DUE)
    assert item.expected_end == date(2024, 3, 13)  # all such dossiers ended on day 7
    assert item.until == local("2024-03-08T00:00")

    # Checked again (a tick later, the next day's sweep, another worker after a restart): no
    # second alert, and the list entry is rewritten only when it changed.
    again = risk_check(plan.states["D"], "2024-03-06T08:05", LATE_HISTORY, {"D": item}, sweep=False)
    assert again.alerts == [] and again.at_risk_set == {} and again.at_risk_dropped == []
    next_day = risk_check(plan.states["D"], "2024-03-07T08:00", LATE_HISTORY, {"D": item})
    assert next_day.alerts == [] and next_day.at_risk_set == {}  # the same entry: no write
    changed = risk_check(plan.states["D"], "2024-03-07T08:00", histories_of(fold(history(took=6))))
    assert changed.at_risk_set["D"].expected_end == date(2024, 3, 12)  # rewritten


def test_no_risk_on_day_2_for_a_procedure_that_always_takes_3_of_its_5_days() -> None:
    histories = histories_of(fold(history(took=3)))
    state = open_dossier()
    assert assess(state, local("2024-03-06T08:00"), histories, CAL) is None
    plan = risk_check(state, "2024-03-06T08:00", histories)
    assert plan.alerts == [] and plan.at_risk_set == {} and plan.at_risk_dropped == []


def test_a_procedure_with_too_few_dossiers_is_forecast_from_its_agency_then_nothing() -> None:
    few = histories_of(fold(history(took=7, n=10)))
    state = open_dossier()
    assert assess(state, local("2024-03-06T08:00"), few, CAL) is None  # cold start
    assert assess(state, local("2024-03-06T08:00"), few, CAL, ForecastPolicy(min_samples=10))
    other = histories_of(fold(history(took=7, procedure="2.002")))  # same agency, 40 late
    item = assess(state, local("2024-03-06T08:00"), other, CAL)
    assert item is not None and item.basis is Scope.AGENCY


def test_the_procedure_at_the_dossier_s_agency_speaks_before_the_procedure_everywhere() -> None:
    # The procedure takes 3 of its 5 days in 60 dossiers of agency LX, 7 in 40 of STP's. On
    # day 2, STP's dossier reads STP's 40: all late, risk 1. Pooled over both agencies, all
    # 100 outlasted day 2 and 40 of them day 5: 0.4, under the default threshold.
    fast_elsewhere = fold(history(took=3, n=60, agency="LX", prefix="L"))
    both = histories_of(fold(history(took=7)), fast_elsewhere)
    state = open_dossier()
    item = assess(state, local("2024-03-06T08:00"), both, CAL)
    assert item is not None and (item.basis, item.risk) == (Scope.AGENCY_PROCEDURE, 1.0)
    assert both.procedures[PROCEDURE].total == 100

    # With 29 of STP's, one short of the default min_samples (30), the pooled procedure
    # answers: 29 late of 89, 0.33, at risk only from a threshold of 0.3.
    few_here = histories_of(fold(history(took=7, n=29)), fast_elsewhere)
    assert assess(state, local("2024-03-06T08:00"), few_here, CAL) is None
    policy = ForecastPolicy(threshold=0.3)
    pooled = assess(state, local("2024-03-06T08:00"), few_here, CAL, policy)
    assert pooled is not None and pooled.basis is Scope.PROCEDURE
    assert pooled.risk == round(29 / 89, 4)


def test_the_end_clears_the_at_risk_alert() -> None:
    state = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY).states["D"]
    stream = Stream()
    stream.add("D", "resolved", local("2024-03-06T15:00"))
    plan = fold(stream.records, {"D": state})
    assert [(a.kind, a.clears) for a in plan.alerts] == [
        (AlertKind.CLEARED, alert_id("D", AlertKind.AT_RISK, DUE))
    ]
    assert plan.states["D"].alerted == ()


def test_turning_due_soon_the_due_soon_alert_replaces_it_and_the_list_drops_it() -> None:
    plan = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY)
    state, item = plan.states["D"], plan.at_risk_set["D"]
    at_risk = plan.alerts[0]
    soon = plan_alert_check(0, {"D": state}, local("2024-03-08T00:00:01"), CAL, POLICY)
    [due_soon] = soon.alerts
    assert due_soon.kind is AlertKind.DUE_SOON
    state = soon.states["D"]
    later = risk_check(state, "2024-03-08T08:00", LATE_HISTORY, {"D": item}, sweep=False)
    assert later.alerts == [] and later.at_risk_dropped == ["D"]
    # An entry that turned due soon is dropped even when its dossier did not change.
    untouched = plan_risk_check(0, {}, {"D": item}, local("2024-03-08T00:00"), CAL, POLICY)
    assert untouched.at_risk_dropped == ["D"]

    # The notifier keeps one alert a dossier, the latest: due soon resolves at risk; the end
    # clears both (the at-risk one is retired already).
    book = ActiveBook()
    emitted = local("2024-03-08T00:00:02")
    first = book.apply(decode(json.dumps(at_risk.to_json(emitted, None)).encode()), 0)
    then = book.apply(decode(json.dumps(due_soon.to_json(emitted, None)).encode()), 0)
    assert [type(c) for c in first] == [Fire]
    assert [(type(c), c.alert.kind) for c in then] == [(Resolve, "at_risk"), (Fire, "due_soon")]
    assert [a.kind for a in book.active()] == ["due_soon"]
    stream = Stream()
    stream.add("D", "resolved", local("2024-03-08T15:00"))
    cleared = fold(stream.records, {"D": state}).alerts
    assert [a.clears for a in cleared] == [at_risk.alert_id, due_soon.alert_id]


def test_a_dossier_already_due_soon_or_alerted_due_soon_is_never_at_risk() -> None:
    state = open_dossier()
    assert risk_check(state, "2024-03-08T09:00", LATE_HISTORY).alerts == []  # due soon
    share = AlertPolicy(due_soon_share=0.2)  # its alert clock warns on Tuesday evening
    assert risk_check(state, "2024-03-06T08:00", LATE_HISTORY, policy=share).alerts == []
    plan = risk_check(state, "2024-03-06T08:00", LATE_HISTORY, policy=share)
    assert list(plan.at_risk_set) == ["D"]  # listed: on track by its due date, and at risk


def test_a_paused_dossier_leaves_the_list_and_keeps_its_alert() -> None:
    plan = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY)
    stream = Stream()
    stream.add("D", "supplement_requested", local("2024-03-06T10:00"))
    paused = fold(stream.records, {"D": plan.states["D"]})
    assert paused.alerts == []
    state = paused.states["D"]
    later = risk_check(state, "2024-03-06T11:00", LATE_HISTORY, dict(plan.at_risk_set),
                       sweep=False)  # fmt: skip
    assert later.at_risk_dropped == ["D"] and later.alerts == []
    assert state.alerted == plan.states["D"].alerted


def test_a_reschedule_clears_it_and_rearms_to_the_new_appointment() -> None:
    plan = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY)
    stream = Stream()
    new_due = local("2024-03-15T17:00")
    stream.add("D", "rescheduled", local("2024-03-06T10:00"), due_at=new_due.isoformat())
    moved = fold(stream.records, {"D": plan.states["D"]})
    assert [a.clears for a in moved.alerts] == [plan.alerts[0].alert_id]
    again = risk_check(moved.states["D"], "2024-03-06T11:00", LATE_HISTORY)
    assert [a.alert_id for a in again.alerts] == [alert_id("D", AlertKind.AT_RISK, new_due)]


def test_a_sweep_leaves_the_list_as_found_and_a_check_changes_only_what_it_assessed() -> None:
    a, b = open_dossier("A"), open_dossier("B")
    now = local("2024-03-06T08:00")
    item = assess(a, now, LATE_HISTORY, CAL)
    assert item is not None
    old = AtRiskItem("STP", PROCEDURE, DUE, 0.9, None, Scope.AGENCY, item.until)
    assessed = {"A": (a, item), "B": (b, None), "E": (None, None)}
    listed = {"A": old, "B": old, "X": old}  # X: a former owner's entry no one assessed
    sweep = plan_risk_check(0, assessed, listed, now, CAL, POLICY, complete=True)
    assert sweep.at_risk_set == {"A": item} and sweep.at_risk_dropped == ["B", "X"]
    check = plan_risk_check(0, assessed, listed, now, CAL, POLICY)
    assert check.at_risk_set == {"A": item} and check.at_risk_dropped == ["B"]  # X: not seen
    # Alerted and listed already: a sweep that finds the same writes nothing.
    alerted = sweep.states["A"]
    again = plan_risk_check(0, {"A": (alerted, item)}, {"A": item}, now, CAL, POLICY, complete=True)
    assert (again.alerts, again.at_risk_set, again.at_risk_dropped) == ([], {}, [])


def test_an_at_risk_alert_says_the_same_when_sent_again_the_same_day() -> None:
    state = open_dossier()
    first = risk_check(state, "2024-03-06T08:00", LATE_HISTORY).alerts[0]
    again = risk_check(state, "2024-03-06T17:30", LATE_HISTORY).alerts[0]
    assert first == again
    assert found_on(local("2024-03-06T23:59:59")) == local("2024-03-06T00:00")


def test_the_sweep_runs_at_08_00_on_working_days() -> None:
    assert next_sweep(local("2024-03-05T07:59"), CAL) == local("2024-03-05T08:00")
    assert next_sweep(local("2024-03-05T08:00"), CAL) == local("2024-03-06T08:00")
    assert next_sweep(local("2024-03-08T09:00"), CAL) == local("2024-03-11T08:00")  # Fri->Mon
    assert next_sweep(local("2024-04-29T09:00"), CAL) == local("2024-05-02T08:00")  # 30/4, 1/5


def test_the_histograms_read_are_the_months_of_the_horizon() -> None:
    months = months_within(local("2024-03-10T12:00"), timedelta(days=400))
    assert months[0] == Bucket("m", "202302") and months[-1] == Bucket("m", "202403")
    assert len(months) == 14
    assert months_within(local("2024-01-31T12:00"), timedelta(days=35)) == [
        Bucket("m", "202312"),
        Bucket("m", "202401"),
    ]


def test_list_entries_survive_their_json() -> None:
    state = open_dossier()
    item = assess(state, local("2024-03-06T08:00"), LATE_HISTORY, CAL)
    assert item is not None
    assert AtRiskItem.from_json(json.loads(json.dumps(item.to_json()))) == item


def test_the_at_risk_alert_is_stored_as_a_bit_and_read_back_in_the_order_sent() -> None:
    plan = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY)
    soon = plan_alert_check(0, plan.states, local("2024-03-08T00:00:01"), CAL, POLICY)
    state = soon.states["D"]
    assert state.alerted == (
        alert_id("D", AlertKind.AT_RISK, DUE),
        alert_id("D", AlertKind.DUE_SOON, DUE),
    )
    blob = encode_state(state)
    assert json.loads(blob)[15] == 5  # at risk (4) and due soon (1)
    assert decode_state("D", blob) == state


def test_a_rebuilt_state_carries_the_at_risk_alert_so_it_is_not_repeated_but_cleared() -> None:
    live = risk_check(open_dossier(), "2024-03-06T08:00", LATE_HISTORY).states["D"]
    stream = Stream()
    stream.received("D", local("2024-03-04T10:00"))
    rebuilt = Fold(CAL, POLICY, keep_dead_letters=False)
    rebuilt.know({"D": None})
    for record, item in decode_batch(stream.records, NOW):
        rebuilt.add(record, item)
    plan = rebuilt.take()
    rebuilt.carry_alerted(plan, {"D": live.alerted})
    assert plan.states["D"].alerted == live.alerted
    assert risk_check(plan.states["D"], "2024-03-07T08:00", LATE_HISTORY).alerts == []
