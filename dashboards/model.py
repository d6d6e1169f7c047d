"""Reading generated dashboards: their panels, their queries, and Grafana's variable syntax.

Used by the lint and by the tests that run every query against a real Prometheus and the
iocmon API; nothing here imports the SDK, so it reads any Grafana dashboard JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.grafana_time import TimeRange, format_time

Json = dict[str, Any]

# Grafana's variable syntax: $name, ${name}, ${name:format}, [[name]], [[name:format]].
VARIABLE = re.compile(
    r"\$(?P<plain>\w+)|\$\{(?P<braced>\w+)(?::(?P<fmt>[^}]+))?\}|\[\[(?P<old>\w+)(?::[^\]]+)?\]\]"
)

BUILTIN_DEFAULTS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "60000",
}

TIME_MACROS = frozenset({"__timeFrom", "__timeTo"})
"""The Infinity plugin's time macros: the panel's own time range (its relative time and time
shift applied), substituted by the plugin's backend (`dashboards.grafana_time`)."""

DASHBOARD_TIME = frozenset({"__from", "__to"})
"""Grafana's global time variables: the dashboard's range, not the panel's (a panel's relative
time and time shift do not move them, grafana/grafana#38954), formatted in the browser's time
zone (#50354). The lint keeps them out of the iocmon API's URLs."""


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel_id: int
    panel_title: str
    panel_type: str
    query: Json

    @property
    def ref_id(self) -> str:
        return str(self.query.get("refId", ""))

    @property
    def datasource_type(self) -> str:
        return str((self.query.get("datasource") or {}).get("type", ""))

    @property
    def is_prometheus(self) -> bool:
        return self.datasource_type == "prometheus"

    @property
    def is_infinity(self) -> bool:
        return self.datasource_type == "yesoreyeram-infinity-datasource"

    @property
    def expr(self) -> str:
        return str(self.query.get("expr", ""))

    @property
    def instant(self) -> bool:
        return bool(self.query.get("instant")) and not self.query.get("range")

    def where(self) -> str:
        return f"{self.dashboard} / panel {self.panel_id} {self.panel_title!r} / {self.ref_id}"


def load(path: Path) -> Json:
    data: Json = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(model: Json) -> Iterator[Json]:
    """Every panel that shows data: rows are left out, panels inside collapsed rows kept."""
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def targets(model: Json) -> Iterator[Target]:
    for panel in panels(model):
        for query in panel.get("targets", []):
            yield Target(
                dashboard=str(model.get("uid")),
                panel_id=int(panel.get("id", 0)),
                panel_title=str(panel.get("title", "")),
                panel_type=str(panel.get("type", "")),
                query=query,
            )


def panel_of(model: Json, target: Target) -> Json:
    """The panel a query belongs to."""
    return next(p for p in panels(model) if p.get("id") == target.panel_id)


def variables(model: Json) -> dict[str, Json]:
    return {v["name"]: v for v in model.get("templating", {}).get("list", [])}


class UnknownVariable(KeyError):
    """A query names a variable that is neither on the dashboard nor a Grafana built-in."""


def interpolate(text: str, values: Mapping[str, str], time_range: TimeRange | None = None) -> str:
    """Substitutes variables the way Grafana does for a single (non-multi) value.

    `values` maps names (without `$`) to values; Grafana's interval built-ins default to
    `BUILTIN_DEFAULTS`. The Infinity time macros (`${__timeFrom:date:YYYY-MM}`) are written
    from `time_range`, in the zone of its datetimes. A `$` followed by digits (a PromQL
    `label_replace` group such as `"$1"`) is left alone; any other unknown name, or a time
    macro without a `time_range`, raises `UnknownVariable`.
    """
    known = {**BUILTIN_DEFAULTS, **values}

    def replace(m: re.Match[str]) -> str:
        name = m.group("plain") or m.group("braced") or m.group("old")
        if name.isdigit():
            return m.group(0)
        if name in TIME_MACROS and time_range is not None:
            at = time_range.start if name == "__timeFrom" else time_range.end
            return format_time(at, m.group("fmt"))
        if name not in known:
            raise UnknownVariable(name)
        return known[name]

    return VARIABLE.sub(replace, text)


def referenced_variables(text: str) -> set[str]:
    names = set()
    for m in VARIABLE.finditer(text):
        name = m.group("plain") or m.group("braced") or m.group("old")
        if not name.isdigit():
            names.add(name)
    return names
