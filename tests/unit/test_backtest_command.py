"""`iocmon backtest` on a small simulated history (issue #18 item 5): the rows it prints, its
JSON, its reading of the file in time order, and the errors that say what to do.

The figures themselves are the pure core's (tests/unit/test_backtest.py and
test_forecast_replay.py work them by hand); here the command must print them for every
threshold, beside `due_soon`, for the province and for an agency.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from iocmon.console.backtest import backtest_command
from iocmon.producers.simulate import simulate_command

ENV = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four months of a small province whose slow agency (VPDKDD) ends a fifth late."""
    events = tmp_path_factory.mktemp("backtest") / "events.jsonl"
    result = CliRunner().invoke(
        simulate_command,
        [
            *("--no-send", "--seed", "3", "--now", "2024-06-28T17:00:00+07:00"),
            *("--backfill-days", "120", "--dossiers-per-day", "100", "--duration", "0"),
            *("--rate", "0", "--late-rate", "0.03", "--slow-agency-late-rate", "0.2"),
            *("--events-out", str(events)),
        ],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    return events


def backtest(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(backtest_command, list(args), env=env or ENV)


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_the_text_has_a_row_per_threshold_beside_due_soon_for_the_province_and_the_agency(
    history: Path,
) -> None:
    result = backtest(str(history), "--agency", "VPDKDD")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"backtest of {history}: ")
    for row in ("at_risk ≥ 0.3", "at_risk ≥ 0.5", "at_risk ≥ 0.7", "due_soon"):
        assert sum(line.startswith(row) for line in lines) == 2, row  # province, agency
    assert any(line.startswith("Province: ") and "base rate" in line for line in lines)
    assert any(
        line.startswith("Agency VPDKDD (Văn phòng Đăng ký đất đai tỉnh): ") for line in lines
    )
    header = next(line for line in lines if line.startswith("warning"))
    for column in ("precision", "recall", "recall ≥ 2 days ahead", "median lead", "lift"):
        assert column in header


def test_the_json_holds_each_threshold_s_figures_and_due_soon_s(history: Path) -> None:
    options = ["--threshold", "0.5", "--threshold", "0.4", "--min-lead-days", "3"]
    doc = as_json(backtest(str(history), "--json", *options, "--agency", "VPDKDD"))
    assert doc["min_lead_days"] == 3 and doc["checks"] > 70
    province = doc["province"]
    assert [row["threshold"] for row in province["at_risk"]] == [0.4, 0.5]
    assert province["dossiers"] > 5000 and province["late"] > 100
    assert province["base_rate"] == pytest.approx(province["late"] / province["dossiers"])
    for row in province["at_risk"]:
        assert 0 < row["warned_late_ahead"] <= row["warned_late"] <= row["warned"]
    for row in [*province["at_risk"], province["due_soon"]]:
        assert row["precision"] == pytest.approx(row["warned_late"] / row["warned"])
        assert row["recall"] == pytest.approx(row["warned_late"] / province["late"])
        assert row["lift"] == pytest.approx(row["precision"] / province["base_rate"])
    # due_soon comes on the due date or the working day before it: never 3 days ahead.
    assert province["due_soon"]["recall"] > 0.5 and province["due_soon"]["recall_ahead"] == 0
    # A lower threshold warns about more dossiers, never fewer.
    assert province["at_risk"][0]["warned"] >= province["at_risk"][1]["warned"]
    slow = doc["agencies"]["VPDKDD"]
    assert 0 < slow["dossiers"] < province["dossiers"]
    assert slow["base_rate"] > 2 * province["base_rate"]


def test_the_history_is_replayed_in_time_order_whatever_the_file_order(
    history: Path, tmp_path: Path
) -> None:
    lines = history.read_bytes().splitlines(keepends=True)
    backwards = tmp_path / "backwards.jsonl"
    backwards.write_bytes(b"".join(reversed(lines)))
    forwards, reversed_ = (
        as_json(backtest(str(path), "--json", "--agency", "VPDKDD"))
        for path in (history, backwards)
    )
    for doc in (forwards, reversed_):
        doc.pop("source")
    assert forwards == reversed_
    assert forwards["refused"] > 0  # the simulator's bad records, left out as the worker would


def test_an_agency_without_dossiers_is_said_so(history: Path) -> None:
    result = backtest(str(history), "--agency", "NOPE")
    assert result.exit_code == 0, result.output
    assert "Agency NOPE: no dossier ended, nothing to score" in result.stdout


def test_a_file_of_no_events_is_refused_with_what_to_give_instead(tmp_path: Path) -> None:
    bad = tmp_path / "truth.jsonl"
    bad.write_text('{"kind": "dossier", "dossier_id": "A"}\nnot json\n', encoding="utf-8")
    result = backtest(str(bad))
    assert result.exit_code == 2
    assert "none of the 2 records" in result.stderr
    assert "line 1: missing_field" in result.stderr
    assert "`iocmon simulate --events-out`" in result.stderr
    doc = json.loads(backtest(str(bad), "--json").stdout)
    assert "contract event" in doc["error"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    result = backtest(str(empty))
    assert (result.exit_code, "holds no records" in result.stderr) == (2, True)


def test_a_missing_file_and_two_sources_are_usage_errors(history: Path, tmp_path: Path) -> None:
    missing = backtest(str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    both = backtest(str(history), "--topic", "dossier-events")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert backtest(str(history), "--threshold", "0").exit_code == 2


def test_kafka_that_does_not_answer_is_exit_code_1_with_what_to_do() -> None:
    result = backtest(env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert "Kafka at 127.0.0.1:1" in result.stderr
    assert "give the history as a file" in result.stderr
    doc = json.loads(backtest("--json", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}).stdout)
    assert doc["error"].startswith("Kafka at 127.0.0.1:1")
