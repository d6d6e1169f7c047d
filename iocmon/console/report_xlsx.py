"""The periodic report as an Excel workbook, laid out like the table provinces hand in.

The sheet is the government's table of dossier handling: a title, the period and its days,
when the figures were produced, then a two-row header — groups ("Số hồ sơ nhận giải quyết",
"Số hồ sơ đã giải quyết", "Số hồ sơ đang giải quyết") over their columns, withdrawn dossiers
in a column of their own — with the English under the Vietnamese in each header cell (a
line break, not a third row: the English stays next to the words it translates, and the
repeated print header stays two rows). Then STT, code and name per row, and a totals row.

Every figure, the totals and the group totals ("Tổng số") included, is written as a number,
not a formula: openpyxl and other readers that do not calculate get the number back, a
preview shows it, and a SUM over rows would be wrong where rows overlap (a district that
includes its communes, `scope=tree`). The totals are the worker's own.

openpyxl is imported with this module, which `iocmon report` loads only for `--format xlsx`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.header_footer import HeaderFooterItem
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from iocmon.console.fmt import LOCAL_TZ
from iocmon.console.report_doc import COLUMNS, Counts, Report
from iocmon.console.report_labels import (
    BY,
    CODE,
    COLUMN,
    GROUP_TOTAL,
    IN_PROCESS,
    NOT_IN_CATALOGUE,
    NUMBER,
    RECEIVED,
    RESOLVED,
    ROW_NAME,
    TITLE,
    TOTAL,
    Label,
    notes,
    period_name,
    span,
)

NUMBER_FORMAT = "#,##0"
FONT = "Times New Roman"  # the font of Vietnamese administrative documents
HEADER_ROW = 7  # the group row (the column row is under it), after 5 title rows and a note
FIRST_DATA_ROW = HEADER_ROW + 2
FIRST_FIGURE_COLUMN = 4  # after STT, code, name
FIGURE_WIDTH = 14.0


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure column: a contract column, or a group's total (`to_handle`, `resolved`,
    `in_process`, properties of `Counts`)."""

    key: str
    label: Label
    group: Label | None  # None: a column of its own, its header over both rows

    def value(self, counts: Counts) -> int:
        return counts[self.key] if self.key in COLUMNS else int(getattr(counts, self.key))


FIGURES: tuple[Figure, ...] = (
    Figure("to_handle", GROUP_TOTAL, RECEIVED),
    *(
        Figure(k, COLUMN[k], RECEIVED)
        for k in ("carried_over", "received_online", "received_direct")
    ),
    Figure("resolved", GROUP_TOTAL, RESOLVED),
    *(Figure(k, COLUMN[k], RESOLVED) for k in ("early", "on_time", "late")),
    Figure("withdrawn", COLUMN["withdrawn"], None),
    Figure("in_process", GROUP_TOTAL, IN_PROCESS),
    *(Figure(k, COLUMN[k], IN_PROCESS) for k in ("open_not_due", "open_overdue")),
)
# Where each figure sits (1-based), for readers of the workbook and for the tests.
FIGURE_COLUMN: dict[str, int] = {f.key: FIRST_FIGURE_COLUMN + i for i, f in enumerate(FIGURES)}
LAST_COLUMN = FIRST_FIGURE_COLUMN + len(FIGURES) - 1

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def workbook_bytes(report: Report) -> bytes:
    """The .xlsx file's content."""
    out = io.BytesIO()
    build_workbook(report).save(out)
    return out.getvalue()


def build_workbook(report: Report) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = f"Báo cáo {report.period}" if report.period else "Báo cáo"
    workbook.properties.title = TITLE.vi
    workbook.properties.creator = "iocmon"
    _title(sheet, report)
    _header(sheet, report)
    last_row = _body(sheet, report)
    _layout(sheet, report, last_row)
    return workbook


def _title(sheet: Worksheet, report: Report) -> None:
    name, by = period_name(report.period), BY[report.by]
    covered = span(report.start, report.end)
    produced = report.produced_at.astimezone(LOCAL_TZ)
    lines = [
        (TITLE.vi, Font(name=FONT, size=14, bold=True)),
        (f"({TITLE.en})", Font(name=FONT, size=12, italic=True)),
        (
            f"Kỳ báo cáo: {name.vi}, {by.vi} (period {name.en}, {by.en})",
            Font(name=FONT, size=12, bold=True),
        ),
        (f"{covered.vi()} ({covered.iso()}, Vietnam time)", Font(name=FONT, size=12)),
        (
            f"Số liệu lập lúc {produced:%H:%M:%S} ngày {produced:%d/%m/%Y} "
            f"(produced {produced:%Y-%m-%d %H:%M:%S}, Vietnam time)",
            Font(name=FONT, size=11, italic=True),
        ),
    ]
    if notes(report):  # on the row above the header, blank otherwise
        text = "; ".join(n.vi for n in notes(report))
        english = "; ".join(n.en for n in notes(report))
        lines.append((f"{text} ({english})", Font(name=FONT, size=11, italic=True)))
    for row, (text, font) in enumerate(lines, start=1):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=LAST_COLUMN)
        cell = sheet.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center", vertical="center")


def _header(sheet: Worksheet, report: Report) -> None:
    top, bottom = HEADER_ROW, HEADER_ROW + 1
    font = Font(name=FONT, size=11, bold=True)
    fixed = (NUMBER, CODE, ROW_NAME[report.by])
    for column, label in enumerate(fixed, start=1):
        _merged(sheet, top, column, bottom, column, label.cell())
    column = FIRST_FIGURE_COLUMN
    while column <= LAST_COLUMN:
        figure = FIGURES[column - FIRST_FIGURE_COLUMN]
        if figure.group is None:
            _merged(sheet, top, column, bottom, column, figure.label.cell())
            column += 1
            continue
        members = [f for f in FIGURES if f.group == figure.group]
        _merged(sheet, top, column, top, column + len(members) - 1, figure.group.cell())
        for offset, member in enumerate(members):
            sheet.cell(row=bottom, column=column + offset, value=member.label.cell())
        column += len(members)
    for row in sheet.iter_rows(min_row=top, max_row=bottom, max_col=LAST_COLUMN):
        for cell in row:
            cell.font = font
            cell.alignment = _CENTER
            cell.border = _BOX
    sheet.row_dimensions[top].height = 36
    sheet.row_dimensions[bottom].height = 66


def _merged(sheet: Worksheet, r1: int, c1: int, r2: int, c2: int, text: str) -> None:
    if (r1, c1) != (r2, c2):
        sheet.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    sheet.cell(row=r1, column=c1, value=text)


def _body(sheet: Worksheet, report: Report) -> int:
    """The rows and the totals row; returns the totals row's number."""
    plain, bold = Font(name=FONT, size=11), Font(name=FONT, size=11, bold=True)
    row = FIRST_DATA_ROW
    for number, entry in enumerate(report.rows, start=1):
        name = entry.name if entry.name is not None else NOT_IN_CATALOGUE.inline()
        sheet.cell(row=row, column=1, value=number).alignment = _CENTER
        sheet.cell(row=row, column=2, value=entry.key)
        cell = sheet.cell(row=row, column=3, value=name)
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        if entry.name is None:
            cell.font = Font(name=FONT, size=11, italic=True)
        _figures(sheet, row, entry.counts)
        _style_row(sheet, row, plain, keep_font=(3,) if entry.name is None else ())
        row += 1
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
    sheet.cell(row=row, column=1, value=TOTAL.inline()).alignment = _CENTER
    _figures(sheet, row, report.total)
    _style_row(sheet, row, bold)
    return row


def _figures(sheet: Worksheet, row: int, counts: Counts) -> None:
    for figure in FIGURES:
        cell = sheet.cell(row=row, column=FIGURE_COLUMN[figure.key], value=figure.value(counts))
        cell.number_format = NUMBER_FORMAT


def _style_row(sheet: Worksheet, row: int, font: Font, keep_font: tuple[int, ...] = ()) -> None:
    for column in range(1, LAST_COLUMN + 1):
        cell = sheet.cell(row=row, column=column)
        cell.border = _BOX
        if column not in keep_font:
            cell.font = font


def _layout(sheet: Worksheet, report: Report, last_row: int) -> None:
    """Widths, frozen header, and a print setup that fits the table across one A4 page in
    landscape with the header repeated on every page."""
    codes = [len(r.key) for r in report.rows]
    names = [len(r.name or NOT_IN_CATALOGUE.inline()) for r in report.rows]
    widths = {
        1: 6.0,
        2: float(min(24, max([8, *codes]) + 2)),
        3: float(min(50, max([24, *names]) + 2)),
    }
    widths.update({FIGURE_COLUMN[f.key]: FIGURE_WIDTH for f in FIGURES})
    for column, chars in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = chars
    sheet.freeze_panes = sheet.cell(row=FIRST_DATA_ROW, column=FIRST_FIGURE_COLUMN).coordinate
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW + 1}"
    sheet.print_area = f"A1:{get_column_letter(LAST_COLUMN)}{last_row}"
    setup = sheet.page_setup
    setup.orientation = "landscape"
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0  # as many pages down as the rows need
    # openpyxl gives every new sheet its page-setup properties and footer; its types allow
    # None because both can be unset.
    properties = sheet.sheet_properties
    if properties.pageSetUpPr is None:
        properties.pageSetUpPr = PageSetupProperties()
    properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    footer = sheet.oddFooter
    if footer is None:
        footer = sheet.oddFooter = HeaderFooterItem()
    footer.center.text = "Trang &P / &N"
