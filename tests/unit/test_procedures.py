"""Procedure catalogue: the shipped file covers the simulator, and operator mistakes are
reported by file and line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from iocmon.config import Settings
from iocmon.domain.catalogue_file import CatalogueError
from iocmon.domain.procedures import UNKNOWN_FIELD, load_procedures
from iocmon.producers.procedure_names import catalogue_csv
from iocmon.producers.profile import procedure_tables

HEADER = "code,name,field,field_name,online_level,processing_days\n"
GOOD = "1.001,Đăng ký khai sinh,civil_status,Hộ tịch,full,3\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "procedures.csv"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_procedures(write(tmp_path, text))
    return str(caught.value)


def test_the_shipped_catalogue_holds_every_procedure_the_simulator_uses() -> None:
    catalogue = load_procedures(None)
    simulated = [p for table in procedure_tables().values() for p in table]
    assert len(catalogue) == len(simulated) == 300
    for procedure in simulated:
        listed = catalogue.get(procedure.code)
        assert listed is not None, procedure.code
        assert listed.processing_days == procedure.processing_days
    assert len({p.name for p in catalogue}) == len(catalogue)
    fields = {f.key: f.name for f in catalogue.fields()}
    assert {"land", "civil_status", "enterprise_registration", "construction"} <= set(fields)
    assert fields["land"] == "Đất đai" and fields["civil_status"] == "Hộ tịch"
    assert {p.online_level for p in catalogue} == {"full", "partial", "none"}


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    shipped = resources.files("iocmon").joinpath("data/procedures-an-giang.csv")
    assert shipped.read_text("utf-8") == catalogue_csv()


def test_a_code_outside_the_catalogue_is_in_the_unknown_field(tmp_path: Path) -> None:
    catalogue = load_procedures(write(tmp_path, HEADER + GOOD))
    assert catalogue.field_of("1.001").key == "civil_status"
    assert catalogue.field_of("9.999") == UNKNOWN_FIELD


def test_spreadsheet_exports_load(tmp_path: Path) -> None:
    """A byte-order mark, note columns, comments, blank rows and quoted commas."""
    text = (
        "\ufeffCode,Name,Field,Field_Name,Online_Level,Processing_Days,Ghi chú\n"
        "# comment\n\n"
        '2.002,"Chuyển mục đích sử dụng đất, hộ gia đình",land,Đất đai,Partial,15,x\n'
    )
    (procedure,) = load_procedures(write(tmp_path, text))
    assert procedure.name == "Chuyển mục đích sử dụng đất, hộ gia đình"
    assert (procedure.field.key, procedure.online_level, procedure.processing_days) == (
        "land",
        "partial",
        15,
    )


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("1 001,Tên,land,Đất đai,full,3", "must be 1–64 characters without spaces"),
        ("1.002,,land,Đất đai,full,3", "procedure 1.002 has no name"),
        ("1.002,Tên,Đất đai,Đất đai,full,3", "field 'Đất đai' must be 1–40 lowercase"),
        ("1.002,Tên,unknown,Khác,full,3", "not 'unknown'"),
        ("1.002,Tên,land,,full,3", "field land has no field_name"),
        ("1.002,Tên,land,Đất đai,online,3", "online_level 'online' is not one of"),
        ("1.002,Tên,land,Đất đai,full,0", "processing_days '0' must be a whole number"),
        ("1.002,Tên,land,Đất đai,full,2.5", "processing_days '2.5'"),
        ("1.002,Tên,land,Đất đai,full,²", "processing_days '²' must be a whole number"),
        ("1.002,Tên, có phẩy,land,Đất đai,full,3", "containing a comma must be in double quotes"),
        ("1.001,Tên khác,land,Đất đai,full,3", "code 1.001 is already used at"),
        ("1.002,Tên,civil_status,Tư pháp - Hộ tịch,full,3", "one field, one name"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, why: str) -> None:
    message = error_of(tmp_path, HEADER + GOOD + row + "\n")
    assert "procedures.csv:3: " in message
    assert why in message


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "a,,land,Đất đai,full,3\nb,B,land,Đất đai,some,3\n")
    assert "procedures.csv:2: " in message and "procedures.csv:3: " in message


def test_a_missing_column_or_file_says_what_to_do(tmp_path: Path) -> None:
    assert "the header lacks field_name, online_level" in error_of(
        tmp_path, "code,name,field,processing_days\n"
    )
    with pytest.raises(CatalogueError, match="fix IOCMON_PROCEDURES_FILE or unset it"):
        load_procedures(tmp_path / "missing.csv")


def test_the_setting_names_the_file() -> None:
    settings = Settings.from_env({"IOCMON_PROCEDURES_FILE": "/etc/iocmon/procedures.csv"})
    assert settings.procedures_file == Path("/etc/iocmon/procedures.csv")
