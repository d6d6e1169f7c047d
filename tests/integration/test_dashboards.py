"""Every panel query of every dashboard, run against a real Prometheus that scrapes a real
worker fed by the simulator: each must succeed and return data.

The simulator's stream (≈17,000 records over 40 days, 5 % designed late) goes through Kafka
in two waves, so that counters move between scrapes and every `rate()` and `increase()` has
something to measure; the SLO recording rules and alerts of deploy/prometheus/ are evaluated
by the same Prometheus. The simulator and the worker run on a pretend clock (a Wednesday
afternoon in mid-October, `--now` and IOCMON_CLOCK_OFFSET_S), so that every calendar period
has dossiers whatever day the test runs. Then each query is evaluated with its template
variables substituted the way Grafana does: `datasource` → that Prometheus, `agency` → a real
agency code with data and the All value `.*`, `instance` → the worker and `.*`, `period` →
`month`, `$__rate_interval` → a window spanning both waves, `$__range` → 1h. The panels that read
the iocmon API through the Infinity plugin (the overdue list, the report tables) are checked by
calling their URL on the worker, with the plugin's time macros written from the panel's own
time range at the worker's (pretend) now, and by reading the answer as the plugin and the
table would (`dashboards.api_frame`): every column in every row, the row filter, the
transformations; a report names the month the panel means, and the wall's footer sums to the
report's total. The wall's ratios, computed in PromQL so that they follow the agency variable,
must equal the worker's own gauges for every period.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dashboards import api_frame, common, grafana_time, lint, model, promql, report
from tests.integration.harness import REPO, Pipeline, Stack, Worker, http_get, wait_for

pytestmark = pytest.mark.integration

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
BOARDS = {str(board["uid"]): board for board in map(model.load, DASHBOARDS)}
SCOPED = ("agency", "instance")
PERIODS = tuple(value for _, value in common.PERIODS)
# A working day in the middle of a month, a quarter and a half-year, during office hours.
PRETEND_NOW = datetime(2025, 10, 15, 15, 0, tzinfo=timezone(timedelta(hours=7)))
RECORDED = lint.recorded_names(REPO)
LOCAL = timezone(timedelta(hours=7))
REPORT_MONTH = {"iocmon-wall": 0, "iocmon-oncall": -1}
"""The month each dashboard's report panel shows, counted from the current one."""


# ---------------------------------------------------------------------------------------------
# the cases, known at collection time


def _cases() -> Iterator[Any]:
    for path in DASHBOARDS:
        for target in model.targets(model.load(path)):
            used = model.referenced_variables(json.dumps(target.query))
            scopes = ["one", "all"] if used & set(SCOPED) else ["all"]
            for scope in scopes:
                yield pytest.param(
                    target,
                    scope,
                    id=f"{target.dashboard}:{target.panel_id}:{target.ref_id}:{scope}",
                )


CASES = list(_cases())


# ---------------------------------------------------------------------------------------------
# the live pipeline, once for the module


@dataclass(frozen=True)
class Live:
    prometheus: str
    worker: Worker
    agency: str
    at: float
    rate_interval: str
    clock_offset: float
    """The worker's clock minus the real one (IOCMON_CLOCK_OFFSET_S)."""

    def now(self) -> datetime:
        """Now on the worker's clock: what Grafana's `now` stands for in these tests."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.worker.port}"

    def values(self, scope: str, *, prometheus: bool = True) -> dict[str, str]:
        """Variable values for one scope: "one" agency and worker, or "all" (`.*`)."""

        def one(value: str) -> str:
            # Grafana regex-escapes a value of a multi or include-All variable for Prometheus.
            return grafana_prometheus_escape(value) if prometheus else value

        chosen = scope == "one"
        return {
            "datasource": common.PROMETHEUS_UID,
            "api": common.API_UID,
            "agency": one(self.agency) if chosen else ".*",
            "instance": one(self.instance) if chosen else ".*",
            "period": "month",
            "__rate_interval": self.rate_interval,
            "__interval": "15s",
            "__range": "1h",
        }

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        return prometheus_query(self.prometheus, expr, self.at if at is None else at)


def grafana_prometheus_escape(value: str) -> str:
    """Grafana's escaping of a variable value used in a Prometheus regex matcher."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value)


def prometheus_query(base: str, expr: str, at: float | None = None) -> dict[str, Any]:
    form = {"query": expr}
    if at is not None:
        form["time"] = f"{at:.3f}"
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(f"{base}/api/v1/query", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as err:
        body = json.loads(err.read() or b"{}") or {"status": "error", "error": str(err)}
    return body


def result_of(body: dict[str, Any]) -> list[Any]:
    assert body.get("status") == "success", body
    data = body["data"]
    if data["resultType"] == "scalar":
        return [data["result"]]
    return list(data["result"])


def values_of(body: dict[str, Any]) -> dict[str, float]:
    """{labels as text: value} of an instant vector."""
    return {
        json.dumps(sample["metric"], sort_keys=True): float(sample["value"][1])
        for sample in result_of(body)
    }


@contextmanager
def scraped(stack: Stack, worker: Worker) -> Iterator[None]:
    """Adds the worker to the stack's file_sd targets (keeping the others) while inside."""
    path = stack.local_dir / "prometheus" / "targets.json"
    group = {"targets": [f"127.0.0.1:{worker.port}"], "labels": {"job": "iocmon"}}

    def write(groups: list[dict[str, Any]]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups) + "\n", encoding="utf-8")
        tmp.replace(path)

    def current() -> list[dict[str, Any]]:
        try:
            groups: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
            return groups
        except (OSError, ValueError):
            return []

    write([*current(), group])
    try:
        yield
    finally:
        write([g for g in current() if g != group])


def simulate(pipeline: Pipeline, folder: Path) -> tuple[Path, Path]:
    """The simulated stream, split in two waves at its middle (file order is time order)."""
    events = folder / "events.jsonl"
    pipeline.iocmon(
        "simulate",
        "--seed", "5",
        "--now", PRETEND_NOW.isoformat(),
        "--backfill-days", "40",
        "--dossiers-per-day", "150",
        "--late-rate", "0.05",
        "--invalid-rate", "0.005",
        "--rate", "0",
        "--duration", "0",
        "--max-events", "40000",
        "--no-send",
        "--events-out", str(events),
    )  # fmt: skip
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) > 5_000, "the simulator produced too little to fill the dashboards"
    first, second = folder / "wave1.jsonl", folder / "wave2.jsonl"
    middle = len(lines) // 2
    first.write_text("".join(lines[:middle]), encoding="utf-8")
    second.write_text("".join(lines[middle:]), encoding="utf-8")
    return first, second


def scraped_events(base: str, instance: str) -> float | None:
    """dossier_events_total summed, as Prometheus last scraped it from the worker."""
    result = result_of(
        prometheus_query(base, f'sum(dossier_events_total{{instance="{instance}"}})')
    )
    return float(result[0]["value"][1]) if result else None


def target_health(base: str, instance: str) -> str:
    """What Prometheus last saw of the target, for a failure message."""
    _, body = http_get(f"{base}/api/v1/targets?state=active")
    for t in json.loads(body)["data"]["activeTargets"]:
        if t["labels"].get("instance") == instance:
            return (
                f"target health={t['health']} lastScrape={t['lastScrape']} "
                f"lastError={t['lastError']!r}, last scraped events "
                f"{scraped_events(base, instance)}"
            )
    return f"{instance} is not among Prometheus's active targets"


def worker_events(worker: Worker) -> float:
    return sum(v for (name, _), v in worker.metrics().items() if name == "dossier_events_total")


def choose_agency(base: str, instance: str, at: float) -> tuple[str | None, str]:
    """The busiest agency that has data for every agency-scoped panel (None: none yet), and
    the query that asked."""
    inst = f'instance="{instance}"'
    conditions = [
        f'(sum by (agency) (dossiers_open{{{inst}, state="{state}"}}) > 0)'
        for state in ("overdue", "due_soon", "paused")
    ]
    conditions += [
        f'dossiers_on_time_ratio{{{inst}, period="month"}}',
        f'dossiers_progress_766{{{inst}, period="month"}}',
    ]
    if RECORDED:
        conditions += [
            f"iocmon:dossiers_late_ratio:rate{w}"
            for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
            if f"iocmon:dossiers_late_ratio:rate{w}" in RECORDED
        ]
    expr = (
        f"topk(1, sum by (agency) (dossiers_received_total{{{inst}}})\n  and on(agency) "
        + "\n  and on(agency) ".join(conditions)
        + ")"
    )
    result = result_of(prometheus_query(base, expr, at))
    return (str(result[0]["metric"]["agency"]) if result else None), expr


@pytest.fixture(scope="module")
def live(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    base = stack.prometheus_url
    # Load the rules as they are now (the stack's Prometheus may be older than them).
    status, body = http_get_post(f"{base}/-/reload")
    assert status == 200, body
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    try:
        first, second = simulate(pipeline, tmp_path_factory.mktemp("dashboards"))
        offset = PRETEND_NOW.timestamp() - time.time()
        worker = pipeline.start_worker(IOCMON_CLOCK_OFFSET_S=f"{offset:.3f}")
        instance = f"127.0.0.1:{worker.port}"
        with scraped(stack, worker):
            pipeline.iocmon("replay", str(first))
            pipeline.wait_caught_up()
            wave1 = worker_events(worker)
            try:
                wait_for(
                    lambda: scraped_events(base, instance) == wave1,
                    90,
                    f"Prometheus ({base}) to scrape the worker {instance} after the first "
                    f"wave ({wave1:.0f} events)",
                )
            except AssertionError as failed:
                raise AssertionError(f"{failed}; {target_health(base, instance)}") from None
            before_second = time.time()
            pipeline.iocmon("replay", str(second))
            pipeline.wait_caught_up()
            wave2 = worker_events(worker)
            assert wave2 > wave1
            wait_for(
                lambda: scraped_events(base, instance) == wave2,
                90,
                "Prometheus to scrape the worker after the second wave",
            )
            # The SLO rules' long windows are evaluated once a minute; alerts follow them. A
            # rule that never yields leaves its panels to fail below, each with its query.
            ready = ["ALERTS"]
            if RECORDED:
                ready += sorted(
                    RECORDED & {"iocmon:slo_error_budget", "iocmon:dossiers_late_ratio:rate3d"}
                )
            # The windows' rules are evaluated at different times, so an agency may lack one
            # window's series for a while after every rule has yielded for some agency.
            deadline = time.monotonic() + 150
            while True:
                at = time.time()
                agency, asked = None, "(the rules above yielded nothing yet)"
                if all(result_of(prometheus_query(base, e)) for e in ready):
                    agency, asked = choose_agency(base, instance, at)
                if agency is not None or time.monotonic() >= deadline:
                    break
                time.sleep(2)
            assert agency is not None, (
                f"no agency has data for every agency-scoped panel after 150 s:\n{asked}"
            )
            # A window that holds a sample from before the second wave and the latest one.
            rate_interval = f"{max(60, math.ceil(at - before_second) + 20)}s"
            print(f"evaluating at {at:.0f} with $__rate_interval={rate_interval}, agency={agency}")
            yield Live(base, worker, agency, at, rate_interval, offset)
    finally:
        pipeline.stop()


def http_get_post(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# ---------------------------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize(("target", "scope"), CASES)
def test_panel_query_returns_data(live: Live, target: model.Target, scope: str) -> None:
    if target.is_infinity:
        check_api_panel(live, target, scope)
        return
    missing = sorted(
        name
        for name in lint.METRIC_LIKE.findall(target.expr)
        if name.startswith("iocmon:") and RECORDED is not None and name not in RECORDED
    )
    if RECORDED is None and "iocmon:" in target.expr:
        pytest.skip("deploy/prometheus/*.rules.yml is missing: no recording rule to query")
    assert not missing, f"not recorded by deploy/prometheus/*.rules.yml: {missing}"

    expr = model.interpolate(target.expr, live.values(scope))
    body = live.query(expr)
    assert body.get("status") == "success", f"{target.where()}: {body}\n{expr}"
    result = result_of(body)
    assert result, f"{target.where()} returned no data ({scope}):\n{expr}"
    for sample in result:
        value = float(sample["value"][1]) if isinstance(sample, dict) else float(sample[1])
        assert math.isfinite(value), f"{target.where()}: {sample} is not a number:\n{expr}"


def check_api_panel(live: Live, target: model.Target, scope: str) -> None:
    """The URL the panel names, on the worker the Infinity datasource points at, read as the
    plugin and the table panel would."""
    board = BOARDS[target.dashboard]
    panel = model.panel_of(board, target)
    values = live.values(scope, prometheus=False)
    # The plugin's backend writes its time macros in the Grafana server's zone: UTC in the
    # container image.
    span = grafana_time.panel_time_range(board, panel, live.now()).astimezone(UTC)
    url = model.interpolate(target.query["url"], values, span)
    status, raw = http_get(f"{live.worker.url}{url}")
    assert status == 200, f"{target.where()}: {url} answered {status}: {raw[:500]!r}"
    body = json.loads(raw)
    rows = body[target.query["root_selector"]]
    assert rows, f"{url} returned no rows"
    for column in target.query["columns"]:
        selector, kind = column["selector"], column["type"]
        for row in rows:
            assert selector in row, f"{url}: a row lacks {selector!r}: {row}"
            if kind == "number":
                assert isinstance(row[selector], int | float), f"{url}: {selector} in {row}"
    frame = api_frame.frame(target.query, rows)
    condition = model.interpolate(target.query.get("filterExpression", ""), values)
    kept = api_frame.apply_filter(target.query, frame, condition)
    assert kept, f"the filter {condition!r} keeps none of the {len(rows)} rows"
    by_agency = "agency" if "agency" in frame[0] else "key"
    if scope == "all":
        assert len(kept) == len(rows)
    else:
        assert {row[by_agency] for row in kept} == {live.agency}
    shown = api_frame.rows_shown(panel, kept)
    assert shown, f"{target.where()} shows no row"
    assert list(shown[0]) == api_frame.shown_names(panel, api_frame.field_names(target.query))
    path = urllib.parse.urlsplit(url).path
    if path == "/api/v1/overdue":
        for row in kept:
            assert row["overdue_days"] > 0, row
    elif path == "/api/v1/report":
        check_report_panel(live, target, panel, body, kept, shown, scope)
    else:
        pytest.fail(f"{target.where()}: no check for {path}")


def check_report_panel(
    live: Live,
    target: model.Target,
    panel: dict[str, Any],
    body: dict[str, Any],
    kept: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    scope: str,
) -> None:
    """The month the panel means, balanced rows, and what its footer or its top N show."""
    assert target.dashboard in REPORT_MONTH, f"{target.where()}: which month should it show?"
    now = live.now().astimezone(LOCAL)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(-REPORT_MONTH[target.dashboard]):
        first = (first - timedelta(days=1)).replace(day=1)
    month = f"{first:%Y-%m}"
    assert body["period"] == month, f"{target.where()}: reports {body['period']}, not {month}"
    assert datetime.fromisoformat(body["from"]) == first
    assert body["by"] == "agency"
    figures = list(report.FIGURES)
    for row in kept:
        assert all(isinstance(row[f], int) and row[f] >= 0 for f in figures), row
        received = row["carried_over"] + row["received_online"] + row["received_direct"]
        assert received == sum(row[f] for f in figures[3:]), f"unbalanced: {row}"
    overdue = report.COLUMNS[report.OVERDUE]
    footer = (panel.get("options") or {}).get("footer") or {}
    if footer.get("show"):
        # Grafana's footer: the reducer over every row of the (filtered) frame.
        assert footer["reducer"] == ["sum"] and not footer.get("fields")
        sums = {f: sum(row[f] for row in kept) for f in figures}
        if scope == "all":
            assert sums == body["total"], f"{target.where()}: the footer is not the total"
        else:
            assert sums == {f: kept[0][f] for f in figures}
    limits = [t for t in panel.get("transformations", []) if t["id"] == "limit"]
    if limits:
        top = limits[0]["options"]["limitField"]
        assert len(shown) == min(top, len(kept))
        values = [row[overdue] for row in shown]
        assert values == sorted(values, reverse=True)
        assert values[0] == max(row[report.OVERDUE] for row in kept)
        rest = sorted((row[report.OVERDUE] for row in kept), reverse=True)[len(shown) :]
        assert all(v <= values[-1] for v in rest)
        if scope == "all":
            assert values[0] > 0, f"{target.where()}: nothing was overdue at {month}'s end"


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("scope", ["province", "agency"])
def test_wall_ratios_equal_the_workers_gauges(live: Live, period: str, scope: str) -> None:
    """The wall computes the on-time % and the 766 score from the period gauges (so that
    they follow the agency variable); they must be the worker's figures, absent when it has
    none."""
    values = live.values("one" if scope == "agency" else "all")
    gauge_scope = f'agency="{live.agency}"' if scope == "agency" else 'agency=""'
    pairs = {
        "dossiers_on_time_ratio": promql.on_time_ratio(period),
        "dossiers_progress_766": promql.progress_766(period),
    }
    for metric, expr in pairs.items():
        ours = values_of(live.query(model.interpolate(expr, values)))
        theirs = values_of(
            live.query(f'{metric}{{period="{period}", {gauge_scope}, instance="{live.instance}"}}')
        )
        assert len(ours) <= 1 and len(theirs) <= 1
        assert bool(ours) == bool(theirs), f"{metric} {period} {scope}: {ours} vs {theirs}"
        if ours:
            (a,), (b,) = ours.values(), theirs.values()
            assert a == pytest.approx(b, abs=1e-9), f"{metric} {period} {scope}"


def _queries_in_the_json(doc: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(panel id, query) of every query under `panels`, at any depth (rows, collapsed or
    not), read from the JSON without `dashboards.model`."""
    for panel in doc.get("panels", []):
        for query in panel.get("targets", []):
            yield panel["id"], query
        yield from _queries_in_the_json(panel)


def test_every_panel_query_is_covered() -> None:
    """The parametrisation above holds every query of every dashboard file, each as it is in
    the file, in both scopes when it uses the agency or instance variable: worked out from
    the JSON here, not by the code that built CASES."""
    expected = {}
    for path in DASHBOARDS:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for panel_id, query in _queries_in_the_json(doc):
            scoped = re.search(
                r"\$\{?(agency|instance)\b|\[\[(agency|instance)\b", json.dumps(query)
            )
            for scope in ("one", "all") if scoped else ("all",):
                expected[f"{doc['uid']}:{panel_id}:{query['refId']}:{scope}"] = query
    assert len(expected) > 3 * len(DASHBOARDS) > 0
    cases = {case.id: case.values[0].query for case in CASES}
    assert len(cases) == len(CASES), "two cases share an id"
    missing, extra = sorted(expected.keys() - cases.keys()), sorted(cases.keys() - expected.keys())
    assert not missing and not extra, f"not in CASES: {missing}; not in the files: {extra}"
    assert cases == expected
