"""Reading an operator-edited catalogue CSV: the agencies, the procedures.

Operators keep these in a spreadsheet, so the reader takes what spreadsheet programs write
("CSV UTF-8" with a byte-order mark, extra note columns, blank and `#` comment rows) and
locates every problem by file and line, all of them at once, so one round of fixes is enough.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from iocmon.errors import IocmonError

T = TypeVar("T")
_CsvReader = Any  # the csv module's reader type is not importable at run time


class CatalogueError(IocmonError):
    """A catalogue file cannot be used; the message lists every bad line."""


@dataclass(frozen=True, slots=True)
class CatalogueFile:
    """What a catalogue is called in messages, and where the shipped one is."""

    what: str
    """"agency catalogue", "procedure catalogue"."""
    shipped: str
    """Path of the shipped file inside the `iocmon` package."""
    variable: str
    """The setting that names another file."""
    columns: tuple[str, ...]

    def read(self, path: Path | None) -> tuple[str, str]:
        """(text, source): the file's text and how messages name it; None: the shipped one."""
        source = str(path) if path is not None else f"iocmon/{self.shipped}"
        try:
            if path is None:
                data = resources.files("iocmon").joinpath(self.shipped).read_bytes()
            else:
                data = path.read_bytes()
        except OSError as exc:
            raise CatalogueError(
                f"{source}: cannot read the {self.what} ({exc.strerror}); fix "
                f"{self.variable} or unset it to use the shipped one"
            ) from None
        try:
            return data.decode("utf-8-sig"), source
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CatalogueError(
                f"{source}:{line}: not UTF-8 text; save the {self.what} as 'CSV UTF-8'"
            ) from None

    def parse(
        self, text: str, source: str, row: Callable[[dict[str, str]], T]
    ) -> tuple[list[tuple[str, T]], list[str]]:
        """Rows as (file:line, `row(values)`), and the problems (a `row` raises ValueError
        to report one); blank rows and rows starting with '#' are skipped."""
        reader = csv.reader(io.StringIO(text, newline=""))
        header: _Header | None = None
        located: list[tuple[str, T]] = []
        problems: list[str] = []
        for cells in _rows(reader, source):
            where = f"{source}:{reader.line_num}"
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = self._header(cells, where)
                continue
            try:
                located.append((where, row(header.values(cells))))
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
        if header is None:
            raise CatalogueError(f"{source}: empty; the first row must be {','.join(self.columns)}")
        return located, problems

    def _header(self, cells: list[str], where: str) -> _Header:
        """Column positions by name; extra columns (an operator's notes) are ignored."""
        names = [cell.strip().lower() for cell in cells]
        missing = [column for column in self.columns if column not in names]
        if missing:
            raise CatalogueError(
                f"{where}: the header lacks {', '.join(missing)}; "
                f"the first row must be {','.join(self.columns)}"
            )
        return _Header({column: names.index(column) for column in self.columns}, len(names))


@dataclass(frozen=True, slots=True)
class _Header:
    """Where each column is, and how many cells a row may have."""

    positions: dict[str, int]
    width: int

    def values(self, cells: list[str]) -> dict[str, str]:
        if len(cells) > self.width:
            raise ValueError(
                f"{len(cells)} cells but the header has {self.width}; a value containing a "
                'comma must be in double quotes ("Sở Văn hóa, Thể thao…")'
            )
        return {
            column: cells[index].strip() if index < len(cells) else ""
            for column, index in self.positions.items()
        }


def _rows(reader: _CsvReader, source: str) -> Iterator[list[str]]:
    """The reader's rows, with the csv module's own complaints (an oversized cell) located."""
    try:
        yield from reader
    except csv.Error as exc:
        raise CatalogueError(f"{source}:{reader.line_num}: unreadable CSV ({exc})") from None
