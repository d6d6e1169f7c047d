"""Per-dossier alert rules: thresholds, exactly one alert per threshold, re-arm, clear."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from iocmon.domain.alerts import AlertKind, AlertPolicy
from iocmon.domain.batch import (
    BatchPlan,
    Fold,
    Record,
    alert_candidates,
    decode_batch,
    open_entry,
    plan_alert_check,
    plan_batch,
)
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.lifecycle import DossierState

CAL = load_calendar()
POLICY = AlertPolicy()
NOW = datetime(2031, 1, 1, tzinfo=LOCAL_TZ)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def event(seq: int, kind: str, at: str, **fields: object) -> Record:
    doc = {"v": 1, "event_id": f"D-{seq}", "dossier_id": "D", "type": kind,
           "at": local(at).isoformat(), **fields}  # fmt: skip
    return Record(seq, b"D", json.dumps(doc).encode())


def received(at: str = "2024-03-04T08:00:00", due: str = "2024-03-07T17:00:00") -> Record:
    return event(0, "received", at, agency="STP", procedure="1.001", channel="online",
                 level="full", due_at=local(due).isoformat())  # fmt: skip


def apply(state: DossierState | None, *records: Record) -> tuple[DossierState, list]:
    plan = plan_batch(decode_batch(records, NOW), {"D": state}, CAL, POLICY)
    return plan.states["D"], plan.alerts


def check(state: DossierState, at: str) -> tuple[DossierState, list]:
    plan = plan_alert_check(0, {"D": state}, local(at), CAL, POLICY)
    return plan.states.get("D", state), plan.alerts


def test_due_soon_from_the_last_working_day_before_the_due_date_then_overdue() -> None:
    state, _ = apply(None, received())  # due Thu 7 Mar
    assert check(state, "2024-03-05T23:59:00")[1] == []
    state, alerts = check(state, "2024-03-06T00:00:01")
    assert [a.kind for a in alerts] == [AlertKind.DUE_SOON]
    assert check(state, "2024-03-07T23:59:30")[1] == []  # once per threshold
    state, alerts = check(state, "2024-03-08T00:00:00")
    assert [a.kind for a in alerts] == [AlertKind.OVERDUE]
    assert alerts[0].overdue_days == 1
    assert check(state, "2024-03-20T00:00:00")[1] == []


def test_a_dossier_found_already_overdue_gets_only_the_overdue_alert() -> None:
    state, _ = apply(None, received())
    state, alerts = check(state, "2024-03-12T10:00:00")
    assert [(a.kind, a.overdue_days) for a in alerts] == [(AlertKind.OVERDUE, 5)]
    assert open_entry(state, CAL, POLICY).alert_at is None  # type: ignore[union-attr]


def test_the_alert_index_points_at_the_next_threshold() -> None:
    state, _ = apply(None, received())
    assert open_entry(state, CAL, POLICY).alert_at == local("2024-03-06T00:00:00")  # type: ignore[union-attr]
    state, _ = check(state, "2024-03-06T08:00:00")
    assert open_entry(state, CAL, POLICY).alert_at == local("2024-03-08T00:00:00")  # type: ignore[union-attr]


def test_ending_an_alerted_dossier_clears_its_alerts() -> None:
    state, _ = apply(None, received())
    state, fired = check(state, "2024-03-08T09:00:00")
    state, alerts = apply(state, event(1, "resolved", "2024-03-08T10:00:00"))
    assert [a.kind for a in alerts] == [AlertKind.CLEARED]
    assert fired[0].alert_id in {a.clears for a in alerts}
    assert state.alerted == ()


def test_ending_a_dossier_that_never_alerted_clears_nothing() -> None:
    state, _ = apply(None, received())
    assert apply(state, event(1, "resolved", "2024-03-05T10:00:00"))[1] == []


def test_rescheduling_clears_and_rearms_to_the_new_appointment() -> None:
    state, _ = apply(None, received())
    state, _ = check(state, "2024-03-08T09:00:00")  # overdue for 7 Mar
    new_due = "2024-03-14T17:00:00"
    state, alerts = apply(state, event(1, "rescheduled", "2024-03-08T10:00:00",
                                       due_at=local(new_due).isoformat()))  # fmt: skip
    assert [a.kind for a in alerts] == [AlertKind.CLEARED]
    assert check(state, "2024-03-12T09:00:00")[1] == []
    state, alerts = check(state, "2024-03-13T09:00:00")
    assert [(a.kind, a.due_at) for a in alerts] == [(AlertKind.DUE_SOON, local(new_due))]
    _, alerts = check(state, "2024-03-15T00:00:01")
    assert [a.kind for a in alerts] == [AlertKind.OVERDUE]


def test_paused_dossiers_do_not_alert_and_pauses_push_the_thresholds_back() -> None:
    state, _ = apply(None, received(), event(1, "supplement_requested", "2024-03-05T08:00:00"))
    assert open_entry(state, CAL, POLICY).alert_at is None  # type: ignore[union-attr]
    assert check(state, "2024-03-20T00:00:00")[1] == []
    state, _ = apply(state, event(2, "resumed", "2024-03-07T08:00:00"))  # 2 days paused
    assert open_entry(state, CAL, POLICY).alert_at == local("2024-03-08T00:00:00")  # type: ignore[union-attr]


def test_share_policy_warns_at_a_share_of_the_allowed_time() -> None:
    policy = AlertPolicy(due_soon_share=0.75)
    plan = plan_batch(decode_batch([received("2024-03-04T08:00:00", "2024-03-08T08:00:00")], NOW),
                      {"D": None}, CAL, policy)  # fmt: skip
    entry = open_entry(plan.states["D"], CAL, policy)
    assert entry is not None and entry.alert_at == local("2024-03-07T08:00:00")


def test_alert_ids_are_stable_and_carry_no_applicant_data() -> None:
    state, _ = apply(None, received())
    _, first = check(state, "2024-03-08T09:00:00")
    _, again = check(state, "2024-03-08T09:00:05")
    assert first[0].alert_id == again[0].alert_id
    body = first[0].to_json(NOW, "Sở Tư pháp")
    assert set(body) == {
        *("v", "alert_id", "kind", "dossier_id", "agency", "agency_name"),
        *("procedure", "due_at", "overdue_days", "state_at", "emitted_at"),
    }
    assert body["due_at"] == local("2024-03-07T17:00:00").isoformat()
    assert datetime.fromisoformat(body["state_at"]) - local("2024-03-08T00:00:00") == timedelta(0)


def rebuilt(*records: Record) -> tuple[Fold, BatchPlan]:
    """A rebuild's fold of `records` (it emits no alerts) and the plan it takes."""
    fold = Fold(CAL, POLICY, keep_dead_letters=False)
    fold.know({"D": None})
    for record, item in decode_batch(records, NOW):
        fold.add(record, item)
    return fold, fold.take()


def test_a_rebuilt_state_carries_the_alerts_sent_so_they_are_not_repeated_but_cleared() -> None:
    live, _ = apply(None, received())
    live, fired = check(live, "2024-03-08T09:00:00")  # overdue alert sent by the live worker
    fold, plan = rebuilt(received())
    assert alert_candidates(plan) == ["D"]  # open: it may have been alerted

    fold.carry_alerted(plan, {"D": live.alerted})
    assert plan.states["D"] == live == fold.states["D"]
    assert plan.index_after["D"] == open_entry(live, CAL, POLICY)
    assert check(plan.states["D"], "2024-03-09T09:00:00")[1] == []  # not sent again
    _, alerts = apply(plan.states["D"], event(1, "resolved", "2024-03-09T10:00:00"))
    assert [a.clears for a in alerts] == [fired[0].alert_id]  # and cleared at the end


def test_only_alerts_of_the_current_appointment_are_carried() -> None:
    live, _ = apply(None, received())
    live, _ = check(live, "2024-03-08T09:00:00")  # overdue for 7 Mar
    moved = event(1, "rescheduled", "2024-03-08T10:00:00",
                  due_at=local("2024-03-14T17:00:00").isoformat())  # fmt: skip
    fold, plan = rebuilt(received(), moved)
    fold.carry_alerted(plan, {"D": live.alerted})
    assert plan.states["D"].alerted == ()
    _, alerts = check(plan.states["D"], "2024-03-13T09:00:00")
    assert [a.kind for a in alerts] == [AlertKind.DUE_SOON]  # armed for the new appointment


def test_ended_dossiers_carry_nothing() -> None:
    live, _ = apply(None, received())
    live, _ = check(live, "2024-03-08T09:00:00")
    fold, plan = rebuilt(received(), event(1, "resolved", "2024-03-08T10:00:00"))
    assert alert_candidates(plan) == []
    fold.carry_alerted(plan, {"D": live.alerted})
    assert plan.states["D"].alerted == ()
