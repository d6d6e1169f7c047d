"""CONTRACT §3a: forgetting ended dossiers past the horizon changes no figure, and events
older than the horizon are dead-lettered and change nothing (hypothesis)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.domain.batch import Fold, Record, decode_batch, forgotten, plan_batch
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.lifecycle import DossierState

CAL = load_calendar()
NOW = datetime(2031, 1, 1, tzinfo=LOCAL_TZ)
H = timedelta(days=35)
START = datetime(2024, 1, 1, 8, tzinfo=LOCAL_TZ)
KINDS = ["processing", "supplement_requested", "resumed", "rescheduled", "fee_requested"]
TERMINAL = ["resolved", "stopped", "withdrawn", "result_returned"]


@st.composite
def dossier(draw: st.DrawFn, dossier_id: str) -> list[dict[str, object]]:
    """One dossier's life starting anywhere in three years; gaps under a week, so a later
    event never names a dossier that ended more than H before it."""
    at = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 365 * 3)))
    out: list[dict[str, object]] = []

    def event(kind: str, **fields: object) -> None:
        nonlocal at
        at += timedelta(minutes=draw(st.integers(1, 60 * 24 * 6)))
        out.append({"v": 1, "event_id": f"{dossier_id}-{len(out)}", "dossier_id": dossier_id,
                    "type": kind, "at": at.isoformat(), **fields})  # fmt: skip

    event("received", agency=draw(st.sampled_from(["STP", "XLX"])), procedure="1.001",
          channel="online", level="full", processing_days=draw(st.integers(1, 10)))  # fmt: skip
    for kind in draw(st.lists(st.sampled_from(KINDS), max_size=3)):
        event(kind, **({"due_at": at.isoformat()} if kind == "rescheduled" else {}))
    if draw(st.booleans()):
        event(draw(st.sampled_from(TERMINAL)))
        for kind in draw(st.lists(st.sampled_from(["processing", *TERMINAL]), max_size=2)):
            event(kind)
    return out


@st.composite
def ordered_stream(draw: st.DrawFn) -> list[dict[str, object]]:
    """Dossiers interleaved in time order, as a partition fed by live sources is."""
    events = [e for i in range(draw(st.integers(1, 25))) for e in draw(dossier(f"D{i}"))]
    events.sort(key=lambda e: str(e["at"]))
    recent = [e for e in events if str(e["at"]) >= str(events[-1]["at"])[:7]]
    if draw(st.booleans()):  # a repeat of a recent event arriving late (same event id)
        events.append(dict(draw(st.sampled_from(recent))))
    return events


def records(events: list[dict[str, object]]) -> list[Record]:
    return [
        Record(offset, str(e["dossier_id"]).encode(), json.dumps(e).encode())
        for offset, e in enumerate(events)
    ]


def judge(
    events: list[dict[str, object]], cuts: list[int], horizon: timedelta | None
) -> tuple[Counter[object], dict[str, tuple[object, ...]]]:
    """Every figure the plans add up to, and the open dossiers' judging state; with a
    horizon, forgotten states are deleted after each plan as the store does."""
    recs = records(events)
    states: dict[str, DossierState] = {}
    totals: Counter[object] = Counter()
    stream_time = None
    bounds = sorted({0, len(recs), *(c % (len(recs) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        decoded = decode_batch(recs[lo:hi], NOW)
        ids = {e.dossier_id for _, e in decoded if hasattr(e, "dossier_id")}
        plan = plan_batch(
            decoded, {d: states.get(d) for d in ids}, CAL, horizon=horizon, stream_time=stream_time
        )
        states.update(plan.states)
        stream_time = plan.stream_time
        for counter in (plan.ended, plan.received, plan.by_procedure):
            totals.update({("c", *key): n for key, n in counter.items()})
        totals.update({("events", k): n for k, n in plan.events.items()})
        totals.update({("ignored", k): n for k, n in plan.ignored.items()})
        totals.update({("rejected", k): n for k, n in plan.rejected.items()})
        if horizon is not None:
            for d in [d for d, s in states.items() if forgotten(s, stream_time, horizon)]:
                del states[d]
    opened = {
        d: (s.agency, s.due_at, s.paused_s, s.pause_started_at, s.supplement_requests)
        for d, s in states.items()
        if s.is_open
    }
    return totals, opened


@settings(max_examples=120, deadline=None)
@given(ordered_stream(), st.lists(st.integers(0, 10_000), max_size=6))
def test_forgetting_changes_no_figure_when_no_event_is_later_than_the_horizon(
    events: list[dict[str, object]], cuts: list[int]
) -> None:
    assert judge(events, cuts, H) == judge(events, cuts, None)


@settings(max_examples=120, deadline=None)
@given(ordered_stream(), st.lists(st.integers(0, 10_000), max_size=6), st.data())
def test_events_older_than_the_horizon_are_dead_lettered_and_change_nothing(
    events: list[dict[str, object]], cuts: list[int], data: st.DataObject
) -> None:
    latest = max(datetime.fromisoformat(str(e["at"])) for e in events)
    late = []
    for original in data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=4)):
        age = timedelta(days=data.draw(st.integers(36, 3000)))
        late.append({**original, "event_id": f"late-{len(late)}", "at": (latest - age).isoformat()})
    totals, opened = judge(events + late, cuts, H)
    expected, expected_open = judge(events, cuts, H)
    assert totals.pop(("rejected", "beyond_horizon")) == len(late)
    assert (totals, opened) == (expected, expected_open)


def test_a_dossier_ended_more_than_the_horizon_ago_is_unknown_to_a_new_event() -> None:
    life = [
        {"v": 1, "event_id": "a", "dossier_id": "D", "type": "received", "agency": "STP",
         "procedure": "1.001", "channel": "online", "level": "full", "processing_days": 3,
         "at": "2024-01-02T08:00:00+07:00"},
        {"v": 1, "event_id": "b", "dossier_id": "D", "type": "resolved",
         "at": "2024-01-03T08:00:00+07:00"},
        {"v": 1, "event_id": "c", "dossier_id": "E", "type": "received", "agency": "STP",
         "procedure": "1.001", "channel": "online", "level": "full", "processing_days": 3,
         "at": "2024-02-08T08:00:00+07:00"},
        {"v": 1, "event_id": "d", "dossier_id": "D", "type": "result_returned",
         "at": "2024-02-08T09:00:00+07:00"},
    ]  # fmt: skip
    fold = Fold(CAL, horizon=H)
    fold.know({"D": None, "E": None})
    for record, item in decode_batch(records(life), NOW):
        fold.add(record, item)
    plan = fold.take()
    assert plan.rejected == Counter({"unknown_dossier": 1})
    assert plan.ended_on == [("20240103", "D")]
    assert plan.stream_time == datetime.fromisoformat("2024-02-08T09:00:00+07:00") - timedelta(
        hours=1
    )
