"""Every endpoint of a live worker against the OpenAPI description it serves, by schemathesis
(issue #16): a worker judges a replayed simulation (three days of An Giang-like traffic), then

- hand-picked requests on its real data (a district's tree, each ranking, a real dossier
  open and ended, the report by field, ...) so that full answers are checked, not only
  empty ones;
- property-based requests generated from the description, valid ones and ones that break
  it (a bounded number per endpoint).

Every answer must be one the description lists for that request (status, content type, body
schema) and none may be a server error; a request that breaks the description must be
refused (4xx). The bodies are checked strictly: the description's objects are closed for the
test (`closed`), so a field the API serves but the description lacks fails it too. Routes and
parameters are checked both ways without a worker in tests/unit/test_openapi.py.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ
from tests.integration.harness import Pipeline, Stack, Worker, read_jsonl, wait_for
from tests.integration.workload import simulate

pytestmark = pytest.mark.integration

POSITIVE_EXAMPLES = 40
"""Valid requests generated per endpoint that takes parameters (9 of 13)."""
NEGATIVE_EXAMPLES = 15
"""Requests that break the description, per endpoint that takes parameters (9)."""
CHECKS = [
    checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
DESCRIPTION = json.loads(
    resources.files("iocmon.streams").joinpath("openapi.json").read_text("utf-8")
)


def closed(node: Any, at_root: bool = True) -> Any:
    """The description with every object schema closed (`unevaluatedProperties: false`), but
    the branches of an `allOf`, which the closed `allOf` covers as a whole."""
    if isinstance(node, list):
        return [closed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "allOf":
            out[key] = [closed(branch, at_root=False) for branch in value]
        elif key == "properties":
            out[key] = {name: closed(schema) for name, schema in value.items()}
        else:
            out[key] = closed(value)
    if at_root and {"properties", "allOf", "$ref"} & set(node):
        out.setdefault("unevaluatedProperties", False)
    return out


def closed_description(spec: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(spec))
    for item in out["paths"].values():
        for response in item["get"]["responses"].values():
            for content in response.get("content", {}).values():
                content["schema"] = closed(content["schema"])
    return out


@dataclass
class Live:
    worker: Worker
    schema: schemathesis.BaseSchema
    statuses: Counter[tuple[str, int]]
    agency: str
    """An agency that received dossiers."""
    district: str
    """An agency of the catalogue with units, that received dossiers."""
    open_dossier: str
    ended_dossier: str

    def check(self, case: schemathesis.Case, extra: list[Any] | None = None) -> None:
        response = case.call(base_url=self.worker.url, timeout=30)
        self.statuses[(case.operation.path, response.status_code)] += 1
        case.validate_response(response, checks=[*CHECKS, *(extra or [])])


@pytest.fixture(scope="module")
def live(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    try:
        yield _start(pipeline, tmp_path_factory.mktemp("api_schema"))
    finally:
        pipeline.stop()


def _start(pipeline: Pipeline, tmp: Path) -> Live:
    # The last three days, so that open dossiers are on track and some of them at risk (the
    # at-risk list's items are checked too): a few dozen ended, forecast from 5.
    events, _ = simulate(pipeline, tmp, seed=31, events=3_000, backfill_days=3)
    worker = pipeline.start_worker(IOCMON_AT_RISK_MIN_SAMPLES="5")
    pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()
    # The forecast starts once enough dossiers ended (histograms read again within 10 s).
    wait_for(lambda: bool(worker.get_json("/api/v1/at-risk")[1]["items"]), 60, "at-risk items")

    status, served = worker.get_json("/api/v1/openapi.json")
    assert status == 200 and served == DESCRIPTION  # the document the unit tests check
    schema = schemathesis.openapi.from_dict(closed_description(served))
    schema.config.update(base_url=worker.url)

    truth = [row for row in read_jsonl(tmp / "truth.jsonl")
             if row.get("kind") == "dossier" and row["received_at"] is not None]  # fmt: skip
    by_agency = Counter(row["agency"] for row in truth)
    catalogue = load_catalogue()
    return Live(
        worker,
        schema,
        Counter(),
        agency=by_agency.most_common(1)[0][0],
        district=next(a for a, _ in by_agency.most_common() if catalogue.descendants(a)),
        open_dossier=next(row["dossier_id"] for row in truth if row["ended_at"] is None),
        ended_dossier=next(row["dossier_id"] for row in truth if row["outcome"] is not None),
    )


def hand_picked(live: Live) -> dict[str, list[dict[str, Any]]]:
    """Requests on the live data: query parameters, and `path` for the path's values."""
    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    a, d = live.agency, live.district
    return {
        "/metrics": [{}],
        "/healthz": [{}],
        "/readyz": [{}],  # caught up: ready
        "/api/v1/openapi.json": [{}],
        "/api/v1/summary": [{}, {"period": month, "by": "agency"}, {"agency": a},
                            {"period": month, "agency": d, "scope": "tree", "by": "agency"}],
        "/api/v1/overdue": [{}, {"agency": a, "limit": "5"}],
        "/api/v1/at-risk": [{}, {"agency": a, "limit": "5"}],
        "/api/v1/rankings": [{"period": month, "by": by}
                             for by in ("on_time_ratio", "overdue", "late", "progress_766")],
        "/api/v1/series": [{}, {"agency": a, "period": month}],
        "/api/v1/agencies/{agency}/procedures": [{"path": {"agency": a}, "period": month}],
        "/api/v1/report": [{}, {"by": "field"}, {"agency": d, "scope": "tree"},
                           {"agency": d, "scope": "tree", "by": "field"}],
        "/api/v1/dossiers/{dossier_id}": [{"path": {"dossier_id": live.open_dossier}},
                                          {"path": {"dossier_id": live.ended_dossier}}],
    }  # fmt: skip


def test_every_described_endpoint_has_hand_picked_requests(live: Live) -> None:
    assert set(hand_picked(live)) == set(DESCRIPTION["paths"])


@pytest.mark.parametrize("path", sorted(DESCRIPTION["paths"]))
def test_real_answers_are_as_described(live: Live, path: str) -> None:
    operation = live.schema[path]["GET"]
    requests = hand_picked(live)[path]
    for query in requests:
        query = dict(query)
        case = operation.Case(path_parameters=query.pop("path", {}), query=query)
        response = case.call(base_url=live.worker.url, timeout=30)
        assert response.status_code == 200, (query, response.text)
        case.validate_response(response, checks=CHECKS)
    if path == "/api/v1/summary":  # the data is there: not an empty answer
        case = operation.Case(query={"agency": live.district, "scope": "tree"})
        body = case.call(base_url=live.worker.url, timeout=30).json()
        assert body["open"] > 0 and len(body["units"]) > 1


@pytest.mark.parametrize("path", sorted(DESCRIPTION["paths"]))
def test_generated_requests_get_described_answers(live: Live, path: str) -> None:
    operation = live.schema[path]["GET"]
    takes_parameters = bool(DESCRIPTION["paths"][path]["get"].get("parameters"))
    real = hand_picked(live)[path][-1].get("path")
    strategies = [operation.as_strategy()]
    if real:  # the path of real data, with generated query parameters
        strategies.append(operation.as_strategy(path_parameters=real))

    @settings(
        max_examples=POSITIVE_EXAMPLES if takes_parameters else 1,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def valid(case: schemathesis.Case) -> None:
        live.check(case)

    valid()
    assert live.statuses[(path, 200)] > 0, "no generated request reached a real answer"
    assert not any(status >= 500 for (p, status) in live.statuses if p == path)
    if not takes_parameters:
        return

    @settings(
        max_examples=NEGATIVE_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    def invalid(case: schemathesis.Case) -> None:
        live.check(case, extra=[negative_data_rejection])

    invalid()
