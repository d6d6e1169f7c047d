"""The periodic report's outputs from a hand-made /api/v1/report answer (CONTRACT §6):
reading the answer, the terminal table, the CSV and the workbook, without any service.

Every figure in `DOC` is different from every other in its row, so a column that moved or
was swapped shows as a wrong number, not as a coincidence."""

from __future__ import annotations

import copy
import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from iocmon.console.errors import MalformedAnswer
from iocmon.console.fmt import LOCAL_TZ, Palette, width
from iocmon.console.report_doc import COLUMNS, Report, read_report
from iocmon.console.report_render import render_csv, render_table
from iocmon.console.report_xlsx import workbook_bytes

RECEIVED_AT = datetime(2024, 4, 2, 9, 0, tzinfo=LOCAL_TZ)


def row(key: str, name: str | None, *values: int) -> dict[str, Any]:
    assert len(values) == len(COLUMNS)
    return {"key": key, "name": name, **dict(zip(COLUMNS, values, strict=True))}


#       carried  online  direct  early  on_time  late  withdrawn  not_due  overdue
DOC: dict[str, Any] = {
    "from": "2024-01-01T00:00:00+07:00",
    "to": "2024-03-31T17:00:00+00:00",  # 1 April, 00:00 in Vietnam
    "by": "agency",
    "period": "2024-Q1",
    "produced_at": "2024-04-02T01:15:00+00:00",  # 08:15 in Vietnam
    "rows": [
        row("STNMT", "Sở Tài nguyên và Môi trường", 12, 30, 10, 20, 5, 2, 1, 21, 3),
        row("SYT", "Sở Y tế", 1200, 13456, 2345, 14000, 1500, 300, 51, 1100, 50),
        row("X99", None, 0, 1, 0, 0, 0, 0, 0, 0, 1),
    ],
    "total": dict(zip(COLUMNS, (1212, 13487, 2355, 14020, 1505, 302, 52, 1121, 54), strict=True)),
}


def report(doc: dict[str, Any] | None = None, **asked: Any) -> Report:
    return read_report(DOC if doc is None else doc, received_at=RECEIVED_AT, **asked)


def test_the_hand_made_answer_balances_as_the_contract_says() -> None:
    for counts in [*DOC["rows"], DOC["total"]]:
        received = counts["carried_over"] + counts["received_online"] + counts["received_direct"]
        ended = sum(counts[k] for k in ("early", "on_time", "late", "withdrawn"))
        assert received == ended + counts["open_not_due"] + counts["open_overdue"], counts
    for column in COLUMNS:
        assert DOC["total"][column] == sum(r[column] for r in DOC["rows"]), column


# ---------------------------------------------------------------------------------------------
# reading the answer


def test_the_answer_is_read_into_rows_in_the_contract_s_column_order() -> None:
    r = report()
    assert (r.start, r.end) == (
        datetime(2024, 1, 1, tzinfo=LOCAL_TZ),
        datetime(2024, 4, 1, tzinfo=LOCAL_TZ),
    )
    assert (r.by, r.period, r.produced_at) == (
        "agency",
        "2024-Q1",
        datetime(2024, 4, 2, 8, 15, tzinfo=LOCAL_TZ),
    )
    assert [(x.key, x.name) for x in r.rows] == [
        ("STNMT", "Sở Tài nguyên và Môi trường"),
        ("SYT", "Sở Y tế"),
        ("X99", None),
    ]
    assert r.rows[1].counts.values == (1200, 13456, 2345, 14000, 1500, 300, 51, 1100, 50)
    assert r.rows[1].counts["withdrawn"] == 51
    assert (r.rows[1].counts.to_handle, r.rows[1].counts.resolved) == (17001, 15800)
    assert r.rows[1].counts.in_process == 1150
    assert r.total.values == tuple(DOC["total"][c] for c in COLUMNS)
    assert (r.agency, r.tree, r.overdue_as_of) == (None, False, None)


def test_produced_at_falls_back_to_as_of_then_to_the_time_of_the_answer() -> None:
    doc = {k: v for k, v in DOC.items() if k != "produced_at"}
    assert report(doc).produced_at == RECEIVED_AT
    doc["as_of"] = "2024-04-02T08:00:00+07:00"
    assert report(doc).produced_at == datetime(2024, 4, 2, 8, 0, tzinfo=LOCAL_TZ)


def test_what_the_answer_leaves_out_is_what_was_asked() -> None:
    doc = {k: v for k, v in DOC.items() if k not in ("period", "by")}
    r = report(doc, asked_period="2024-Q1", asked_by="field")
    assert (r.period, r.by) == ("2024-Q1", "field")
    assert report({**DOC, "period": None}, asked_period="2024-Q1").period is None  # from/to


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rows"][1].pop("late"), r"row 2 \(SYT\) has no whole number 'late'"),
        (lambda d: d["rows"][0].update(early=True), r"row 1 \(STNMT\) .* 'early' \(found True\)"),
        (lambda d: d["rows"][2].update(open_overdue="1"), r"row 3 \(X99\) .*'open_overdue'"),
        (lambda d: d["total"].pop("withdrawn"), r"'total' has no whole number 'withdrawn'"),
        (lambda d: d.pop("rows"), r"'rows' is missing"),
        (lambda d: d.update(to="2024-04-01"), r"'to' is '2024-04-01', a timestamp without"),
        (lambda d: d.update(by="procedure"), r"'by' is 'procedure'"),
        (lambda d: d["rows"][0].pop("key"), r"row 1 has no string 'key'"),
    ],
)
def test_an_answer_without_a_field_the_report_needs_says_which(change: Any, message: str) -> None:
    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(MalformedAnswer, match=message) as caught:
        report(doc)
    assert "--format json" in str(caught.value)  # and how to see what the worker said


# ---------------------------------------------------------------------------------------------
# the terminal table


def cells(line: str) -> list[str]:
    """A table line's cells: columns are two or more spaces apart, numbers use one."""
    return re.split(r" {2,}", line.strip())


def test_table_heading_names_the_period_and_its_days_in_local_time() -> None:
    lines = render_table(report())
    assert lines[:4] == [
        "Báo cáo giải quyết hồ sơ (dossier handling report): Quý I/2024 (2024-Q1), "
        "theo đơn vị (by agency)",
        "Thời gian (covers): 2024-01-01 – 2024-03-31, giờ Việt Nam (Vietnam time)",
        "Lập lúc (produced): 2024-04-02 08:15:00",
        "",
    ]


def test_table_rows_hold_every_figure_in_order_with_a_totals_row() -> None:
    lines = render_table(report())
    assert "\x1b[" not in "\n".join(lines)  # no colour unless asked
    header_vi, header_en, stnmt, syt, unknown, rule, total = lines[4:]
    assert cells(header_vi) == ["Mã", "Đơn vị", "Kỳ trước", "Trực tuyến", "Trực tiếp",
                                "Trước hạn", "Đúng hạn", "Quá hạn", "Rút", "Chưa đến hạn",
                                "Quá hạn"]  # fmt: skip
    assert cells(header_en) == ["(code)", "(agency)", "(carried over)", "(online)",
                                "(counter, post)", "(early)", "(on time)", "(late)",
                                "(withdrawn)", "(not due)", "(overdue)"]  # fmt: skip
    assert cells(stnmt) == ["STNMT", "Sở Tài nguyên và Môi trường",
                            "12", "30", "10", "20", "5", "2", "1", "21", "3"]  # fmt: skip
    assert cells(syt) == ["SYT", "Sở Y tế", "1 200", "13 456", "2 345", "14 000", "1 500",
                          "300", "51", "1 100", "50"]  # fmt: skip
    assert cells(unknown) == ["X99", "—", "0", "1", "0", "0", "0", "0", "0", "0", "1"]
    assert set(rule) == {"─"}
    assert cells(total) == ["Tổng cộng (total)", "1 212", "13 487", "2 355", "14 020",
                            "1 505", "302", "52", "1 121", "54"]  # fmt: skip
    # numbers are right-aligned: every figure line ends at the same column
    assert len({width(line) for line in (header_en, stnmt, syt, unknown, total)}) == 1


def test_table_by_field_names_the_rows_fields() -> None:
    doc = {**DOC, "by": "field", "rows": [row("dat_dai", "Đất đai", *range(9))]}
    lines = render_table(report(doc))
    assert lines[0].endswith("theo lĩnh vực (by field)")
    assert cells(lines[4])[1] == "Lĩnh vực" and cells(lines[5])[1] == "(field)"
    assert cells(lines[6])[:3] == ["dat_dai", "Đất đai", "0"]


def test_table_notes_one_agency_s_tree_and_an_overdue_count_taken_before_to() -> None:
    doc = {**DOC, "period": "2024-04", "to": "2024-04-15T10:23:00+07:00", "agency": "LX",
           "scope": "tree", "overdue_as_of": "2024-04-15T10:00:00+07:00"}  # fmt: skip
    lines = render_table(report(doc))
    assert lines[0].startswith("Báo cáo giải quyết hồ sơ (dossier handling report): Tháng 04/2024")
    assert lines[1] == (
        "Thời gian (covers): 2024-01-01 00:00 – 2024-04-15 10:23, giờ Việt Nam (Vietnam time)"
    )
    assert lines[3:5] == [
        "Đơn vị LX và các đơn vị trực thuộc (agency LX with its units)",
        "Số hồ sơ quá hạn tính đến 10:00 ngày 15/04/2024 (overdue counted as of 2024-04-15 10:00)",
    ]


def test_table_cuts_names_to_fit_the_terminal() -> None:
    wide = max(width(line) for line in render_table(report()))
    lines = render_table(report(), columns=wide - 10)
    assert max(width(line) for line in lines[4:]) <= wide - 10
    assert cells(lines[6])[1] == "Sở Tài nguyên và…"  # 27 columns cut to 17
    assert cells(lines[7])[:3] == ["SYT", "Sở Y tế", "1 200"]


def test_table_colours_the_overdue_and_bolds_the_totals_only_when_asked() -> None:
    lines = render_table(report(), palette=Palette(True))
    assert lines[-1].startswith("\x1b[1m") and "Tổng cộng" in lines[-1]
    assert "\x1b[31;1m50\x1b[0m" in lines[7]  # SYT's overdue


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_is_utf8_with_a_bom_english_headers_and_a_total_row() -> None:
    data = render_csv(report())
    assert data.startswith(b"\xef\xbb\xbfkey,name,carried_over,")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["key", "name", "carried_over", "received_online", "received_direct", "early",
         "on_time", "late", "withdrawn", "open_not_due", "open_overdue"],
        ["STNMT", "Sở Tài nguyên và Môi trường", "12", "30", "10", "20", "5", "2", "1", "21", "3"],
        ["SYT", "Sở Y tế", "1200", "13456", "2345", "14000", "1500", "300", "51", "1100", "50"],
        ["X99", "", "0", "1", "0", "0", "0", "0", "0", "0", "1"],
        ["total", "", "1212", "13487", "2355", "14020", "1505", "302", "52", "1121", "54"],
    ]  # fmt: skip


def test_csv_quotes_names_with_commas() -> None:
    doc = {**DOC, "rows": [row("A", 'Phòng "Một cửa", huyện', *range(9))]}
    rows = list(csv.reader(io.StringIO(render_csv(report(doc)).decode("utf-8-sig"))))
    assert rows[1][:3] == ["A", 'Phòng "Một cửa", huyện', "0"]


# ---------------------------------------------------------------------------------------------
# XLSX

ENGLISH = {
    "carried_over": "(carried over)",
    "received_online": "(received online)",
    "received_direct": "(at the counter, by post)",
    "early": "(early)",
    "on_time": "(on time)",
    "late": "(late)",
    "withdrawn": "(withdrawn)",
    "open_not_due": "(not yet due)",
    "open_overdue": "(overdue)",
}


@pytest.fixture
def sheet(tmp_path: Path) -> Any:
    path = tmp_path / "q1.xlsx"
    path.write_bytes(workbook_bytes(report()))
    return load_workbook(path).active


def header_columns(sheet: Any) -> dict[str, int]:
    """Each contract column found by the English line of its header cell (rows 7-8)."""
    found: dict[str, int] = {}
    for row in sheet.iter_rows(min_row=7, max_row=8):
        for cell in row:
            if isinstance(cell.value, str):
                for key, english in ENGLISH.items():
                    if cell.value.endswith(f"\n{english}"):
                        assert key not in found, f"two headers read {english}"
                        found[key] = cell.column
    return found


def test_xlsx_holds_the_same_numbers_as_the_json(sheet: Any) -> None:
    columns = header_columns(sheet)
    assert set(columns) == set(COLUMNS)
    by_code = {sheet.cell(r, 2).value: r for r in range(9, sheet.max_row + 1)}
    for number, expected in enumerate(DOC["rows"], start=1):
        r = by_code[expected["key"]]
        assert sheet.cell(r, 1).value == number
        for column in COLUMNS:
            value = sheet.cell(r, columns[column]).value
            assert type(value) is int and value == expected[column], (expected["key"], column)
    (total_row,) = [
        r for r in range(9, sheet.max_row + 1) if sheet.cell(r, 1).value == "Tổng cộng (total)"
    ]
    assert total_row == 9 + len(DOC["rows"]) == sheet.max_row
    for column in COLUMNS:
        assert sheet.cell(total_row, columns[column]).value == DOC["total"][column], column


def test_xlsx_group_totals_are_numbers_that_add_up(sheet: Any) -> None:
    columns = header_columns(sheet)
    row8 = {c: sheet.cell(8, c).value for c in range(1, sheet.max_column + 1)}
    totals = [c for c, text in row8.items() if text == "Tổng số\n(total)"]
    received_total, resolved_total, in_process_total = totals
    for r in range(9, sheet.max_row + 1):

        def at(key: str, r: int = r) -> int:
            return int(sheet.cell(r, columns[key]).value)

        assert sheet.cell(r, received_total).value == (
            at("carried_over") + at("received_online") + at("received_direct")
        )
        assert sheet.cell(r, resolved_total).value == at("early") + at("on_time") + at("late")
        assert sheet.cell(r, in_process_total).value == at("open_not_due") + at("open_overdue")
    assert sheet.cell(11, 3).value == "Không có trong danh mục (not in the catalogue)"  # X99


def test_xlsx_has_the_form_s_two_row_header_with_english_beneath(sheet: Any) -> None:
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A7:A8", "B7:B8", "C7:C8", "D7:G7", "H7:K7", "L7:L8", "M7:O7", "A12:C12"} <= merged
    assert [sheet[c].value for c in ("A7", "B7", "C7", "D7", "H7", "L7", "M7")] == [
        "STT\n(no.)",
        "Mã\n(code)",
        "Đơn vị\n(agency)",
        "Số hồ sơ nhận giải quyết\n(dossiers to handle)",
        "Số hồ sơ đã giải quyết\n(dossiers resolved)",
        "Rút hồ sơ\n(withdrawn)",
        "Số hồ sơ đang giải quyết\n(in process at the period's end)",
    ]
    assert [sheet.cell(8, c).value.split("\n")[0] for c in range(4, 16) if c != 12] == [
        "Tổng số", "Kỳ trước chuyển qua", "Trực tuyến", "Trực tiếp, bưu chính",
        "Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn",
        "Tổng số", "Chưa đến hạn", "Quá hạn",
    ]  # fmt: skip
    assert sheet["D7"].alignment.wrap_text and sheet["D7"].font.b
    assert sheet["E8"].border.left.style == "thin" and sheet["O12"].border.bottom.style == "thin"


def test_xlsx_names_the_period_its_days_and_when_it_was_produced(sheet: Any) -> None:
    titles = [sheet.cell(r, 1).value for r in range(1, 6)]
    assert titles[0] == "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ THỦ TỤC HÀNH CHÍNH"
    assert titles[2] == "Kỳ báo cáo: Quý I/2024, theo đơn vị (period 2024-Q1, by agency)"
    assert titles[3] == (
        "Từ ngày 01/01/2024 đến ngày 31/03/2024 (2024-01-01 – 2024-03-31, Vietnam time)"
    )
    assert titles[4] == (
        "Số liệu lập lúc 08:15:00 ngày 02/04/2024 (produced 2024-04-02 08:15:00, Vietnam time)"
    )
    assert sheet.cell(6, 1).value is None  # no note: the whole period, every agency


def test_xlsx_is_ready_to_print_with_widths_formats_and_frozen_headers(sheet: Any) -> None:
    for c in range(4, 16):
        letter = sheet.cell(9, c).column_letter
        assert sheet.column_dimensions[letter].width == 14, letter
        assert {sheet.cell(r, c).number_format for r in range(9, 13)} == {"#,##0"}, letter
    assert sheet.column_dimensions["C"].width >= len("Sở Tài nguyên và Môi trường")
    assert sheet.freeze_panes == "D9"
    assert sheet.print_title_rows == "$7:$8"
    assert sheet.page_setup.orientation == "landscape"
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert sheet.print_area.endswith("$A$1:$O$12")


def test_xlsx_notes_an_agency_tree_above_the_header(tmp_path: Path) -> None:
    doc = {**DOC, "agency": "LX", "scope": "tree"}
    path = tmp_path / "lx.xlsx"
    path.write_bytes(workbook_bytes(report(doc)))
    sheet = load_workbook(path).active
    assert sheet.cell(6, 1).value == (
        "Đơn vị LX và các đơn vị trực thuộc (agency LX with its units)"
    )
    assert sheet.cell(7, 1).value == "STT\n(no.)"
