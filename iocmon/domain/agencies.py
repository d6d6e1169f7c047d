"""The agency catalogue: which receiving agencies exist and how they nest.

Dashboards group figures by agency and the `agency` metric label is bounded by this list, so it
lives in an operator-editable CSV (`code,name,kind,parent`) rather than in code: a province
that merges two departments edits a spreadsheet, not Python. The catalogue for An Giang ships
in `iocmon/data/agencies-an-giang.csv`; `IOCMON_AGENCIES_FILE` points to another one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from iocmon.domain.catalogue_file import CatalogueError, CatalogueFile

__all__ = ["Agency", "AgencyCatalogue", "CatalogueError", "load_catalogue"]

AgencyKind = Literal["province", "department", "district", "commune", "branch"]
KINDS: tuple[str, ...] = get_args(AgencyKind)
COLUMNS = ("code", "name", "kind", "parent")
MAX_CODE_LENGTH = 64  # the contract's limit on an event's `agency`
_CODE = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_CODE_LENGTH}}}")
AGENCIES_FILE = CatalogueFile(
    what="agency catalogue",
    shipped="data/agencies-an-giang.csv",
    variable="IOCMON_AGENCIES_FILE",
    columns=COLUMNS,
)


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
    text, source = AGENCIES_FILE.read(path)
    located, problems = AGENCIES_FILE.parse(text, source, _row)
    _raise_on(problems, source)
    _raise_on(_tree_problems(located), source)
    return AgencyCatalogue(agency for _, agency in located)


def _row(values: dict[str, str]) -> Agency:
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
