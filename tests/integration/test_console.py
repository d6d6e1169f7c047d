"""The console tools against a real pipeline: a worker fed by the simulator, on the test stack.

What the terminal shows must be what the API says: `status` renders the worker's summaries,
`overdue --json` is the API's list, `dossier` its state; `doctor` passes on a healthy stack
and names Redis and the fix when Redis is not there; `topics` counts the records in Kafka.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from iocmon.console import wall
from iocmon.console.client import ApiClient
from iocmon.console.fmt import integer, percent
from iocmon.console.status import fetch_at_risk
from tests.integration.harness import (
    REPO,
    Pipeline,
    Stack,
    Worker,
    free_port,
    http_get,
    wait_for,
)

pytestmark = pytest.mark.integration

FIGURES = (
    "early", "on_time", "late", "withdrawn", "ended", "received", "open", "on_track",
    "due_soon", "overdue", "paused", "on_time_ratio", "progress_766",
)  # fmt: skip


@pytest.fixture(scope="module")
def fed(stack: Stack) -> Iterator[tuple[Pipeline, Worker]]:
    """One pipeline for the whole module (every test here only reads): a worker that has
    applied a simulated stream of 3,000 records with 10 days of backfill."""
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    try:
        worker = pipeline.start_worker()
        pipeline.iocmon(
            "simulate", "--seed", "3", "--backfill-days", "10", "--max-events", "3000",
            "--rate", "0",
        )  # fmt: skip
        pipeline.wait_caught_up()
        yield pipeline, worker
    finally:
        pipeline.stop()


@pytest.fixture
def pipeline(fed: tuple[Pipeline, Worker]) -> Pipeline:
    return fed[0]


@pytest.fixture
def worker(fed: tuple[Pipeline, Worker]) -> Worker:
    return fed[1]


def iocmon(pipeline: Pipeline, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m iocmon ARGS` with the pipeline's environment plus `env`; never raises."""
    return subprocess.run(
        [sys.executable, "-m", "iocmon", *args],
        env=pipeline.env(**env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def api(worker: Worker, path: str) -> Any:
    status, body = worker.get_json(path)
    assert status == 200, body
    return body


def figures_of(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in FIGURES}


def test_status_once_shows_the_worker_s_figures(pipeline: Pipeline, worker: Worker) -> None:
    result = pipeline.iocmon("status", "--once", "--color", "never", "--url", worker.url)
    shown = result.stdout.rstrip("\n").splitlines()

    last_24h = api(worker, "/api/v1/summary")
    today, month = wall.periods_for(last_24h["as_of"])
    data = wall.WallData(
        worker.url,
        api(worker, f"/api/v1/summary?period={today}"),
        api(worker, f"/api/v1/summary?period={month}&by=agency"),
        last_24h,
        fetch_at_risk(ApiClient(worker.url)),  # None (n/a) from a worker without the forecast
    )
    expected = wall.render_frame(data)
    # the same frame, but for the "as of" line (the worker's clock moved on)
    assert shown[:1] + shown[2:] == expected[:1] + expected[2:]

    now = data.month
    # Open figures are as of now, whatever the period, so the stream shows there; received
    # this month is 0 in a month's first days, as the stream ends days before now.
    assert now["open"] > 0

    def cells(starting: str) -> list[str]:
        line = next(line for line in shown if line.strip().startswith(starting))
        return re.split(r"\s{2,}", line.strip())

    assert cells("Đang giải quyết (open)") == [
        "Đang giải quyết (open)", integer(now["open"]), "Quá hạn (overdue)", integer(now["overdue"])
    ]  # fmt: skip
    assert cells("Sắp đến hạn (due soon)") == [
        "Sắp đến hạn (due soon)", integer(now["due_soon"]), "Tạm dừng (paused)",
        integer(now["paused"]),
    ]  # fmt: skip
    assert cells("Đúng hạn (on time)")[2] == percent(now["on_time_ratio"])  # this month
    assert cells("Tiếp nhận (received)")[1:] == [
        integer(s["received"]) for s in (data.today, data.month, data.last_24h)
    ]


def test_status_json_carries_the_api_figures(pipeline: Pipeline, worker: Worker) -> None:
    doc = json.loads(pipeline.iocmon("status", "--json", "--url", worker.url).stdout)
    last_24h = api(worker, "/api/v1/summary")
    today, month = wall.periods_for(last_24h["as_of"])
    month_body = api(worker, f"/api/v1/summary?period={month}&by=agency")
    assert figures_of(doc["periods"]["this_month"]) == figures_of(month_body)
    assert figures_of(doc["periods"]["today"]) == figures_of(
        api(worker, f"/api/v1/summary?period={today}")
    )
    assert figures_of(doc["periods"]["last_24h"]) == figures_of(last_24h)
    assert doc["overdue_by_agency"] == wall.overdue_by_agency(month_body["by_agency"])
    assert sum(a["overdue"] for a in doc["overdue_by_agency"]) == month_body["overdue"]


def test_live_is_the_status_wall(pipeline: Pipeline, worker: Worker) -> None:
    status = pipeline.iocmon("status", "--once", "--url", worker.url).stdout.splitlines()
    live = pipeline.iocmon("live", "--once", "--url", worker.url).stdout.splitlines()
    assert status[:1] + status[2:] == live[:1] + live[2:]


def test_status_says_the_worker_is_not_answering(pipeline: Pipeline) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = pipeline.iocmon("status", "--once", "--url", url, check=False)
    assert result.returncode == 1
    assert (
        f"worker at {url} not answering — is `iocmon worker` running? (make run starts it)"
        in result.stderr
    )


def test_overdue_json_equals_the_api_list(pipeline: Pipeline, worker: Worker) -> None:
    shown = json.loads(pipeline.iocmon("overdue", "--json", "--url", worker.url).stdout)
    expected = api(worker, "/api/v1/overdue?limit=50")
    assert shown["items"] == expected["items"]
    assert shown["items"], "the simulated stream leaves overdue dossiers"
    days = [item["overdue_days"] for item in shown["items"]]
    assert days == sorted(days, reverse=True)

    agency = shown["items"][0]["agency"]
    mine = json.loads(
        pipeline.iocmon(
            "overdue", "--json", "--agency", agency, "--limit", "5", "--url", worker.url
        ).stdout
    )
    assert mine["items"] == api(worker, f"/api/v1/overdue?agency={agency}&limit=5")["items"]
    assert {item["agency"] for item in mine["items"]} == {agency}


def test_overdue_table_lists_the_dossiers(pipeline: Pipeline, worker: Worker) -> None:
    items = api(worker, "/api/v1/overdue?limit=3")["items"]
    total = api(worker, "/api/v1/summary")["overdue"]
    text = pipeline.iocmon("overdue", "--limit", "3", "--url", worker.url).stdout
    assert text.startswith(f"Hồ sơ quá hạn (overdue dossiers): 3 / {integer(total)}\n")
    for item in items:
        row = next(line for line in text.splitlines() if item["dossier_id"] in line)
        assert row.split()[-1] == str(item["overdue_days"])
        assert item["procedure"] in row


def test_dossier_shows_the_api_state(pipeline: Pipeline, worker: Worker) -> None:
    dossier_id = api(worker, "/api/v1/overdue?limit=1")["items"][0]["dossier_id"]
    body = api(worker, f"/api/v1/dossiers/{dossier_id}")
    shown = json.loads(pipeline.iocmon("dossier", dossier_id, "--json", "--url", worker.url).stdout)
    assert shown == body
    text = pipeline.iocmon("dossier", dossier_id, "--url", worker.url).stdout
    assert f"Hồ sơ (dossier) {dossier_id}" in text
    assert f"Quá hạn (overdue), {body['overdue_days']} ngày (days)" in text
    assert f"Lịch sử (history): {len(body['history'])}" in text

    missing = pipeline.iocmon("dossier", "no-such-dossier", "--url", worker.url, check=False)
    assert missing.returncode == 1
    assert "no-such-dossier" in missing.stderr


@contextmanager
def scraped(stack: Stack, worker: Worker) -> Iterator[None]:
    """The worker in the test stack's Prometheus file_sd targets (others kept) while inside."""
    path = stack.local_dir / "prometheus" / "targets.json"
    group = {"targets": [f"127.0.0.1:{worker.port}"], "labels": {}}

    def current() -> list[dict[str, Any]]:
        try:
            groups: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
            return groups
        except (OSError, ValueError):
            return []

    def write(groups: list[dict[str, Any]]) -> None:
        tmp = path.with_suffix(".console.tmp")
        tmp.write_text(json.dumps(groups) + "\n", encoding="utf-8")
        tmp.replace(path)

    write([*current(), group])
    try:
        yield
    finally:
        write([g for g in current() if g != group])


def target_up(stack: Stack, worker: Worker) -> bool:
    _, body = http_get(f"{stack.prometheus_url}/api/v1/targets?state=active")
    return any(
        t["labels"].get("instance") == f"127.0.0.1:{worker.port}" and t["health"] == "up"
        for t in json.loads(body)["data"]["activeTargets"]
    )


def test_doctor_passes_on_the_test_stack(pipeline: Pipeline, stack: Stack, worker: Worker) -> None:
    with scraped(stack, worker):
        wait_for(lambda: target_up(stack, worker), 60, "Prometheus to scrape the worker")
        result = iocmon(
            pipeline, "doctor", "--url", worker.url, IOCMON_PROMETHEUS_URL=stack.prometheus_url
        )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("✓") for line in lines[:-2]), result.stdout
    assert lines[-1] == "all checks passed"
    text = result.stdout
    assert f"✓ topic {pipeline.events_topic}: 12 partition(s), kept forever" in text
    assert f"✓ topic {pipeline.dlq_topic}" in text
    assert f"✓ Redis persistence at {stack.redis_url}: append-only file on" in text
    assert f"127.0.0.1:{worker.port}" in next(ln for ln in lines if "targets of job iocmon" in ln)
    assert f"owns 12 of 12 partitions of {pipeline.events_topic}" in text


def test_doctor_without_redis_names_redis_and_the_fix(
    pipeline: Pipeline, stack: Stack, worker: Worker
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = iocmon(
        pipeline,
        "doctor",
        "--json",
        "--url",
        worker.url,
        REDIS_URL=dead,
        IOCMON_PROMETHEUS_URL=stack.prometheus_url,
    )
    assert result.returncode == 1
    assert result.stdout, f"doctor printed no JSON; its stderr:\n{result.stderr}"
    doc = json.loads(result.stdout)
    failed = [c for c in doc["checks"] if not c["ok"]]
    redis_lines = [c["line"] for c in failed if c["service"] == "redis"]
    assert redis_lines == [
        f"✗ Redis at {dead}: connection refused — start it with `make up`, or set REDIS_URL"
    ]
    kafka = [c for c in doc["checks"] if c["service"] == "kafka"]
    assert kafka and all(c["ok"] for c in kafka)  # the other services are still checked

    text = iocmon(pipeline, "doctor", "--url", worker.url, REDIS_URL=dead)
    assert text.returncode == 1
    assert redis_lines[0] in text.stdout.splitlines()


def test_topics_counts_the_records_and_the_group_lag(pipeline: Pipeline, worker: Worker) -> None:
    ends = pipeline.end_offsets()

    def report() -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(pipeline.iocmon("topics", "--json").stdout)
        return doc

    def committed_everything() -> bool:
        events = report()["topics"][0]
        return events["lag"] == 0 and all(
            p["committed"] is not None for p in events["by_partition"]
        )

    wait_for(committed_everything, 60, "the worker's group to commit every partition")
    doc = report()
    assert doc["group"] == pipeline.name
    events, dlq, alerts = doc["topics"]
    assert [t["topic"] for t in doc["topics"]] == [
        pipeline.events_topic,
        pipeline.dlq_topic,
        f"{pipeline.name}-alerts",
    ]
    assert events["partitions"] == 12 and events["records"] == sum(ends.values()) == 3000
    assert {p["partition"]: p["end"] for p in events["by_partition"]} == ends
    assert dlq["exists"] and dlq["lag"] is None  # the group does not read dead letters
    assert alerts["exists"]
    assert dlq["records"] == sum(pipeline.end_offsets(pipeline.dlq_topic).values())
    text = pipeline.iocmon("topics").stdout
    assert f"{pipeline.events_topic}  12 phân vùng (partitions) · 3 000 bản ghi (records)" in text
