"""Every event type through the real pipeline: the API equals the pure core on the same file."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iocmon.domain.batch import Record, decode_batch, plan_batch
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.events import EventType
from iocmon.domain.judge import open_clock, open_state
from iocmon.domain.lifecycle import DossierState
from tests.integration.harness import Pipeline
from tests.integration.truth import ALL_TIME

pytestmark = pytest.mark.integration


def judge_file(events: Path, now: datetime) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Outcomes, open states and dead-letter reasons, from the pure core alone."""
    records = []
    for offset, line in enumerate(events.read_bytes().splitlines()):
        try:
            key = json.loads(line).get("dossier_id")
        except (ValueError, AttributeError):
            key = None
        records.append(Record(offset, key.encode() if isinstance(key, str) else None, line))
    calendar = load_calendar()
    decoded = decode_batch(records, now)
    ids = {e.dossier_id for _, e in decoded if hasattr(e, "dossier_id")}
    plan = plan_batch(decoded, dict.fromkeys(ids), calendar)
    outcomes: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for state in plan.states.values():
        if state.outcome is not None:
            outcomes[state.outcome.value] += 1
        elif state.is_open:
            states[_state(state, now, calendar)] += 1
    return outcomes, states, Counter(plan.rejected)


def _state(state: DossierState, now: datetime, calendar: object) -> str:
    assert state.due_at is not None
    clock = None if state.is_paused else open_clock(state.due_at, state.paused_s, calendar)  # type: ignore[arg-type]
    return open_state(clock, now).value


def test_every_event_type_judged_by_the_pipeline_as_by_the_pure_core(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    pipeline.iocmon(
        "simulate", "--seed", "21", "--backfill-days", "20", "--dossiers-per-day", "60",
        "--duration", "0", "--rate", "0", "--late-rate", "0.05",
        "--events-out", str(events), "--no-send",
    )  # fmt: skip
    types = set()
    for line in events.read_text().splitlines():
        try:
            types.add(json.loads(line).get("type"))
        except (ValueError, AttributeError):
            continue
    assert {t.value for t in EventType} <= types, f"missing: {set(EventType) - types}"

    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()
    status, body = worker.get_json(f"/api/v1/summary?{ALL_TIME}")
    assert status == 200

    outcomes, states, rejected = judge_file(
        events, datetime.fromisoformat(body["as_of"]).astimezone(UTC)
    )
    assert {o: body[o] for o in ("early", "on_time", "late", "withdrawn")} == {
        o: outcomes[o] for o in ("early", "on_time", "late", "withdrawn")
    }
    assert {s: body[s] for s in ("on_track", "due_soon", "overdue", "paused")} == {
        s: states[s] for s in ("on_track", "due_soon", "overdue", "paused")
    }
    assert body["late"] > 0 and body["paused"] + body["overdue"] > 0
    samples = worker.metrics()
    for reason, n in rejected.items():
        assert samples[("dossier_events_rejected_total", frozenset({("reason", reason)}))] == n


@pytest.mark.partitions(1)
def test_a_resolved_dated_before_its_receipt_is_dead_lettered_and_the_dossier_stays_open(
    pipeline: Pipeline,
) -> None:
    # Issue #14: a `resolved` dated long before the receipt ended the dossier (CONTRACT 1.1 §4).
    # 300 days rather than the 500, so that it stays within the retention horizon
    # (400 days) and reaches the lifecycle instead of being refused as `beyond_horizon`.
    received_at = datetime.now(LOCAL_TZ).replace(microsecond=0) - timedelta(hours=1)
    base = {"v": 1, "dossier_id": "EARLY-1"}
    worker = pipeline.start_worker()
    pipeline.send(
        {**base, "event_id": "EARLY-1-r", "type": "received", "at": received_at.isoformat(),
         "agency": "STP", "procedure": "1.001", "channel": "counter", "level": "none",
         "processing_days": 5},
        {**base, "event_id": "EARLY-1-x", "type": "resolved",
         "at": (received_at - timedelta(days=300)).isoformat()},
    )  # fmt: skip
    pipeline.wait_caught_up()
    status, dossier = worker.get_json("/api/v1/dossiers/EARLY-1")
    assert status == 200 and dossier["status"] == "open", dossier
    assert [h["iocmon-reason"] for _, _, h in pipeline.dead_letters()] == [b"before_receipt"]
    samples = worker.metrics()
    rejected = ("dossier_events_rejected_total", frozenset({("reason", "before_receipt")}))
    assert samples[rejected] == 1
