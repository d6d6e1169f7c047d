"""On-call: what needs a person now — overdue and due-soon dossiers, alerts, the overdue list,
the dossiers at risk of ending late, and the agencies that ended last month with the most
dossiers overdue."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from dashboards import common as c
from dashboards import infinity, report
from dashboards import promql as q
from dashboards.common import Size, bi

UID = "iocmon-oncall"
TITLE = "iocmon — On-call / Trực vận hành"

OVERDUE_URL = "/api/v1/overdue?limit=1000"
"""All agencies; the panel filters by the agency variable (its All value is a regex)."""

AGENCY_FILTER = "agency =~ '^(${agency})$'"


def counts(board: builders.Dashboard) -> builders.Dashboard:
    size = Size(4, 5)
    return (
        board.with_panel(
            c.stat_panel(
                bi("Quá hạn", "Overdue"),
                "Hồ sơ đang giải quyết đã quá ngày hẹn trả. / Open dossiers past their due date.",
                "short",
                c.ZERO_IS_GOOD,
                [c.prom(q.open_now(q.eq("state", "overdue")), bi("Quá hạn", "Overdue"))],
                size,
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Sắp đến hạn", "Due soon"),
                "Hồ sơ hẹn trả hôm nay hoặc ngày làm việc kế tiếp. / Open dossiers due today or "
                "on the next working day.",
                "short",
                c.thresholds(("green", None), ("orange", 1.0)),
                [c.prom(q.open_now(q.eq("state", "due_soon")), bi("Sắp đến hạn", "Due soon"))],
                size,
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Tạm dừng", "Paused"),
                "Hồ sơ đang chờ công dân bổ sung hoặc nộp phí (đồng hồ tạm dừng). / Open "
                "dossiers waiting for the applicant (supplement or fee): their clock is paused.",
                "short",
                c.NEUTRAL,
                [c.prom(q.open_now(q.eq("state", "paused")), bi("Tạm dừng", "Paused"))],
                size,
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Đang giải quyết", "Open"),
                "Tất cả hồ sơ đang giải quyết. / All open dossiers.",
                "short",
                c.NEUTRAL,
                [c.prom(q.open_now(), bi("Đang mở", "Open"))],
                size,
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Cảnh báo đang phát", "Firing alerts"),
                "Số cảnh báo Prometheus đang phát (firing). / Prometheus alerts firing now.",
                "short",
                c.ZERO_IS_GOOD,
                [
                    c.prom(
                        'count(ALERTS{alertstate="firing"}) or vector(0)',
                        bi("Cảnh báo", "Alerts"),
                    )
                ],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Worker hoạt động", "Workers up"),
                "Số worker iocmon mà Prometheus thu thập được; đỏ khi không còn worker nào. / "
                "iocmon workers Prometheus can scrape; red when none is.",
                "short",
                c.ONE_IS_GOOD,
                [c.prom('sum(up{job="iocmon"})', bi("Worker", "Workers"))],
                size,
                decimals=0,
            )
        )
    )


OVERDUE_COLUMNS = {
    "dossier_id": bi("Mã hồ sơ", "Dossier"),
    "agency": bi("Đơn vị", "Agency"),
    "procedure": bi("Thủ tục", "Procedure"),
    "due_at": bi("Hẹn trả", "Due"),
    "overdue_days": bi("Số ngày quá hạn", "Days overdue"),
}
"""The overdue list's fields keep the API's names in the query, because the plugin's row filter
reads fields by name (`agency`); the table renames them."""


def lists(board: builders.Dashboard) -> builders.Dashboard:
    overdue_list = (
        infinity.Dataquery()
        .ref_id("A")
        .datasource(c.API)
        .url(OVERDUE_URL)
        .root_selector("items")
        .column("dossier_id", "dossier_id")
        .column("agency", "agency")
        .column("procedure", "procedure")
        .column("due_at", "due_at", "timestamp")
        .column("overdue_days", "overdue_days", "number")
        .filter_expression(AGENCY_FILTER)
    )
    by_agency_columns = {
        "name": bi("Đơn vị", "Agency"),
        "agency": bi("Mã", "Code"),
        "Value #A": bi("Quá hạn", "Overdue"),
        "Value #B": bi("Sắp đến hạn", "Due soon"),
    }
    return board.with_panel(
        c.table_panel(
            bi("Hồ sơ quá hạn", "Overdue dossiers"),
            "Danh sách hồ sơ quá hạn từ API của iocmon (/api/v1/overdue), quá hạn lâu nhất "
            "trước. / Overdue dossiers from the iocmon API (/api/v1/overdue), most overdue "
            "first; days overdue coloured orange from 1, red from 5.",
            "none",
            c.thresholds(("green", None), ("orange", 1.0), ("red", 5.0)),
            [overdue_list],
            Size(14, 12),
            columns=OVERDUE_COLUMNS,
            sort_by="overdue_days",
            coloured=[OVERDUE_COLUMNS["overdue_days"]],
            datasource=c.API,
            decimals=0,
        )
    ).with_panel(
        c.table_panel(
            bi("Quá hạn và sắp đến hạn theo đơn vị", "Overdue and due soon by agency"),
            "Số hồ sơ quá hạn và sắp đến hạn của từng đơn vị, nhiều quá hạn nhất trước. / "
            "Overdue and due-soon open dossiers per agency, most overdue first.",
            "short",
            c.ZERO_IS_GOOD,
            [
                c.prom(
                    q.with_names(q.open_by_agency(q.eq("state", "overdue"))), ref="A", table=True
                ),
                c.prom(
                    q.with_names(q.open_by_agency(q.eq("state", "due_soon"))), ref="B", table=True
                ),
            ],
            Size(10, 12),
            columns=by_agency_columns,
            sort_by="Value #A",
            coloured=["Value #A"],
            merge=True,
            decimals=0,
        )
    )


def alerts(board: builders.Dashboard) -> builders.Dashboard:
    return board.with_panel(
        c.table_panel(
            bi("Cảnh báo mới nhất", "Newest alerts"),
            "Cảnh báo Prometheus đang phát hoặc chờ phát, mới nhất trước. / Prometheus "
            "alerts firing or pending, newest first (by the time they became active).",
            "dateTimeFromNow",
            c.NEUTRAL,
            [
                c.prom(
                    "sort_desc(\n  1000 * ALERTS_FOR_STATE\n"
                    "  * ignoring(alertstate) group_right\n  ALERTS\n)",
                    ref="A",
                    table=True,
                )
            ],
            Size(14, 9),
            columns={
                "Value": bi("Từ lúc", "Since"),
                "alertname": bi("Cảnh báo", "Alert"),
                "alertstate": bi("Trạng thái", "State"),
                "severity": bi("Mức độ", "Severity"),
                "agency": bi("Đơn vị", "Agency"),
                "window": bi("Cửa sổ", "Window"),
                "instance": "Worker",
            },
            sort_by="Value",
        )
    )


AT_RISK_COLUMNS = {
    "name": bi("Đơn vị", "Agency"),
    "agency": bi("Mã", "Code"),
    "Value": bi("Nguy cơ trễ hạn", "At risk"),
}


def at_risk(board: builders.Dashboard) -> builders.Dashboard:
    """Issue #18's forecast, per agency: beside the newest alerts and under the overdue by
    agency, so the right-hand column reads overdue, due soon, then at risk."""
    return board.with_panel(
        c.table_panel(
            bi("Nguy cơ trễ hạn theo đơn vị", "Dossiers at risk by agency"),
            "Hồ sơ còn trong hạn nhưng dự báo có khả năng trễ hạn, theo thời gian giải quyết "
            "thực tế của thủ tục (cảnh báo at_risk), của từng đơn vị, nhiều nhất trước. / Open "
            "dossiers still on track that the forecast says will likely end late, from how "
            "long their procedure really takes (the at_risk alert), per agency, most first.",
            "short",
            c.thresholds(("green", None), ("orange", 1.0)),
            [c.prom(q.with_names(q.at_risk_by_agency()), ref="A", table=True)],
            Size(10, 9),
            columns=AT_RISK_COLUMNS,
            sort_by="Value",
            coloured=["Value"],
            decimals=0,
        )
    )


def trend(board: builders.Dashboard) -> builders.Dashboard:
    return board.with_panel(
        c.timeseries_panel(
            bi("Quá hạn theo thời gian", "Overdue over time"),
            "Số hồ sơ quá hạn của 10 đơn vị nhiều nhất theo thời gian. / Overdue open "
            "dossiers over time, the 10 agencies with the most.",
            "short",
            c.ZERO_IS_GOOD,
            [c.prom(f"topk(10, {q.open_by_agency(q.eq('state', 'overdue'))})", "{{agency}}")],
            Size(24, 9),
            decimals=0,
        )
    )


def build() -> builders.Dashboard:
    board = (
        c.dashboard(
            UID,
            TITLE,
            (
                "Hồ sơ cần xử lý ngay: quá hạn, sắp đến hạn, nguy cơ trễ hạn, cảnh báo. / What "
                "needs a person now: overdue, due-soon and at-risk dossiers, alerts, the overdue "
                "list."
            ),
            ["oncall"],
            "now-24h",
            "1m",
        )
        .with_variable(c.datasource_variable())
        .with_variable(c.api_variable())
        .with_variable(c.agency_variable())
    )
    board = counts(board)
    board = lists(board)
    board = alerts(board)
    board = at_risk(board)
    board = trend(board)
    return board.with_panel(report.last_month_overdue(Size(24, 12)))
