from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from iocmon.domain.events import (
    MAX_RECORD_BYTES,
    Event,
    EventType,
    RecordRejected,
    RejectReason,
    parse_record,
)

NOW = datetime(2024, 3, 1, 3, 0, tzinfo=UTC)


def received(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "v": 1,
        "event_id": "e1",
        "dossier_id": "000.00.31.H01-240301-0001",
        "type": "received",
        "at": "2024-03-01T08:00:00+07:00",
        "agency": "STP",
        "procedure": "1.001234",
        "channel": "online",
        "level": "full",
        "processing_days": 5,
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def parse(doc: object, key: bytes | None = b"000.00.31.H01-240301-0001") -> Event:
    return parse_record(key, json.dumps(doc).encode(), NOW)


def reason_of(doc: object, key: bytes | None = b"000.00.31.H01-240301-0001") -> RejectReason:
    with pytest.raises(RecordRejected) as caught:
        parse(doc, key)
    return caught.value.reason


def test_a_valid_received_event_keeps_contract_fields_and_drops_the_rest() -> None:
    event = parse(received(applicant_name="Nguyễn Văn A", citizen_id="079203001234"))
    assert event.type is EventType.RECEIVED
    assert event.at == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert event.processing_days == 5 and event.due_at is None
    assert "Nguyễn" not in repr(event) and "079203001234" not in repr(event)


def test_to_json_round_trips() -> None:
    event = parse(received(due_at="2024-03-08T17:00:00+07:00", processing_days=None))
    key = event.dossier_id.encode()
    assert parse(event.to_json(), key) == event


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([1, 2], RejectReason.NOT_AN_OBJECT),
        (received(v=2), RejectReason.BAD_VERSION),
        (received(v="1"), RejectReason.BAD_VERSION),
        (received(v=None), RejectReason.MISSING_FIELD),
        (received(event_id=None), RejectReason.MISSING_FIELD),
        (received(event_id=""), RejectReason.INVALID_VALUE),
        (received(event_id="x" * 65), RejectReason.INVALID_VALUE),
        (received(event_id=7), RejectReason.WRONG_TYPE),
        (received(type="approved"), RejectReason.UNKNOWN_TYPE),
        (received(at="2024-03-01T08:00:00"), RejectReason.TIMESTAMP_WITHOUT_OFFSET),
        (received(at="01/03/2024 08:00"), RejectReason.BAD_TIMESTAMP),
        (received(at="2024-02-30T08:00:00+07:00"), RejectReason.BAD_TIMESTAMP),
        (received(at=1709254800), RejectReason.WRONG_TYPE),
        (received(at="1999-12-31T23:59:59+00:00"), RejectReason.AT_TOO_OLD),
        (received(at="2024-03-02T11:00:00+07:00"), RejectReason.AT_IN_FUTURE),
        (received(channel="fax"), RejectReason.INVALID_VALUE),
        (received(level=4), RejectReason.WRONG_TYPE),
        (received(agency=None), RejectReason.MISSING_FIELD),
        (received(processing_days=None), RejectReason.MISSING_FIELD),
        (received(processing_days=0), RejectReason.INVALID_VALUE),
        (received(processing_days=366), RejectReason.INVALID_VALUE),
        (received(processing_days=5.0), RejectReason.WRONG_TYPE),
        (received(processing_days=True), RejectReason.WRONG_TYPE),
        (received(type="rescheduled"), RejectReason.MISSING_FIELD),
        (received(type="transferred"), RejectReason.MISSING_FIELD),
    ],
)
def test_bad_records_are_rejected_with_a_reason(doc: object, reason: RejectReason) -> None:
    assert reason_of(doc) is reason


def test_key_must_equal_dossier_id() -> None:
    assert reason_of(received(), key=b"other") is RejectReason.KEY_MISMATCH
    assert reason_of(received(), key=None) is RejectReason.KEY_MISMATCH
    assert reason_of(received(), key=b"\xff\xfe") is RejectReason.KEY_MISMATCH


def test_not_json_and_oversize_records() -> None:
    with pytest.raises(RecordRejected) as caught:
        parse_record(b"k", b"\x00not json", NOW)
    assert caught.value.reason is RejectReason.NOT_JSON
    with pytest.raises(RecordRejected) as caught:
        parse_record(b"k", b"{" * 100_000, NOW)
    assert caught.value.reason is RejectReason.TOO_LARGE
    deep = ("[" * 50_000 + "]" * 50_000).encode()[: MAX_RECORD_BYTES - 1]
    with pytest.raises(RecordRejected) as caught:
        parse_record(b"k", deep, NOW)
    assert caught.value.reason is RejectReason.NOT_JSON


def test_reason_detail_never_echoes_values() -> None:
    secret = "Trần Thị B 0912345678"
    for doc in (received(agency=secret + "x" * 64), received(at=secret), received(type=secret)):
        with pytest.raises(RecordRejected) as caught:
            parse(doc)
        assert secret not in str(caught.value)


def test_at_one_day_ahead_is_still_accepted() -> None:
    at = (NOW + timedelta(days=1)).isoformat()
    assert parse(received(at=at)).at == NOW + timedelta(days=1)


def test_fractional_seconds_and_z_suffix() -> None:
    event = parse(received(at="2024-03-01T01:00:00.123456789Z"))
    assert event.at == datetime(2024, 3, 1, 1, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "due_at",
    [
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:00",
        "1999-12-31T23:59:59+00:00",
        "2100-01-01T00:00:00+00:00",
    ],
)
def test_due_at_far_from_now_is_rejected_not_a_crash(due_at: str) -> None:
    """Near year 1 or 9999 the calendar arithmetic overflowed and stopped the partition."""
    assert reason_of(received(due_at=due_at, processing_days=None)) is RejectReason.INVALID_VALUE
    rescheduled = received(type="rescheduled", due_at=due_at, processing_days=None)
    assert reason_of(rescheduled) is RejectReason.INVALID_VALUE
    assert parse(received(due_at="2099-12-31T23:59:59+00:00", processing_days=None)).due_at
