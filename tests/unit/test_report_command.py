"""`iocmon report` end to end against a real HTTP server on port 0 that answers a hand-made
/api/v1/report (the worker's API as CONTRACT §6 says): what it asks, what it prints and
writes, and what it says when it cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from iocmon.cli import cli
from iocmon.console.errors import ConsoleError
from iocmon.console.report import report_command, write_file
from iocmon.console.report_doc import COLUMNS, read_report
from iocmon.console.report_render import render_csv, render_table
from tests.unit.test_console import REPO, FakeWorker, closed_port
from tests.unit.test_report_render import DOC, RECEIVED_AT

REPORT = "/api/v1/report"


@pytest.fixture
def worker() -> Iterator[FakeWorker]:
    fake = FakeWorker()
    fake.routes[REPORT] = (200, DOC)
    yield fake
    fake.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(report_command, list(args), catch_exceptions=False)


def asked(worker: FakeWorker) -> list[tuple[str, dict[str, str]]]:
    return [(path, params) for path, params, _ in worker.requests]


def test_json_is_the_worker_s_answer_unchanged(worker: FakeWorker) -> None:
    result = run("--url", worker.url, "--period", "2024-Q1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == DOC
    assert asked(worker) == [(REPORT, {"period": "2024-Q1", "by": "agency"})]
    assert json.loads(run("--url", worker.url, "--period", "2024-Q1", "--json").stdout) == DOC


def test_the_query_sends_exactly_the_options_given(worker: FakeWorker) -> None:
    args = ("--period", "2024-H1", "--by", "field", "--agency", "LX", "--scope", "tree")
    for more in (
        args,
        ("--from", "2024-01-01", "--to", "2024-02-01"),
        ("--from", "2024-01-01T00:00:00+00:00"),
        (),
    ):
        assert run("--url", worker.url, *more, "--json").exit_code == 0, more
    assert asked(worker) == [
        (REPORT, {"period": "2024-H1", "by": "field", "agency": "LX", "scope": "tree"}),
        (REPORT, {"from": "2024-01-01T00:00:00+07:00", "to": "2024-02-01T00:00:00+07:00",
                  "by": "agency"}),
        (REPORT, {"from": "2024-01-01T00:00:00+00:00", "by": "agency"}),
        (REPORT, {"by": "agency"}),  # the worker's default: this month so far
    ]  # fmt: skip


def test_the_bearer_token_is_sent(worker: FakeWorker) -> None:
    assert run("--url", worker.url, "--period", "2024", "--token", "s3cret").exit_code == 0
    assert worker.requests[0][2].get("Authorization") == "Bearer s3cret"


def test_table_is_printed_from_the_answer(worker: FakeWorker) -> None:
    result = run("--url", worker.url, "--period", "2024-Q1")
    assert result.exit_code == 0, result.output
    expected = render_table(read_report(DOC, received_at=RECEIVED_AT))
    assert result.stdout.splitlines() == expected
    assert "Sở Y tế" in result.stdout and "13 456" in result.stdout


def test_csv_is_printed_byte_for_byte(worker: FakeWorker) -> None:
    result = run("--url", worker.url, "--period", "2024-Q1", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == render_csv(read_report(DOC, received_at=RECEIVED_AT))
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfkey,name,")


def test_xlsx_without_out_is_a_usage_error_before_asking_the_worker(worker: FakeWorker) -> None:
    result = CliRunner().invoke(
        report_command, ["--url", worker.url, "--period", "2024-Q1", "--format", "xlsx"]
    )
    assert result.exit_code == 2
    assert "--format xlsx writes a workbook, which is binary: give --out FILE.xlsx" in result.output
    assert worker.requests == []


def test_xlsx_is_written_to_out_with_the_answer_s_numbers(
    worker: FakeWorker, tmp_path: Path
) -> None:
    out = tmp_path / "q1.xlsx"
    result = run("--url", worker.url, "--period", "2024-Q1", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"report written to {out} (xlsx, 3 rows)" in result.stderr
    sheet = load_workbook(out).active
    codes = {sheet.cell(r, 2).value: r for r in range(9, sheet.max_row)}
    syt = DOC["rows"][1]
    assert [sheet.cell(codes["SYT"], c).value for c in (5, 6, 7, 9, 10, 11, 12, 14, 15)] == [
        syt[column] for column in COLUMNS
    ]
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left beside it


def test_the_out_file_s_suffix_chooses_the_format(worker: FakeWorker, tmp_path: Path) -> None:
    for name, starts in (("r.csv", b"\xef\xbb\xbfkey,"), ("r.xlsx", b"PK"), ("r.json", b"{")):
        result = run("--url", worker.url, "--period", "2024-Q1", "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_bytes().startswith(starts), name
    assert (
        run("--url", worker.url, "--period", "2024", "--out", str(tmp_path / "r.txt")).exit_code
        == 0
    )
    assert (tmp_path / "r.txt").read_text().startswith("Báo cáo giải quyết hồ sơ")
    assert json.loads((tmp_path / "r.json").read_text()) == DOC


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-Q1", "--from", "2024-01-01"], "either --period or --from/--to"),
        (["--to", "2024-02-01"], "--to needs --from"),
        (["--from", "1 January"], "neither a date (2024-01-01) nor a timestamp"),
        (["--json", "--format", "csv"], "--json and --format csv ask for two formats"),
        (["--by", "procedure"], "'procedure' is not one of 'agency', 'field'"),
    ],
)
def test_wrong_options_exit_2_saying_what_is_wrong(
    worker: FakeWorker, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(report_command, ["--url", worker.url, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert worker.requests == []


def test_a_worker_that_does_not_answer_exits_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(report_command, ["--url", url, "--period", "2024-Q1"])
    assert result.exit_code == 1
    assert f"worker at {url} not answering" in result.stderr
    as_json = CliRunner().invoke(report_command, ["--url", url, "--period", "2024-Q1", "--json"])
    assert as_json.exit_code == 1
    assert "not answering" in json.loads(as_json.stdout)["error"]
    out = tmp_path / "q1.xlsx"
    CliRunner().invoke(report_command, ["--url", url, "--period", "2024-Q1", "--out", str(out)])
    assert not out.exists()


def test_the_worker_s_refusal_is_passed_on(worker: FakeWorker) -> None:
    worker.routes[REPORT] = (400, {"error": "'from' must be a local midnight"})
    result = CliRunner().invoke(report_command, ["--url", worker.url, "--from", "2024-01-01T09:00"])
    assert result.exit_code == 1
    assert f"worker at {worker.url} answered HTTP 400: 'from' must be a local midnight" in (
        result.stderr
    )


def test_an_answer_missing_a_column_exits_1_naming_it(worker: FakeWorker) -> None:
    broken: dict[str, Any] = json.loads(json.dumps(DOC))
    del broken["total"]["open_overdue"]
    worker.routes[REPORT] = (200, broken)
    result = CliRunner().invoke(report_command, ["--url", worker.url, "--period", "2024-Q1"])
    assert result.exit_code == 1
    assert "'total' has no whole number 'open_overdue'" in result.stderr
    assert result.stdout == ""


def test_a_file_that_cannot_be_written_exits_1(worker: FakeWorker, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "q1.csv"
    result = CliRunner().invoke(
        report_command, ["--url", worker.url, "--period", "2024-Q1", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert f"cannot write {out}: No such file or directory" in result.stderr


def test_a_failed_write_leaves_the_previous_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "q1.csv"
    out.write_bytes(b"last month's good report")
    real_write = Path.write_bytes

    def disk_full(self: Path, data: bytes) -> int:
        real_write(self, data[:3])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(ConsoleError, match=r"cannot write .*q1.csv: No space left on device"):
        write_file(out, b"this month's report")
    monkeypatch.undo()
    assert out.read_bytes() == b"last month's good report"
    assert list(tmp_path.iterdir()) == [out]


def test_report_is_an_iocmon_command() -> None:
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert result.exit_code == 0
    assert "--format [table|csv|xlsx|json]" in result.output
    assert "report" in CliRunner().invoke(cli, ["--help"]).output


def test_the_command_loads_openpyxl_only_for_xlsx() -> None:
    code = (
        "import sys; import iocmon.console.report; "
        "print(sorted(m for m in ('openpyxl', 'holidays', 'kafka', 'redis', 'faust') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr
