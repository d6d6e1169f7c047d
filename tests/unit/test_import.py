"""`iocmon import` on a sample export covering every TrangThaiHoSo and every KenhThucHien.

The sample carries applicant data everywhere a real export does (and in the supplementation
entries); the tests check the exact events, that each passes the worker's validator, that no
applicant value leaves the adapter, and that JSON, JSON Lines and CSV give the same bytes.
`tests/integration/test_import.py` sends the same sample through the live pipeline.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from iocmon.domain.events import parse_record
from iocmon.producers.importer.cli import import_command
from iocmon.producers.replay import read_records

NOW = datetime(2024, 4, 1, 3, 0, tzinfo=UTC)
"""The tests' clock for the mapping; the command itself uses the real one (2024 is past)."""


def applicant(n: int) -> dict[str, str]:
    """Applicant fields as the portal sends them; every value is unique to the sample."""
    return {
        "ChuHoSo": f"Nguyễn Văn Thử{n}",
        "TenNguoiNop": f"Trần Thị Nộp{n}",
        "SoCMND": f"3517{n:04d}91",
        "SoCCCD": f"0891{n:04d}7713",
        "SoDinhDanh": f"0891{n:04d}5524",
        "SoDienThoai": f"0968{n:03d}417",
        "Email": f"nguoinop{n}@thu.example.vn",
        "DiaChi": f"Số {n} Trần Hưng Đạo, Mỹ Bình, Long Xuyên",
        "TrichYeuHoSo": f"Đề nghị cấp phép cho hộ bà Lê Thị Mẫu{n}",
    }


def dossier(n: int, status: int, channel: int, **fields: Any) -> dict[str, Any]:
    return {
        "MaHoSo": f"000.00.31.H01-2403-{n:04d}",
        "MaTTHC": "1.001757",
        "MaDonVi": "STP",
        "KenhThucHien": str(channel),
        "TrangThaiHoSo": status,
        **applicant(n),
        **fields,
    }


def official(n: int) -> dict[str, str]:
    """What entries carry besides dates: officials' names and free text about the applicant."""
    return {
        "NguoiYeuCauBoSung": f"Cán bộ Phạm Văn Duyệt{n}",
        "NoiDungBoSung": f"Bổ sung bản sao hộ khẩu của ông Nguyễn Văn Thử{n}",
    }


GOOD = [
    dossier(1, 1, 2, NgayTiepNhan="20240304090000"),
    dossier(2, 2, 1, NgayTiepNhan="20240304080000", NgayHenTra="20240311170000"),
    dossier(3, 3, 2, MucDo=4, NgayNopHoSo="20240304100000", NgayKetThucXuLy="20240305080000"),
    dossier(4, 4, 3, MucDo=3, NgayTiepNhan="20240305083000", NgayHenTra="20240315170000"),
    {
        **dossier(5, 5, 2, MucDo="4", NgayNopHoSo="20240305200000"),
        "MaDonVi": "",
        "DonViXuLy": "SXD",
        "MaTTHC": "1.009994",
        "NgayTiepNhan": "20240306080000",
        "NgayHenTra": "20240320170000",
        "DanhSachHoSoBoSung": [{**official(5), "NgayBoSung": "20240307100000"}],
    },
    dossier(
        6,
        status=6,
        channel=1,
        NgayTiepNhan="20240306090000",
        NgayHenTra="20240313170000",
        NgayYeuCauThanhToan="20240306093000",
    ),
    dossier(
        7,
        status=7,
        channel=2,
        NgayTiepNhan="20240304083000",
        NgayHenTra="20240308170000",
        NgayKetThucXuLy="20240305150000",
    ),
    dossier(
        8,
        status=8,
        channel=1,
        NgayTiepNhan="20240304090000",
        NgayHenTra="20240308170000",  # the portal's current date: moved by the apology slip
        NgayKetThucXuLy="20240308100000",
        DanhSachHoSoBoSung=[
            {
                "NgayXinLoi": "20240306160000",
                "NgayHenTraTruoc": "20240306170000",
                "NgayHenTraMoi": "20240308170000",
            }
        ],
    ),
    dossier(
        9,
        status=9,
        channel=3,
        MucDo=2,
        NgayTiepNhan="20240311080000",
        NgayHenTra="20240315170000",
        NgayKetThucXuLy="20240313160000",
        DanhSachHoSoBoSung=[
            {
                **official(9),
                "NgayYeuCauBoSung": "20240312090000",
                "NgayTiepNhanBoSung": "20240312150000",
            }
        ],
    ),
    {
        **dossier(
            10,
            status=10,
            channel=2,
            MucDo=4,
            NgayTiepNhan="20240304080000",
            NgayHenTra="20240314170000",
            NgayKetThucXuLy="20240313100000",
            NgayTra="20240314090000",
            DanhSachHoSoBoSung=[
                {
                    **official(10),
                    "NgayYeuCauBoSung": "20240306090000",
                    "NgayTiepNhanBoSung": "20240308090000",
                    "NgayHenTraTruoc": "20240311170000",
                    "NgayHenTraMoi": "20240314170000",
                }
            ],
        ),
        "MaDonVi": "SXD",
    },
    dossier(
        11,
        status=10,
        channel=1,
        NgayTiepNhan="20240311080000",
        NgayHenTra="20240318170000",
        NgayTraKetQua="20240318160000",
    ),
    dossier(
        12,
        status=9,
        channel=2,
        NgayTiepNhan="20240311080000",
        NgayHenTra="20240322170000",
        NgayKetThucXuLy="20240315100000",
        QuaTrinhXuLy=[
            {"NguoiXuLy": "Cán bộ Võ Thị Xử12", "NoiDungXuLy": "Chuyển phòng chuyên môn"},
            {"NgayYeuCauBoSung": "20240312090000", "NgayTiepNhanBoSung": "20240312140000"},
            {"NgayYeuCauBoSung": "20240313090000", "NgayTiepNhanBoSung": "20240313140000"},
        ],
    ),
]

BAD = {
    # row in the export: (record, field reported, reason reported)
    7: (
        {**dossier(21, 9, 1, NgayTiepNhan="20240304080000", NgayHenTra="20240308170000",
                   NgayKetThucXuLy="20240305080000"), "MaHoSo": ""},
        "MaHoSo",
        "is required",
    ),
    11: (
        dossier(22, 2, 1, NgayTiepNhan="04/03/2024 08:00", NgayHenTra="20240308170000"),
        "NgayTiepNhan",
        "is not a date in the format yyyyMMddHHmmss (or yyyyMMdd), local time in "
        "Asia/Ho_Chi_Minh",
    ),
    12: (
        dossier(23, 11, 1, NgayTiepNhan="20240304080000", NgayHenTra="20240308170000"),
        "TrangThaiHoSo",
        "is not a known status (expected 1-10)",
    ),
    16: (
        dossier(24, 2, 5, NgayTiepNhan="20240304080000", NgayHenTra="20240308170000"),
        "KenhThucHien",
        "must be 1 (counter), 2 (online) or 3 (postal)",
    ),
    17: (
        dossier(25, 9, 1, NgayTiepNhan="20240304080000", NgayHenTra="20240308170000"),
        "NgayKetThucXuLy",
        "is required for this status",
    ),
    18: (
        dossier(26, 9, 2, NgayTiepNhan="20240304080000", NgayHenTra="20240308170000",
                NgayKetThucXuLy="20240301080000"),
        "NgayKetThucXuLy",
        "is earlier than NgayTiepNhan",
    ),
}  # fmt: skip


def sample_export() -> list[dict[str, Any]]:
    """The 12 good dossiers with the 6 bad ones at the rows `BAD` names."""
    good = iter(GOOD)
    rows = len(GOOD) + len(BAD)
    return [BAD[row][0] if row in BAD else next(good) for row in range(1, rows + 1)]


def applicant_values(records: list[dict[str, Any]]) -> set[str]:
    """Every applicant (and official) value in the sample, for leak checks."""
    keys = {*applicant(0), *official(0), "NguoiXuLy"}
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in keys:
                    found.add(str(v))
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(records)
    assert len(found) > 150
    return found


def t(day_time: str) -> str:
    """'0304 0900' -> '2024-03-04T09:00:00+07:00'."""
    day, hm = day_time.split()
    return f"2024-{day[:2]}-{day[2:]}T{hm[:2]}:{hm[2:]}:00+07:00"


def ev(n: int, kind: str, k: int, at: str, **fields: str) -> dict[str, Any]:
    dossier_id = f"000.00.31.H01-2403-{n:04d}"
    out = {"v": 1, "event_id": f"{dossier_id}:{kind}:{k}", "dossier_id": dossier_id,
           "type": kind, "at": t(at)}  # fmt: skip
    for name, value in fields.items():
        out[name] = t(value) if name == "due_at" else value
    return out


def rcv(n: int, at: str, due: str, channel: str, level: str = "none", agency: str = "STP",
        procedure: str = "1.001757") -> dict[str, Any]:  # fmt: skip
    return ev(n, "received", 1, at, agency=agency, procedure=procedure, channel=channel,
              level=level, due_at=due)  # fmt: skip


EXPECTED = [
    ev(1, "submitted", 1, "0304 0900"),
    rcv(2, "0304 0800", "0311 1700", "counter"),
    ev(3, "submitted", 1, "0304 1000"),
    ev(3, "rejected_at_intake", 1, "0305 0800"),
    rcv(4, "0305 0830", "0315 1700", "postal", "partial"),
    ev(4, "processing", 1, "0305 0830"),
    ev(5, "submitted", 1, "0305 2000"),
    rcv(5, "0306 0800", "0320 1700", "online", "full", agency="SXD", procedure="1.009994"),
    ev(5, "supplement_requested", 1, "0307 1000"),
    rcv(6, "0306 0900", "0313 1700", "counter"),
    ev(6, "fee_requested", 1, "0306 0930"),
    rcv(7, "0304 0830", "0308 1700", "online"),
    ev(7, "withdrawn", 1, "0305 1500"),
    rcv(8, "0304 0900", "0306 1700", "counter"),  # judged against the original appointment
    ev(8, "rescheduled", 1, "0306 1600", due_at="0308 1700"),
    ev(8, "stopped", 1, "0308 1000"),
    rcv(9, "0311 0800", "0315 1700", "postal"),
    ev(9, "supplement_requested", 1, "0312 0900"),
    ev(9, "resumed", 1, "0312 1500"),
    ev(9, "resolved", 1, "0313 1600"),
    rcv(10, "0304 0800", "0311 1700", "online", "full", agency="SXD"),
    ev(10, "supplement_requested", 1, "0306 0900"),
    ev(10, "resumed", 1, "0308 0900"),
    ev(10, "rescheduled", 1, "0308 0900", due_at="0314 1700"),
    ev(10, "resolved", 1, "0313 1000"),
    ev(10, "result_returned", 1, "0314 0900"),
    rcv(11, "0311 0800", "0318 1700", "counter"),
    ev(11, "result_returned", 1, "0318 1600"),
    rcv(12, "0311 0800", "0322 1700", "online"),
    ev(12, "supplement_requested", 1, "0312 0900"),
    ev(12, "resumed", 1, "0312 1400"),
    ev(12, "supplement_requested", 2, "0313 0900"),
    ev(12, "resumed", 2, "0313 1400"),
    ev(12, "resolved", 1, "0315 1000"),
]

EXPECTED_REJECTS = [
    {"row": row, "field": field, "reason": reason}
    | ({"dossier_id": record["MaHoSo"]} if field != "MaHoSo" else {})
    for row, (record, field, reason) in sorted(BAD.items())
]


# -- writing the sample in each format ------------------------------------------------------


def write_json(path: Path, records: list[dict[str, Any]], wrapped: bool = False) -> Path:
    doc: Any = {"error_code": 0, "total": len(records), "data": records} if wrapped else records
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def write_csv(
    path: Path, records: list[dict[str, Any]], delimiter: str = ",", bom: bool = False
) -> Path:
    columns = sorted({key for record in records for key in record})
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="", delimiter=delimiter)
        writer.writeheader()
        for record in records:
            writer.writerow(
                {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
                 for k, v in record.items()}
            )  # fmt: skip
    return path


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(import_command, [str(a) for a in args], catch_exceptions=False)


def lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)


# -- the tests ------------------------------------------------------------------------------


def test_sample_covers_every_status_and_channel() -> None:
    assert {int(d["TrangThaiHoSo"]) for d in GOOD} == set(range(1, 11))
    assert {d["KenhThucHien"] for d in GOOD} == {"1", "2", "3"}


def test_json_export_gives_the_expected_events(tmp_path: Path) -> None:
    export = write_json(tmp_path / "hoso.json", sample_export())
    out, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    result = run(export, "--out", out, "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert list(lines(out)) == EXPECTED
    assert list(lines(rejects)) == EXPECTED_REJECTS


def test_every_event_passes_the_contract_validator(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    run(write_json(tmp_path / "hoso.json", sample_export()), "--out", out)
    for line in out.read_bytes().splitlines():
        doc = json.loads(line)
        event = parse_record(doc["dossier_id"].encode(), line, NOW)
        assert event.event_id == doc["event_id"]


def test_out_file_replays_keyed_by_dossier_in_order(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    run(write_json(tmp_path / "hoso.json", sample_export()), "--out", out)
    records = list(read_records(out))
    assert [json.loads(value) for _, value in records] == EXPECTED
    assert [key.decode() for key, _ in records if key] == [e["dossier_id"] for e in EXPECTED]


def test_no_applicant_value_leaves_the_adapter(tmp_path: Path) -> None:
    records = sample_export()
    secrets = applicant_values(records)
    export = write_json(tmp_path / "hoso.json", records)
    out, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    result = run(export, "--out", out, "--rejects", rejects, "--json")
    produced = out.read_text("utf-8") + rejects.read_text("utf-8") + result.output
    assert "rejected row 7" in result.output  # the report did go to the captured output
    leaked = sorted(s for s in secrets if s in produced)
    assert leaked == []
    # and no applicant field name either: nothing but contract fields in events
    allowed = {"v", "event_id", "dossier_id", "type", "at", "agency", "procedure", "channel",
               "level", "due_at"}  # fmt: skip
    assert all(set(e) <= allowed for e in lines(out))


@pytest.mark.parametrize(
    "write",
    [
        lambda p, r: write_json(p / "a.json", r, wrapped=True),
        lambda p, r: write_jsonl(p / "a.jsonl", r),
        lambda p, r: write_jsonl(p / "a.json", r),  # JSON Lines behind a .json name
        lambda p, r: write_csv(p / "a.csv", r),
        lambda p, r: write_csv(p / "a.txt", r, delimiter=";", bom=True),
    ],
    ids=["json-data", "jsonl", "jsonl-named-json", "csv", "csv-semicolon-bom"],
)
def test_every_format_gives_the_same_bytes(tmp_path: Path, write: Any) -> None:
    records = sample_export()
    reference, out = tmp_path / "ref.jsonl", tmp_path / "out.jsonl"
    ref_rejects, rejects = tmp_path / "ref-rejects.jsonl", tmp_path / "rejects.jsonl"
    run(write_json(tmp_path / "ref.json", records), "--out", reference, "--rejects", ref_rejects)
    result = run(write(tmp_path, records), "--out", out, "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == reference.read_bytes()
    assert rejects.read_bytes() == ref_rejects.read_bytes()


def test_ids_are_deterministic_and_unique(tmp_path: Path) -> None:
    export = write_json(tmp_path / "hoso.json", sample_export())
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    run(export, "--out", first)
    run(export, "--out", second)
    assert first.read_bytes() == second.read_bytes()
    ids = [e["event_id"] for e in lines(first)]
    assert len(ids) == len(set(ids))


def test_bad_rows_are_reported_counted_and_do_not_fail_the_import(tmp_path: Path) -> None:
    export = write_json(tmp_path / "hoso.json", sample_export())
    result = run(export, "--json")
    assert result.exit_code == 0
    for row, (_, field, reason) in BAD.items():
        assert f"rejected row {row}: {field} {reason}" in result.output
    report = json.loads(result.output.splitlines()[-1])
    assert report["records"] == 18
    assert report["converted"] == 12
    assert report["rejected"] == 6
    assert report["events"] == len(EXPECTED)


def test_strict_refuses_the_whole_export(tmp_path: Path) -> None:
    export = write_json(tmp_path / "hoso.json", sample_export())
    out, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.jsonl"
    result = run(export, "--strict", "--out", out, "--rejects", rejects)
    assert result.exit_code == 1
    assert not out.exists()
    assert list(tmp_path.glob(".*tmp")) == []
    assert list(lines(rejects)) == EXPECTED_REJECTS
    clean = write_json(tmp_path / "clean.json", GOOD)
    assert run(clean, "--strict", "--out", out).exit_code == 0
    assert list(lines(out)) == EXPECTED


def test_an_export_with_nothing_convertible_fails(tmp_path: Path) -> None:
    export = write_json(tmp_path / "bad.json", [record for record, *_ in BAD.values()])
    assert run(export).exit_code == 1
    empty = write_json(tmp_path / "empty.json", [])
    assert run(empty).exit_code == 0


class FakeSender:
    """Stands in for KafkaSender: records what would be sent, in order."""

    sent_records: ClassVar[list[tuple[bytes | None, bytes]]] = []

    def __init__(self, servers: str, topic: str, **options: object) -> None:
        self.topic = topic
        self.sent = self.acked = 0
        FakeSender.sent_records = []

    def send(self, key: bytes | None, value: bytes) -> None:
        self.sent += 1
        self.acked += 1
        FakeSender.sent_records.append((key, value))

    def __enter__(self) -> FakeSender:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_send_hands_every_event_to_kafka_keyed_by_dossier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iocmon.producers.sender

    monkeypatch.setattr(iocmon.producers.sender, "KafkaSender", FakeSender)
    monkeypatch.setenv("IOCMON_EVENTS_TOPIC", "t-events")
    out = tmp_path / "events.jsonl"
    result = run(write_json(tmp_path / "hoso.json", sample_export()), "--send", "--out", out)
    assert result.exit_code == 0, result.output
    assert "sent to 't-events' and acknowledged" in result.output
    assert [(k, json.loads(v)) for k, v in FakeSender.sent_records] == [
        (e["dossier_id"].encode(), e) for e in EXPECTED
    ]
    assert b"".join(v + b"\n" for _, v in FakeSender.sent_records) == out.read_bytes()


def test_strict_send_sends_nothing_when_a_row_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iocmon.producers.sender

    monkeypatch.setattr(iocmon.producers.sender, "KafkaSender", FakeSender)
    FakeSender.sent_records = []
    export, rejects = write_json(tmp_path / "hoso.json", sample_export()), tmp_path / "r.jsonl"
    result = run(export, "--send", "--strict", "--rejects", rejects)
    assert result.exit_code == 1
    assert FakeSender.sent_records == []
    assert list(lines(rejects)) == EXPECTED_REJECTS
    assert "nothing sent or written (--strict)" in result.output
