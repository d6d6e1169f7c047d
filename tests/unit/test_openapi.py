"""`streams/openapi.json` against the code, both ways: every route the worker's web port
serves is described and every description is a route; each API handler accepts exactly the
query parameters described for it (the handlers refuse any other and name the ones they
accept, so the handlers themselves are asked); path parameters match the route's template.

What the responses hold is checked against a live worker by schemathesis
(tests/integration/test_api_schema.py).
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import jsonschema
import pytest
import referencing
from referencing.jsonschema import DRAFT202012

from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.procedures import load_procedures
from iocmon.streams.api import Api
from iocmon.streams.api_process import Route, routes
from iocmon.streams.health import HEALTHZ_PATH, READYZ_PATH, register_health
from iocmon.streams.labels import AgencyLabels
from iocmon.streams.queries import FigureReader
from iocmon.streams.report_api import ReportApi
from iocmon.streams.web import API_ROUTES, METRICS_PATH, register_routes

REPO = Path(__file__).resolve().parents[2]
SPEC = json.loads(resources.files("iocmon.streams").joinpath("openapi.json").read_text("utf-8"))
NOW = datetime(2024, 3, 20, 12, 0, tzinfo=LOCAL_TZ)
STATIC = {"openapi"}
"""Routes web.py answers itself, with no parameters to check."""


class NoReads:
    """A reader or label set that fails the test if a handler reads before it refuses a
    parameter."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler read ({name}) before checking its parameters")


def handlers() -> dict[str, Route]:
    catalogue, procedures = load_catalogue(), load_procedures()
    reader = cast(FigureReader, NoReads())
    horizon = timedelta(days=400)
    api = Api(reader, catalogue, load_calendar(), horizon, procedures,
              cast(AgencyLabels, NoReads()))  # fmt: skip
    return routes(api, ReportApi(reader, catalogue, procedures, horizon))


def described_parameters(path: str, where: str) -> set[str]:
    def resolve(p: dict[str, Any]) -> dict[str, Any]:
        if "$ref" not in p:
            return p
        return cast(dict[str, Any], SPEC["components"]["parameters"][p["$ref"].rsplit("/")[-1]])

    params = [resolve(p) for p in SPEC["paths"][path]["get"].get("parameters", [])]
    assert all(p["required"] for p in params if p["in"] == "path")
    return {p["name"] for p in params if p["in"] == where}


class PageRecorder:
    """Stands for the Faust app: records the paths of the pages registered on it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def page(self, path: str) -> Callable[[Any], Any]:
        self.paths.append(path)
        return lambda view: view


def served_paths() -> list[str]:
    """Every page the worker's web port serves: each module that registers pages, run on a
    recorder (and no other module registers any: `test_pages_are_registered_in_known_places`)."""
    app = PageRecorder()
    settings = SimpleNamespace(events_topic="dossier-events", api_token="")
    register_routes(cast(Any, app), cast(Any, settings), *(cast(Any, None),) * 4)
    register_health(cast(Any, app), cast(Any, None))
    return app.paths


def test_pages_are_registered_in_known_places() -> None:
    registering = set()
    for path in sorted((REPO / "streams").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "page":
                registering.add(path.relative_to(REPO).as_posix())
    assert registering == {"streams/web.py", "streams/health.py"}, "add it to served_paths()"


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    served = served_paths()
    assert len(served) == len(set(served))
    assert set(SPEC["paths"]) == set(served) == {*API_ROUTES, METRICS_PATH, HEALTHZ_PATH,
                                                 READYZ_PATH}  # fmt: skip
    assert set(API_ROUTES.values()) - STATIC == set(handlers())
    for path, item in SPEC["paths"].items():
        assert set(item) == {"get"}, f"{path}: the web port serves GET only"


@pytest.mark.parametrize("path", sorted(p for p, name in API_ROUTES.items() if name not in STATIC))
def test_each_handler_accepts_exactly_the_query_parameters_described(path: str) -> None:
    handler = handlers()[API_ROUTES[path]]
    values = tuple(re.findall(r"\{(\w+)\}", path))
    status, body = asyncio.run(handler(values, {"no-such-parameter": "1"}, NOW))
    assert status == 400
    accepted = body["error"].split("accepted: ", 1)[1]
    assert set(accepted.split(", ")) - {"none"} == described_parameters(path, "query")


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_path_parameters_are_the_routes_placeholders(path: str) -> None:
    assert set(re.findall(r"\{(\w+)\}", path)) == described_parameters(path, "path")


def test_every_schema_in_the_description_is_valid_json_schema_2020_12() -> None:
    """OpenAPI 3.1 schemas are JSON Schema 2020-12: each must be a valid schema, and its
    references must resolve within the document."""
    uri = "urn:iocmon:openapi"
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        uri, DRAFT202012.create_resource(SPEC)
    )
    pointers = [f"/components/schemas/{name}" for name in SPEC["components"]["schemas"]]
    pointers += [f"/components/parameters/{n}/schema" for n in SPEC["components"]["parameters"]]
    for path, item in SPEC["paths"].items():
        at = "/paths/" + path.replace("~", "~0").replace("/", "~1") + "/get"
        for i, parameter in enumerate(item["get"].get("parameters", [])):
            if "schema" in parameter:
                pointers.append(f"{at}/parameters/{i}/schema")
        for status, response in item["get"]["responses"].items():
            for media in response.get("content", {}):
                media = media.replace("/", "~1")
                pointers.append(f"{at}/responses/{status}/content/{media}/schema")
    assert len(pointers) > 40
    resolver = registry.resolver()
    for pointer in pointers:
        jsonschema.Draft202012Validator.check_schema(resolver.lookup(f"{uri}#{pointer}").contents)
    for ref in references(SPEC):
        resolver.lookup(f"{uri}{ref}")  # raises if it points nowhere


def references(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


def test_the_document_is_valid_openapi_3_1() -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    OPENAPI_31_VALIDATOR.validate(SPEC)


def test_the_at_risk_basis_names_every_scope_a_forecast_reads() -> None:
    from iocmon.domain.risk import Scope

    item = SPEC["paths"]["/api/v1/at-risk"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["properties"]["items"]["items"]
    assert item["properties"]["basis"]["enum"] == [scope.value for scope in Scope]
