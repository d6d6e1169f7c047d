"""Agency catalogue: the shipped An Giang file, operator mistakes, and the tree rules for any
catalogue (checked with hypothesis)."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocmon.domain.agencies import (
    KINDS,
    Agency,
    AgencyCatalogue,
    CatalogueError,
    load_catalogue,
)
from iocmon.errors import IocmonError

HEADER = "code,name,kind,parent\n"
DISTRICTS = {
    "Long Xuyên", "Châu Đốc", "Tân Châu", "An Phú", "Châu Phú", "Châu Thành",
    "Chợ Mới", "Phú Tân", "Thoại Sơn", "Tịnh Biên", "Tri Tôn",
}  # fmt: skip


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agencies.csv"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> AgencyCatalogue:
    return load_catalogue(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_text(tmp_path, text)
    assert isinstance(caught.value, IocmonError)
    return str(caught.value)


# --- the shipped An Giang catalogue ------------------------------------------------------------

SHIPPED = load_catalogue()


def test_shipped_province_is_the_single_root() -> None:
    roots = [agency for agency in SHIPPED if agency.parent is None]
    assert roots == [Agency("AG", "Ủy ban nhân dân tỉnh An Giang", "province", None)]


def test_shipped_departments() -> None:
    departments = {a.code: a.name for a in SHIPPED.children("AG") if a.kind == "department"}
    assert len(departments) >= 20
    assert departments["STP"] == "Sở Tư pháp"
    assert departments["SVHTTDL"] == "Sở Văn hóa, Thể thao và Du lịch"
    assert departments["SLDTBXH"] == "Sở Lao động – Thương binh và Xã hội"
    assert departments["CAT"] == "Công an tỉnh"


def test_shipped_eleven_districts_each_with_communes() -> None:
    districts = [a for a in SHIPPED if a.kind == "district"]
    assert len(districts) == 11
    assert {re.sub(r"^(Thành phố|Thị xã|Huyện) ", "", d.name) for d in districts} == DISTRICTS
    for district in districts:
        assert district.parent == "AG"
        communes = SHIPPED.children(district.code)
        assert len(communes) >= 3
        assert all(c.kind == "commune" for c in communes)


def test_shipped_land_registration_branches_sit_under_natural_resources() -> None:
    branches = [a for a in SHIPPED.children("STNMT") if a.kind == "branch"]
    assert any(b.name.startswith("Chi nhánh Văn phòng Đăng ký đất đai") for b in branches)


def test_shipped_codes_are_short_uppercase_ascii() -> None:
    for agency in SHIPPED:
        assert re.fullmatch(r"[A-Z0-9-]{1,64}", agency.code), agency.code
        assert agency.kind in KINDS
        assert agency.name == agency.name.strip() != ""


def test_lookup_membership_and_size() -> None:
    assert SHIPPED.get("STP") == Agency("STP", "Sở Tư pháp", "department", "AG")
    assert SHIPPED.get("NOPE") is None
    assert "STP" in SHIPPED
    assert "stp" not in SHIPPED  # codes are matched exactly, as the events carry them
    assert 42 not in SHIPPED
    assert len(SHIPPED) == len(list(SHIPPED)) == len({a.code for a in SHIPPED})


def test_ancestors_nearest_first() -> None:
    assert [a.code for a in SHIPPED.ancestors("TT-NUITO")] == ["TT", "AG"]
    assert [a.code for a in SHIPPED.ancestors("TTPVHCC")] == ["VPUBND", "AG"]
    assert SHIPPED.ancestors("AG") == []
    assert SHIPPED.ancestors("NOPE") == []


def test_children_are_direct_only_and_in_file_order() -> None:
    assert [a.code for a in SHIPPED.children("LX")] == ["LX-MYBINH", "LX-MYLONG", "LX-MYHOAHUNG"]
    assert "LX-MYBINH" not in {a.code for a in SHIPPED.children("AG")}
    assert SHIPPED.children("LX-MYBINH") == []
    assert SHIPPED.children("NOPE") == []


def test_children_returns_a_copy() -> None:
    SHIPPED.children("LX").clear()
    assert len(SHIPPED.children("LX")) == 3


# --- what an operator's file may contain ------------------------------------------------------


def test_comments_blank_rows_extra_columns_bom_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    text = (
        "\ufeffCode , Name,kind,parent,note\r\n"
        "# a comment row\r\n"
        ",,,,\r\n"
        "\r\n"
        'P,"Tỉnh ""Thử"", An Giang",Province,,mine\r\n'
        " D , Sở X ,department, P ,\r\n"
    )
    path.write_bytes(text.encode("utf-8"))
    catalogue = load_catalogue(path)
    assert list(catalogue) == [
        Agency("P", 'Tỉnh "Thử", An Giang', "province", None),
        Agency("D", "Sở X", "department", "P"),
    ]


def test_parent_may_come_later_in_the_file(tmp_path: Path) -> None:
    catalogue = load_text(tmp_path, HEADER + "C,Xã,commune,D\nD,Huyện,district,\n")
    assert [a.code for a in catalogue.ancestors("C")] == ["D"]


def test_a_file_with_only_a_header_is_an_empty_catalogue(tmp_path: Path) -> None:
    assert len(load_text(tmp_path, HEADER)) == 0


# --- operator mistakes -------------------------------------------------------------------------


def test_duplicate_code_names_both_lines(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "A,Một,province,\nA,Hai,province,\n")
    assert re.search(r"agencies\.csv:3: code A is already used at .*agencies\.csv:2", message)


def test_unknown_parent(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "A,Một,province,\nB,Hai,department,X\n")
    assert "agencies.csv:3: agency B has unknown parent X" in message


def test_unknown_kind_lists_the_accepted_ones(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "A,Phòng,phòng,\n")
    assert "agencies.csv:2: agency A: kind 'phòng' is not one of" in message
    assert "province, department, district, commune, branch" in message


def test_cycle_is_reported_with_its_chain(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "R,Gốc,province,\nA,Một,district,B\nB,Hai,commune,A\n")
    assert "agencies.csv:3: agency A is its own ancestor (A -> B -> A)" in message
    assert message.count("own ancestor") == 1


def test_own_parent_is_a_cycle(tmp_path: Path) -> None:
    assert "(A -> A)" in error_of(tmp_path, HEADER + "A,Một,province,A\n")


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (",Không mã,province,", "code '' must be"),
        ("A B,Có dấu cách,province,", "code 'A B' must be"),
        ("X" * 65 + ",Dài,province,", "must be 1–64 characters"),
        ("A,,province,", "agency A has no name"),
        ("A,Sở Văn hóa, Thể thao,department,", "containing a comma must be in double quotes"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, why: str) -> None:
    message = error_of(tmp_path, HEADER + "P,Tỉnh,province,\n" + row + "\n")
    assert "agencies.csv:3: " in message
    assert why in message
    assert "kind is one of" in message


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    message = error_of(tmp_path, HEADER + "A,Một,nope,\nB,,province,\n")
    assert "agencies.csv:2:" in message
    assert "agencies.csv:3:" in message


def test_header_missing_a_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, "code,name,parent\nA,Một,\n")
    assert "agencies.csv:1: the header lacks kind" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in error_of(tmp_path, "\n# only a comment\n")


def test_csv_module_complaints_name_the_line(tmp_path: Path) -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    assert "agencies.csv:2: unreadable CSV" in error_of(tmp_path, HEADER + f"A,{huge},province,\n")


def test_missing_file_tells_which_setting(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="IOCMON_AGENCIES_FILE"):
        load_catalogue(tmp_path / "absent.csv")


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cp1258.csv"
    path.write_bytes(b"code,name,kind,parent\nA,S\xd2 T\xf2 ph\xe1p,department,\n")
    with pytest.raises(CatalogueError, match=r"cp1258\.csv:2: not UTF-8"):
        load_catalogue(path)


def test_constructor_checks_the_tree_too() -> None:
    with pytest.raises(CatalogueError, match="agency #1: agency A has unknown parent Z"):
        AgencyCatalogue([Agency("A", "Một", "province", "Z")])


# --- properties --------------------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and not s.startswith("#"))


@st.composite
def trees(draw: st.DrawFn) -> list[Agency]:
    """A random forest: each agency's parent is an earlier one or none, then rows shuffled."""
    size = draw(st.integers(min_value=1, max_value=25))
    agencies: list[Agency] = []
    for i in range(size):
        parent_index = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        parent = None if parent_index is None else agencies[parent_index].code
        agencies.append(Agency(f"C{i}", draw(names), draw(st.sampled_from(KINDS)), parent))
    return draw(st.permutations(agencies))


def to_csv(agencies: list[Agency]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name", "kind", "parent"])
    for a in agencies:
        writer.writerow([a.code, a.name, a.kind, a.parent or ""])
    return out.getvalue()


@given(trees())
def test_any_tree_round_trips_through_csv(agencies: list[Agency]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(to_csv(agencies), encoding="utf-8")
        catalogue = load_catalogue(path)
    assert list(catalogue) == agencies


@given(trees())
def test_tree_rules_hold(agencies: list[Agency]) -> None:
    catalogue = AgencyCatalogue(agencies)
    for agency in catalogue:
        chain = catalogue.ancestors(agency.code)
        assert len({a.code for a in chain}) == len(chain)  # no cycles
        if agency.parent is None:
            assert chain == []
        else:
            assert chain[0].code == agency.parent
            assert agency in catalogue.children(agency.parent)
            assert chain[-1].parent is None
        for child in catalogue.children(agency.code):
            assert catalogue.ancestors(child.code)[0] == agency
    assert sum(len(catalogue.children(a.code)) for a in catalogue) == sum(
        a.parent is not None for a in catalogue
    )


@given(trees(), st.data())
def test_closing_any_loop_is_caught(agencies: list[Agency], data: st.DataObject) -> None:
    # Point some agency at one of its own descendants (or itself): that must be a cycle.
    catalogue = AgencyCatalogue(agencies)
    victim = data.draw(st.sampled_from(agencies))
    descendants = [a for a in agencies if victim in catalogue.ancestors(a.code)] + [victim]
    new_parent = data.draw(st.sampled_from(descendants)).code
    broken = [Agency(a.code, a.name, a.kind, new_parent) if a == victim else a for a in agencies]
    with pytest.raises(CatalogueError, match="own ancestor"):
        AgencyCatalogue(broken)
