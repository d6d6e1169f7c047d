"""Every query API endpoint and every kind of bad parameter, against a running worker.

A hand-made stream with figures worked out by hand: Long Xuyên city (LX) and two of its wards,
in March 2024, judged at a worker clock set to 2024-03-20 12:00 local.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.streams.api_process import API_NICENESS
from tests.integration.harness import Pipeline, Worker, http_get

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 20, 12, 0, tzinfo=LOCAL_TZ)  # Wednesday
MARCH = "period=2024-03"


def event(dossier: str, seq: int, kind: str, at: str, **fields: object) -> dict[str, object]:
    return {"v": 1, "event_id": f"{dossier}-{seq}", "dossier_id": dossier, "type": kind,
            "at": f"{at}+07:00", **fields}  # fmt: skip


def received(dossier: str, agency: str, at: str, due: str, procedure: str = "1.001") -> dict:
    return event(dossier, 1, "received", at, agency=agency, procedure=procedure,
                 channel="online", level="full", due_at=f"{due}+07:00",
                 applicant_name="Nguyễn Văn A")  # fmt: skip


STREAM = [
    # LX: one early, one late (resolved after its due date), one open and overdue
    received("A1", "LX", "2024-03-04T08:00:00", "2024-03-08T17:00:00"),
    event("A1", 2, "resolved", "2024-03-06T10:00:00"),
    received("A2", "LX", "2024-03-04T08:00:00", "2024-03-05T17:00:00", procedure="1.002"),
    event("A2", 2, "resolved", "2024-03-07T10:00:00"),
    received("A3", "LX", "2024-03-11T08:00:00", "2024-03-13T17:00:00"),
    # LX-MYBINH: one on time, one withdrawn, one paused
    received("B1", "LX-MYBINH", "2024-03-11T08:00:00", "2024-03-12T17:00:00"),
    event("B1", 2, "resolved", "2024-03-12T18:30:00"),
    received("B2", "LX-MYBINH", "2024-03-11T08:00:00", "2024-03-15T17:00:00"),
    event("B2", 2, "withdrawn", "2024-03-12T09:00:00"),
    received("B3", "LX-MYBINH", "2024-03-18T08:00:00", "2024-03-22T17:00:00"),
    event("B3", 2, "supplement_requested", "2024-03-18T09:00:00"),
    # LX-MYLONG: one open, due tomorrow (due soon)
    received("C1", "LX-MYLONG", "2024-03-19T08:00:00", "2024-03-21T17:00:00"),
]


@pytest.fixture(scope="module")
def worker(stack: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    pipeline = Pipeline(stack)  # type: ignore[arg-type]
    pipeline.create_topics()
    pipeline.send(*STREAM)
    offset = str(NOW.timestamp() - time.time())
    procedures = tmp_path_factory.mktemp("catalogue") / "procedures.csv"
    procedures.write_text(
        "code,name,field,field_name,online_level,processing_days\n"
        "1.001,Đăng ký khai sinh,civil_status,Hộ tịch,full,3\n",
        encoding="utf-8",
    )
    worker = pipeline.start_worker(
        IOCMON_CLOCK_OFFSET_S=offset,
        IOCMON_API_TOKEN="s3cret",
        IOCMON_PROCEDURES_FILE=str(procedures),
    )
    pipeline.wait_caught_up()
    yield worker
    pipeline.stop()


def get(worker: Worker, path: str, token: str | None = "s3cret") -> tuple[int, dict]:
    import urllib.request

    request = urllib.request.Request(f"{worker.url}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_summary_of_one_agency_and_of_its_tree(worker: Worker) -> None:
    status, lx = get(worker, f"/api/v1/summary?{MARCH}&agency=LX")
    assert status == 200
    assert (lx["early"], lx["on_time"], lx["late"], lx["withdrawn"]) == (1, 0, 1, 0)
    assert (lx["open"], lx["overdue"], lx["due_soon"], lx["paused"]) == (1, 1, 0, 0)
    assert lx["on_time_ratio"] == 0.5
    assert lx["agency_name"] == "Thành phố Long Xuyên"
    status, tree = get(worker, f"/api/v1/summary?{MARCH}&agency=LX&scope=tree")
    assert status == 200
    assert (tree["early"], tree["on_time"], tree["late"], tree["withdrawn"]) == (1, 1, 1, 1)
    assert (tree["open"], tree["overdue"], tree["due_soon"], tree["paused"]) == (3, 1, 1, 1)
    # 766: 20 x (early + on_time + withdrawn + open not overdue) / (ended + open) = 20 x 5/7
    assert tree["progress_766"] == pytest.approx(20 * 5 / 7)
    assert set(tree["units"]) >= {"LX", "LX-MYBINH", "LX-MYLONG"}


def test_summary_by_agency_and_default_range(worker: Worker) -> None:
    status, body = get(worker, f"/api/v1/summary?{MARCH}&by=agency")
    assert status == 200
    rows = {r["agency"]: r for r in body["by_agency"]}
    assert set(rows) == {"LX", "LX-MYBINH", "LX-MYLONG"}
    assert rows["LX-MYLONG"]["due_soon"] == 1
    asked = time.time()
    status, last_day = get(worker, "/api/v1/summary")
    answered = time.time()
    assert status == 200 and last_day["ended"] == 0 and last_day["open"] == 3
    # As of the worker's clock, NOW when the module began and running since, however long
    # the tests before took: between the wall times around the request, shifted alike.
    offset = float(worker.extra_env["IOCMON_CLOCK_OFFSET_S"])
    as_of = datetime.fromisoformat(last_day["as_of"]).timestamp()
    assert asked + offset - 0.01 <= as_of <= answered + offset + 0.01
    assert as_of >= NOW.timestamp()


def test_overdue_list(worker: Worker) -> None:
    status, body = get(worker, "/api/v1/overdue")
    assert status == 200
    assert [(i["dossier_id"], i["overdue_days"]) for i in body["items"]] == [("A3", 7)]
    assert get(worker, "/api/v1/overdue?agency=LX-MYBINH")[1]["items"] == []


def test_at_risk_list_is_empty_without_history_to_forecast_from(worker: Worker) -> None:
    """Five dossiers ended in the whole stream: too few (30) to forecast any open one. The
    list itself, filled, is tested in tests/integration/test_at_risk.py."""
    status, body = get(worker, "/api/v1/at-risk?agency=LX&limit=5")
    assert status == 200
    assert body["items"] == [] and datetime.fromisoformat(body["as_of"]) >= NOW


def test_rankings(worker: Worker) -> None:
    status, body = get(worker, f"/api/v1/rankings?{MARCH}&by=on_time_ratio")
    assert status == 200
    assert [(r["agency"], r["value"]) for r in body["items"]] == [("LX", 0.5), ("LX-MYBINH", 1.0)]
    # against the default objective, IOCMON_ON_TIME_OBJECTIVE's 0.999
    assert body["objective"] == 0.999
    assert [r["below_target"] for r in body["items"]] == [True, False]
    status, body = get(worker, f"/api/v1/rankings?{MARCH}&by=overdue&limit=1")
    assert [r["agency"] for r in body["items"]] == ["LX"]


def test_daily_series(worker: Worker) -> None:
    status, body = get(
        worker, "/api/v1/series?from=2024-03-04T00:00:00%2B07:00&to=2024-03-08T00:00:00%2B07:00"
    )
    assert status == 200
    days = {d["date"]: d for d in body["days"]}
    assert list(days) == ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
    assert days["2024-03-04"]["received"] == 2
    assert (days["2024-03-06"]["early"], days["2024-03-07"]["late"]) == (1, 1)


def test_procedures_of_one_agency(worker: Worker) -> None:
    status, body = get(worker, f"/api/v1/agencies/LX/procedures?{MARCH}")
    assert status == 200
    assert {(i["procedure"], i["early"], i["late"]) for i in body["items"]} == {
        ("1.001", 1, 0),
        ("1.002", 0, 1),
    }
    named = {i["procedure"]: (i["name"], i["field"], i["field_name"]) for i in body["items"]}
    assert named == {
        "1.001": ("Đăng ký khai sinh", "civil_status", "Hộ tịch"),
        "1.002": (None, "unknown", "Chưa xác định lĩnh vực"),  # not in the catalogue
    }


def test_one_dossier_with_its_history_and_no_applicant_data(worker: Worker) -> None:
    status, body = get(worker, "/api/v1/dossiers/B3")
    assert status == 200
    assert (body["status"], body["state"], body["paused"]) == ("open", "paused", True)
    assert [h["type"] for h in body["history"]] == ["received", "supplement_requested"]
    assert "Nguyễn" not in json.dumps(body, ensure_ascii=False)
    assert get(worker, "/api/v1/dossiers/NOPE")[0] == 404


def test_openapi_document_lists_every_endpoint(worker: Worker) -> None:
    status, spec = get(worker, "/api/v1/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    endpoints = {"summary", "overdue", "rankings", "series", "agencies/{agency}/procedures",
                 "dossiers/{dossier_id}", "at-risk"}  # fmt: skip
    assert {f"/api/v1/{e}" for e in endpoints} <= set(spec["paths"])


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/v1/summary?color=red", "unknown parameter"),
        ("/api/v1/summary?from=yesterday", "RFC 3339"),
        ("/api/v1/summary?from=2024-03-05T00:00:00", "RFC 3339"),
        (
            "/api/v1/summary?from=2024-03-05T00:00:00%2B07:00&to=2024-03-01T00:00:00%2B07:00",
            "later",
        ),
        ("/api/v1/summary?period=2024-13", "does not exist"),
        ("/api/v1/summary?period=last-week", "YYYY"),
        ("/api/v1/summary?period=2024&from=2024-01-01T00:00:00%2B07:00", "either"),
        ("/api/v1/summary?by=procedure", "'by'"),
        ("/api/v1/summary?scope=tree", "needs an 'agency'"),
        ("/api/v1/summary?agency=LX&scope=everything", "'scope'"),
        ("/api/v1/summary?agency=" + "X" * 65, "at most 64"),
        ("/api/v1/overdue?limit=0", "1 to 1000"),
        ("/api/v1/overdue?limit=1001", "1 to 1000"),
        ("/api/v1/overdue?limit=ten", "1 to 1000"),
        ("/api/v1/at-risk?limit=0", "1 to 1000"),
        ("/api/v1/at-risk?agency=" + "X" * 65, "at most 64"),
        ("/api/v1/at-risk?period=2024", "unknown parameter"),
        ("/api/v1/rankings?by=speed", "one of"),
        ("/api/v1/rankings?order=up", "'order'"),
        ("/api/v1/series?from=2010-01-01T00:00:00%2B07:00", "at most"),
        (
            "/api/v1/series?from=2001-01-01T00:00:00%2B07:00&to=2026-01-01T00:00:00%2B07:00",
            "at most",
        ),
        ("/api/v1/summary?from=0001-01-01T00:00:00Z", "must start within 2000-01-01"),
        ("/api/v1/summary?period=1999", "must start within"),
        ("/api/v1/rankings?period=2100", "must start within"),
        ("/api/v1/rankings?period=9999", "does not exist"),
        ("/api/v1/agencies/LX/procedures?from=1970-01-01T00:00:00Z", "must start within"),
        (
            "/api/v1/series?from=0001-01-01T00:00:00%2B14:00&to=0001-01-02T00:00:00%2B14:00",
            "must start within",
        ),
        ("/api/v1/dossiers/" + "D" * 65, "1 to 64"),
        ("/api/v1/summary?to=tomorrow", "'to' must be an RFC 3339"),
        ("/api/v1/summary?to=2024-03-05T00:00:00", "'to' must be an RFC 3339"),
        ("/api/v1/summary?agency=NOT-LISTED&scope=tree", "from the agency catalogue"),
        ("/api/v1/rankings?limit=0", "1 to 1000"),
        ("/api/v1/rankings?limit=1001", "1 to 1000"),
        ("/api/v1/rankings?limit=ten", "1 to 1000"),
        ("/api/v1/rankings?limit=%C2%B2", "1 to 1000"),  # '²' passes str.isdigit()
        ("/api/v1/agencies/LX/procedures?color=red", "unknown parameter"),
        ("/api/v1/agencies/LX/procedures?agency=LX", "unknown parameter"),
        ("/api/v1/agencies/LX/procedures?period=2024-13", "does not exist"),
        ("/api/v1/agencies/LX/procedures?period=last-week", "YYYY"),
        ("/api/v1/agencies/" + "X" * 65 + "/procedures", "at most 64"),
    ],
)
def test_bad_parameters_get_400_saying_what_is_accepted(
    worker: Worker, path: str, says: str
) -> None:
    status, body = get(worker, path)
    assert status == 400, body
    assert says in body["error"]


# Every period form of the README, with the dossiers that ended in it (worked out from STREAM:
# A1 early on 03-06, A2 late on 03-07, B1 on time on 03-12, B2 withdrawn on 03-12).
@pytest.mark.parametrize(
    ("period", "requested", "ended"),
    [
        ("2024", ("2024-01-01", "2025-01-01"), (1, 1, 1, 1)),
        ("2024-H1", ("2024-01-01", "2024-07-01"), (1, 1, 1, 1)),
        ("2024-H2", ("2024-07-01", "2025-01-01"), (0, 0, 0, 0)),
        ("2024-Q1", ("2024-01-01", "2024-04-01"), (1, 1, 1, 1)),
        ("2024-Q3", ("2024-07-01", "2024-10-01"), (0, 0, 0, 0)),
        ("2024-02", ("2024-02-01", "2024-03-01"), (0, 0, 0, 0)),
        ("2024-03", ("2024-03-01", "2024-04-01"), (1, 1, 1, 1)),
        ("2024-03-06", ("2024-03-06", "2024-03-07"), (1, 0, 0, 0)),
        ("2024-03-07", ("2024-03-07", "2024-03-08"), (0, 0, 1, 0)),
        ("2024-03-12", ("2024-03-12", "2024-03-13"), (0, 1, 0, 1)),
    ],
)
def test_every_period_form_reads_its_local_calendar_range(
    worker: Worker, period: str, requested: tuple[str, str], ended: tuple[int, ...]
) -> None:
    status, body = get(worker, f"/api/v1/summary?period={period}")
    assert status == 200, body
    start, end = (f"{day}T00:00:00+07:00" for day in requested)
    assert body["requested"] == {"from": start, "to": end}
    assert (body["from"], body["to"]) == (start, end)  # local days are whole buckets
    assert (body["early"], body["on_time"], body["late"], body["withdrawn"]) == ended
    # the open figures are of now, whatever the period
    assert (body["open"], body["overdue"], body["due_soon"], body["paused"]) == (3, 1, 1, 1)


def test_a_range_ending_far_ahead_is_read_to_the_end_of_next_year(worker: Worker) -> None:
    """The truth's "everything" (2000 .. 2100) and a `to` in year 9999 (a 500 before)."""
    for to in ("2100-01-01T00:00:00%2B07:00", "9999-12-31T23:59:59-07:00"):
        status, body = get(worker, f"/api/v1/summary?from=2000-01-01T00:00:00%2B07:00&to={to}")
        assert status == 200, body
        assert body["to"] == f"{NOW.year + 2}-01-01T00:00:00+07:00"
        assert body["received"] == len({e["dossier_id"] for e in STREAM if e["type"] == "received"})


def test_the_token_is_checked(worker: Worker) -> None:
    assert get(worker, "/api/v1/summary", token=None)[0] == 401
    assert get(worker, "/api/v1/summary", token="wrong")[0] == 401
    assert get(worker, "/api/v1/summary", token="s3cret")[0] == 200
    assert http_get(f"{worker.url}/metrics")[0] == 200  # Prometheus scrapes without a token


@pytest.mark.parametrize(
    "path", ["/router/", "/table/", "/assignment/", "/graph/", "/performance/", "/stats/"]
)
def test_fausts_own_pages_are_not_served(worker: Worker, path: str) -> None:
    # Issue #14: Faust's pages (cluster topology, tables, partition assignment, sensors)
    # answered on the worker port without the API token.
    status, _ = http_get(f"{worker.url}{path}")
    assert status == 404, path
    assert get_status(worker, path, token="s3cret") == 404, path


def test_the_root_page_says_only_that_the_worker_answers(worker: Worker) -> None:
    status, body = http_get(f"{worker.url}/")
    assert status == 200 and json.loads(body) == {"status": "OK"}


def get_status(worker: Worker, path: str, token: str) -> int:
    import urllib.request

    request = urllib.request.Request(f"{worker.url}{path}")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _niceness(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[16])


def test_the_api_and_the_metrics_figures_are_read_by_processes_of_their_own_niced(
    worker: Worker,
) -> None:
    """Heavy reads must not take the intake's CPU (benchmarks.latency --hammer, and the
    /metrics refresh): the API and the figures each run in a process of their own, niced
    below the worker's; the applier is not."""
    assert worker.process is not None
    status, _ = get(worker, "/api/v1/overdue")  # answered once the API process is ready
    assert status == 200
    assert worker.metrics(fresh=True)  # figures read after the call: that process is up too
    parent = worker.process.pid
    niced = [c for c in _children(parent) if _niceness(c) == _niceness(parent) + API_NICENESS]
    assert len(niced) == 2, f"children of {parent}: {_children(parent)}"


def test_a_worker_stopped_while_its_api_process_starts_exits_cleanly(
    pipeline: Pipeline,
) -> None:
    started = pipeline.start_worker()
    assert started.process is not None
    # The API process starts once the worker owns its partitions: stop the worker then.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        owned = started.metrics(fresh=False).get(("iocmon_assigned_partitions", frozenset()))
        if owned == pipeline.partitions:
            break
        time.sleep(0.05)
    started.process.send_signal(signal.SIGTERM)
    assert started.process.wait(30) == 0, started.log_path.read_text()[-3000:]


def test_lists_of_agencies_name_the_label_values_and_sum_the_rest_as_other(
    pipeline: Pipeline,
) -> None:
    """However many agency codes were sent, `by=agency` and rankings read the open dossiers
    of the label values only (the first IOCMON_AGENCY_LABEL_LIMIT codes seen, or the
    catalogue's), and report every other code in one `other` row."""
    codes = ["AA", "BB", "CC", "DD", "EE"]
    pipeline.send(*(
        received(f"D-{code}", code, "2024-03-04T08:00:00", "2024-03-05T17:00:00")
        for code in codes
    ))  # fmt: skip
    worker = pipeline.start_worker(IOCMON_AGENCY_LABEL_LIMIT="2")
    pipeline.wait_caught_up()
    status, body = get(worker, f"/api/v1/summary?{MARCH}&by=agency", token=None)
    assert status == 200, body
    rows = {r["agency"]: r for r in body["by_agency"]}
    assert set(rows) == {"AA", "BB", "other"}
    assert (rows["AA"]["received"], rows["other"]["received"]) == (1, 3)
    assert rows["other"]["overdue"] == 3
    assert body["received"] == 5  # the province's figures count every code
    status, body = get(worker, f"/api/v1/rankings?{MARCH}&by=overdue", token=None)
    assert status == 200, body
    assert [(r["agency"], r["value"]) for r in body["items"]] == [
        ("other", 3), ("BB", 1), ("AA", 1)
    ]  # fmt: skip
