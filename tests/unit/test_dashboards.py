"""The dashboards as code: reproducible output, the committed JSON up to date, and a lint
(grafana dashboard-linter's rules, and ours) that passes on them and catches what it should.

No service is needed; the PromQL syntax check uses `promtool` when it is installed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from dashboards import api_frame, generate, lint, model
from dashboards.model import Json

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted((REPO / "dashboards").glob("*.json"))
VALUES = {"datasource": "iocmon-prometheus", "api": "iocmon-api", "agency": ".*",
          "period": "month", "instance": ".*"}  # fmt: skip


def load_all() -> dict[str, Json]:
    return {p.name: model.load(p) for p in COMMITTED}


def test_generating_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert generate.main(["--out", str(first)]) == 0
    assert generate.main(["--out", str(second)]) == 0
    names = sorted(p.name for p in first.glob("*.json"))
    assert names == sorted(generate.BOARDS)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_committed_json_is_what_the_code_generates() -> None:
    assert [p.name for p in COMMITTED] == sorted(generate.BOARDS)
    for path, text in generate.generate(REPO / "dashboards").items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run `make dashboards` and commit the result"
        )
    assert generate.main(["--check"]) == 0


def test_output_is_canonical_json() -> None:
    for path in COMMITTED:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_json_round_trips_through_the_sdk_model() -> None:
    # The SDK's typed model of a Grafana dashboard reads every field back as written.
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    for name, data in load_all().items():
        again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
        assert again == data, name


def test_uids_and_panel_ids_are_stable() -> None:
    boards = load_all()
    assert {d["uid"] for d in boards.values()} == {
        "iocmon-wall",
        "iocmon-oncall",
        "iocmon-engineering",
    }
    for d in boards.values():
        ids = [p["id"] for p in d["panels"]]
        assert ids == list(range(1, len(ids) + 1)), d["uid"]


def test_committed_dashboards_pass_the_lint() -> None:
    recorded = lint.recorded_names(REPO)
    problems = [str(p) for d in load_all().values() for p in lint.lint(d, recorded)]
    assert problems == []


def test_every_panel_has_title_description_unit_thresholds_and_the_datasource_variable() -> None:
    # The lint says so too; this spells the requirement out on the JSON itself.
    for d in load_all().values():
        for panel in model.panels(d):
            defaults = panel["fieldConfig"]["defaults"]
            assert panel["title"] and len(panel["description"]) >= 20
            assert defaults["unit"]
            assert defaults["thresholds"]["steps"][0]["value"] is None
            assert panel["datasource"]["uid"] in {"${datasource}", "${api}"}
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]


def test_template_variables() -> None:
    boards = load_all()
    for d in boards.values():
        variables = model.variables(d)
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["datasource"]["current"]["value"] == "iocmon-prometheus"
        assert variables["agency"]["includeAll"] is True
        assert variables["agency"]["allValue"] == ".*"
    assert set(model.variables(boards["iocmon-wall.json"])) == {
        "datasource",
        "api",
        "agency",
        "period",
    }
    assert set(model.variables(boards["iocmon-oncall.json"])) == {"datasource", "api", "agency"}
    assert "instance" in model.variables(boards["iocmon-engineering.json"])
    periods = model.variables(boards["iocmon-wall.json"])["period"]
    assert [v.split(" : ")[1] for v in periods["query"].split(",")] == [
        "today",
        "month",
        "quarter",
        "half_year",
        "year",
    ]


def test_wall_is_for_a_tv_in_kiosk_mode() -> None:
    wall = load_all()["iocmon-wall.json"]
    assert wall["refresh"] == "30s"
    assert wall["timezone"] == "Asia/Ho_Chi_Minh"
    assert all(" / " in p["title"] for p in model.panels(wall))  # Vietnamese / English
    assert "Tỷ lệ đúng hạn / On-time %" in {p["title"] for p in model.panels(wall)}
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in wall["panels"])
    assert bottom <= 30, "the wall must fit one 1080p screen without scrolling"


def test_every_rate_uses_rate_interval_or_a_fixed_window() -> None:
    windows = set()
    for d in load_all().values():
        for t in model.targets(d):
            if t.is_prometheus:
                windows |= {w for _, w in lint.range_windows(t.expr)}
    assert windows, "the dashboards have rates"
    assert "$__interval" not in windows
    assert windows <= {"$__rate_interval", "$__range", "5m", "1h", "1d"}


def test_queries_parse_as_promql() -> None:
    pairs = [
        (t.where(), model.interpolate(t.expr, VALUES))
        for d in load_all().values()
        for t in model.targets(d)
        if t.is_prometheus
    ]
    try:
        problems = lint.check_promql(pairs)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert [str(p) for p in problems] == []


def test_the_overdue_list_reads_the_iocmon_api() -> None:
    oncall = load_all()["iocmon-oncall.json"]
    api = [t for t in model.targets(oncall) if t.is_infinity and "/overdue" in t.query["url"]]
    assert len(api) == 1
    query = api[0].query
    assert query["url"].startswith("/api/v1/overdue?")
    assert query["root_selector"] == "items"
    assert [c["selector"] for c in query["columns"]] == [
        "dossier_id",
        "agency",
        "procedure",
        "due_at",
        "overdue_days",
    ]
    assert model.interpolate(query["filterExpression"], {"agency": "STP"}) == (
        "agency =~ '^(STP)$'"
    )
    # The plugin's filter reads fields by the names the columns give them.
    assert list(api_frame.problems(model.panel_of(oncall, api[0]), query)) == []


def test_on_call_shows_the_dossiers_at_risk_by_agency_under_overdue_and_due_soon() -> None:
    """Issue #18: from the worker's `dossiers_at_risk{agency}`, a table like the overdue and
    due-soon one (instant, named agencies, most first), in the same column of the board."""
    oncall = load_all()["iocmon-oncall.json"]
    panels = {p["title"]: p for p in model.panels(oncall)}
    risk = panels["Nguy cơ trễ hạn theo đơn vị / Dossiers at risk by agency"]
    by_agency = panels["Quá hạn và sắp đến hạn theo đơn vị / Overdue and due soon by agency"]
    assert risk["type"] == by_agency["type"] == "table"
    [target] = risk["targets"]
    assert lint.METRIC_LIKE.findall(lint.QUOTED.sub('""', target["expr"])) == [
        "dossiers_at_risk", "iocmon_agency_info", "dossiers_at_risk",
    ]  # fmt: skip
    assert 'dossiers_at_risk{agency=~"$agency"}' in target["expr"]
    assert target["instant"] and target["format"] == "table"
    [organize] = [t for t in risk["transformations"] if t["id"] == "organize"]
    assert organize["options"]["renameByName"] == {
        "name": "Đơn vị / Agency",
        "agency": "Mã / Code",
        "Value": "Nguy cơ trễ hạn / At risk",
    }
    assert risk["options"]["sortBy"] == [{"desc": True, "displayName": "Nguy cơ trễ hạn / At risk"}]
    below = risk["gridPos"]
    above = by_agency["gridPos"]
    assert (below["x"], below["w"]) == (above["x"], above["w"])
    assert below["y"] >= above["y"] + above["h"]


def test_the_wall_and_on_call_read_the_report() -> None:
    boards = load_all()
    urls = {
        d["uid"]: [t.query["url"] for t in model.targets(d) if "/report" in t.query.get("url", "")]
        for d in boards.values()
    }
    assert urls == {
        "iocmon-wall": ["/api/v1/report?by=agency"],
        "iocmon-oncall": ["/api/v1/report?by=agency&period=${__timeFrom:date:YYYY-MM}"],
        "iocmon-engineering": [],
    }


# ---------------------------------------------------------------------------------------------
# the lint itself


def rules_of(d: Json) -> set[str]:
    return {p.rule for p in lint.lint(d)}


def a_panel(d: Json, panel_type: str = "timeseries") -> Json:
    return next(p for p in model.panels(d) if p["type"] == panel_type)


@pytest.fixture
def board() -> Json:
    return copy.deepcopy(load_all()["iocmon-engineering.json"])


def test_lint_catches_missing_title_description_and_unit(board: Json) -> None:
    panel = a_panel(board)
    panel["title"] = ""
    panel["description"] = "short"
    del panel["fieldConfig"]["defaults"]["unit"]
    assert {"panel-title", "panel-description", "panel-units"} <= rules_of(board)


def test_lint_catches_a_hard_coded_datasource(board: Json) -> None:
    panel = a_panel(board)
    panel["datasource"] = {"type": "prometheus", "uid": "iocmon-prometheus"}
    assert {"panel-datasource", "target-datasource"} <= rules_of(board)


def test_lint_catches_rate_over_interval_or_a_bare_window(board: Json) -> None:
    target = a_panel(board)["targets"][0]
    target["expr"] = 'sum(rate(dossier_events_total{job="iocmon"}[$__interval]))'
    assert "target-rate-interval" in rules_of(board)
    target["expr"] = 'sum(rate(dossier_events_total{job="iocmon"}[$window]))'
    assert {"target-rate-interval", "target-variables"} <= rules_of(board)


def test_lint_catches_unknown_metrics_and_variables(board: Json) -> None:
    target = a_panel(board)["targets"][0]
    target["expr"] = 'sum(dossiers_opne{agency=~"$agencies"})'
    assert {"target-metric", "target-variables"} <= rules_of(board)


@pytest.mark.parametrize(
    "name",
    [
        # in no hand-kept list before the lint read the registries (issue #16)
        "iocmon_alerts_emitted_total",
        "iocmon_partition_rewinds_total",
        "iocmon_notify_delivery_failures_total",
        "iocmon_notify_pending_jobs",
        "iocmon_apply_batch_seconds_count",
        "dossiers_at_risk",  # issue #18: the on-call panel's
    ],
)
def test_lint_knows_what_the_worker_and_the_notifier_export(board: Json, name: str) -> None:
    a_panel(board)["targets"][0]["expr"] = f'sum(rate({name}{{job="iocmon"}}[5m]))'
    assert "target-metric" not in rules_of(board)


@pytest.mark.parametrize(
    "name",
    [
        "iocmon_notify_bogus_total",  # a name no registry has
        "iocmon_alerts_emitted",  # a counter's family name, not a series
        "iocmon_apply_batch_seconds",  # a histogram has only _bucket, _count and _sum
        "dossiers_open_total",
    ],
)
def test_lint_refuses_a_metric_no_code_exports(board: Json, name: str) -> None:
    a_panel(board)["targets"][0]["expr"] = f'sum({name}{{job="iocmon"}})'
    assert "target-metric" in rules_of(board)


def exposed_series(exposition: bytes) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in exposition.decode().splitlines()
        if line and not line.startswith("#")
    }


def test_known_metrics_are_the_series_the_exposition_shows() -> None:
    """The lint's names are derived from the families' types: checked against the text a
    scrape of each registry gives once every family has samples."""
    from collections import Counter

    from prometheus_client import CollectorRegistry, generate_latest

    from iocmon.domain.agencies import Agency
    from iocmon.domain.figures import Figures
    from iocmon.notifier.metrics import NotifierMetrics
    from iocmon.streams import metrics
    from iocmon.streams.queries import Totals

    totals = Totals(
        ended=Counter({("A", "late"): 1}),
        received=Counter({("A", "online", "full"): 1}),
        open=Counter({("A", "overdue"): 1}),
        events=Counter({"received": 1}),
        ignored=Counter({"duplicate_event": 1}),
        rejected=Counter({"not_json": 1}),
    )
    worker = metrics.render(
        metrics.render_families(
            [
                *metrics.figure_families(totals, {"A"}),
                metrics.at_risk_family(Counter({"A": 1}), {"A"}, {"A"}),
                *metrics.period_families({"month": {"A": Figures(early=1, overdue=1)}}, {"A"}),
                metrics.agency_info_family([Agency("A", "An", "province", None)], {"A"}),
                metrics.lag_family({0: 3}),
            ]
        ),
        applier=metrics.render_applier(),
    )
    notifier = NotifierMetrics(CollectorRegistry())
    for labelled in (notifier.delivered, notifier.failures, notifier.pending,
                     notifier.oldest_pending):  # fmt: skip
        labelled.labels("webhook", "x")
    shown = exposed_series(worker) | exposed_series(generate_latest(notifier.registry))
    assert shown == lint.KNOWN_METRICS - lint.PROMETHEUS_OWN


CONTRACT_METRICS = {"dossier_events_total", "dossier_events_rejected_total",
                    "dossiers_ended_total", "dossiers_open"}  # fmt: skip
"""CONTRACT §5's pinned metrics (copied: the contract lives outside the repository)."""


def test_the_contracts_metrics_are_exported() -> None:
    assert CONTRACT_METRICS <= lint.KNOWN_METRICS


def test_the_rules_query_only_exported_or_recorded_metrics() -> None:
    recorded = lint.recorded_names(REPO)
    assert recorded
    unknown = set()
    for path in sorted(REPO.glob(lint.RULES_GLOB)):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                used = lint.METRIC_LIKE.findall(lint.QUOTED.sub('""', rule["expr"]))
                unknown |= set(used) - lint.KNOWN_METRICS - recorded
    assert unknown == set()


def test_lint_catches_missing_thresholds_and_variables(board: Json) -> None:
    stat = a_panel(board, "stat")
    stat["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = 0
    board["templating"]["list"] = [v for v in board["templating"]["list"] if v["name"] != "agency"]
    assert {"panel-thresholds", "template-agency"} <= rules_of(board)


def test_lint_catches_overlapping_panels(board: Json) -> None:
    panels = [p for p in board["panels"] if p["type"] != "row"]
    panels[1]["gridPos"] = dict(panels[0]["gridPos"])
    assert "layout" in rules_of(board)


def test_lint_wants_instant_queries_for_rankings() -> None:
    wall = copy.deepcopy(load_all()["iocmon-wall.json"])
    ranking = a_panel(wall, "bargauge")
    ranking["targets"][0]["instant"] = False
    ranking["targets"][0]["range"] = True
    assert "target-instant" in rules_of(wall)


def test_lint_wants_bilingual_titles_on_the_wall() -> None:
    wall = copy.deepcopy(load_all()["iocmon-wall.json"])
    a_panel(wall, "stat")["title"] = "On-time %"
    assert "bilingual-title" in rules_of(wall)


def api_panel(d: Json, url_part: str) -> Json:
    return next(
        p for p in model.panels(d) if any(url_part in t.get("url", "") for t in p["targets"])
    )


def test_lint_catches_a_filter_on_a_name_the_frame_does_not_have() -> None:
    # The overdue list as it was: columns renamed in the query, so the frame's fields are
    # 'Đơn vị / Agency' and the like, and the plugin fails the query on `agency =~ …`.
    oncall = copy.deepcopy(load_all()["iocmon-oncall.json"])
    query = api_panel(oncall, "/overdue")["targets"][0]
    for column in query["columns"]:
        column["text"] = column["selector"].replace("agency", "Đơn vị / Agency")
    assert "target-fields" in rules_of(oncall)


def test_lint_catches_overrides_and_sorts_on_columns_not_shown() -> None:
    wall = copy.deepcopy(load_all()["iocmon-wall.json"])
    panel = api_panel(wall, "/report")
    assert "target-fields" not in rules_of(wall)
    panel["options"]["sortBy"][0]["displayName"] = "open_overdue"  # the raw name, renamed away
    assert "target-fields" in rules_of(wall)


def test_lint_wants_the_panels_own_time_in_api_urls() -> None:
    oncall = copy.deepcopy(load_all()["iocmon-oncall.json"])
    query = api_panel(oncall, "/report")["targets"][0]
    query["url"] = query["url"].replace("__timeFrom", "__from")
    assert "target-time" in rules_of(oncall)


def test_lint_catches_a_time_override_it_cannot_evaluate() -> None:
    oncall = copy.deepcopy(load_all()["iocmon-oncall.json"])
    api_panel(oncall, "/report")["timeShift"] = "1w/w"  # weeks start as the viewer says
    assert "panel-time" in rules_of(oncall)


def test_interpolate_follows_grafana_syntax() -> None:
    values = {"agency": "STP", "period": "month"}
    assert model.interpolate('x{a=~"$agency", p="${period}"}[$__rate_interval]', values) == (
        'x{a=~"STP", p="month"}[1m]'
    )
    assert model.interpolate('label_replace(x, "n", "$1", "a", "(.+)")', values) == (
        'label_replace(x, "n", "$1", "a", "(.+)")'
    )
    with pytest.raises(model.UnknownVariable):
        model.interpolate("$nope", values)


def test_metrics_keep_the_workers_own_gauges_when_the_applier_does_not_answer() -> None:
    """Without the applier's text, /metrics once showed only zero copies of the applier's
    metrics and dropped the worker's own: a scraper then saw no snapshot time and took the
    last (stale) dossier figures for fresh ones."""
    from iocmon.streams import metrics

    metrics.REPORTS_FIGURES.set(1)
    metrics.SNAPSHOT_TIMESTAMP.set(1234.5)
    without = exposed_series(metrics.render(b"", applier=b""))
    assert {
        "iocmon_reports_dossier_figures",
        "iocmon_figures_snapshot_timestamp_seconds",
    } <= without
    assert "iocmon_records_applied_total" not in without  # not a zero stand-in for the applier's
    with_applier = exposed_series(metrics.render(b"", applier=metrics.render_applier()))
    assert "iocmon_records_applied_total" in with_applier
