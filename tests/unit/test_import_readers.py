"""Reading exports: format detection, streaming JSON across chunk boundaries, row numbers,
and file-level errors that say what is wrong without quoting the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iocmon.producers.importer import readers
from iocmon.producers.importer.errors import ExportError
from iocmon.producers.importer.readers import SourceRecord, detect_format, read_export

DOSSIERS = [
    {"MaHoSo": f"H01-{i}", "ChuHoSo": "Nguyễn Văn Thử", "TrangThaiHoSo": i} for i in range(1, 6)
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("[\n{}]", "json"),
        ('  {"data": [{"MaHoSo": "1"}]}', "json"),
        ('{\n "error_code": 0,\n "data": []\n}', "json"),
        ('{"MaHoSo": "1"}\n{"MaHoSo": "2"}\n', "jsonl"),
        ("\ufeffMaHoSo,TrangThaiHoSo\n1,2\n", "csv"),
    ],
)
def test_detect_format(tmp_path: Path, text: str, fmt: str) -> None:
    assert detect_format(write(tmp_path, "export.json", text)) == fmt


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_json_streams_across_any_chunk_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(readers, "_CHUNK", chunk)
    doc = {"total": 12345, "note": "a [tricky] {value}", "data": DOSSIERS, "after": [1, {"x": 2}]}
    path = write(tmp_path, "export.json", json.dumps(doc, ensure_ascii=False, indent=2))
    assert list(read_export(path, "json")) == [
        SourceRecord(i, d) for i, d in enumerate(DOSSIERS, start=1)
    ]
    path = write(tmp_path, "array.json", json.dumps(DOSSIERS, separators=(",", ":")))
    assert [r.data for r in read_export(path, "json")] == DOSSIERS


def test_rows_that_are_not_objects_are_reported_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[{"MaHoSo": "1"}, "Nguyễn Văn Thử", [1], {"MaHoSo": "2"}]')
    got = list(read_export(path, "json"))
    assert [(r.row, r.data is None) for r in got] == [(1, False), (2, True), (3, True), (4, False)]
    assert got[1].problem == "is not a JSON object (one dossier per record)"


def test_jsonl_rows_are_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"MaHoSo": "1"}\n\n{"MaHoSo": "2", \n{"MaHoSo": "3"}\n')
    got = list(read_export(path, "jsonl"))
    assert [(r.row, r.data) for r in got] == [(1, {"MaHoSo": "1"}), (3, None), (4, {"MaHoSo": "3"})]
    assert got[1].problem == "is not valid JSON"


def test_csv_rows_skip_blank_lines_and_keep_quoted_lists(tmp_path: Path) -> None:
    text = (
        'MaHoSo;DanhSachHoSoBoSung\r\n'
        'H01-1;"[{""NgayBoSung"": ""20240305080000""}]"\r\n'
        ';\r\n'
        'H01-2;\r\n'
    )  # fmt: skip
    got = list(read_export(write(tmp_path, "a.csv", text), "csv"))
    assert [(r.row, r.data) for r in got] == [
        (1, {"MaHoSo": "H01-1", "DanhSachHoSoBoSung": '[{"NgayBoSung": "20240305080000"}]'}),
        (2, {"MaHoSo": "H01-2", "DanhSachHoSoBoSung": ""}),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"MaHoSo": "1"}, {"MaHoSo": "Nguyễn Văn Thử" x}]', "malformed at record 2"),
        ('[{"MaHoSo": "1"} {"MaHoSo": "2"}]', "malformed after record 1"),
        ('{"total": 3}', "no 'data' array"),
        ('{"data": [{"MaHoSo": "1"}]} trailing', "data after its end"),
        ('"Nguyễn Văn Thử"', "must be an array of dossiers"),
        ("[{", "malformed at record 1"),
    ],
)
def test_broken_json_raises_without_quoting(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ExportError) as info:
        list(read_export(write(tmp_path, "a.json", text), "json"))
    assert message in str(info.value)
    assert "Nguyễn" not in str(info.value)


def test_not_utf8_is_an_export_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"MaHoSo,ChuHoSo\nH01-1,Nguy\xean\n")  # a Windows-1258 export
    with pytest.raises(ExportError, match="not UTF-8"):
        list(read_export(path, "csv"))
