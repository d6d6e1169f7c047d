"""`iocmon import --send` of the sample export through real Kafka, Redis and a worker: the
figures equal what the sample's statuses and dates imply, the dead-letter topic stays empty,
and importing the same export again changes nothing.

The sample (tests/unit/test_import.py) has 12 convertible dossiers, all in March 2024, and 6
records that are rejected before anything is sent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Pipeline
from tests.unit.test_import import sample_export, write_csv, write_json

pytestmark = pytest.mark.integration

MARCH_2024 = "from=2024-03-01T00:00:00%2B07:00&to=2024-04-01T00:00:00%2B07:00"

# Worked out by hand from the sample, dossier by dossier (CONTRACT §3):
#  1 submitted, 3 rejected at intake: never received, in no figure.
#  2 received 03-04, due 03-11, status 2: open, overdue now (the due date is long past).
#  4 received 03-05, due 03-15, status 4: open, overdue.
#  5 status 5, supplementation requested 03-07 and not answered: open, paused.  (agency SXD)
#  6 status 6, fee requested 03-06: open, paused.
#  7 withdrawn 03-05: withdrawn.
#  8 stopped 03-08; original appointment 03-06 (the apology slip moved it to 03-08, which
#    only re-arms alerts): late.
#  9 resolved 03-13 16:00, paused 6 h on 03-12, due 03-15: early.
# 10 resolved 03-13 10:00, paused 2 days (03-06 09:00 to 03-08 09:00) -> effective end 03-11,
#    original due 03-11: on time.  (agency SXD)
# 11 result returned 03-18 16:00 with no resolved before it, due 03-18: on time.
# 12 resolved 03-15, well before its due date 03-22, but supplementation was requested twice:
#    late.
EXPECTED_ALL = {
    "early": 1,
    "on_time": 2,
    "late": 2,
    "withdrawn": 1,
    "received": 10,
    "open": 4,
    "overdue": 2,
    "due_soon": 0,
    "paused": 2,
    "on_time_ratio": 3 / 5,
    "progress_766": 20 * (1 + 2 + 1 + 4 - 2) / (6 + 4),
}
EXPECTED_SXD = {"early": 0, "on_time": 1, "late": 0, "withdrawn": 0, "received": 2, "open": 1,
                "overdue": 0, "paused": 1}  # fmt: skip


def iocmon_import(pipeline: Pipeline, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`iocmon import ...`, as an operator runs it."""
    return pipeline.iocmon("import", *(str(a) for a in args))


def figures(worker: Any, query: str) -> dict[str, Any]:
    status, body = worker.get_json(f"/api/v1/summary?{query}")
    assert status == 200, body
    return body


def assert_figures(body: dict[str, Any], expected: dict[str, Any]) -> None:
    got = {k: body[k] for k in expected}
    assert got == pytest.approx(expected), got


def test_import_sends_the_sample_and_the_figures_follow(pipeline: Pipeline, tmp_path: Path) -> None:
    worker = pipeline.start_worker()
    export = write_json(tmp_path / "hoso.json", sample_export())

    result = iocmon_import(pipeline, export, "--send", "--rejects", tmp_path / "rejects.jsonl")
    assert "12 converted into 34 events" in result.stderr
    assert "6 rejected" in result.stderr
    pipeline.wait_caught_up()

    body = figures(worker, MARCH_2024)
    assert_figures(body, EXPECTED_ALL)
    assert_figures(figures(worker, f"{MARCH_2024}&agency=SXD"), EXPECTED_SXD)
    assert pipeline.dead_letters() == []

    # The same dossiers again, this time from CSV: same ids, so nothing changes.
    again = write_csv(tmp_path / "hoso.csv", sample_export())
    iocmon_import(pipeline, again, "--send")
    pipeline.wait_caught_up()
    assert figures(worker, MARCH_2024) | {"as_of": None} == body | {"as_of": None}
    assert pipeline.dead_letters() == []
