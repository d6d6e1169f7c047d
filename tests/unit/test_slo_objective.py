"""One on-time objective (IOCMON_ON_TIME_OBJECTIVE) for the terminal wall, the dashboards, the
Prometheus rules and the API's rankings: the committed rules are what the code generates, and
changing the setting moves every one of them to the same number.

No service is needed; the generated rules are checked with `promtool` when it is installed
(CI installs it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import generate as dashboards
from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.figures import Figures
from iocmon.domain.procedures import load_procedures
from iocmon.slo import objective as slo
from iocmon.slo import rules
from iocmon.streams.api import Api
from tests.unit.test_console import BY_AGENCY, LAST_24H, TODAY, FakeWorker, run, summary

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")

# ---------------------------------------------------------------------------------------------
# the objective as every reader shows and compares it


def test_percent_text_is_the_objective_without_float_noise() -> None:
    assert slo.percent_text(0.999) == "99.9 %"
    assert slo.percent_text(0.95) == "95 %"
    assert slo.percent_text(0.9995) == "99.95 %"
    assert slo.error_budget(0.999) == 0.001
    assert slo.warning_level(0.95) == 0.9  # late twice the budget
    assert slo.warning_level(0.3) == 0.0  # never below 0


def test_a_ratio_exactly_at_the_objective_meets_it() -> None:
    assert slo.meets(9990 / 10000, 0.999)
    assert slo.meets(99.9 / 100, 0.999)
    assert not slo.meets(0.998999, 0.999)


# ---------------------------------------------------------------------------------------------
# the rules: generated, committed, checked


def test_committed_rules_are_what_the_code_generates() -> None:
    objective = Settings.from_env().on_time_objective
    assert rules.RULES_FILE.read_text(encoding="utf-8") == rules.render(objective), (
        "deploy/prometheus/slo.rules.yml is stale: run `make rules` and commit the result"
    )
    assert rules.main(["--check"]) == 0


def test_check_fails_on_a_hand_edited_file(tmp_path: Path) -> None:
    edited = tmp_path / "slo.rules.yml"
    edited.write_text(rules.render(0.999).replace("vector(0.999)", "vector(0.99)"))
    assert rules.main(["--check", "--out", str(edited)]) == 1
    assert rules.main(["--out", str(edited)]) == 0
    assert rules.main(["--check", "--out", str(edited)]) == 0


def test_every_burn_alert_is_generated_once_per_window() -> None:
    doc = yaml.safe_load(rules.render(0.999))
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert [(a["labels"]["severity"], a["labels"]["window"]) for a in alerts] == [
        (b.severity, b.long) for b in rules.BURNS
    ]
    recorded = {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}
    for window in (*rules.SHORT_WINDOWS, *rules.LONG_WINDOWS):
        assert f"iocmon:dossiers_late_ratio:rate{window}" in recorded


# ---------------------------------------------------------------------------------------------
# one setting, the same number everywhere

MONTH = summary(
    "2024-02-01T00:00:00+07:00", "2024-03-01T00:00:00+07:00", by_agency=BY_AGENCY, early=1
)
# BY_AGENCY's on-time ratios: SYT 0.998, STP 1, LX 0.95, CD 0.9, TS 0.999, AP nothing judged
EXPECTED_BELOW = {0.95: ["CD"], 0.9985: ["CD", "LX", "SYT"], 0.5: []}


@pytest.fixture
def worker() -> Iterator[FakeWorker]:
    fake = FakeWorker()
    fake.routes["/api/v1/summary"] = (200, LAST_24H)
    fake.routes["/api/v1/summary?period=2024-02-06"] = (200, TODAY)
    fake.routes["/api/v1/summary?period=2024-02"] = (200, MONTH)
    yield fake
    fake.close()


def wall_objective(url: str, env: Mapping[str, str]) -> tuple[float, list[str], str]:
    """What `iocmon status` shows with `env`: its target, the agencies below it, the frame."""
    doc = json.loads(run(status_cmd(), "--url", url, "--json", env=dict(env)).output)
    frame = run(status_cmd(), "--url", url, "--once", env=dict(env)).output
    return doc["target_percent"] / 100, [a["agency"] for a in doc["below_target"]], frame


def status_cmd() -> Any:
    from iocmon.console.status import status_command

    return status_command


def on_time_steps(board: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """Threshold steps of the panels that colour an on-time ratio."""
    return [
        panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        for panel in board["panels"]
        if "on-time %" in str(panel.get("title", "")).lower()
    ]


def late_steps(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    (panel,) = [p for p in board["panels"] if str(p.get("title", "")).endswith("/ Late %")]
    return list(panel["fieldConfig"]["defaults"]["thresholds"]["steps"])


def rules_objective(text: str) -> float:
    (rule,) = [
        r
        for g in yaml.safe_load(text)["groups"]
        for r in g["rules"]
        if r.get("record") == "iocmon:slo_objective"
    ]
    assert rule["expr"].startswith("vector(") and rule["expr"].endswith(")")
    return float(rule["expr"][len("vector(") : -1])


class FakeReader:
    """The figures of each agency this month, as FigureReader.figures_of answers them."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        keys = ("early", "on_time", "late", "withdrawn", "on_track", "due_soon", "overdue")
        self.figures = {r["agency"]: Figures(**{k: r[k] for k in keys}) for r in rows}

    async def figures_of(self, *args: Any) -> dict[str, Figures]:
        return dict(self.figures)


class FakeLabels:
    async def allowed(self) -> frozenset[str]:
        return frozenset(r["agency"] for r in BY_AGENCY)


def api_rankings(objective: float) -> dict[str, Any]:
    api = Api(FakeReader(BY_AGENCY), load_catalogue(None), load_calendar(None),  # type: ignore[arg-type]
              timedelta(days=400), load_procedures(None), FakeLabels(), objective)  # type: ignore[arg-type]  # fmt: skip
    now = datetime(2024, 2, 20, 12, tzinfo=LOCAL_TZ)
    status, body = asyncio.run(api.rankings({"period": "2024-02", "by": "on_time_ratio"}, now))
    assert status == 200, body
    return body


@pytest.mark.parametrize("objective", sorted(EXPECTED_BELOW))
def test_changing_the_objective_moves_the_wall_dashboards_rules_and_rankings_together(
    objective: float, worker: FakeWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"IOCMON_ON_TIME_OBJECTIVE": str(objective)}
    monkeypatch.setenv("IOCMON_ON_TIME_OBJECTIVE", str(objective))
    settings = Settings.from_env(env)
    assert settings.on_time_objective == objective
    text = slo.percent_text(objective)
    below = EXPECTED_BELOW[objective]

    # the terminal wall (`iocmon status`, read from the environment)
    target, listed, frame = wall_objective(worker.url, env)
    assert target == pytest.approx(objective, abs=1e-12)
    assert listed == below
    assert f"Đơn vị dưới chỉ tiêu {text} (agencies below target)" in frame

    # the dashboards (`python -m dashboards.generate`, read from the environment)
    assert dashboards.main(["--out", str(tmp_path)]) == 0
    board = json.loads((tmp_path / "iocmon-wall.json").read_text(encoding="utf-8"))
    steps = on_time_steps(board)
    assert len(steps) == 3  # the gauge, the ranking by agency, the 30-day trend
    for panel_steps in steps:
        assert [s["color"] for s in panel_steps] == ["red", "orange", "green"]
        assert panel_steps[2]["value"] == objective
        assert panel_steps[1]["value"] == slo.warning_level(objective)
    assert late_steps(board)[1]["value"] == slo.error_budget(objective)
    assert f"target {text}" in json.dumps(board, ensure_ascii=False)
    engineering = json.loads((tmp_path / "iocmon-engineering.json").read_text(encoding="utf-8"))
    (slo_panel,) = [p for p in engineering["panels"] if p.get("title") == "On-time objective"]
    assert slo_panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == objective

    # the Prometheus rules (`python -m iocmon.slo.rules`, read from the environment)
    out = tmp_path / "slo.rules.yml"
    assert rules.main(["--out", str(out)]) == 0
    generated = out.read_text(encoding="utf-8")
    assert rules_objective(generated) == objective
    assert f"Objective {objective!r} ({text})" in generated
    if PROMTOOL:
        check = subprocess.run([PROMTOOL, "check", "rules", str(out)], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr

    # the API's rankings (the worker's settings)
    body = api_rankings(settings.on_time_objective)
    assert body["objective"] == objective
    flagged = [r["agency"] for r in body["items"] if r["below_target"]]
    assert flagged == below  # worst first, as on the wall
    assert [r["agency"] for r in body["items"]][: len(below)] == below
