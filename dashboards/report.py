"""The periodic report (CONTRACT §6) on the dashboards: this month's table on the IOC wall and,
on the on-call dashboard, the agencies with the most dossiers overdue at last month's end.

Both read the worker's `GET /api/v1/report` through the Infinity datasource; each row of its
`rows` is one agency with the nine columns of the government's table. The agency variable
filters the rows (its All value is the regex `.*`, which the API's `agency` parameter, an
agency code, cannot take).

**Which month is "last month".** The API names a period as `YYYY-MM`; nothing in Grafana
subtracts a month from a date inside a URL, so the panel's time range is moved into last
month and the month is read from it:

- relative time `now/M` gives the panel [first instant of this month, now], in the dashboard's
  time zone (Asia/Ho_Chi_Minh);
- time shift `15d` moves that back 15 days: its start falls on the 14th to 16th of last month,
  00:00 local time;
- the URL names `period=${__timeFrom:date:YYYY-MM}`, the month of that start.

`${__timeFrom}` is the Infinity plugin's own macro (plugin 2.7.1 or later), interpolated by its
backend from the panel's time range; Grafana's `${__from}` would be the dashboard's range, which
a panel's relative time and time shift do not move (grafana/grafana#38954). The backend writes
the date in the Grafana server's time zone (UTC in the container), as the frontend writes
`${__from:date:…}` in the browser's (#50354), never in the dashboard's. So the instant named
is two weeks from any month boundary, where the month's first or last instant (relative time
`now/M` with the documented "last entire month" shift `1M/M`) is 00:00 or 23:59:59.999 at
UTC+7, which is still the month before, or already the next one, in UTC or east of Vietnam.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table

from dashboards import common as c
from dashboards import infinity
from dashboards.common import Size, bi

ROW_NAMES = {
    "name": bi("Đơn vị", "Agency"),
    "key": bi("Mã", "Code"),
}
FIGURES = {
    "carried_over": bi("Kỳ trước", "Carried over"),
    "received_online": bi("Nhận trực tuyến", "Received online"),
    "received_direct": bi("Nhận trực tiếp", "Received direct"),
    "early": bi("Trước hạn", "Early"),
    "on_time": bi("Đúng hạn", "On time"),
    "late": bi("Trễ hạn", "Late"),
    "withdrawn": bi("Rút hồ sơ", "Withdrawn"),
    "open_not_due": bi("Chưa đến hạn", "Not yet due"),
    "open_overdue": bi("Quá hạn", "Overdue"),
}
"""The nine columns of CONTRACT §6 in the order of the government's table, with headers.
Their names are distinct (late ≠ overdue), as Grafana sorts and colours columns by name."""
COLUMNS = {**ROW_NAMES, **FIGURES}
OVERDUE = "open_overdue"

AGENCY_FILTER = "key =~ '^(${agency})$'"

THIS_MONTH_URL = "/api/v1/report?by=agency"
"""No period: the API reports the month running on the worker's clock, as of now."""

LAST_MONTH_URL = "/api/v1/report?by=agency&period=${__timeFrom:date:YYYY-MM}"
LAST_MONTH_TIME_FROM = "now/M"
LAST_MONTH_TIME_SHIFT = "15d"
LAST_MONTH_TOP = 10

OVERDUE_STEPS = c.thresholds(("green", None), ("orange", 1.0), ("red", 10.0))

_COLUMNS_VI = (
    "kỳ trước chuyển qua, tiếp nhận trực tuyến và trực tiếp (tại quầy, bưu chính), đã giải "
    "quyết trước hạn, đúng hạn, trễ hạn, rút hồ sơ, và đang giải quyết chưa đến hạn hoặc quá hạn"
)
_COLUMNS_EN = (
    "carried over, received online and direct (at the desk or by post), ended early, on time, "
    "late or withdrawn, and in process, not yet due or overdue"
)


def query(url: str) -> infinity.Dataquery:
    """The report's rows, each column under its raw name (the panel renames them)."""
    q = infinity.Dataquery().ref_id("A").datasource(c.API).url(url).root_selector("rows")
    for raw in ROW_NAMES:
        q = q.column(raw, raw)
    for raw in FIGURES:
        q = q.column(raw, raw, "number")
    return q.filter_expression(AGENCY_FILTER)


def this_month(size: Size) -> table.Panel:
    """The IOC wall's table: this month by agency, most overdue first, the totals beneath."""
    return c.table_panel(
        bi("Báo cáo tháng này", "This month's report"),
        f"Báo cáo định kỳ của tháng này đến hiện tại, theo đơn vị: {_COLUMNS_VI}; đơn vị nhiều "
        f"hồ sơ quá hạn nhất trước, dòng cuối là tổng cộng. / This month's periodic report so "
        f"far (CONTRACT §6, GET /api/v1/report), by agency: {_COLUMNS_EN} (overdue as of the "
        f"start of the hour). Most overdue first; the footer sums the rows (the province, or "
        f"the agency chosen). Every row balances: carried over + received = ended + in process.",
        "locale",
        OVERDUE_STEPS,
        [query(THIS_MONTH_URL)],
        size,
        columns=COLUMNS,
        sort_by=OVERDUE,
        coloured=[COLUMNS[OVERDUE]],
        datasource=c.API,
        decimals=0,
        footer_sum=True,
    )


def last_month_overdue(size: Size) -> table.Panel:
    """On-call's table: last month's report, the agencies most overdue at its end."""
    return (
        c.table_panel(
            bi("Quá hạn cuối tháng trước theo đơn vị", "Overdue at last month's end, by agency"),
            f"{LAST_MONTH_TOP} đơn vị có nhiều hồ sơ quá hạn nhất vào thời điểm kết thúc tháng "
            f"trước, với cả dòng báo cáo tháng trước của đơn vị: {_COLUMNS_VI}. / The "
            f"{LAST_MONTH_TOP} agencies with the most dossiers overdue when last month ended, "
            f"with their whole row of last month's report (GET /api/v1/report): {_COLUMNS_EN} "
            f"at the month's end. Last month is the month 15 days before this one began "
            f"(relative time now/M, time shift 15d) while the dashboard's time range is "
            f"relative, as it is by default.",
            "locale",
            OVERDUE_STEPS,
            [query(LAST_MONTH_URL)],
            size,
            columns=COLUMNS,
            sort_by=OVERDUE,
            coloured=[COLUMNS[OVERDUE]],
            datasource=c.API,
            decimals=0,
            top=LAST_MONTH_TOP,
        )
        .time_from(LAST_MONTH_TIME_FROM)
        .time_shift(LAST_MONTH_TIME_SHIFT)
        # The header would read "This month so far timeshift -15d": the title says the month.
        .hide_time_override(True)
    )
