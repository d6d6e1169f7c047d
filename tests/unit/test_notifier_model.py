"""Decoding the alert records of the alerts topic (contract version 1)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from iocmon.domain.alerts import Alert, AlertKind
from iocmon.notifier.errors import InvalidAlert
from iocmon.notifier.model import KINDS, decode

ICT = timezone(timedelta(hours=7))


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "v": 1,
        "alert_id": "D1:overdue:2026-12-01T17:00:00+07:00",
        "kind": "overdue",
        "dossier_id": "D1",
        "agency": "000.00.31.H01",
        "agency_name": "Sở Tư pháp",
        "procedure": "1.001",
        "due_at": "2026-12-01T17:00:00+07:00",
        "overdue_days": 2,
        "state_at": "2026-12-02T00:00:00+07:00",
        "emitted_at": "2026-12-02T00:00:05+07:00",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def encode(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_decodes_every_field() -> None:
    alert = decode(encode(doc()))
    assert alert.alert_id == "D1:overdue:2026-12-01T17:00:00+07:00"
    assert (alert.kind, alert.dossier_id, alert.agency, alert.procedure) == (
        "overdue", "D1", "000.00.31.H01", "1.001"
    )  # fmt: skip
    assert alert.agency_name == "Sở Tư pháp"
    assert alert.due_at == datetime(2026, 12, 1, 17, tzinfo=ICT)
    assert alert.overdue_days == 2
    assert alert.clears is None and alert.fires


def test_drops_fields_the_contract_does_not_name() -> None:
    """Whatever else a record carries (say, applicant data) never reaches a receiver."""
    alert = decode(encode(doc(applicant_name="Nguyễn Văn A", citizen_id="001099012345")))
    out = json.dumps(alert.to_json(), ensure_ascii=False)
    assert "Nguyễn" not in out and "001099012345" not in out
    assert alert.to_json() == doc()


def test_cleared_records_name_the_alert_they_resolve() -> None:
    alert = decode(encode(doc(kind="cleared", alert_id="X:cleared", clears="X", overdue_days=0)))
    assert not alert.fires and alert.clears == "X"
    assert alert.to_json()["clears"] == "X"


def test_decodes_an_at_risk_forecast() -> None:
    alert = decode(
        encode(doc(kind="at_risk", alert_id="D1:at_risk:2026-12-01T17:00:00+07:00", overdue_days=0))
    )
    assert (alert.kind, alert.overdue_days, alert.clears, alert.fires) == ("at_risk", 0, None, True)
    assert alert.to_json() == doc(
        kind="at_risk", alert_id="D1:at_risk:2026-12-01T17:00:00+07:00", overdue_days=0
    )


def test_every_kind_the_worker_emits_is_known() -> None:
    assert {k.value for k in AlertKind} <= KINDS


def test_accepts_what_the_worker_emits() -> None:
    """The worker's own serializer (iocmon.domain.alerts) produces records this decodes."""
    due = datetime(2026, 12, 1, 17, tzinfo=ICT)
    for emitted in (
        Alert(AlertKind.DUE_SOON, "D9", "STP", "1.001", due, 0, due - timedelta(days=1)),
        Alert(AlertKind.OVERDUE, "D9", "STP", "1.001", due, 1, due + timedelta(hours=7)),
        Alert(AlertKind.CLEARED, "D9", "STP", "1.001", due, 0, due, clears="D9:overdue:x"),
    ):
        value = emitted.to_json(due + timedelta(days=1), None)
        alert = decode(json.dumps(value).encode())
        assert alert.alert_id == emitted.alert_id
        assert alert.kind == emitted.kind.value
        assert alert.agency_name is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (encode([1, 2]), "not a JSON object"),
        (encode(doc(v=2)), "contract version 2"),
        (encode(doc(v=True)), "contract version True"),
        (encode(doc(kind="late")), "unknown kind 'late'"),
        (encode(doc(alert_id=...)), "alert_id is missing"),
        (encode(doc(dossier_id="")), "dossier_id is missing"),
        (encode(doc(agency=7)), "agency is missing or not a non-empty string"),
        (encode(doc(procedure="x" * 300)), "longer than 256"),
        (encode(doc(due_at="tomorrow")), "not an RFC 3339 timestamp"),
        (encode(doc(state_at="2026-12-02T00:00:00")), "has no UTC offset"),
        (encode(doc(overdue_days=-1)), "overdue_days -1"),
        (encode(doc(overdue_days="2")), "overdue_days '2'"),
        (encode(doc(agency_name=5)), "agency_name"),
        (encode(doc(kind="cleared")), "clears is missing"),
    ],
)
def test_rejects_what_is_not_an_alert_record(value: bytes, reason: str) -> None:
    with pytest.raises(InvalidAlert, match=reason.replace("(", r"\(")):
        decode(value)
