"""One dossier of a one-stop system's export -> the contract events its status and dates imply.

The export is the national public service portal's dossier sync format (đồng bộ hồ sơ): one
object per dossier with its *current* status and the dates of what happened so far. The adapter
replays that history as events (CONTRACT §1-§2), so the worker judges an imported dossier
exactly as it would have judged one that streamed in live.

Status -> events, in this order (`at` from the field in brackets):

    1  mới đăng ký            submitted [NgayNopHoSo, else NgayTiepNhan]
    2  được tiếp nhận         received
    3  không được tiếp nhận   submitted [NgayNopHoSo, else NgayTiepNhan],
                              rejected_at_intake [NgayKetThucXuLy, else NgayTra,
                                                  else the submission date]
    4  đang xử lý             received, processing [NgayTiepNhan]
    5  yêu cầu bổ sung        received, supplement_requested [the open entry's request date;
                              else NgayYeuCauBoSung/NgayBoSung; else the latest date so far]
    6  chờ thanh toán phí     received, fee_requested [NgayYeuCauThanhToan,
                                                       else the latest date so far]
    7  rút hồ sơ              received, withdrawn [NgayKetThucXuLy, else NgayTra/NgayTraKetQua]
    8  dừng xử lý             received, stopped [NgayKetThucXuLy, else NgayTra/NgayTraKetQua]
    9  đã xử lý xong          received, resolved [NgayKetThucXuLy]
    10 đã trả kết quả         received, resolved [NgayKetThucXuLy, only if present],
                              result_returned [NgayTra/NgayTraKetQua, else NgayKetThucXuLy]

Every status from 2 on:

- `received` [NgayTiepNhan] carries `agency` = MaDonVi (else DonViXuLy), `procedure` = MaTTHC,
  `channel` = KenhThucHien (1 counter, 2 online, 3 postal), `level` = MucDo (4 full, 3 partial,
  anything else or absent: none) and `due_at` = the *original* appointment: NgayHenTraTruoc of
  the first reschedule entry if there is one (the portal overwrites NgayHenTra with the new
  date), else NgayHenTra. The contract judges against the original date (§2 `rescheduled`).
- `submitted` [NgayNopHoSo] comes first when the export has a separate submission date.
- Entries of DanhSachHoSoBoSung and QuaTrinhXuLy, merged in time order between `received` and
  the status events: `supplement_requested` [NgayYeuCauBoSung, else NgayBoSung], `resumed`
  [NgayTiepNhanBoSung, only after a request in the same entry], `rescheduled` with `due_at` =
  NgayHenTraMoi when it differs from NgayHenTraTruoc [NgayXinLoi, else NgayGiaHan, else
  NgayTiepNhanBoSung, else the request date, else ThoiDiemXuLy]. Entries with none of these
  dates (ordinary processing steps) add nothing.
- Statuses 1 and 3 never open the dossier, so they ignore the fields above.

Event ids are `<MaHoSo>:<type>:<n>`, n counting that type within the dossier from 1, so the same
export imported twice yields the same ids and the worker applies it once (CONTRACT §4). An id
that would exceed 64 characters uses `h<first 32 hex digits of sha256(MaHoSo)>` for MaHoSo.

A dossier is rejected (`RowRejected`, naming the field) when MaHoSo, a needed date, MaTTHC, the
agency or KenhThucHien is missing or malformed, TrangThaiHoSo is not 1-10, a date falls before
2000-01-01 or more than a day ahead of now, the dates run backwards (each event must not be
earlier than the one before it), or NgayHenTra is on a day before NgayTiepNhan.

Only the fields named here are ever read: applicant fields (ChuHoSo, TenNguoiNop, SoCMND,
SoCCCD, SoDinhDanh, SoDienThoai, Email, DiaChi, ...) and every other field are never copied.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any, TypeGuard

from iocmon.domain.events import (
    EARLIEST_AT,
    MAX_FUTURE,
    MAX_ID_CHARS,
    Channel,
    Event,
    EventType,
    Level,
)
from iocmon.producers.importer.errors import RowRejected
from iocmon.producers.importer.source import code, entry_list, local_time, raw_text, small_int

STATUS_NAMES: dict[int, str] = {
    1: "submitted",
    2: "received",
    3: "rejected at intake",
    4: "processing",
    5: "supplement requested",
    6: "fee requested",
    7: "withdrawn",
    8: "stopped",
    9: "resolved",
    10: "result returned",
}
CHANNELS: dict[int, Channel] = {1: "counter", 2: "online", 3: "postal"}
LEVELS: dict[int, Level] = {4: "full", 3: "partial"}
ENTRY_LISTS = ("DanhSachHoSoBoSung", "QuaTrinhXuLy")

RECEIVED_AT = ("NgayTiepNhan",)
SUBMITTED_AT = ("NgayNopHoSo",)
ENDED_AT = ("NgayKetThucXuLy",)
RETURNED_AT = ("NgayTra", "NgayTraKetQua")
REQUESTED_AT = ("NgayYeuCauBoSung", "NgayBoSung")
FEE_REQUESTED_AT = ("NgayYeuCauThanhToan",)
RESUMED_AT = ("NgayTiepNhanBoSung",)
RESCHEDULED_AT = ("NgayXinLoi", "NgayGiaHan", *RESUMED_AT, *REQUESTED_AT, "ThoiDiemXuLy")
AGENCY = ("MaDonVi", "DonViXuLy")


@dataclass(frozen=True, slots=True)
class _Step:
    """An event before it has an id; `source` names the field its `at` came from."""

    type: EventType
    at: datetime
    source: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def dossier_events(record: Mapping[str, Any], now: datetime) -> list[Event]:
    """The events for one exported dossier, in the order they must be sent.

    Raises `RowRejected` (field name and rule, never a value) when the dossier cannot be
    converted faithfully.
    """
    _, dossier_id = code(record, "MaHoSo")
    try:
        status = small_int(record, "TrangThaiHoSo")
        if status is None:
            raise RowRejected("TrangThaiHoSo", "is required")
        if status not in STATUS_NAMES:
            raise RowRejected("TrangThaiHoSo", "is not a known status (expected 1-10)")
        steps = _before_receipt(record, status) if status in (1, 3) else _after(record, status)
        _check_order(steps)
        _check_bounds(steps, now)
    except RowRejected as exc:
        exc.dossier_id = dossier_id
        raise
    return _with_ids(dossier_id, steps)


def _before_receipt(record: Mapping[str, Any], status: int) -> list[_Step]:
    submitted = local_time(record, *SUBMITTED_AT, *RECEIVED_AT)
    if submitted is None:
        raise RowRejected("NgayNopHoSo or NgayTiepNhan", "is required for this status")
    steps = [_Step(EventType.SUBMITTED, submitted[1], submitted[0])]
    if status == 3:
        rejected = local_time(record, *ENDED_AT, *RETURNED_AT) or submitted
        steps.append(_Step(EventType.REJECTED_AT_INTAKE, rejected[1], rejected[0]))
    return steps


def _after(record: Mapping[str, Any], status: int) -> list[_Step]:
    received_field, received_at = _required_time(record, RECEIVED_AT)
    entries = _entry_steps(record)
    steps: list[_Step] = []
    submitted = local_time(record, *SUBMITTED_AT)
    if submitted is not None:
        steps.append(_Step(EventType.SUBMITTED, submitted[1], submitted[0]))
    received = _Step(EventType.RECEIVED, received_at, received_field, _opening(record, entries))
    if received.extra["due_at"].date() < received_at.date():
        raise RowRejected(received.extra["due_source"], "is on a day before NgayTiepNhan")
    steps.append(received)
    if status == 4:
        steps.append(_Step(EventType.PROCESSING, received_at, received_field))
    steps.extend(entries)
    steps.extend(_status_steps(record, status, steps))
    return steps


def _opening(record: Mapping[str, Any], entries: list[_Step]) -> dict[str, Any]:
    _, agency = code(record, *AGENCY)
    _, procedure = code(record, "MaTTHC")
    channel_code = small_int(record, "KenhThucHien")
    if channel_code is None:
        raise RowRejected("KenhThucHien", "is required (1 counter, 2 online, 3 postal)")
    if channel_code not in CHANNELS:
        raise RowRejected("KenhThucHien", "must be 1 (counter), 2 (online) or 3 (postal)")
    level_text = raw_text(record, "MucDo")
    level: Level = LEVELS.get(int(level_text), "none") if _is_int(level_text) else "none"
    due = _original_due(record, entries)
    return {
        "agency": agency,
        "procedure": procedure,
        "channel": CHANNELS[channel_code],
        "level": level,
        "due_at": due[1],
        "due_source": due[0],
    }


def _original_due(record: Mapping[str, Any], entries: list[_Step]) -> tuple[str, datetime]:
    for step in entries:
        if step.type is EventType.RESCHEDULED and step.extra.get("previous_due") is not None:
            return step.extra["previous_source"], step.extra["previous_due"]
    return _required_time(record, ("NgayHenTra",))


def _entry_steps(record: Mapping[str, Any]) -> list[_Step]:
    """Supplementation and reschedule entries as steps, merged in time order."""
    keyed: list[tuple[datetime, int, int, _Step]] = []
    serial = 0
    for list_name in ENTRY_LISTS:
        for i, entry in enumerate(entry_list(record, list_name), start=1):
            path = f"{list_name}[{i}]."
            if not isinstance(entry, Mapping):
                raise RowRejected(path.rstrip("."), "must be an object")
            for rank, step in enumerate(_entry(entry, path)):
                keyed.append((step.at, serial, rank, step))
            serial += 1
    keyed.sort(key=lambda k: k[:3])
    return [step for *_, step in keyed]


def _entry(entry: Mapping[str, Any], path: str) -> list[_Step]:
    steps: list[_Step] = []
    requested = local_time(entry, *REQUESTED_AT, path=path)
    if requested is not None:
        steps.append(_Step(EventType.SUPPLEMENT_REQUESTED, requested[1], path + requested[0]))
        resumed = local_time(entry, *RESUMED_AT, path=path)
        if resumed is not None:
            steps.append(_Step(EventType.RESUMED, resumed[1], path + resumed[0]))
    new_due = local_time(entry, "NgayHenTraMoi", path=path)
    previous_due = local_time(entry, "NgayHenTraTruoc", path=path)
    if new_due is not None and (previous_due is None or previous_due[1] != new_due[1]):
        given = local_time(entry, *RESCHEDULED_AT, path=path)
        if given is None:
            raise RowRejected(
                path + "NgayHenTraMoi",
                "a new appointment needs the date it was given (NgayXinLoi, NgayGiaHan, "
                "NgayTiepNhanBoSung or NgayYeuCauBoSung)",
            )
        extra: dict[str, datetime | str] = {"due_at": new_due[1]}
        if previous_due is not None:
            extra |= {"previous_due": previous_due[1], "previous_source": path + previous_due[0]}
        steps.append(_Step(EventType.RESCHEDULED, given[1], path + given[0], extra))
    return steps


def _status_steps(record: Mapping[str, Any], status: int, so_far: list[_Step]) -> list[_Step]:
    latest = so_far[-1]
    if status == 5:
        if _pause_open(so_far):
            return []
        found = local_time(record, *REQUESTED_AT)
        at, source = (found[1], found[0]) if found else (latest.at, latest.source)
        return [_Step(EventType.SUPPLEMENT_REQUESTED, at, source)]
    if status == 6:
        found = local_time(record, *FEE_REQUESTED_AT)
        at, source = (found[1], found[0]) if found else (latest.at, latest.source)
        return [_Step(EventType.FEE_REQUESTED, at, source)]
    if status in (7, 8):
        kind = EventType.WITHDRAWN if status == 7 else EventType.STOPPED
        source, at = _required_time(record, (*ENDED_AT, *RETURNED_AT))
        return [_Step(kind, at, source)]
    if status == 9:
        source, at = _required_time(record, ENDED_AT)
        return [_Step(EventType.RESOLVED, at, source)]
    if status == 10:
        steps = []
        ended = local_time(record, *ENDED_AT)
        if ended is not None:
            steps.append(_Step(EventType.RESOLVED, ended[1], ended[0]))
        source, at = _required_time(record, (*RETURNED_AT, *ENDED_AT))
        steps.append(_Step(EventType.RESULT_RETURNED, at, source))
        return steps
    return []


def _pause_open(steps: list[_Step]) -> bool:
    paused = False
    for step in steps:
        if step.type is EventType.SUPPLEMENT_REQUESTED:
            paused = True
        elif step.type is EventType.RESUMED:
            paused = False
    return paused


def _required_time(record: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, datetime]:
    found = local_time(record, *names)
    if found is None:
        raise RowRejected(" or ".join(names), "is required for this status")
    return found


def _check_order(steps: list[_Step]) -> None:
    for before, after in pairwise(steps):
        if after.at < before.at:
            raise RowRejected(after.source, f"is earlier than {before.source}")


def _check_bounds(steps: list[_Step], now: datetime) -> None:
    for step in steps:
        if step.at < EARLIEST_AT:
            raise RowRejected(step.source, "is before 2000-01-01")
        if step.at > now + MAX_FUTURE:
            raise RowRejected(step.source, "is more than one day in the future")


def _with_ids(dossier_id: str, steps: list[_Step]) -> list[Event]:
    seen: Counter[EventType] = Counter()
    events = []
    for step in steps:
        seen[step.type] += 1
        extra = {k: v for k, v in step.extra.items() if k in _EVENT_FIELDS}
        events.append(
            Event(
                event_id=event_id(dossier_id, step.type, seen[step.type]),
                dossier_id=dossier_id,
                type=step.type,
                at=step.at,
                **extra,
            )
        )
    return events


_EVENT_FIELDS = frozenset({"agency", "procedure", "channel", "level", "due_at"})


def event_id(dossier_id: str, kind: EventType, n: int) -> str:
    """`<MaHoSo>:<type>:<n>`, or with a hash of MaHoSo when that would exceed 64 characters."""
    plain = f"{dossier_id}:{kind.value}:{n}"
    if len(plain) <= MAX_ID_CHARS:
        return plain
    digest = hashlib.sha256(dossier_id.encode("utf-8")).hexdigest()[:32]
    return f"h{digest}:{kind.value}:{n}"


def _is_int(text: str | None) -> TypeGuard[str]:
    return text is not None and text.isascii() and text.isdigit()
