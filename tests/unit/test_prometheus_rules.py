"""The Prometheus rules and the Alertmanager example, checked by the tools that load them.

`promtool test rules` runs the scenarios in tests/promtool/ (what fires, when, and what stays
silent); `amtool` checks the Alertmanager example and where its routing tree sends each kind
of alert. Both come with the Debian packages `prometheus` and `prometheus-alertmanager`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from iocmon.domain.events import CHANNELS, LEVELS, EventType, RejectReason
from iocmon.domain.judge import OpenState, Outcome
from iocmon.domain.lifecycle import IgnoreReason
from iocmon.notifier.alertmanager import ALERTNAMES, SEVERITIES

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "deploy/prometheus").glob("*.rules.yml"))
PROMTOOL_TESTS = sorted((REPO / "tests/promtool").glob("*.test.yml"))
ALERTMANAGER_CONFIG = REPO / "deploy/alertmanager/alertmanager.yml"

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus); CI installs it",
)
needs_amtool = pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is not installed (Debian: apt-get install prometheus-alertmanager); "
    "CI installs it",
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_there_are_rules_and_scenarios() -> None:
    assert RULES, "deploy/prometheus/*.rules.yml is empty"
    assert PROMTOOL_TESTS, "tests/promtool/*.test.yml is empty"


@needs_promtool
def test_rule_files_pass_promtool_check() -> None:
    fixtures = sorted((REPO / "tests/promtool").glob("*.rules.yml"))
    result = run(str(PROMTOOL), "check", "rules", *map(str, RULES + fixtures))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("scenario", PROMTOOL_TESTS, ids=lambda p: p.name)
def test_promtool_scenarios(scenario: Path) -> None:
    result = run(str(PROMTOOL), "test", "rules", str(scenario))
    assert result.returncode == 0, result.stdout + result.stderr


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_alert_has_a_scenario() -> None:
    """Each alert name appears in at least one promtool scenario."""
    alerts = {rule["alert"] for rule in alert_rules()}
    scenarios = "\n".join(p.read_text() for p in PROMTOOL_TESTS)
    untested = sorted(a for a in alerts if a not in scenarios)
    assert alerts
    assert not untested, f"alerts without a promtool scenario: {untested}"


def test_every_alert_says_what_to_do() -> None:
    """Each alert rule carries a severity and summary, description and runbook annotations."""
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


# The values the worker gives each label, from the code that names them: a rule or scenario
# written against any other value matches nothing in production.
LABEL_VALUES: dict[tuple[str, str], set[str]] = {
    ("dossier_events_total", "type"): {t.value for t in EventType},
    ("dossier_events_rejected_total", "reason"): {r.value for r in RejectReason},
    ("dossier_events_ignored_total", "reason"): {r.value for r in IgnoreReason},
    ("dossiers_ended_total", "outcome"): {o.value for o in Outcome},
    ("dossiers_open", "state"): {s.value for s in OpenState},
    ("dossiers_received_total", "channel"): set(CHANNELS),
    ("dossiers_received_total", "level"): set(LEVELS),
    # IocmonDeadLetters fires per reason of dossier_events_rejected_total
    ("ALERTS", "reason"): {r.value for r in RejectReason},
}
SELECTOR = re.compile(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\{([^{}]*)\}")
MATCHER = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def label_values_used(text: str) -> list[tuple[str, str, str]]:
    """(metric, label, value) of every `metric{label="value"}` and each branch of
    `label=~"a|b"` in `text`."""
    used = []
    for metric, matchers in SELECTOR.findall(text):
        for label, op, value in MATCHER.findall(matchers):
            values = value.split("|") if op in ("=~", "!~") else [value]
            used += [(metric, label, v) for v in values]
    return used


def test_label_values_in_rules_and_scenarios_are_ones_the_worker_emits() -> None:
    files = RULES + sorted((REPO / "tests/promtool").glob("*.yml"))
    wrong, checked = [], set()
    for path in files:
        for metric, label, value in label_values_used(path.read_text()):
            allowed = LABEL_VALUES.get((metric, label))
            if allowed is None:
                continue
            checked.add((metric, label))
            if value not in allowed:
                wrong.append(f"{path.name}: {metric}{{{label}={value!r}}}")
    assert not wrong, f"label values the worker never emits: {wrong}"
    assert {
        ("dossier_events_rejected_total", "reason"),
        ("dossier_events_total", "type"),
        ("dossiers_ended_total", "outcome"),
    } <= checked


def test_label_values_are_read_from_selectors() -> None:
    assert label_values_used(
        'x{job="a", reason="not_json"} + sum(dossiers_ended_total{outcome=~"early|late"})'
    ) == [
        ("x", "job", "a"),
        ("x", "reason", "not_json"),
        ("dossiers_ended_total", "outcome", "early"),
        ("dossiers_ended_total", "outcome", "late"),
    ]


@needs_amtool
def test_alertmanager_example_passes_amtool_check() -> None:
    result = run(str(AMTOOL), "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_amtool
@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        # per-dossier alerts from `iocmon notify`: to the agency's desk
        ({"alertname": "DossierOverdue", "severity": "critical", "agency": "X"}, "ioc-dossiers"),
        ({"alertname": "DossierDueSoon", "severity": "warning", "agency": "X"}, "ioc-dossiers"),
        (
            {"alertname": "DossierOverdue", "severity": "critical", "agency": "000.00.31.H01"},
            "so-tu-phap-desk",
        ),
        (
            {"alertname": "DossierDueSoon", "severity": "warning", "agency": "000.00.31.H01"},
            "so-tu-phap-desk",
        ),
        ({"alertname": "DossierAtRisk", "severity": "info", "agency": "X"}, "ioc-dossiers"),
        (
            {"alertname": "DossierAtRisk", "severity": "info", "agency": "000.00.31.H01"},
            "so-tu-phap-desk",
        ),
        # budget burns: the operations center (and an agency's own on-call where it has one)
        ({"alertname": "DossierLateBudgetBurn", "severity": "page", "agency": "X"}, "ioc-oncall"),
        (
            {"alertname": "DossierLateBudgetBurn", "severity": "page", "agency": "000.00.31.H01"},
            "so-tu-phap-oncall,ioc-oncall",
        ),
        ({"alertname": "DossierLateBudgetBurn", "severity": "ticket"}, "ioc-tickets"),
        # pipeline health: the platform team
        ({"alertname": "IocmonWorkerDown", "severity": "page"}, "platform-oncall"),
        ({"alertname": "IocmonDeadLetters", "severity": "ticket"}, "platform-tickets"),
        ({"alertname": "SomethingElse"}, "ioc-operations"),
    ],
)
def test_alertmanager_example_routes(labels: dict[str, str], receivers: str) -> None:
    result = run(
        str(AMTOOL),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


@needs_amtool
@pytest.mark.parametrize("kind", sorted(ALERTNAMES))
def test_every_alert_the_notifier_sends_reaches_the_dossier_desk(kind: str) -> None:
    """Names and severities as `iocmon notify` writes them: none falls through to the
    operations center's catch-all, or to a route of another severity."""
    labels = {"alertname": ALERTNAMES[kind], "severity": SEVERITIES[kind], "agency": "X"}
    result = run(
        str(AMTOOL),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=ioc-dossiers",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_forecast_is_inhibited_by_the_dossier_s_due_soon_or_overdue_alert() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    [rule] = [
        r for r in config["inhibit_rules"] if r["target_matchers"] == ['alertname="DossierAtRisk"']
    ]
    assert rule["source_matchers"] == ['alertname=~"DossierOverdue|DossierDueSoon"']
    assert rule["equal"] == ["dossier_id"]


def test_ticket_routes_are_office_hours_only() -> None:
    """Every route for tickets, warnings and the at-risk forecast (info) is active in office
    hours only, every route for pages and critical alerts at any hour. (Alertmanager does not
    pass active_time_intervals down to child routes, so each route must name it.)"""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    [office] = [i for i in config["time_intervals"] if i["name"] == "office-hours"]
    assert office["time_intervals"] == [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "07:30", "end_time": "17:00"}],
            "location": "Asia/Ho_Chi_Minh",
        }
    ]

    def routes(route: dict[str, Any]) -> list[dict[str, Any]]:
        return [route, *(r for child in route.get("routes", []) for r in routes(child))]

    def severity(route: dict[str, Any]) -> str | None:
        found = [m.split("=")[1].strip('"') for m in route.get("matchers", []) if "severity=" in m]
        return found[0] if found else None

    by_severity: dict[str | None, list[dict[str, Any]]] = {}
    for route in routes(config["route"]):
        by_severity.setdefault(severity(route), []).append(route)
    assert len(by_severity["ticket"]) == 2 and len(by_severity["warning"]) == 2
    assert len(by_severity["info"]) == 2
    for route in by_severity["ticket"] + by_severity["warning"] + by_severity["info"]:
        assert route.get("active_time_intervals") == ["office-hours"], route
    for route in by_severity["page"] + by_severity["critical"]:
        assert "active_time_intervals" not in route, route
