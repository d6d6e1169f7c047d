"""The agency catalogue: which receiving agencies exist and how they nest.

Dashboards group figures by agency and the `agency` metric label is bounded by this list, so it
lives in an operator-editable CSV (`code,name,kind,parent`) rather than in code: a province
that merges two departments edits a spreadsheet, not Python. The catalogue for An Giang ships
in `iocmon/data/agencies-an-giang.csv`; `IOCMON_AGENCIES_FILE` points to another one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

from iocmon.errors import IocmonError

AgencyKind = Literal["province", "department", "district", "commune", "branch"]
KINDS: tuple[str, ...] = get_args(AgencyKind)
COLUMNS = ("code", "name", "kind", "parent")
MAX_CODE_LENGTH = 64  # the contract's limit on an event's `agency`
_CODE = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_CODE_LENGTH}}}")
_SHIPPED = "data/agencies-an-giang.csv"
_CsvReader = Any  # the csv module's reader type is not importable at run time


class CatalogueError(IocmonError):
    """An agency catalogue file cannot be used; the message lists every bad line."""


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    kind: AgencyKind
    parent: str | None


class AgencyCatalogue:
    """Agencies by code, in file order, with their tree.

    Building one checks the tree (unique codes, known parents, no cycles), so code that holds
    a catalogue never meets a dangling parent.
    """

    def __init__(self, agencies: Iterable[Agency]) -> None:
        located = [(f"agency #{i}", agency) for i, agency in enumerate(agencies, start=1)]
        _raise_on(_tree_problems(located), "agency catalogue")
        self._by_code: dict[str, Agency] = {agency.code: agency for _, agency in located}
        self._children: dict[str, list[Agency]] = {}
        for agency in self._by_code.values():
            if agency.parent is not None:
                self._children.setdefault(agency.parent, []).append(agency)

    def get(self, code: str) -> Agency | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"AgencyCatalogue({len(self)} agencies)"

    def children(self, code: str) -> list[Agency]:
        """Direct children in file order; empty for a leaf or an unknown code."""
        return list(self._children.get(code, ()))

    def descendants(self, code: str) -> list[Agency]:
        """Every unit below `code`, depth first: a district with its communes, etc."""
        out: list[Agency] = []
        for child in self.children(code):
            out.append(child)
            out.extend(self.descendants(child.code))
        return out

    def ancestors(self, code: str) -> list[Agency]:
        """Parent first, root last; empty for a root or an unknown code."""
        chain: list[Agency] = []
        agency = self._by_code.get(code)
        while agency is not None and agency.parent is not None:
            agency = self._by_code[agency.parent]
            chain.append(agency)
        return chain


def load_catalogue(path: Path | None = None) -> AgencyCatalogue:
    """Read a catalogue CSV; None reads the shipped An Giang one."""
    source = str(path) if path is not None else f"iocmon/{_SHIPPED}"
    located = _parse(_read(path, source), source)
    _raise_on(_tree_problems(located), source)
    return AgencyCatalogue(agency for _, agency in located)


def _read(path: Path | None, source: str) -> str:
    try:
        if path is None:
            data = resources.files("iocmon").joinpath(_SHIPPED).read_bytes()
        else:
            data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(
            f"{source}: cannot read the agency catalogue ({exc.strerror}); "
            "fix IOCMON_AGENCIES_FILE or unset it to use the shipped An Giang catalogue"
        ) from None
    # utf-8-sig: spreadsheet programs save "CSV UTF-8" with a byte-order mark.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogueError(
            f"{source}:{line}: not UTF-8 text; save the catalogue as 'CSV UTF-8'"
        ) from None


def _parse(text: str, source: str) -> list[tuple[str, Agency]]:
    """Rows as (file:line, Agency); blank rows and rows starting with '#' are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: _Header | None = None
    located: list[tuple[str, Agency]] = []
    problems: list[str] = []
    for cells in _rows(reader, source):
        where = f"{source}:{reader.line_num}"
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = _header(cells, where)
            continue
        try:
            located.append((where, _row(cells, header)))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if header is None:
        raise CatalogueError(f"{source}: empty; the first row must be {','.join(COLUMNS)}")
    _raise_on(problems, source)
    return located


def _rows(reader: _CsvReader, source: str) -> Iterator[list[str]]:
    """The reader's rows, with the csv module's own complaints (an oversized cell) located."""
    try:
        yield from reader
    except csv.Error as exc:
        raise CatalogueError(f"{source}:{reader.line_num}: unreadable CSV ({exc})") from None


@dataclass(frozen=True, slots=True)
class _Header:
    """Where each column is, and how many cells a row may have."""

    positions: dict[str, int]
    width: int


def _header(cells: list[str], where: str) -> _Header:
    """Column positions by name; extra columns (an operator's notes) are allowed and ignored."""
    names = [cell.strip().lower() for cell in cells]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise CatalogueError(
            f"{where}: the header lacks {', '.join(missing)}; "
            f"the first row must be {','.join(COLUMNS)}"
        )
    return _Header(positions={column: names.index(column) for column in COLUMNS}, width=len(names))


def _row(cells: list[str], header: _Header) -> Agency:
    if len(cells) > header.width:
        raise ValueError(
            f"{len(cells)} cells but the header has {header.width}; "
            'a name containing a comma must be in double quotes ("Sở Văn hóa, Thể thao…")'
        )
    values = {column: _cell(cells, index) for column, index in header.positions.items()}
    code, name, kind = values["code"], values["name"], values["kind"].lower()
    if not _CODE.fullmatch(code):
        raise ValueError(f"code {code!r} must be 1–{MAX_CODE_LENGTH} characters without spaces")
    if not name:
        raise ValueError(f"agency {code} has no name")
    if kind not in KINDS:
        raise ValueError(f"agency {code}: kind {kind!r} is not one of {', '.join(KINDS)}")
    return Agency(
        code=code, name=name, kind=cast(AgencyKind, kind), parent=values["parent"] or None
    )


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _tree_problems(located: list[tuple[str, Agency]]) -> list[str]:
    """Duplicates, unknown parents and cycles, each reported where it occurs."""
    problems: list[str] = []
    where_is: dict[str, str] = {}
    for where, agency in located:
        if agency.code in where_is:
            problems.append(
                f"{where}: code {agency.code} is already used at {where_is[agency.code]}"
            )
        else:
            where_is[agency.code] = where
    parents = {agency.code: agency.parent for _, agency in located}
    for where, agency in located:
        if agency.parent is not None and agency.parent not in parents:
            problems.append(f"{where}: agency {agency.code} has unknown parent {agency.parent}")
    problems.extend(_cycle_problems(parents, where_is))
    return problems


def _cycle_problems(parents: dict[str, str | None], where_is: dict[str, str]) -> list[str]:
    """Walk each chain once; a chain that meets itself is a cycle, reported at its first code."""
    problems: list[str] = []
    settled: set[str] = set()
    for start in parents:
        path: list[str] = []
        code: str | None = start
        while code is not None and code in parents and code not in settled:
            if code in path:
                cycle = [*path[path.index(code) :], code]
                problems.append(
                    f"{where_is[code]}: agency {code} is its own ancestor "
                    f"({' -> '.join(cycle)}); every chain of parents must end at a root"
                )
                break
            path.append(code)
            code = parents[code]
        settled.update(path)
    return problems


def _raise_on(problems: list[str], source: str) -> None:
    if problems:
        raise CatalogueError(
            f"bad agency catalogue {source}:\n  "
            + "\n  ".join(problems)
            + f"\ncolumns are {','.join(COLUMNS)}; kind is one of {', '.join(KINDS)}; "
            "parent is another row's code or empty"
        )
