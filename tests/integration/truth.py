"""Expected figures, computed from the simulator's ground truth (its designed outcomes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.harness import Worker, read_jsonl, sum_samples

OUTCOMES = ("early", "on_time", "late", "withdrawn")
ALL_TIME = "from=2000-01-01T00:00:00%2B07:00&to=2100-01-01T00:00:00%2B07:00"


@dataclass(frozen=True)
class Expected:
    ended: Counter[tuple[str, str]]
    open_by_agency: Counter[str]

    @property
    def open(self) -> int:
        return sum(self.open_by_agency.values())


def expected_from_truth(path: Path) -> Expected:
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    for row in read_jsonl(path):
        if "dossier_id" not in row or row.get("kind", "dossier") != "dossier":
            continue
        if row["outcome"] is None:
            opened[row["agency"]] += 1
        else:
            ended[(row["agency"], row["outcome"])] += 1
    return Expected(ended, opened)


def api_figures(worker: Worker) -> tuple[Counter[tuple[str, str]], Counter[str], dict]:
    status, body = worker.get_json(f"/api/v1/summary?{ALL_TIME}&by=agency")
    assert status == 200, body
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    for row in body["by_agency"]:
        for outcome in OUTCOMES:
            if row[outcome]:
                ended[(row["agency"], outcome)] += row[outcome]
        if row["open"]:
            opened[row["agency"]] += row["open"]
    return ended, opened, body


def metric_figures(workers: list[Worker]) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Ended and open dossiers summed over every worker's /metrics, as PromQL `sum` would."""
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    for worker in workers:
        samples = worker.metrics()
        for labels, n in sum_samples(samples, "dossiers_ended_total").items():
            d = dict(labels)
            if n:
                ended[(d["agency"], d["outcome"])] += n
        for labels, n in sum_samples(samples, "dossiers_open").items():
            if n:
                opened[dict(labels)["agency"]] += n
    return ended, opened


def assert_figures_exact(workers: list[Worker], expected: Expected) -> None:
    ended, opened, body = api_figures(workers[0])
    assert ended == expected.ended
    assert opened == expected.open_by_agency
    for outcome in OUTCOMES:
        assert body[outcome] == sum(n for (_, o), n in expected.ended.items() if o == outcome)
    assert body["open"] == expected.open
    assert body["open"] == body["on_track"] + body["due_soon"] + body["overdue"] + body["paused"]

    metric_ended, metric_open = metric_figures(workers)
    assert metric_ended == expected.ended, _difference(metric_ended, expected.ended)
    assert metric_open == expected.open_by_agency, _difference(metric_open, expected.open_by_agency)


def _difference(got: Counter[Any], wanted: Counter[Any]) -> str:
    """What /metrics says beyond the truth and short of it (a bare Counter comparison of a
    hundred agencies says nothing pytest can show)."""
    return f"/metrics has more: {dict(got - wanted)}; less: {dict(wanted - got)}"
