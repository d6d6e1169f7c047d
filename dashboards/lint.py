"""A lint of the generated dashboards, in the spirit of grafana's dashboard-linter.

`python -m dashboards.lint [FILE.json ...]` (default: every dashboard beside this module)
prints one line per problem and exits 1 if there is any. The rules:

- dashboard: uid `iocmon-…`, title, description, tags, timezone, refresh; a `datasource`
  variable of type prometheus; an `agency` query variable with All = `.*`; an `api` variable
  of the Infinity type where a panel reads the iocmon API; a label and a description on every
  variable; panels inside the 24-column grid, without overlaps, with unique ids;
  Vietnamese / English titles on the IOC wall and the on-call dashboard.
- panel: title; description; datasource = a datasource variable of the right type; at least
  one query; a unit; absolute thresholds with a base step, and at least two steps where the
  colour carries the message (gauges, ratios); a relative time and time shift that
  `dashboards.grafana_time` can evaluate (so the tests can substitute the panel's range).
- query: the panel's datasource; a unique refId; every variable it uses is defined;
  `rate`/`irate` over `$__rate_interval` or a fixed window, `increase` also over `$__range`,
  never `$__interval`; only series the worker or the notifier exports (read from their metric
  registries) or the rules record; instant queries for bar gauges, pies and tables; a legend on
  the others; for the iocmon API, a `/api/v1/` URL, a root selector and columns; a row filter,
  transformations, overrides, a sort and a footer that name fields the frame has at that point
  (`dashboards.api_frame`: the plugin names fields by their column text); and the panel's time
  as the Infinity plugin's `${__timeFrom}` / `${__timeTo}`, never Grafana's `${__from}` /
  `${__to}` (the dashboard's range, which the panel's relative time and time shift do not move).
- PromQL syntax, with `promtool check rules` (when promtool is installed): `check_promql`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from prometheus_client.core import Metric

from dashboards import api_frame, grafana_time, model
from dashboards.model import Json, Target
from iocmon.notifier import metrics as notifier_metrics
from iocmon.streams import metrics as worker_metrics

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RULES_GLOB = "deploy/prometheus/*.rules.yml"

INFINITY = "yesoreyeram-infinity-datasource"

PROMETHEUS_OWN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus writes itself: each scrape's `up`, the alerting rules' state."""
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def series_names(families: Iterable[Metric]) -> frozenset[str]:
    """The series names of metric families, by their type: a family with no sample yet (a
    labelled counter before its first labels, figures read from Redis) still names them."""
    return frozenset(f.name + s for f in families for s in SERIES_SUFFIXES[f.type])


KNOWN_METRICS = (
    series_names([*worker_metrics.exported_families(), *notifier_metrics.exported_families()])
    | PROMETHEUS_OWN
)
"""What a dashboard may query: the series the worker (`streams.metrics`) and the notifier
(`notifier.metrics`) export, taken from their registries, and Prometheus' own."""
METRIC_LIKE = re.compile(r"\b(?:dossiers?_\w+|iocmon[_:][\w:]+|ALERTS\w*|up)\b")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
FIXED_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
RANGE_FUNCTIONS = {
    "rate": {"$__rate_interval"},
    "irate": {"$__rate_interval"},
    "increase": {"$__rate_interval", "$__range"},
}
INSTANT_PANELS = {"bargauge", "piechart", "table"}
STATUS_PANELS = {"gauge"}
STATUS_UNITS = {"percentunit"}
BILINGUAL_TAGS = {"ioc", "oncall"}
_ANY_NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Problem:
    where: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.message}"


def recorded_names(repo: Path = REPO) -> frozenset[str] | None:
    """Names recorded by the project's Prometheus rules; None when there is no rules file."""
    files = sorted(repo.glob(RULES_GLOB))
    if not files:
        return None
    names: set[str] = set()
    for path in files:
        for group in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups", []):
            names.update(r["record"] for r in group.get("rules", []) if "record" in r)
    return frozenset(names)


def lint(dashboard: Json, recorded: frozenset[str] | None = None) -> list[Problem]:
    """Every problem of one dashboard. `recorded`: allowed recording-rule names (None: any
    `iocmon:` name)."""
    uid = str(dashboard.get("uid"))
    problems = list(_dashboard_rules(dashboard))
    for panel in model.panels(dashboard):
        where = f"{uid} / panel {panel.get('id')} {panel.get('title', '')!r}"
        problems += [Problem(where, r, m) for r, m in _panel_rules(dashboard, panel)]
    for target in model.targets(dashboard):
        problems += [
            Problem(target.where(), r, m) for r, m in _target_rules(dashboard, target, recorded)
        ]
    return problems


# ---------------------------------------------------------------------------------------------
# dashboard


def _dashboard_rules(d: Json) -> Iterator[Problem]:
    uid = str(d.get("uid"))

    def problem(rule: str, message: str) -> Problem:
        return Problem(uid, rule, message)

    if not uid.startswith("iocmon-"):
        yield problem("dashboard-uid", "uid must start with 'iocmon-' (stable links, kiosk URLs)")
    for key in ("title", "description", "timezone", "refresh"):
        if not d.get(key):
            yield problem("dashboard-settings", f"'{key}' is not set")
    if "iocmon" not in d.get("tags", []):
        yield problem("dashboard-settings", "tag 'iocmon' is missing")

    variables = model.variables(d)
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        yield problem("template-datasource", "needs a variable 'datasource' of type prometheus")
    agency = variables.get("agency")
    if (
        not agency
        or agency.get("type") != "query"
        or not agency.get("includeAll")
        or agency.get("allValue") != ".*"
        or (agency.get("datasource") or {}).get("uid") != "${datasource}"
    ):
        yield problem(
            "template-agency",
            "needs a query variable 'agency' on ${datasource}, with All whose value is '.*'",
        )
    uses_api = any(t.is_infinity for t in model.targets(d))
    api = variables.get("api")
    if uses_api and (not api or api.get("type") != "datasource" or api.get("query") != INFINITY):
        yield problem(
            "template-api", f"panels read the iocmon API: needs a variable 'api' of type {INFINITY}"
        )
    for name, variable in variables.items():
        if not variable.get("label") or not variable.get("description"):
            yield problem(
                "template-documented", f"variable '{name}' needs a label and a description"
            )

    yield from (problem("layout", m) for m in _layout_problems(d))

    if BILINGUAL_TAGS & set(d.get("tags", [])):
        for panel in model.panels(d):
            if " / " not in str(panel.get("title", "")):
                yield problem(
                    "bilingual-title",
                    f"panel {panel.get('id')} title {panel.get('title')!r} is not "
                    "'Vietnamese / English'",
                )


def _layout_problems(d: Json) -> Iterator[str]:
    seen_ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for panel in d.get("panels", []):
        pid = panel.get("id")
        if not isinstance(pid, int) or pid in seen_ids:
            yield f"panel id {pid!r} is missing or not unique"
        seen_ids.add(pid)
        pos = panel.get("gridPos") or {}
        x, y, w, h = (pos.get(k, 0) for k in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0 or x < 0 or x + w > 24:
            yield f"panel {pid} gridPos {pos} is outside the 24-column grid"
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    yield f"panel {pid} overlaps panel {cells[(cx, cy)]} at x={cx}, y={cy}"
                    break
                cells[(cx, cy)] = pid
            else:
                continue
            break


# ---------------------------------------------------------------------------------------------
# panel


def _panel_rules(d: Json, panel: Json) -> Iterator[tuple[str, str]]:
    if not str(panel.get("title", "")).strip():
        yield "panel-title", "no title"
    if len(str(panel.get("description", "")).strip()) < 20:
        yield "panel-description", "no description (or shorter than 20 characters)"

    ds = panel.get("datasource") or {}
    if not _is_datasource_variable(d, ds):
        yield "panel-datasource", f"datasource {ds} is not a datasource variable of its type"
    if not panel.get("targets"):
        yield "panel-targets", "no query"

    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    unit = defaults.get("unit")
    if not unit:
        yield "panel-units", "no unit (use 'none' for a plain number)"
    steps = ((defaults.get("thresholds") or {}).get("steps")) or []
    mode = (defaults.get("thresholds") or {}).get("mode")
    if not steps or steps[0].get("value") is not None or mode != "absolute":
        yield "panel-thresholds", "needs absolute thresholds whose first step is the base (null)"
    elif (panel.get("type") in STATUS_PANELS or unit in STATUS_UNITS) and len(steps) < 2:
        yield "panel-thresholds", "a gauge or a ratio needs at least two threshold steps"

    if panel.get("timeFrom") or panel.get("timeShift"):
        try:
            grafana_time.panel_time_range(d, panel, _ANY_NOW)
        except (grafana_time.UnsupportedTimeSyntax, KeyError) as exc:
            override = f"{panel.get('timeFrom')!r} / {panel.get('timeShift')!r}"
            yield "panel-time", f"time override {override} cannot be evaluated: {exc}"


def _is_datasource_variable(d: Json, ds: Json) -> bool:
    m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", str(ds.get("uid", "")))
    if not m:
        return False
    variable = model.variables(d).get(m.group(1) or m.group(2))
    return bool(
        variable
        and variable.get("type") == "datasource"
        and variable.get("query") == ds.get("type")
    )


# ---------------------------------------------------------------------------------------------
# query


def _target_rules(d: Json, t: Target, recorded: frozenset[str] | None) -> Iterator[tuple[str, str]]:
    panel = next(p for p in model.panels(d) if p.get("id") == t.panel_id)
    if t.query.get("datasource") != panel.get("datasource"):
        yield "target-datasource", "datasource differs from the panel's"
    refs = [q.get("refId") for q in panel.get("targets", [])]
    if not t.ref_id or refs.count(t.ref_id) > 1:
        yield "target-refid", "refId missing or not unique in the panel"

    defined = set(model.variables(d)) | set(model.BUILTIN_DEFAULTS) | model.TIME_MACROS
    texts = [str(v) for v in t.query.values() if isinstance(v, str)]
    for name in sorted(set().union(*(model.referenced_variables(x) for x in texts)) - defined):
        yield "target-variables", f"uses ${name}, which the dashboard does not define"

    if t.is_prometheus:
        yield from _promql_rules(t, recorded)
    elif t.is_infinity:
        if not str(t.query.get("url", "")).startswith("/api/v1/"):
            yield "target-api", "the iocmon API URL must be a /api/v1/ path on the datasource"
        if not t.query.get("root_selector") or not t.query.get("columns"):
            yield "target-api", "needs a root selector and columns"
        for problem in api_frame.problems(panel, t.query):
            yield "target-fields", problem
        used = set().union(*(model.referenced_variables(x) for x in texts))
        for name in sorted(used & model.DASHBOARD_TIME):
            yield (
                "target-time",
                f"${{{name}}} is the dashboard's range, not the panel's: use the Infinity "
                f"plugin's ${{__time{name[2:].capitalize()}}}",
            )
    else:
        yield "target-datasource", f"unexpected datasource type {t.datasource_type!r}"


def _promql_rules(t: Target, recorded: frozenset[str] | None) -> Iterator[tuple[str, str]]:
    expr = t.expr
    if not expr.strip():
        yield "target-promql", "empty expression"
        return
    for function, window in range_windows(expr):
        if window == "$__interval":
            yield "target-rate-interval", f"{function}() over $__interval; use $__rate_interval"
        elif window not in RANGE_FUNCTIONS[function] and not FIXED_DURATION.match(window):
            allowed = " or ".join(sorted(RANGE_FUNCTIONS[function]))
            yield (
                "target-rate-interval",
                f"{function}() over [{window}]: use {allowed} or a fixed window",
            )
    for name in sorted(set(METRIC_LIKE.findall(QUOTED.sub('""', expr)))):
        if name in KNOWN_METRICS:
            continue
        if name.startswith("iocmon:") and (recorded is None or name in recorded):
            continue
        yield "target-metric", f"{name} is neither exported (worker, notifier) nor recorded"
    if t.panel_type in INSTANT_PANELS and not t.instant:
        yield "target-instant", f"a {t.panel_type} shows one value per series: use an instant query"
    if t.panel_type not in {"table"} and not t.query.get("legendFormat"):
        yield "target-legend", "needs a legendFormat (the series name shown)"


def range_windows(expr: str) -> Iterator[tuple[str, str]]:
    """(function, window) for every rate/irate/increase call: the range of its selector."""
    for m in re.finditer(r"\b(rate|irate|increase)\s*\(", expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        argument = QUOTED.sub('""', expr[m.end() : i - 1])
        windows = re.findall(r"\[([^\]:]+)\]", argument)
        yield m.group(1), windows[-1].strip() if windows else ""


# ---------------------------------------------------------------------------------------------
# PromQL syntax


def check_promql(exprs: Iterable[tuple[str, str]]) -> list[Problem]:
    """Parses (where, expr) pairs with `promtool check rules`; [] when all parse.

    One promtool run checks them all; only when it fails is each checked alone, to say which.
    Raises FileNotFoundError when promtool is not installed.
    """
    promtool = shutil.which("promtool")
    if promtool is None:
        raise FileNotFoundError("promtool (Debian package prometheus) is not installed")
    pairs = list(exprs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panels.rules.yml"

        def parses(batch: list[tuple[str, str]]) -> str:
            rules = [{"record": f"lint:panel{i}", "expr": e} for i, (_, e) in enumerate(batch)]
            path.write_text(yaml.safe_dump({"groups": [{"name": "lint", "rules": rules}]}))
            run = subprocess.run(
                [promtool, "check", "rules", str(path)], capture_output=True, text=True
            )
            detail = (run.stderr or run.stdout).strip().splitlines()
            return "" if run.returncode == 0 else " ".join(detail[-2:])

        if not pairs or not parses(pairs):
            return []
        return [
            Problem(where, "target-promql", error)
            for where, expr in pairs
            if (error := parses([(where, expr)]))
        ]


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    paths = paths or sorted(HERE.glob("*.json"))
    recorded = recorded_names()
    problems: list[Problem] = []
    for path in paths:
        problems += lint(model.load(path), recorded)
    for p in problems:
        print(p)
    print(f"{len(paths)} dashboards, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
