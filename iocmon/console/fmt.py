"""Pure text formatting for the console: numbers, percentages, local times, tables, colour.

Numbers follow one convention everywhere on screen (JSON output keeps raw numbers):

- decimals with a point and thousands with a space: `12 345`, `99.95 %`. A Vietnamese
  document would write `12.345` and `99,95%`; mixing that with English readers, Grafana and
  copy-paste into other tools invites misreading, and a space (as in ISO 80000) is
  unambiguous for both.
- percentages and scores are cut (never rounded up) to two decimals, so an agency below a
  99.9 % target never shows as `99.90 %`, and only a perfect record shows `100.00 %`.
- times are local (Asia/Ho_Chi_Minh, UTC+07:00), `2024-02-05 17:00`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

# Equals iocmon.domain.calendar.LOCAL_TZ; not imported from there, which loads `holidays`
# (most of a second) for every console command.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NONE = "—"
Align = Literal["<", ">"]


def integer(n: int | None) -> str:
    """12345 -> '12 345'."""
    if n is None:
        return NONE
    return f"{n:,}".replace(",", " ")


def _cut(x: float, places: int = 2) -> str:
    scale = 10**places
    # the epsilon keeps 0.9995 * 10000 (9994.999...) from being cut to 9994
    return f"{math.floor(x * scale + 1e-7) / scale:.{places}f}"


def percent(ratio: float | None) -> str:
    """0.99957 -> '99.95 %' (cut, not rounded); None (undefined) -> '—'."""
    if ratio is None:
        return NONE
    return f"{_cut(ratio * 100)} %"


def score(x: float | None) -> str:
    """The 766 progress score out of 20: 19.987 -> '19.98'."""
    return NONE if x is None else _cut(x)


def late_ratio(figures: Mapping[str, Any]) -> float | None:
    """late / (early + on_time + late): the complement of the on-time ratio."""
    judged = sum(int(figures.get(k) or 0) for k in ("early", "on_time", "late"))
    return None if judged == 0 else int(figures.get("late") or 0) / judged


def local_time(iso: str | None, seconds: bool = False) -> str:
    """An RFC 3339 timestamp shown in local time: '2024-02-05 17:00'."""
    if not iso:
        return NONE
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return iso
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone(LOCAL_TZ).strftime(pattern)


def duration(seconds: float | None) -> str:
    """Whole minutes: '2 ngày 3 giờ 5 phút (2 d 3 h 5 min)'; 0 -> '0 phút (0 min)'."""
    if not seconds or seconds < 60:
        return "0 phút (0 min)"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    vi, en = [], []
    for n, vi_unit, en_unit in ((days, "ngày", "d"), (hours, "giờ", "h"), (mins, "phút", "min")):
        if n:
            vi.append(f"{n} {vi_unit}")
            en.append(f"{n} {en_unit}")
    return f"{' '.join(vi)} ({' '.join(en)})"


# ---------------------------------------------------------------------------------------------
# width-aware text

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def width(text: str) -> int:
    """Terminal columns: escapes and combining marks take none, wide (CJK) characters two."""
    plain = _ANSI.sub("", text)
    total = 0
    for ch in plain:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def clip(text: str, columns: int) -> str:
    """Cut plain `text` to at most `columns`, ending with '…' when cut."""
    text = unicodedata.normalize("NFC", text)
    if width(text) <= columns:
        return text
    if columns <= 0:
        return ""
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > columns - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def clip_line(line: str, columns: int) -> str:
    """Cut a line that may hold colour escapes to `columns` (escapes kept, reset appended)."""
    if width(line) <= columns:
        return line
    out, used, i = [], 0, 0
    while i < len(line):
        match = _ANSI.match(line, i)
        if match:
            out.append(match.group())
            i = match.end()
            continue
        w = width(line[i])
        if used + w > columns - 1:
            break
        out.append(line[i])
        used += w
        i += 1
    return "".join(out) + "…" + (RESET if "\x1b[" in line else "")


def pad(text: str, columns: int, align: Align = "<") -> str:
    gap = " " * max(0, columns - width(text))
    return text + gap if align == "<" else gap + text


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    aligns: Sequence[Align],
    indent: str = "",
    gap: str = "  ",
    split_headers: bool = True,
) -> list[str]:
    """Columns as wide as their widest cell (escapes ignored), trailing blanks stripped.

    With `split_headers`, a header "Quá hạn (overdue)" takes two lines, the English under the
    Vietnamese, so that labels do not make the columns wider than the figures need.
    """
    header_rows = [list(headers)]
    if split_headers and any(" (" in h for h in headers):
        header_rows = [list(row) for row in zip(*map(_split_header, headers), strict=True)]
    widths = [0] * len(headers)
    for row in [*header_rows, *rows]:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], width(cell))
    lines = []
    for row in [*header_rows, *rows]:
        cells = [pad(cell, widths[i], aligns[i]) for i, cell in enumerate(row)]
        lines.append((indent + gap.join(cells)).rstrip())
    return lines


def _split_header(header: str) -> tuple[str, str]:
    """ "Quá hạn (overdue)" -> ("Quá hạn", "(overdue)"); "#" -> ("", "#"): one-line headers
    sit on the lower line, next to the English."""
    vietnamese, sep, english = header.partition(" (")
    return (vietnamese, f"({english}") if sep else ("", header)


# ---------------------------------------------------------------------------------------------
# colour

RESET = "\x1b[0m"
_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


@dataclass(frozen=True, slots=True)
class Palette:
    """Wraps text in ANSI colour when `enabled`; otherwise returns it unchanged."""

    enabled: bool

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}{RESET}"

    def good(self, text: str) -> str:
        return self(text, "green")

    def bad(self, text: str) -> str:
        return self(text, "red", "bold")

    def warn(self, text: str) -> str:
        return self(text, "yellow")

    def bold(self, text: str) -> str:
        return self(text, "bold")

    def dim(self, text: str) -> str:
        return self(text, "dim")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
