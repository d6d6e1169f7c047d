"""The periodic report as a terminal table and as CSV (the workbook is in `report_xlsx`).

The table is for reading on screen: Vietnamese headings with the English beneath, numbers as
everywhere on the console (`12 345`), times local. The CSV is for other programs and for
Excel: the contract's English column names, raw numbers, one row per agency or field and a
last row keyed `total`.
"""

from __future__ import annotations

import csv
import io

from iocmon.console.fmt import LOCAL_TZ, NONE, Align, Palette, clip, integer, table, width
from iocmon.console.report_doc import COLUMNS, Counts, Report
from iocmon.console.report_labels import (
    BY,
    CODE,
    ROW_NAME,
    SHORT,
    TOTAL,
    notes,
    period_name,
    span,
)

CSV_HEADER: tuple[str, ...] = ("key", "name", *COLUMNS)
CSV_TOTAL_KEY = "total"
MIN_NAME_COLUMNS = 12


def heading(report: Report) -> list[str]:
    """What the report covers: its period, its grouping, its days, when it was produced,
    and the notes of `report_labels.notes`."""
    name, by = period_name(report.period), BY[report.by]
    local = report.produced_at.astimezone(LOCAL_TZ)
    return [
        f"Báo cáo giải quyết hồ sơ (dossier handling report): {name.vi} ({name.en}), "
        f"{by.vi} ({by.en})",
        f"Thời gian (covers): {span(report.start, report.end).iso()}, giờ Việt Nam (Vietnam time)",
        f"Lập lúc (produced): {local:%Y-%m-%d %H:%M:%S}",
        *(note.inline() for note in notes(report)),
    ]


def render_table(
    report: Report, *, columns: int | None = None, palette: Palette | None = None
) -> list[str]:
    """The heading, then one line per row and a totals line under a rule.

    `columns`: the terminal's width, to shorten names so lines fit (None: never cut, for
    files and pipes).
    """
    c = palette or Palette(False)
    headers = [CODE.inline(), ROW_NAME[report.by].inline(), *(SHORT[k].inline() for k in COLUMNS)]
    figure: Align = ">"
    aligns: list[Align] = ["<", "<", *([figure] * len(COLUMNS))]
    rows = [[row.key, row.name or NONE, *_figures(row.counts, c)] for row in report.rows]
    total = ["", TOTAL.inline(), *_figures(report.total, c)]
    lines = table(headers, [*rows, total], aligns)
    if columns is not None:
        excess = max(width(line) for line in lines) - columns
        if excess > 0:
            name_width = max(width(r[1]) for r in [*rows, total]) - excess
            for r in rows:
                r[1] = clip(r[1], max(MIN_NAME_COLUMNS, name_width))
            lines = table(headers, [*rows, total], aligns)
    rule = "─" * max(width(line) for line in lines)
    title, *about = heading(report)
    return [
        c.bold(title),
        *(c.dim(line) for line in about),
        "",
        *lines[:-1],
        c.dim(rule),
        c.bold(lines[-1]),
    ]


def _figures(counts: Counts, c: Palette) -> list[str]:
    cells = [integer(n) for n in counts.values]
    overdue = COLUMNS.index("open_overdue")
    if counts.values[overdue]:
        cells[overdue] = c.bad(cells[overdue])
    return cells


def render_csv(report: Report) -> bytes:
    """UTF-8 with a byte order mark, CRLF line ends (RFC 4180).

    The mark is there for Excel, where most of these files end up: without it Excel reads a
    CSV in the machine's legacy code page and shows 'Sá»Ÿ Y táº¿' for 'Sở Y tế'. Python
    (`encoding="utf-8-sig"`), pandas and LibreOffice skip the mark; a tool that does not
    would see it at the start of the first header, `key`.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        writer.writerow([row.key, row.name or "", *row.counts.values])
    writer.writerow([CSV_TOTAL_KEY, "", *report.total.values])
    return out.getvalue().encode("utf-8-sig")
