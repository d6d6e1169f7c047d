"""Properties of judging a stream, whatever its order, duplicates and batching (hypothesis)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.domain.batch import BatchPlan, Fold, OpenEntry, Record, decode_batch, plan_batch
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.durations import duration_of
from iocmon.domain.histogram import field_for
from iocmon.domain.judge import Outcome
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import Scope

CAL = load_calendar()
NOW = datetime(2031, 1, 1, tzinfo=LOCAL_TZ)
MIDDLE = [
    "processing",
    "transferred",
    "supplement_requested",
    "fee_requested",
    "resumed",
    "rescheduled",
]
TERMINAL = ["resolved", "stopped", "withdrawn", "result_returned"]


@st.composite
def dossier_stream(draw: st.DrawFn, dossier_id: str) -> list[dict[str, object]]:
    """One dossier's events in an order that respects the lifecycle (and some that follow it)."""
    start = datetime(2024, 1, 1, 8, tzinfo=LOCAL_TZ) + timedelta(
        minutes=draw(st.integers(0, 60 * 24 * 365))
    )
    gaps = iter(draw(st.lists(st.integers(1, 60 * 24 * 6), min_size=20, max_size=20)))
    at = start
    seq = 0

    def event(kind: str, **fields: object) -> dict[str, object]:
        nonlocal at, seq
        seq += 1
        at += timedelta(minutes=next(gaps))
        return {"v": 1, "event_id": f"{dossier_id}-{seq}", "dossier_id": dossier_id,
                "type": kind, "at": at.isoformat(), **fields}  # fmt: skip

    events = []
    if draw(st.booleans()):
        events.append(event("submitted"))
    due = (
        {"processing_days": draw(st.integers(1, 15))}
        if draw(st.booleans())
        else {"due_at": (start + timedelta(days=draw(st.integers(0, 20)))).isoformat()}
    )
    events.append(event("received", agency=draw(st.sampled_from(["STP", "XLX", "AG"])),
                        procedure="1.001", channel="online", level="full", **due))  # fmt: skip
    for kind in draw(st.lists(st.sampled_from(MIDDLE), max_size=6)):
        extra: dict[str, object] = {}
        if kind == "rescheduled":
            extra["due_at"] = (at + timedelta(days=3)).isoformat()
        if kind == "transferred":
            extra["handler"] = "STNMT"
        events.append(event(kind, **extra))
    if draw(st.booleans()):
        events.append(event(draw(st.sampled_from(TERMINAL))))
        for kind in draw(st.lists(st.sampled_from(MIDDLE + TERMINAL), max_size=2)):
            events.append(event(kind, due_at=at.isoformat(), handler="X"))
    return events


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, object]]:
    """Several dossiers interleaved, each keeping its own order (as one Kafka partition does)."""
    per_dossier = [draw(dossier_stream(f"D{i}")) for i in range(draw(st.integers(1, 6)))]
    merged: list[dict[str, object]] = []
    cursors = [0] * len(per_dossier)
    while any(c < len(s) for c, s in zip(cursors, per_dossier, strict=True)):
        live = [i for i, s in enumerate(per_dossier) if cursors[i] < len(s)]
        i = draw(st.sampled_from(live))
        merged.append(per_dossier[i][cursors[i]])
        cursors[i] += 1
    return merged


def records(events: list[dict[str, object]]) -> list[Record]:
    return [
        Record(offset, str(e["dossier_id"]).encode(), json.dumps(e).encode())
        for offset, e in enumerate(events)
    ]


def judge(batches: list[list[Record]]) -> tuple[dict[str, DossierState], Counter[object]]:
    """Applies batches like the store does: skip what was applied, carry state forward."""
    states: dict[str, DossierState] = {}
    totals: Counter[object] = Counter()
    applied = -1
    for batch in batches:
        fresh = [r for r in batch if r.offset > applied]
        if not fresh:
            continue
        decoded = decode_batch(fresh, NOW)
        ids = {e.dossier_id for _, e in decoded if hasattr(e, "dossier_id")}
        plan = plan_batch(decoded, {d: states.get(d) for d in ids}, CAL)
        states.update(plan.states)
        for (bucket, agency, outcome), n in plan.ended.items():
            if bucket.resolution == "t":
                totals[("ended", agency, outcome)] += n
        for (bucket, agency, *_), n in plan.received.items():
            if bucket.resolution == "t":
                totals[("received", agency)] += n
        for (_, scope, code, label), n in plan.durations.items():  # summed over months
            totals[("duration", scope, code, label)] += n
        totals.update({("events", k): n for k, n in plan.events.items()})
        totals.update({("rejected", k): n for k, n in plan.rejected.items()})
        applied = plan.last_offset
    return states, totals


def outcomes(states: dict[str, DossierState]) -> dict[str, object]:
    return {d: (s.status, s.outcome) for d, s in states.items()}


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_received_dossier_ends_at_most_once(events: list[dict[str, object]]) -> None:
    states, totals = judge([records(events)])
    received = {e["dossier_id"] for e in events if e["type"] == "received"}
    ended_with_terminal = {e["dossier_id"] for e in events if e["type"] in TERMINAL}
    ended = sum(n for k, n in totals.items() if k[0] == "ended")
    assert ended == len(received & ended_with_terminal)
    assert sum(n for k, n in totals.items() if k[0] == "received") == len(received)
    for dossier_id in received:
        state = states[str(dossier_id)]
        assert (state.outcome is not None) == (dossier_id in ended_with_terminal)
    # Each end but a withdrawal adds one duration, the one of its judged duration, to the
    # histograms of its procedure at its agency, its procedure, its agency and the province
    # (issue #18).
    judged = [s for s in states.values() if s.outcome not in (None, Outcome.WITHDRAWN)]
    durations: Counter[tuple[object, object]] = Counter()
    subjects: Counter[tuple[object, object]] = Counter()
    for key, n in totals.items():
        if isinstance(key, tuple) and key[0] == "duration":
            durations[(key[1], key[3])] += n  # (scope, label), over every subject and month
            subjects[(key[1], key[2])] += n  # (scope, subject), over every label and month
    expected = Counter(field_for(d) for s in judged if (d := duration_of(s, CAL)) is not None)
    for scope in Scope:
        assert Counter({label: n for (sc, label), n in durations.items() if sc is scope}) == (
            expected
        )
    ends = [s for s in judged if duration_of(s, CAL) is not None]
    assert subjects == Counter(
        subject
        for s in ends
        for subject in (
            (Scope.AGENCY_PROCEDURE, (s.agency, s.procedure)),
            (Scope.PROCEDURE, s.procedure),
            (Scope.AGENCY, s.agency),
            (Scope.PROVINCE, ""),
        )
    )


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_duplicates_never_change_the_figures(
    events: list[dict[str, object]], data: st.DataObject
) -> None:
    baseline_states, baseline = judge([records(events)])
    with_dupes = list(events)
    for _ in range(data.draw(st.integers(1, 5))):
        source = data.draw(st.integers(0, len(events) - 1))
        position = data.draw(st.integers(with_dupes.index(events[source]) + 1, len(with_dupes)))
        with_dupes.insert(position, events[source])
    states, totals = judge([records(with_dupes)])
    assert outcomes(states) == outcomes(baseline_states)
    assert totals == baseline


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_batching_and_redelivery_never_change_the_figures(
    events: list[dict[str, object]], data: st.DataObject
) -> None:
    """Whatever worker sees whatever slice — and slices are redelivered after a crash or a
    rebalance — the figures equal those of one pass over the whole partition."""
    all_records = records(events)
    _, baseline = judge([all_records])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(all_records)), max_size=6)))
    batches = []
    start = 0
    for cut in [*cuts, len(all_records)]:
        rewind = data.draw(st.integers(0, start))  # redelivery from an older committed offset
        batches.append(all_records[start - rewind : cut] if cut > start - rewind else [])
        start = max(start, cut)
    states, totals = judge([b for b in batches if b])
    assert totals == baseline
    baseline_states, _ = judge([all_records])
    assert outcomes(states) == outcomes(baseline_states)


def add_up(plans: list[BatchPlan]) -> tuple[dict[str, object], Counter[object]]:
    """What a store holds after applying `plans` in turn: states, the open-dossier index
    and every counter."""
    states: dict[str, object] = {}
    index: dict[str, OpenEntry] = {}
    totals: Counter[object] = Counter()
    for plan in plans:
        states.update(plan.states)
        for dossier_id, (before, after) in plan.index_changes.items():
            assert index.get(dossier_id) == before
            if after is None:
                index.pop(dossier_id, None)
            else:
                index[dossier_id] = after
        for name, counter in (("ended", plan.ended), ("received", plan.received),
                              ("by_procedure", plan.by_procedure), ("events", plan.events),
                              ("ignored", plan.ignored), ("rejected", plan.rejected),
                              ("durations", plan.durations)):  # fmt: skip
            totals.update({(name, k): n for k, n in counter.items()})
    return {**states, **{f"index:{d}": e for d, e in index.items()}}, totals


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_a_fold_over_many_batches_adds_up_to_the_plans_of_each(
    events: list[dict[str, object]], data: st.DataObject
) -> None:
    """The rebuild folds whole partitions and takes a plan now and then, forgetting the
    states it keeps when told to; the store must end as it does after one plan a batch."""
    all_records = records(events)
    per_batch = []
    stored: dict[str, object] = {}
    for start in range(0, len(all_records), 3):
        decoded = decode_batch(all_records[start : start + 3], NOW)
        ids = {e.dossier_id for _, e in decoded if hasattr(e, "dossier_id")}
        per_batch.append(plan_batch(decoded, {d: stored.get(d) for d in ids}, CAL))
        stored.update(per_batch[-1].states)

    fold = Fold(CAL, keep_dead_letters=False)
    folded: list[BatchPlan] = []
    kept: dict[str, object] = {}
    takes = set(data.draw(st.lists(st.integers(0, len(all_records)), max_size=5)))
    forgets = set(data.draw(st.lists(st.sampled_from(sorted(takes) or [0]), max_size=3)))
    for i, (record, item) in enumerate(decode_batch(all_records, NOW)):
        if i in takes:
            folded.append(fold.take())
            kept.update(folded[-1].states)
            if i in forgets:
                fold.forget()
        if hasattr(item, "dossier_id") and item.dossier_id not in fold.states:
            fold.know({item.dossier_id: kept.get(item.dossier_id)})
        fold.add(record, item)
    folded.append(fold.take())
    assert add_up(folded) == add_up(per_batch)
    assert folded[-1].last_offset == per_batch[-1].last_offset
    assert not any(plan.dead_letters for plan in folded)
