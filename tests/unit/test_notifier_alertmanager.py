"""Per-dossier alerts as Alertmanager v2 alerts: labels, annotations, start and end."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from iocmon.notifier.alertmanager import (
    ALERTNAMES,
    SEVERITIES,
    AlertmanagerReceiver,
    annotations,
    changes_payload,
    labels,
    payload,
)
from iocmon.notifier.book import Fire, Resolve
from iocmon.notifier.lanes import Delivery, Refresh
from iocmon.notifier.model import KINDS, AlertRecord

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 10:00 local


def alert(kind: str = "overdue", **changes: object) -> AlertRecord:
    due = datetime(2026, 11, 30, 17, tzinfo=ICT)
    base = AlertRecord(
        alert_id=f"HS-001:{kind}:{due.isoformat()}",
        kind=kind,  # type: ignore[arg-type]
        dossier_id="HS-001",
        agency="000.00.31.H01",
        agency_name="Sở Tư pháp",
        procedure="1.001",
        due_at=due,
        overdue_days=2 if kind == "overdue" else 0,
        state_at=datetime(2026, 12, 1, 0, 0, tzinfo=ICT),
        emitted_at=datetime(2026, 12, 1, 0, 0, 5, tzinfo=ICT),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_labels_name_the_alert_its_severity_agency_dossier_and_procedure() -> None:
    assert labels(alert("overdue")) == {
        "alertname": "DossierOverdue",
        "severity": "critical",
        "agency": "000.00.31.H01",
        "dossier_id": "HS-001",
        "procedure": "1.001",
    }
    soon = labels(alert("due_soon"))
    assert (soon["alertname"], soon["severity"]) == ("DossierDueSoon", "warning")
    risk = labels(alert("at_risk"))
    assert (risk["alertname"], risk["severity"]) == ("DossierAtRisk", "info")
    assert {k: v for k, v in risk.items() if k not in ("alertname", "severity")} == {
        "agency": "000.00.31.H01",
        "dossier_id": "HS-001",
        "procedure": "1.001",
    }


def test_every_kind_that_fires_has_an_alertname_and_a_severity() -> None:
    """A kind the model accepts but Alertmanager has no name for would stop the lane (a
    KeyError on every retry)."""
    firing = KINDS - {"cleared"}
    assert set(ALERTNAMES) == set(SEVERITIES) == firing
    assert len(set(ALERTNAMES.values())) == len(firing)


def test_summaries_in_vietnamese_and_english_with_local_due_time() -> None:
    notes = annotations(alert("overdue"))
    assert notes["summary_vi"] == (
        "Hồ sơ HS-001 (1.001) tại Sở Tư pháp (000.00.31.H01) đã quá hạn 2 ngày"
        " (hạn trả 17:00 ngày 30/11/2026)"
    )
    assert notes["summary_en"] == (
        "Dossier HS-001 (1.001) at Sở Tư pháp (000.00.31.H01) is 2 days overdue"
        " (was due 2026-11-30 17:00 UTC+7)"
    )
    assert notes["summary"] == f"{notes['summary_vi']} / {notes['summary_en']}"
    assert notes["due_at"] == "2026-11-30T17:00:00+07:00"
    assert notes["overdue_days"] == "2"
    assert notes["alert_id"] == "HS-001:overdue:2026-11-30T17:00:00+07:00"
    assert notes["agency_name"] == "Sở Tư pháp"
    assert "phiếu xin lỗi" in notes["description"]


def test_summary_wording_for_due_soon_one_day_and_no_agency_name() -> None:
    soon = annotations(
        alert("due_soon", agency_name=None, due_at=datetime(2026, 12, 3, 10, tzinfo=UTC))
    )
    assert soon["summary_vi"] == (
        "Hồ sơ HS-001 (1.001) tại 000.00.31.H01 sắp đến hạn trả kết quả: 17:00 ngày 03/12/2026"
    )
    assert soon["summary_en"].endswith("is due soon: 2026-12-03 17:00 UTC+7")
    assert "agency_name" not in soon
    assert "is 1 day overdue" in annotations(alert(overdue_days=1))["summary_en"]
    just = annotations(alert(overdue_days=0))
    assert (
        "đã quá hạn (hạn trả" in just["summary_vi"] and "is overdue (was due" in just["summary_en"]
    )


def test_the_at_risk_summary_says_likely_late_and_the_description_is_not_an_apology() -> None:
    notes = annotations(alert("at_risk", state_at=datetime(2026, 11, 25, 8, tzinfo=ICT)))
    assert notes["summary_vi"] == (
        "Hồ sơ HS-001 (1.001) tại Sở Tư pháp (000.00.31.H01) có nguy cơ trễ hạn"
        " (hạn trả 17:00 ngày 30/11/2026)"
    )
    assert notes["summary_en"] == (
        "Dossier HS-001 (1.001) at Sở Tư pháp (000.00.31.H01) is likely to end late"
        " (due 2026-11-30 17:00 UTC+7)"
    )
    assert "still on track" in notes["description"]
    assert "phiếu xin lỗi" not in notes["description"]  # nothing to apologise for yet
    assert notes["overdue_days"] == "0"
    assert notes["alert_id"] == "HS-001:at_risk:2026-11-30T17:00:00+07:00"
    body = payload(alert("at_risk", state_at=datetime(2026, 11, 25, 8, tzinfo=ICT)), now=NOW,
                   resolved=False, ttl_s=240)  # fmt: skip
    assert body["startsAt"] == "2026-11-25T01:00:00.000Z"  # when the forecast crossed


def test_a_firing_alert_ends_one_ttl_ahead_and_starts_when_the_state_was_reached() -> None:
    body = payload(alert(), now=NOW, resolved=False, ttl_s=240)
    assert body["startsAt"] == "2026-11-30T17:00:00.000Z"  # 00:00 local, 1 Dec
    assert body["endsAt"] == "2026-12-02T03:04:00.000Z"
    assert set(body) == {"labels", "annotations", "startsAt", "endsAt"}


def test_a_resolved_alert_ends_now() -> None:
    body = payload(alert(), now=NOW, resolved=True, ttl_s=240)
    assert body["endsAt"] == "2026-12-02T03:00:00.000Z"


def test_a_state_reached_in_the_future_starts_now() -> None:
    """A worker whose clock is shifted for a drill may date states ahead: Alertmanager
    refuses an alert that ends before it starts, so start is capped at now."""
    future = alert(state_at=NOW + timedelta(days=3))
    for resolved in (False, True):
        body = payload(future, now=NOW, resolved=resolved, ttl_s=240)
        assert body["startsAt"] == "2026-12-02T03:00:00.000Z"
        assert body["startsAt"] <= body["endsAt"]


def test_due_soon_replacing_at_risk_resolves_the_forecast_and_fires_the_warning() -> None:
    risk, soon = alert("at_risk"), alert("due_soon")
    body = changes_payload([Fire(risk), Resolve(risk), Fire(soon)], now=NOW, ttl_s=60)
    assert [(b["labels"]["alertname"], b["endsAt"]) for b in body] == [
        ("DossierAtRisk", "2026-12-02T03:00:00.000Z"),
        ("DossierDueSoon", "2026-12-02T03:01:00.000Z"),
    ]


def test_several_changes_to_one_alertmanager_alert_send_the_last_only() -> None:
    soon, late = alert("due_soon"), alert("overdue")
    moved = alert("overdue", due_at=datetime(2026, 12, 9, 17, tzinfo=ICT))
    body = changes_payload([Fire(soon), Resolve(soon), Fire(late), Fire(moved)], now=NOW, ttl_s=60)
    assert [(b["labels"]["alertname"], b["endsAt"]) for b in body] == [
        ("DossierDueSoon", "2026-12-02T03:00:00.000Z"),
        ("DossierOverdue", "2026-12-02T03:01:00.000Z"),
    ]
    assert body[1]["annotations"]["due_at"] == "2026-12-09T17:00:00+07:00"


def test_the_receiver_sends_changes_and_resends_in_batches() -> None:
    sent: list[list[dict[str, object]]] = []
    receiver = AlertmanagerReceiver(
        "http://am.example:9093/", timeout_s=1, ttl_s=60, clock=lambda: NOW
    )
    receiver.post = sent.append  # type: ignore[method-assign]
    assert receiver.url == "http://am.example:9093/api/v2/alerts"
    assert receiver.target == "am.example:9093"

    marker = Delivery(0, 1, 1, [], 0.0)
    change = Delivery(0, 2, 1, [Fire(alert())], 0.0)
    assert not receiver.needs_sending(marker) and receiver.needs_sending(change)
    assert receiver.send([marker, change]) == 1
    assert [b["labels"]["dossier_id"] for b in sent[0]] == ["HS-001"]

    many = tuple(alert(dossier_id=f"HS-{i:04}") for i in range(1201))
    sent.clear()
    assert receiver.send([Refresh(1, many, 0.0)]) == 1201
    assert [len(batch) for batch in sent] == [500, 500, 201]
    assert all(b["endsAt"] == "2026-12-02T03:01:00.000Z" for batch in sent for b in batch)
    assert not receiver.needs_sending(Refresh(2, (), 0.0))
