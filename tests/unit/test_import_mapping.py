"""The mapping rules one by one, and a property: whatever the export says, the adapter either
rejects the dossier naming a field or yields events the worker's lifecycle applies cleanly,
ending in the state the status implies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.domain.calendar import LOCAL_TZ, WorkingCalendar
from iocmon.domain.events import EventType
from iocmon.domain.lifecycle import DossierState, apply_event
from iocmon.producers.importer.errors import RowRejected
from iocmon.producers.importer.mapping import dossier_events, event_id

NOW = datetime(2024, 4, 1, 3, 0, tzinfo=UTC)
CALENDAR = WorkingCalendar()


def base(status: int, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "MaHoSo": "H01-0001",
        "MaTTHC": "1.001757",
        "MaDonVi": "STP",
        "KenhThucHien": 1,
        "TrangThaiHoSo": status,
        "NgayTiepNhan": "20240304080000",
        "NgayHenTra": "20240311170000",
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def types(doc: dict[str, Any]) -> list[str]:
    return [e.type.value for e in dossier_events(doc, NOW)]


def rejected(doc: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(RowRejected) as info:
        dossier_events(doc, NOW)
    return info.value.field, info.value.reason


def test_dates_are_local_time_with_offset() -> None:
    (received,) = dossier_events(base(2), NOW)
    assert received.to_json()["at"] == "2024-03-04T08:00:00+07:00"
    assert received.at == datetime(2024, 3, 4, 1, 0, tzinfo=UTC)


def test_date_only_means_midnight() -> None:
    (received,) = dossier_events(base(2, NgayHenTra="20240311"), NOW)
    assert received.due_at == datetime(2024, 3, 11, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    ("raw", "level"),
    [(4, "full"), ("4", "full"), (3, "partial"), (" 3 ", "partial"), (2, "none"),
     (None, "none"), ("", "none"), ("toàn trình", "none")],
)  # fmt: skip
def test_level_from_muc_do(raw: Any, level: str) -> None:
    (received,) = dossier_events(base(2, MucDo=raw), NOW)
    assert received.level == level


def test_agency_prefers_the_code_field() -> None:
    assert dossier_events(base(2, DonViXuLy="SXD"), NOW)[0].agency == "STP"
    assert dossier_events(base(2, MaDonVi=None, DonViXuLy="SXD"), NOW)[0].agency == "SXD"
    assert rejected(base(2, MaDonVi=None)) == ("MaDonVi or DonViXuLy", "is required")


def test_status_5_without_a_date_of_its_own_pauses_from_the_latest_date() -> None:
    events = dossier_events(base(5), NOW)
    assert [e.type for e in events] == [EventType.RECEIVED, EventType.SUPPLEMENT_REQUESTED]
    assert events[1].at == events[0].at
    closed = [{"NgayYeuCauBoSung": "20240305080000", "NgayTiepNhanBoSung": "20240306080000"}]
    events = dossier_events(base(5, DanhSachHoSoBoSung=closed), NOW)
    assert [e.type.value for e in events] == [
        "received", "supplement_requested", "resumed", "supplement_requested"
    ]  # fmt: skip
    assert events[-1].at == events[-2].at
    events = dossier_events(base(5, NgayYeuCauBoSung="20240307090000"), NOW)
    assert events[-1].at == datetime(2024, 3, 7, 9, tzinfo=LOCAL_TZ)


def test_status_6_pauses_at_its_fee_date_or_the_latest_date() -> None:
    assert dossier_events(base(6), NOW)[-1].at == datetime(2024, 3, 4, 8, tzinfo=LOCAL_TZ)
    paid = dossier_events(base(6, NgayYeuCauThanhToan="20240305100000"), NOW)
    assert [e.type.value for e in paid] == ["received", "fee_requested"]
    assert paid[-1].at == datetime(2024, 3, 5, 10, tzinfo=LOCAL_TZ)


def test_terminal_dates_fall_back_as_documented() -> None:
    assert types(base(7, NgayTra="20240305080000")) == ["received", "withdrawn"]
    assert types(base(8, NgayTraKetQua="20240305080000")) == ["received", "stopped"]
    only_end = dossier_events(base(10, NgayKetThucXuLy="20240305080000"), NOW)
    assert [e.type.value for e in only_end] == ["received", "resolved", "result_returned"]
    assert only_end[1].at == only_end[2].at
    assert rejected(base(10)) == (
        "NgayTra or NgayTraKetQua or NgayKetThucXuLy", "is required for this status"
    )  # fmt: skip


def test_status_3_without_an_end_date_is_rejected_at_its_submission() -> None:
    events = dossier_events(base(3, NgayHenTra=None), NOW)
    assert [e.type.value for e in events] == ["submitted", "rejected_at_intake"]
    assert events[0].at == events[1].at
    assert rejected(base(1, NgayTiepNhan=None)) == (
        "NgayNopHoSo or NgayTiepNhan", "is required for this status"
    )  # fmt: skip


def test_reschedule_keeps_the_original_due_date_for_judging() -> None:
    entries = [
        {"NgayXinLoi": "20240309090000", "NgayHenTraTruoc": "20240312170000",
         "NgayHenTraMoi": "20240315170000"},
        {"NgayXinLoi": "20240308090000", "NgayHenTraTruoc": "20240311170000",
         "NgayHenTraMoi": "20240312170000"},
    ]  # fmt: skip
    events = dossier_events(base(4, NgayHenTra="20240315170000", QuaTrinhXuLy=entries), NOW)
    assert [e.type.value for e in events] == [
        "received", "processing", "rescheduled", "rescheduled"
    ]  # fmt: skip
    assert events[0].due_at == datetime(2024, 3, 11, 17, tzinfo=LOCAL_TZ)
    assert [e.due_at.day for e in events[2:]] == [12, 15]  # type: ignore[union-attr]
    assert [e.event_id for e in events[2:]] == [
        "H01-0001:rescheduled:1", "H01-0001:rescheduled:2"
    ]  # fmt: skip


def test_an_unchanged_appointment_is_not_a_reschedule() -> None:
    same = [{"NgayXinLoi": "20240308090000", "NgayHenTraTruoc": "20240311170000",
             "NgayHenTraMoi": "20240311170000"}]  # fmt: skip
    assert types(base(2, DanhSachHoSoBoSung=same)) == ["received"]


def test_a_reschedule_without_a_date_is_rejected_naming_the_entry() -> None:
    entries = [{}, {"NgayHenTraMoi": "20240315170000"}]
    assert rejected(base(2, DanhSachHoSoBoSung=entries)) == (
        "DanhSachHoSoBoSung[2].NgayHenTraMoi",
        "a new appointment needs the date it was given (NgayXinLoi, NgayGiaHan, "
        "NgayTiepNhanBoSung or NgayYeuCauBoSung)",
    )


def test_entry_dates_are_checked_like_any_other() -> None:
    entries = [{"NgayYeuCauBoSung": "2024-03-05"}]
    field, _ = rejected(base(2, DanhSachHoSoBoSung=entries))
    assert field == "DanhSachHoSoBoSung[1].NgayYeuCauBoSung"
    assert rejected(base(2, DanhSachHoSoBoSung="[not json")) == (
        "DanhSachHoSoBoSung", "must be a JSON array of entries"
    )  # fmt: skip
    assert rejected(base(2, DanhSachHoSoBoSung=["x"]))[0] == "DanhSachHoSoBoSung[1]"


def test_a_resumption_without_a_request_adds_nothing() -> None:
    entries = [{"NgayTiepNhanBoSung": "20240305080000"}]
    assert types(base(2, DanhSachHoSoBoSung=entries)) == ["received"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"NgayTiepNhan": "20240231080000"}, "NgayTiepNhan",
         "is not a valid calendar date and time"),
        ({"NgayTiepNhan": "19991231080000"}, "NgayTiepNhan", "is before 2000-01-01"),
        ({"NgayTiepNhan": "20240403080000", "NgayHenTra": "20240410170000"}, "NgayTiepNhan",
         "is more than one day in the future"),
        ({"NgayHenTra": "20240303170000"}, "NgayHenTra", "is on a day before NgayTiepNhan"),
        ({"NgayNopHoSo": "20240305080000"}, "NgayTiepNhan", "is earlier than NgayNopHoSo"),
        ({"TrangThaiHoSo": None}, "TrangThaiHoSo", "is required"),
        ({"TrangThaiHoSo": "chín"}, "TrangThaiHoSo", "must be a whole number"),
        ({"KenhThucHien": None}, "KenhThucHien", "is required (1 counter, 2 online, 3 postal)"),
        ({"MaTTHC": "x" * 65}, "MaTTHC",
         "must be 1-64 printable characters (a code, not free text)"),
        ({"MaHoSo": "a\nb"}, "MaHoSo", "must be 1-64 printable characters (a code, not free text)"),
    ],
)  # fmt: skip
def test_rejections_name_the_field(fields: dict[str, Any], field: str, reason: str) -> None:
    assert rejected(base(2, **fields)) == (field, reason)


def test_an_exact_due_date_on_the_day_of_receipt_is_fine() -> None:
    (received,) = dossier_events(base(2, NgayHenTra="20240304"), NOW)
    assert received.due_at is not None and received.due_at < received.at


def test_long_dossier_ids_get_hashed_ids_within_64_characters() -> None:
    long_id = "000.00.31.H01-" + "9" * 40
    events = dossier_events(base(10, MaHoSo=long_id, NgayTra="20240305080000"), NOW)
    assert all(len(e.event_id) <= 64 and e.dossier_id == long_id for e in events)
    assert events[0].event_id.startswith("h") and events[0].event_id.endswith(":received:1")
    assert event_id(long_id, EventType.RESOLVED, 1) == event_id(long_id, EventType.RESOLVED, 1)
    assert event_id("H01-0001", EventType.RESOLVED, 3) == "H01-0001:resolved:3"


def test_a_later_snapshot_of_the_same_dossier_only_adds_events() -> None:
    earlier = {e.event_id: e for e in dossier_events(base(4), NOW)}
    later = {e.event_id: e for e in dossier_events(base(9, NgayKetThucXuLy="20240308"), NOW)}
    assert later["H01-0001:received:1"] == earlier["H01-0001:received:1"]
    assert set(later) - set(earlier) == {"H01-0001:resolved:1"}


# -- property: the worker's lifecycle accepts whatever the adapter emits ----------------------

FINAL_STATUS = {1: "submitted", 3: "rejected_at_intake", 2: "open", 4: "open", 5: "open",
                6: "open", 7: "ended", 8: "ended", 9: "ended", 10: "ended"}  # fmt: skip
START = datetime(2024, 1, 1, tzinfo=LOCAL_TZ)


def stamp(draw: st.DrawFn, after: datetime, absent_ok: bool = True) -> str | None:
    """Absent, or a date from three hours before `after` to 20 days after it (mostly in order, so
    that most dossiers convert and some are rejected for dates that run backwards)."""
    if absent_ok and draw(st.integers(0, 3)) == 0:
        return None
    moment = after + timedelta(minutes=draw(st.integers(-60 * 3, 60 * 24 * 20)))
    return moment.strftime("%Y%m%d%H%M%S")


@st.composite
def exports(draw: st.DrawFn) -> dict[str, Any]:
    received = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        entry = {
            name: stamp(draw, received)
            for name in ("NgayYeuCauBoSung", "NgayTiepNhanBoSung", "NgayXinLoi",
                         "NgayHenTraTruoc", "NgayHenTraMoi")
        }  # fmt: skip
        entries.append({k: v for k, v in entry.items() if v is not None})
    end = received + timedelta(days=25)
    return base(
        draw(st.sampled_from(range(1, 11))),
        KenhThucHien=draw(st.sampled_from([1, 2, 3])),
        MucDo=draw(st.sampled_from([None, 2, 3, 4])),
        NgayNopHoSo=stamp(draw, received - timedelta(days=1)),
        NgayTiepNhan=stamp(draw, received, absent_ok=False),
        NgayHenTra=stamp(draw, received + timedelta(days=1), absent_ok=False),
        NgayKetThucXuLy=stamp(draw, end),
        NgayTra=stamp(draw, end + timedelta(days=20)),
        NgayYeuCauThanhToan=stamp(draw, received + timedelta(days=1)),
        DanhSachHoSoBoSung=draw(st.sampled_from([entries, None])),
        QuaTrinhXuLy=draw(st.sampled_from([None, entries])),
    )


@settings(max_examples=400, deadline=None)
@given(exports())
def test_every_conversion_applies_cleanly_and_ends_as_its_status_says(doc: dict[str, Any]) -> None:
    try:
        events = dossier_events(doc, NOW)
    except RowRejected as exc:
        assert exc.field and exc.reason
        return
    assert [e.at for e in events] == sorted(e.at for e in events)
    state: DossierState | None = None
    for event in events:
        transition = apply_event(state, event, CALENDAR)  # raises on an unknown dossier
        state = transition.state
    assert state is not None
    status = int(doc["TrangThaiHoSo"])
    assert state.status == FINAL_STATUS[status]
    if status in (5, 6):
        assert state.is_paused
    if status == 7:
        assert state.outcome == "withdrawn"
