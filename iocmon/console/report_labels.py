"""The words of the periodic report: column and group headings, the period and its days.

Headings follow the government's form for the periodic report of dossier handling (Vietnamese
first, the English beneath); the terminal table and the workbook share them so the two never
name a column differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from iocmon.console.fmt import LOCAL_TZ
from iocmon.console.report_doc import Grouping, Report


@dataclass(frozen=True, slots=True)
class Label:
    vi: str
    en: str

    def cell(self) -> str:
        """Vietnamese, then the English on the next line (a wrapped header cell)."""
        return f"{self.vi}\n({self.en})"

    def inline(self) -> str:
        """'Trước hạn (early)': what `fmt.table` splits into two header lines."""
        return f"{self.vi} ({self.en})"


TITLE = Label(
    "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ THỦ TỤC HÀNH CHÍNH",
    "Report on the handling of administrative procedure dossiers",
)
TOTAL = Label("Tổng cộng", "total")
NUMBER = Label("STT", "no.")
CODE = Label("Mã", "code")
ROW_NAME: dict[Grouping, Label] = {
    "agency": Label("Đơn vị", "agency"),
    "field": Label("Lĩnh vực", "field"),
}
BY: dict[Grouping, Label] = {
    "agency": Label("theo đơn vị", "by agency"),
    "field": Label("theo lĩnh vực", "by field"),
}

# The form's wording, for the workbook; the terminal table uses SHORT where it is shorter.
COLUMN: dict[str, Label] = {
    "carried_over": Label("Kỳ trước chuyển qua", "carried over"),
    "received_online": Label("Trực tuyến", "received online"),
    "received_direct": Label("Trực tiếp, bưu chính", "at the counter, by post"),
    "early": Label("Trước hạn", "early"),
    "on_time": Label("Đúng hạn", "on time"),
    "late": Label("Quá hạn", "late"),
    "withdrawn": Label("Rút hồ sơ", "withdrawn"),
    "open_not_due": Label("Chưa đến hạn", "not yet due"),
    "open_overdue": Label("Quá hạn", "overdue"),
}
SHORT: dict[str, Label] = {
    **COLUMN,
    "carried_over": Label("Kỳ trước", "carried over"),
    "received_online": Label("Trực tuyến", "online"),
    "received_direct": Label("Trực tiếp", "counter, post"),
    "withdrawn": Label("Rút", "withdrawn"),
    "open_not_due": Label("Chưa đến hạn", "not due"),
}
GROUP_TOTAL = Label("Tổng số", "total")
RECEIVED = Label("Số hồ sơ nhận giải quyết", "dossiers to handle")
RESOLVED = Label("Số hồ sơ đã giải quyết", "dossiers resolved")
IN_PROCESS = Label("Số hồ sơ đang giải quyết", "in process at the period's end")
NOT_IN_CATALOGUE = Label("Không có trong danh mục", "not in the catalogue")

_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_PERIOD = re.compile(
    r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})(?:-(?P<day>\d{2}))?|Q(?P<quarter>[1-4])|H(?P<half>[12])))?$"
)


def period_name(period: str | None) -> Label:
    """'2024-Q1' -> 'Quý I/2024' as reports write it; None (a from/to range) -> custom."""
    if period is None:
        return Label("Tùy chọn", "custom range")
    match = _PERIOD.match(period)
    if match is None:
        return Label(period, period)
    year = match["year"]
    if match["day"]:
        vi = f"Ngày {match['day']}/{match['month']}/{year}"
    elif match["month"]:
        vi = f"Tháng {match['month']}/{year}"
    elif match["quarter"]:
        vi = f"Quý {_ROMAN[match['quarter']]}/{year}"
    elif match["half"]:
        vi = f"6 tháng {'đầu' if match['half'] == '1' else 'cuối'} năm {year}"
    else:
        vi = f"Năm {year}"
    return Label(vi, period)


@dataclass(frozen=True, slots=True)
class Span:
    """What [start, end) covers, in local time: whole days when both ends are midnights
    (the last day is the one before `end`), else the two instants."""

    start: datetime
    end: datetime

    @property
    def whole_days(self) -> bool:
        return self.start.time() == time(0) and self.end.time() == time(0)

    def iso(self) -> str:
        """'2024-01-01 – 2024-03-31', or '2024-02-01 00:00 – 2024-02-15 10:23'."""
        if self.whole_days:
            last = self.end.date() - timedelta(days=1)
            return f"{self.start.date().isoformat()} – {last.isoformat()}"
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"

    def vi(self) -> str:
        """'Từ ngày 01/01/2024 đến ngày 31/03/2024', as Vietnamese documents write dates."""
        if self.whole_days:
            last = self.end.date() - timedelta(days=1)
            return f"Từ ngày {self.start:%d/%m/%Y} đến ngày {last:%d/%m/%Y}"
        return (
            f"Từ {self.start:%H:%M} ngày {self.start:%d/%m/%Y} "
            f"đến {self.end:%H:%M} ngày {self.end:%d/%m/%Y}"
        )


def span(start: datetime, end: datetime) -> Span:
    return Span(start.astimezone(LOCAL_TZ), end.astimezone(LOCAL_TZ))


def notes(report: Report) -> list[Label]:
    """What else a reader must know to read the figures: the rows were asked for one
    agency (with its units or alone), or `open_overdue` was counted before `to` (a period
    still running: the worker keeps overdue counts by the hour)."""
    out = []
    if report.agency is not None:
        if report.tree:
            out.append(
                Label(
                    f"Đơn vị {report.agency} và các đơn vị trực thuộc",
                    f"agency {report.agency} with its units",
                )
            )
        else:
            out.append(Label(f"Chỉ đơn vị {report.agency}", f"agency {report.agency} only"))
    if report.overdue_as_of is not None:
        at = report.overdue_as_of.astimezone(LOCAL_TZ)
        out.append(
            Label(
                f"Số hồ sơ quá hạn tính đến {at:%H:%M} ngày {at:%d/%m/%Y}",
                f"overdue counted as of {at:%Y-%m-%d %H:%M}",
            )
        )
    return out
