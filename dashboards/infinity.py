"""A query of the Infinity datasource plugin (yesoreyeram-infinity-datasource).

The Grafana Foundation SDK has no builder for this plugin, so this module supplies the
dataquery variant (a `to_json` the SDK's encoder calls) and a small builder for it. Only the
fields the dashboards use are modelled: a JSON GET of a URL relative to the datasource's base
URL (the iocmon worker), parsed by the backend parser into a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

PLUGIN_ID = "yesoreyeram-infinity-datasource"

ColumnType = Literal["string", "number", "timestamp", "timestamp_epoch", "boolean"]


@dataclass(frozen=True)
class Column:
    selector: str
    text: str
    type: ColumnType = "string"

    def to_json(self) -> dict[str, object]:
        return {"selector": self.selector, "text": self.text, "type": self.type}


@dataclass
class InfinityDataquery(cogvariants.Dataquery):
    ref_id: str = "A"
    datasource: dashboard.DataSourceRef | None = None
    url: str = ""
    root_selector: str = ""
    columns: list[Column] = field(default_factory=list)
    filter_expression: str = ""

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "type": "json",
            "source": "url",
            "parser": "backend",
            "format": "table",
            "url": self.url,
            "url_options": {"method": "GET", "data": ""},
            "root_selector": self.root_selector,
            "columns": [c.to_json() for c in self.columns],
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.filter_expression:
            payload["filterExpression"] = self.filter_expression
        return payload


class Dataquery(cogbuilder.Builder[InfinityDataquery]):
    def __init__(self) -> None:
        self._internal = InfinityDataquery()

    def build(self) -> InfinityDataquery:
        return self._internal

    def ref_id(self, ref_id: str) -> Dataquery:
        self._internal.ref_id = ref_id
        return self

    def datasource(self, ref: dashboard.DataSourceRef) -> Dataquery:
        self._internal.datasource = ref
        return self

    def url(self, url: str) -> Dataquery:
        """A path on the datasource's base URL, e.g. `/api/v1/overdue?limit=1000`."""
        self._internal.url = url
        return self

    def root_selector(self, selector: str) -> Dataquery:
        self._internal.root_selector = selector
        return self

    def column(self, selector: str, text: str, type_: ColumnType = "string") -> Dataquery:
        self._internal.columns.append(Column(selector, text, type_))
        return self

    def filter_expression(self, expression: str) -> Dataquery:
        """A row filter of the backend parser (govaluate syntax, e.g. `agency =~ '^(x)$'`)."""
        self._internal.filter_expression = expression
        return self
