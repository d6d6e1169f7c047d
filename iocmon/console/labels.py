"""Vietnamese labels with the English in brackets, as on-call staff of the IOC read them."""

from __future__ import annotations

from collections.abc import Mapping

ON_TIME = "Đúng hạn (on time)"
LATE = "Trễ hạn (late)"
SCORE_766 = "Điểm 766 (766 score, /20)"
RECEIVED = "Tiếp nhận (received)"
ENDED = "Kết thúc (ended)"
OPEN = "Đang giải quyết (open)"
OVERDUE = "Quá hạn (overdue)"
DUE_SOON = "Sắp đến hạn (due soon)"
PAUSED = "Tạm dừng (paused)"
ON_TRACK = "Trong hạn (on track)"
AT_RISK = "Nguy cơ trễ hạn (at risk)"
JUDGED = "Đã xét (judged)"
AGENCY = "Đơn vị (agency)"
DOSSIER = "Hồ sơ (dossier)"
PROCEDURE = "Thủ tục (procedure)"
DUE = "Hẹn trả (due)"
DAYS_OVERDUE = "Số ngày quá hạn (days overdue)"
TODAY = "Hôm nay (today)"
THIS_MONTH = "Tháng này (this month)"
LAST_24H = "24 giờ qua (last 24 h)"
NOW = "Hiện tại (now)"
AS_OF = "Cập nhật (as of)"

STATUS: Mapping[str, str] = {
    "submitted": "Đã nộp, chưa tiếp nhận (submitted)",
    "rejected_at_intake": "Từ chối tiếp nhận (rejected at intake)",
    "open": "Đang giải quyết (open)",
    "ended": "Đã kết thúc (ended)",
}

STATE: Mapping[str, str] = {
    "on_track": ON_TRACK,
    "due_soon": DUE_SOON,
    "overdue": OVERDUE,
    "paused": PAUSED,
}

OUTCOME: Mapping[str, str] = {
    "early": "Trước hạn (early)",
    "on_time": "Đúng hạn (on time)",
    "late": "Trễ hạn (late)",
    "withdrawn": "Rút hồ sơ (withdrawn)",
}

CHANNEL: Mapping[str, str] = {
    "counter": "Trực tiếp (counter)",
    "online": "Trực tuyến (online)",
    "postal": "Bưu chính (postal)",
}

LEVEL: Mapping[str, str] = {
    "full": "Toàn trình (full online)",
    "partial": "Một phần (partly online)",
    "none": "Không trực tuyến (not online)",
}

EVENT: Mapping[str, str] = {
    "submitted": "Nộp hồ sơ (submitted)",
    "rejected_at_intake": "Từ chối tiếp nhận (rejected at intake)",
    "received": "Tiếp nhận (received)",
    "processing": "Đang xử lý (processing)",
    "transferred": "Chuyển xử lý (transferred)",
    "supplement_requested": "Yêu cầu bổ sung (supplement requested)",
    "fee_requested": "Yêu cầu nộp phí (fee requested)",
    "resumed": "Tiếp tục xử lý (resumed)",
    "rescheduled": "Hẹn lại ngày trả (rescheduled)",
    "resolved": "Đã giải quyết (resolved)",
    "stopped": "Dừng xử lý (stopped)",
    "withdrawn": "Rút hồ sơ (withdrawn)",
    "result_returned": "Trả kết quả (result returned)",
}


def label(names: Mapping[str, str], code: str | None) -> str:
    """The label for a code, or the code itself when it is not one we know."""
    if code is None:
        return "—"
    return names.get(code, code)
