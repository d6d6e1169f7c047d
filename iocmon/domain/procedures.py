"""The procedure catalogue: each procedure's name, field (lĩnh vực), online level and days.

The government's periodic report (CONTRACT §6) groups dossiers by field, and people read
procedure names, not codes; events carry only the code. So the catalogue is an
operator-edited CSV (`code,name,field,field_name,online_level,processing_days`), shipped for
the simulator's procedures in `iocmon/data/procedures-an-giang.csv` and replaced with
`IOCMON_PROCEDURES_FILE`. `field` is a short key (rows of a report by field, API
parameters), `field_name` what people read; a procedure not in the catalogue is in the field
`unknown`. The catalogue is read at start-up and checked whole, so a bad line stops the
worker with every problem listed rather than surfacing as a wrong report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from iocmon.domain.agencies import MAX_CODE_LENGTH
from iocmon.domain.catalogue_file import CatalogueError, CatalogueFile
from iocmon.domain.events import LEVELS

COLUMNS = ("code", "name", "field", "field_name", "online_level", "processing_days")
PROCEDURES_FILE = CatalogueFile(
    what="procedure catalogue",
    shipped="data/procedures-an-giang.csv",
    variable="IOCMON_PROCEDURES_FILE",
    columns=COLUMNS,
)
MAX_PROCESSING_DAYS = 365
_CODE = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_CODE_LENGTH}}}")
_FIELD_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    name: str


UNKNOWN_FIELD = Field("unknown", "Chưa xác định lĩnh vực")
"""Where a procedure code outside the catalogue is counted."""


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    field: Field
    online_level: str
    """`full`, `partial` or `none`, as an event's `level`."""
    processing_days: int


class ProcedureCatalogue:
    """Procedures by code, in file order; building one checks codes and fields agree."""

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        located = [(f"procedure #{i}", p) for i, p in enumerate(procedures, start=1)]
        _raise_on(_problems(located), "procedure catalogue")
        self._by_code = {procedure.code: procedure for _, procedure in located}
        self._fields = {p.field.key: p.field for p in self._by_code.values()}

    def get(self, code: str) -> Procedure | None:
        return self._by_code.get(code)

    def field_of(self, code: str) -> Field:
        procedure = self._by_code.get(code)
        return UNKNOWN_FIELD if procedure is None else procedure.field

    def fields(self) -> list[Field]:
        """Every field of the catalogue, in the order of first appearance."""
        return list(self._fields.values())

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"ProcedureCatalogue({len(self)} procedures, {len(self._fields)} fields)"


def field_keys(catalogue: ProcedureCatalogue) -> Callable[[str], str]:
    """A procedure code's field key, as the worker counts the report by (`batch.FieldOf`)."""
    fields = {procedure.code: procedure.field.key for procedure in catalogue}
    return lambda code: fields.get(code, UNKNOWN_FIELD.key)


def load_procedures(path: Path | None = None) -> ProcedureCatalogue:
    """Read a procedure catalogue CSV; None reads the shipped An Giang one."""
    text, source = PROCEDURES_FILE.read(path)
    located, problems = PROCEDURES_FILE.parse(text, source, _row)
    _raise_on([*problems, *_problems(located)], source)
    return ProcedureCatalogue(procedure for _, procedure in located)


def _row(values: dict[str, str]) -> Procedure:
    code, name = values["code"], values["name"]
    if not _CODE.fullmatch(code):
        raise ValueError(f"code {code!r} must be 1–{MAX_CODE_LENGTH} characters without spaces")
    if not name:
        raise ValueError(f"procedure {code} has no name")
    key, field_name = values["field"].lower(), values["field_name"]
    if not _FIELD_KEY.fullmatch(key) or key == UNKNOWN_FIELD.key:
        raise ValueError(
            f"procedure {code}: field {values['field']!r} must be 1–40 lowercase letters, "
            f"digits, '_', '.' or '-' (not {UNKNOWN_FIELD.key!r}, kept for codes not listed)"
        )
    if not field_name:
        raise ValueError(f"procedure {code}: field {key} has no field_name")
    level = values["online_level"].lower()
    if level not in LEVELS:
        raise ValueError(
            f"procedure {code}: online_level {level!r} is not one of {', '.join(sorted(LEVELS))}"
        )
    days = values["processing_days"]
    if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= MAX_PROCESSING_DAYS:
        raise ValueError(
            f"procedure {code}: processing_days {days!r} must be a whole number of working "
            f"days from 1 to {MAX_PROCESSING_DAYS}"
        )
    return Procedure(code, name, Field(key, field_name), level, int(days))


def _problems(located: list[tuple[str, Procedure]]) -> list[str]:
    """Codes used twice, and a field key given two names, each reported where it occurs."""
    problems: list[str] = []
    code_at: dict[str, str] = {}
    field_at: dict[str, tuple[str, str]] = {}
    for where, procedure in located:
        if procedure.code in code_at:
            problems.append(
                f"{where}: code {procedure.code} is already used at {code_at[procedure.code]}"
            )
        code_at.setdefault(procedure.code, where)
        field = procedure.field
        first = field_at.setdefault(field.key, (field.name, where))
        if first[0] != field.name:
            problems.append(
                f"{where}: field {field.key} is named {field.name!r} here but {first[0]!r} "
                f"at {first[1]}; one field, one name"
            )
    return problems


def _raise_on(problems: list[str], source: str) -> None:
    if problems:
        raise CatalogueError(
            f"bad procedure catalogue {source}:\n  "
            + "\n  ".join(problems)
            + f"\ncolumns are {','.join(COLUMNS)}; online_level is one of "
            f"{', '.join(sorted(LEVELS))}; processing_days is 1 to {MAX_PROCESSING_DAYS}"
        )
