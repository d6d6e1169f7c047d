"""Building blocks shared by the three dashboards: datasources, variables, panels.

Every panel is made through one of the functions here, so that each one gets what the lint
(`dashboards.lint`) requires: a title, a description, a unit, thresholds and the datasource
variable, on the panel and on each of its queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    gauge,
    piechart,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import piechart as piechart_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from dashboards import infinity
from iocmon.slo import objective as slo

# Provisioned by deploy/grafana/provisioning/datasources/iocmon.yaml.
PROMETHEUS_UID = "iocmon-prometheus"
API_UID = "iocmon-api"

PROM = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
API = models.DataSourceRef(type_val=infinity.PLUGIN_ID, uid="${api}")

TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class OnTimeTarget:
    """The province's on-time objective (IOCMON_ON_TIME_OBJECTIVE) as the dashboards show it.

    Grafana thresholds cannot read a variable, so the objective is written into the JSON when
    the dashboards are generated (`python -m dashboards.generate` reads the setting): green
    from the objective, orange down to late at twice the budget, red below; the terminal wall,
    the API's rankings and the Prometheus rules use the same number (`iocmon.slo`).
    """

    objective: float = slo.DEFAULT_ON_TIME_OBJECTIVE

    @property
    def warning(self) -> float:
        return slo.warning_level(self.objective)

    @property
    def text(self) -> str:
        return slo.percent_text(self.objective)

    @property
    def warning_text(self) -> str:
        return slo.percent_text(self.warning)

    @property
    def decimals(self) -> int:
        """Decimals of a ratio in percent: one more than the objective has (99.9 % -> 2), so
        a value just below it does not show as the objective itself."""
        written = f"{slo.percent(self.objective):g}"
        return len(written.partition(".")[2]) + 1

    @property
    def on_time(self) -> builders.ThresholdsConfig:
        return thresholds(("red", None), ("orange", self.warning), ("green", self.objective))

    @property
    def late(self) -> builders.ThresholdsConfig:
        budget = slo.error_budget(self.objective)
        return thresholds(("green", None), ("orange", budget), ("red", round(2 * budget, 12)))


def bi(vietnamese: str, english: str) -> str:
    """A bilingual label: Vietnamese first, the English variant after a slash."""
    return f"{vietnamese} / {english}"


# ---------------------------------------------------------------------------------------------
# dashboards


def dashboard(
    uid: str, title: str, description: str, tags: list[str], since: str, refresh: str
) -> builders.Dashboard:
    """A dashboard with the settings every iocmon dashboard shares."""
    return (
        builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["iocmon", *tags])
        .timezone(TIMEZONE)
        .time(since, "now")
        .refresh(refresh)
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .annotation(
            builders.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .type("dashboard")
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
        )
    )


# ---------------------------------------------------------------------------------------------
# thresholds


Step = tuple[str, float | None]


def thresholds(*steps: Step) -> builders.ThresholdsConfig:
    """Absolute thresholds; the first step is the base (value None)."""
    assert steps and steps[0][1] is None, "the first threshold step is the base (None)"
    return (
        builders.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=v, color=c) for c, v in steps])
    )


NEUTRAL = thresholds(("blue", None))
SCORE_766 = thresholds(("red", None), ("orange", 16.0), ("green", 18.0))
ZERO_IS_GOOD = thresholds(("green", None), ("red", 1.0))
ONE_IS_GOOD = thresholds(("red", None), ("green", 1.0))


# ---------------------------------------------------------------------------------------------
# variables


def datasource_variable() -> builders.DatasourceVariable:
    return (
        builders.DatasourceVariable("datasource")
        .label(bi("Nguồn dữ liệu", "Data source"))
        .description("Prometheus that scrapes the iocmon workers (job `iocmon`).")
        .type("prometheus")
        .current(models.VariableOption(text="Prometheus", value=PROMETHEUS_UID, selected=True))
    )


def api_variable() -> builders.DatasourceVariable:
    return (
        builders.DatasourceVariable("api")
        .label(bi("API iocmon", "iocmon API"))
        .description(
            "Infinity datasource whose base URL is an iocmon worker "
            "(reads /api/v1/overdue and /api/v1/report)."
        )
        .type(infinity.PLUGIN_ID)
        .current(models.VariableOption(text="iocmon API", value=API_UID, selected=True))
    )


def agency_variable() -> builders.QueryVariable:
    return (
        builders.QueryVariable("agency")
        .label(bi("Đơn vị", "Agency"))
        .description("Receiving agency (MaDonVi). All = the whole province.")
        .datasource(PROM)
        .query("label_values(dossiers_received_total, agency)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(text="All", value="$__all", selected=True))
    )


def instance_variable() -> builders.QueryVariable:
    return (
        builders.QueryVariable("instance")
        .label("Worker")
        .description("iocmon worker instance (host:port of its /metrics).")
        .datasource(PROM)
        .query('label_values(up{job="iocmon"}, instance)')
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(text="All", value="$__all", selected=True))
    )


PERIODS = (
    ("Hôm nay / Today", "today"),
    ("Tháng này / This month", "month"),
    ("Quý này / This quarter", "quarter"),
    ("6 tháng / Half year", "half_year"),
    ("Năm nay / This year", "year"),
)


def period_variable(default: str = "month") -> builders.CustomVariable:
    text = dict((v, t) for t, v in PERIODS)[default]
    return (
        builders.CustomVariable("period")
        .label(bi("Kỳ báo cáo", "Period"))
        .description("Local calendar period (Asia/Ho_Chi_Minh) of the period figures.")
        .values(",".join(f"{t} : {v}" for t, v in PERIODS))
        .current(models.VariableOption(text=text, value=default, selected=True))
    )


# ---------------------------------------------------------------------------------------------
# queries


def prom(
    expr: str, legend: str = "", ref: str = "A", *, table: bool = False
) -> prometheus.Dataquery:
    """A Prometheus query on the datasource variable.

    `table=True` makes it an instant query in table format (for tables and rankings);
    otherwise it is a range query (time series, and the stats' sparklines).
    """
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(PROM)
    if legend:
        query = query.legend_format(legend)
    if table:
        query = query.instant().format(prometheus_models.PromQueryFormat.TABLE)
    else:
        query = query.range()
    return query


def instant(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    """An instant query in time-series format (one value per series: rankings, pies)."""
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(PROM).instant()
    return query.legend_format(legend) if legend else query


# ---------------------------------------------------------------------------------------------
# panels

Query = cogbuilder.Builder[cogvariants.Dataquery]


class Overridable(Protocol):
    """A panel builder whose fields can be overridden by name (every SDK panel builder)."""

    def override_by_name(
        self, name: str, properties: list[models.DynamicConfigValue], /
    ) -> Self: ...


class PanelBuilder(Overridable, Protocol):
    """What every SDK panel builder (stat.Panel, table.Panel, ...) has in common."""

    def title(self, title: str, /) -> Self: ...
    def description(self, description: str, /) -> Self: ...
    def datasource(self, datasource: models.DataSourceRef, /) -> Self: ...
    def unit(self, unit: str, /) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[models.ThresholdsConfig], /) -> Self: ...
    def span(self, w: int, /) -> Self: ...
    def height(self, h: int, /) -> Self: ...
    def with_target(self, target: Query, /) -> Self: ...


PanelT = TypeVar("PanelT", bound=PanelBuilder)
OverridableT = TypeVar("OverridableT", bound=Overridable)


@dataclass(frozen=True)
class Size:
    w: int
    h: int


def _common(
    panel: PanelT,
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    size: Size,
    queries: Iterable[Query],
    datasource: models.DataSourceRef = PROM,
) -> PanelT:
    panel = (
        panel.title(title)
        .description(description)
        .datasource(datasource)
        .unit(unit)
        .thresholds(steps)
        .span(size.w)
        .height(size.h)
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def value_text(*pairs: tuple[str, str]) -> list[models.ValueMapping]:
    """Value mappings `raw value -> label`, e.g. ("0", "Down")."""
    return [
        models.ValueMap(
            options={
                raw: models.ValueMappingResult(text=text, index=i)
                for i, (raw, text) in enumerate(pairs)
            }
        )
    ]


def stat_panel(
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    queries: Sequence[Query],
    size: Size,
    *,
    decimals: float | None = None,
    sparkline: bool = False,
    mappings: list[models.ValueMapping] | None = None,
    no_value: str | None = None,
) -> stat.Panel:
    panel = _common(stat.Panel(), title, description, unit, steps, size, queries)
    panel = (
        panel.color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(
            common_models.BigValueGraphMode.AREA
            if sparkline
            else common_models.BigValueGraphMode.NONE
        )
        .text_mode(common_models.BigValueTextMode.AUTO)
        .justify_mode(common_models.BigValueJustifyMode.CENTER)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if mappings:
        panel = panel.mappings(mappings)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def gauge_panel(
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    queries: Sequence[Query],
    size: Size,
    *,
    minimum: float,
    maximum: float,
    decimals: float | None = None,
    no_value: str | None = None,
) -> gauge.Panel:
    panel = _common(gauge.Panel(), title, description, unit, steps, size, queries)
    panel = (
        panel.min(minimum)
        .max(maximum)
        .show_threshold_markers(True)
        .show_threshold_labels(False)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def ranking_panel(
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    queries: Sequence[Query],
    size: Size,
    *,
    minimum: float | None = 0,
    maximum: float | None = None,
    decimals: float | None = None,
) -> bargauge.Panel:
    """Horizontal bars, one per series, in the order of the (sorted) query result."""
    panel = _common(bargauge.Panel(), title, description, unit, steps, size, queries)
    panel = (
        panel.orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.BASIC)
        .value_mode(common_models.BarGaugeValueMode.TEXT)
        .name_placement(common_models.BarGaugeNamePlacement.LEFT)
        .show_unfilled(True)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def timeseries_panel(
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    queries: Sequence[Query],
    size: Size,
    *,
    minimum: float | None = 0,
    maximum: float | None = None,
    decimals: float | None = None,
    show_thresholds: bool = False,
    stacked: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    panel = _common(timeseries.Panel(), title, description, unit, steps, size, queries)
    panel = (
        panel.line_width(2)
        .fill_opacity(40 if bars else 10)
        .draw_style(
            common_models.GraphDrawStyle.BARS if bars else common_models.GraphDrawStyle.LINE
        )
        .span_nulls(False)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.LIST)
            .placement(common_models.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common_models.TooltipDisplayMode.MULTI)
            .sort(common_models.SortOrder.DESCENDING)
        )
    )
    if show_thresholds:
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common_models.GraphThresholdsStyleMode.DASHED
            )
        )
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)
        )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def rename(panel: OverridableT, names: dict[str, str]) -> OverridableT:
    """Display names for series or fields, by their raw name."""
    for raw, label in sorted(names.items()):
        panel = panel.override_by_name(
            raw, [models.DynamicConfigValue(id_val="displayName", value=label)]
        )
    return panel


def pie_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    size: Size,
    *,
    names: dict[str, str],
) -> piechart.Panel:
    """Shares of a whole, labelled with their percentage; `names` renames the slices."""
    panel = _common(piechart.Panel(), title, description, "short", NEUTRAL, size, queries)
    panel = (
        panel.pie_type(piechart_models.PieChartType.DONUT)
        .display_labels([piechart_models.PieChartLabels.PERCENT])
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .legend(
            piechart.PieChartLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.LIST)
            .placement(common_models.LegendPlacement.BOTTOM)
            .values([piechart_models.PieChartLegendValues.PERCENT])
        )
    )
    return rename(panel, names)


def colour_cells(panel: OverridableT, *fields: str) -> OverridableT:
    """Cells of these fields get their threshold colour as background."""
    for name in fields:
        panel = panel.override_by_name(
            name,
            [
                models.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background", "mode": "basic"}
                )
            ],
        )
    return panel


def table_panel(
    title: str,
    description: str,
    unit: str,
    steps: builders.ThresholdsConfig,
    queries: Sequence[Query],
    size: Size,
    *,
    columns: dict[str, str] | None,
    sort_by: str,
    coloured: Sequence[str] = (),
    datasource: models.DataSourceRef = PROM,
    merge: bool = False,
    decimals: float | None = None,
    top: int | None = None,
    footer_sum: bool = False,
) -> table.Panel:
    """A table, sorted by the column `sort_by` (raw field name), descending.

    `columns` (raw field name -> header) keeps only those fields, in that order, renamed;
    None keeps the fields as the query names them. With `merge`, the instant queries' frames
    are joined on their labels first (Prometheus names their values `Value #<refId>`). `top`
    keeps only that many rows, the largest by `sort_by` (for queries that cannot limit
    themselves). `footer_sum` adds a footer row of each numeric column's sum, labelled with
    the reducer's name ("Total") under the first column when that one is not a number.
    """
    panel = _common(table.Panel(), title, description, unit, steps, size, queries, datasource)
    if merge:
        panel = panel.with_transformation(models.DataTransformerConfig(id_val="merge", options={}))
    if top is not None:
        panel = panel.with_transformation(
            models.DataTransformerConfig(
                id_val="sortBy", options={"fields": {}, "sort": [{"field": sort_by, "desc": True}]}
            )
        ).with_transformation(
            models.DataTransformerConfig(id_val="limit", options={"limitField": top})
        )
    if columns is not None:
        panel = panel.with_transformation(
            models.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {},
                    "includeByName": {raw: True for raw in columns},
                    "indexByName": {raw: i for i, raw in enumerate(columns)},
                    "renameByName": columns,
                },
            )
        )
    header = columns[sort_by] if columns is not None else sort_by
    panel = panel.sort_by(
        [common_builders.TableSortByFieldState().display_name(header).desc(True)]
    ).cell_height(common_models.TableCellHeight.SM)
    if footer_sum:
        panel = panel.footer(
            common_builders.TableFooterOptions().show(True).reducer(["sum"]).count_rows(False)
        )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return colour_cells(panel, *coloured)
