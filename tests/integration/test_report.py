"""The periodic report (CONTRACT §6) on the real stack: the simulator's stream, replayed into
Kafka and judged by a worker, reported by `GET /api/v1/report` exactly as the simulator's
truth says (`report_truth`, which shares no code with the worker), every column, by agency
and by field; after `iocmon rebuild` too."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from iocmon.console.report_xlsx import FIGURE_COLUMN, FIRST_DATA_ROW
from iocmon.domain.agencies import AgencyCatalogue, load_catalogue
from iocmon.domain.calendar import LOCAL_TZ
from tests.integration.harness import Pipeline, Worker, read_jsonl
from tests.integration.report_truth import (
    COLUMNS,
    balance_problems,
    expected_report,
    fields_from_catalogue,
    overdue_at,
)
from tests.integration.workload import simulate

pytestmark = pytest.mark.integration


def _midnight(at: datetime) -> datetime:
    return at.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def _got(body: dict[str, Any]) -> dict[str, Counter[str]]:
    """The API's rows with any dossier in them, as `expected_report` gives them."""
    return {
        row["key"]: Counter({c: row[c] for c in COLUMNS})
        for row in body["rows"]
        if any(row[c] for c in COLUMNS)
    }


def _report(worker: Worker, query: str) -> dict[str, Any]:
    status, body = worker.get_json(f"/api/v1/report?{query}")
    assert status == 200, body
    return body


def _ranges(now: datetime) -> list[tuple[str, datetime, datetime]]:
    """Past periods inside the simulator's 30 days: a month (partly before the stream),
    a run of days, a single day; as query strings with the range they name."""
    today = _midnight(now)
    first_of_month = today.replace(day=1)
    last_month = _midnight(first_of_month - timedelta(days=1)).replace(day=1)
    days_from, days_to = today - timedelta(days=20), today - timedelta(days=2)
    one_day = today - timedelta(days=9)
    return [
        (f"period={last_month:%Y-%m}", last_month, first_of_month),
        (
            f"from={quote(days_from.isoformat())}&to={quote(days_to.isoformat())}",
            days_from,
            days_to,
        ),
        (f"period={one_day:%Y-%m-%d}", one_day, one_day + timedelta(days=1)),
    ]


def _assert_report_is_the_truth(worker: Worker, truth: list[dict[str, Any]]) -> None:
    fields = fields_from_catalogue()
    for query, start, end in _ranges(datetime.now(LOCAL_TZ)):
        for by in ("agency", "field"):
            body = _report(worker, f"{query}&by={by}")
            assert (body["from"], body["to"]) == (start.isoformat(), end.isoformat())
            wanted = expected_report(truth, start, end, by, fields)
            assert balance_problems(wanted) == []
            assert _got(body) == wanted, (query, by)
            assert Counter({c: body["total"][c] for c in COLUMNS}) == sum(
                wanted.values(), Counter()
            )


def test_the_report_of_the_simulated_stream_is_the_truth_by_agency_and_by_field(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, _ = simulate(pipeline, tmp_path, seed=23, events=25_000)
    truth = list(read_jsonl(tmp_path / "truth.jsonl"))
    assert sum(bool(row.get("pauses")) for row in truth) > 50
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()

    _assert_report_is_the_truth(worker, truth)
    _assert_a_tree_holds_its_units(worker, truth)
    _assert_workbook_is_the_json(pipeline, worker, tmp_path)

    pipeline.iocmon("rebuild", "--delete-old")
    _assert_report_is_the_truth(worker, truth)


def _assert_a_tree_holds_its_units(worker: Worker, truth: list[dict[str, Any]]) -> None:
    """scope=tree: each unit of a district's tree with its own units' dossiers added, and
    the total the whole tree's (the catalogue gives the tree; the truth the dossiers)."""
    catalogue = load_catalogue()
    district = next(
        a.code for a in catalogue if a.parent is not None and catalogue.children(a.code)
    )
    query, start, end = _ranges(datetime.now(LOCAL_TZ))[0]
    body = _report(worker, f"{query}&by=agency&agency={quote(district)}&scope=tree")
    own = expected_report(truth, start, end, "agency", fields_from_catalogue())
    units = _tree(catalogue, district)
    assert sorted(row["key"] for row in body["rows"]) == sorted(units)
    for row in body["rows"]:
        wanted = _sum_of(own, _tree(catalogue, row["key"]))
        assert Counter({c: row[c] for c in COLUMNS}) == wanted, row["key"]
    assert Counter({c: body["total"][c] for c in COLUMNS}) == _sum_of(own, units)
    assert sum(_sum_of(own, units).values()) > 0


def _tree(catalogue: AgencyCatalogue, code: str) -> list[str]:
    return [code, *(a.code for a in catalogue.descendants(code))]


def _sum_of(report: dict[str, Counter[str]], keys: list[str]) -> Counter[str]:
    return sum((report.get(k, Counter()) for k in keys), Counter())


def _assert_workbook_is_the_json(pipeline: Pipeline, worker: Worker, tmp_path: Path) -> None:
    """`iocmon report --format xlsx` against the worker: the workbook holds the JSON's
    numbers, row by row (found by code) and in the totals row (the last)."""
    query, *_ = _ranges(datetime.now(LOCAL_TZ))[0]
    period = query.removeprefix("period=")
    body = _report(worker, f"{query}&by=field")
    out = tmp_path / "report.xlsx"
    pipeline.iocmon("report", "--period", period, "--by", "field", "--format", "xlsx",
                    "--out", str(out), "--url", worker.url)  # fmt: skip
    sheet = load_workbook(out).active
    by_code = {sheet.cell(r, 2).value: r for r in range(FIRST_DATA_ROW, sheet.max_row)}
    assert set(by_code) == {row["key"] for row in body["rows"]}
    for row in body["rows"]:
        for column in COLUMNS:
            assert sheet.cell(by_code[row["key"]], FIGURE_COLUMN[column]).value == row[column]
    for column in COLUMNS:
        assert sheet.cell(sheet.max_row, FIGURE_COLUMN[column]).value == body["total"][column]


def test_the_running_month_is_reported_as_of_now(pipeline: Pipeline, tmp_path: Path) -> None:
    events, _ = simulate(pipeline, tmp_path, seed=29, events=8_000)
    truth = list(read_jsonl(tmp_path / "truth.jsonl"))
    worker = pipeline.start_worker()
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()

    body = _report(worker, "by=agency")  # the current month by default
    now = datetime.fromisoformat(body["to"])
    start = datetime.fromisoformat(body["from"])
    assert start == _midnight(now).replace(day=1)
    overdue_as_of = datetime.fromisoformat(body["overdue_as_of"])
    assert overdue_as_of == now.replace(minute=0, second=0, microsecond=0)
    wanted = expected_report(truth, start, now, "agency", fields_from_catalogue())
    for key, row in wanted.items():  # in process now, split as at the start of the hour
        in_process = row["open_not_due"] + row["open_overdue"]
        row["open_overdue"] = sum(
            1
            for d in truth
            if d.get("kind", "dossier") == "dossier"
            and d["agency"] == key
            and (d["ended_at"] is None or datetime.fromisoformat(d["ended_at"]) >= now)
            and overdue_at(d, overdue_as_of)
        )
        row["open_not_due"] = in_process - row["open_overdue"]
    assert _got(body) == wanted


def test_boundaries_that_no_counter_has_are_refused_with_what_is_accepted(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.start_worker(IOCMON_RETENTION_DAYS="40")
    old = _midnight(datetime.now(LOCAL_TZ) - timedelta(days=200)).replace(day=15)
    for query, says in (
        (f"from={quote(old.isoformat())}&to={quote((old + timedelta(days=1)).isoformat())}",
         "first day of a month"),
        (f"from={quote((_midnight(datetime.now(LOCAL_TZ)) - timedelta(hours=14)).isoformat())}",
         "local midnight"),
        ("period=2024-Q5", "YYYY-Q1..Q4"),
        (f"period={datetime.now(LOCAL_TZ).year + 1}", "after now"),
        ("by=procedure", "'agency' or 'field'"),
        ("scope=tree", "needs an 'agency'"),
        ("month=2024-01", "unknown parameter"),
    ):  # fmt: skip
        status, body = worker.get_json(f"/api/v1/report?{query}")
        assert status == 400 and says in body["error"], (query, body)
