"""IOC wall: the province's figures on the operations center's TV, in kiosk mode.

Readable from across a room: few, large panels; Vietnamese labels with the English variant;
colours that say good / watch / bad against the province's on-time target. Everything fits
one 1080p screen (30 grid rows): the headline figures, the rankings by agency, the shares and
trends, and this month's report table at the bottom, where the agencies with the most overdue
dossiers come first and the footer keeps the province's totals in sight.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from dashboards import common as c
from dashboards import promql as q
from dashboards import report
from dashboards.common import OnTimeTarget, Size, bi

UID = "iocmon-wall"
TITLE = "iocmon — IOC wall / Màn hình IOC"

CHANNELS = {
    "counter": bi("Trực tiếp", "At the desk"),
    "online": bi("Trực tuyến", "Online"),
    "postal": bi("Bưu chính", "Postal"),
}
LEVELS = {
    "full": bi("Toàn trình", "Full online"),
    "partial": bi("Một phần", "Partly online"),
    "none": bi("Không trực tuyến", "Not online"),
}

# Heights of the four bands, in grid rows (30 px and a gap each); 30 rows fill a 1080p TV.
# The report's band shows its header, six agencies and the totals.
HEADLINE_H = 6
RANKING_H = 9
TREND_H = 6
REPORT_H = 9


def headline(board: builders.Dashboard, target: OnTimeTarget) -> builders.Dashboard:
    size = Size(4, HEADLINE_H)
    return (
        board.with_panel(
            c.gauge_panel(
                bi("Tỷ lệ đúng hạn", "On-time %"),
                f"Hồ sơ giải quyết sớm hoặc đúng hạn trên tổng số hồ sơ đã giải quyết trong kỳ "
                f"(không tính rút hồ sơ); chỉ tiêu {target.text}. / Dossiers ended early or on "
                f"time among those ended in the period (withdrawals excluded); target "
                f"{target.text}, red below {target.warning_text}. Empty while nothing ended in "
                "the period.",
                "percentunit",
                target.on_time,
                [c.prom(q.on_time_ratio(), bi("Đúng hạn", "On time"))],
                size,
                minimum=0,
                maximum=1,
                decimals=target.decimals,
                no_value="—",
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Tỷ lệ trễ hạn", "Late %"),
                "Hồ sơ giải quyết quá hạn trên tổng số hồ sơ đã giải quyết trong kỳ. / Dossiers "
                "ended late among those ended in the period (withdrawals excluded).",
                "percentunit",
                target.late,
                [c.prom(q.late_ratio(), bi("Trễ hạn", "Late"))],
                Size(3, HEADLINE_H),
                decimals=target.decimals,
                sparkline=True,
                no_value="—",
            )
        )
        .with_panel(
            c.gauge_panel(
                bi("Điểm tiến độ 766", "766 progress score"),
                "Chỉ số 'tiến độ giải quyết' theo Quyết định 766/QĐ-TTg, thang 20 điểm. / "
                "Decision 766/QĐ-TTg 'processing progress' score out of 20: 20 × (early + on "
                "time + withdrawn ended in the period + open not overdue now) / (ended in the "
                "period + open now).",
                "none",
                c.SCORE_766,
                [c.prom(q.progress_766(), bi("Điểm", "Score"))],
                size,
                minimum=0,
                maximum=20,
                decimals=2,
                no_value="—",
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Tiếp nhận hôm nay", "Received today"),
                "Hồ sơ tiếp nhận từ 0 giờ hôm nay (giờ Việt Nam). / Dossiers received since "
                "local midnight (Asia/Ho_Chi_Minh).",
                "short",
                c.NEUTRAL,
                [
                    c.prom(
                        q.period_received("today"),
                        bi("Tiếp nhận", "Received"),
                    )
                ],
                Size(4, HEADLINE_H),
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Giải quyết hôm nay", "Ended today"),
                "Hồ sơ kết thúc từ 0 giờ hôm nay: giải quyết, dừng hoặc rút. / Dossiers ended "
                "since local midnight: resolved, stopped or withdrawn.",
                "short",
                c.NEUTRAL,
                [
                    c.prom(
                        q.period_ended(period="today"),
                        bi("Giải quyết", "Ended"),
                    )
                ],
                Size(3, HEADLINE_H),
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Đang giải quyết", "Open now"),
                "Hồ sơ đã tiếp nhận, chưa kết thúc (kể cả đang tạm dừng). / Dossiers received "
                "and not ended yet, paused ones included.",
                "short",
                c.NEUTRAL,
                [c.prom(q.open_now(), bi("Đang mở", "Open"))],
                Size(3, HEADLINE_H),
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                bi("Quá hạn", "Overdue now"),
                "Hồ sơ đang giải quyết đã quá ngày hẹn trả; đỏ khi có ít nhất 1. / Open dossiers "
                "past their due date; red from 1.",
                "short",
                c.ZERO_IS_GOOD,
                [
                    c.prom(
                        q.open_now(q.eq("state", "overdue")),
                        bi("Quá hạn", "Overdue"),
                    )
                ],
                Size(3, HEADLINE_H),
                decimals=0,
                sparkline=True,
            )
        )
    )


def by_agency(board: builders.Dashboard, target: OnTimeTarget) -> builders.Dashboard:
    size = Size(8, RANKING_H)
    overdue = q.with_names(q.open_by_agency(q.eq("state", "overdue")))
    opened = q.with_names(q.open_by_agency())
    on_time = q.with_names(
        "max by (agency) ("
        + q.sel("dossiers_on_time_ratio", q.eq("period", "$period"), q.AGENCY, q.NAMED_AGENCY)
        + ")"
    )
    return (
        board.with_panel(
            c.ranking_panel(
                bi("Quá hạn theo đơn vị", "Overdue by agency"),
                "Số hồ sơ quá hạn của 15 đơn vị nhiều nhất, xếp giảm dần. / Overdue open "
                "dossiers of the 15 agencies with the most, ranked.",
                "short",
                c.thresholds(("green", None), ("orange", 1.0), ("red", 10.0)),
                [c.instant(f"topk(15,\n{overdue}\n)", "{{name}}")],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.ranking_panel(
                bi("Đang giải quyết theo đơn vị", "Open by agency"),
                "Số hồ sơ đang giải quyết của 15 đơn vị nhiều nhất, xếp giảm dần. / Open "
                "dossiers of the 15 agencies with the most, ranked.",
                "short",
                c.NEUTRAL,
                [c.instant(f"topk(15,\n{opened}\n)", "{{name}}")],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.ranking_panel(
                bi("Tỷ lệ đúng hạn theo đơn vị", "On-time % by agency"),
                f"Các đơn vị có tỷ lệ đúng hạn thấp nhất trong kỳ; màu đỏ/cam = dưới chỉ tiêu "
                f"{target.text}. / The 15 agencies with the lowest on-time % in the period; red or "
                f"orange = below the {target.text} target. Agencies with nothing ended are left "
                "out.",
                "percentunit",
                target.on_time,
                [c.instant(f"bottomk(15,\n{on_time}\n)", "{{name}}")],
                size,
                minimum=0,
                maximum=1,
                decimals=target.decimals,
            )
        )
    )


def channels_and_trend(board: builders.Dashboard, target: OnTimeTarget) -> builders.Dashboard:
    return (
        board.with_panel(
            c.pie_panel(
                bi("Kênh tiếp nhận", "Channel"),
                "Tỷ trọng hồ sơ tiếp nhận theo kênh trong khoảng thời gian đang xem. / Share "
                "of the dossiers received in the dashboard's time range, by channel.",
                [
                    c.instant(
                        q.increase_sum("dossiers_received_total", "$__range", by="channel"),
                        "{{channel}}",
                    )
                ],
                Size(4, TREND_H),
                names=CHANNELS,
            )
        )
        .with_panel(
            c.pie_panel(
                bi("Mức độ dịch vụ công trực tuyến", "Online service level"),
                "Tỷ trọng hồ sơ tiếp nhận theo mức độ DVC trực tuyến (toàn trình, một phần). / "
                "Share of the dossiers received in the time range, by online service level.",
                [
                    c.instant(
                        q.increase_sum("dossiers_received_total", "$__range", by="level"),
                        "{{level}}",
                    )
                ],
                Size(4, TREND_H),
                names=LEVELS,
            )
        )
        .with_panel(
            c.timeseries_panel(
                bi("Xu hướng 30 ngày: tỷ lệ đúng hạn", "30-day trend: on-time %"),
                f"Tỷ lệ đúng hạn của các hồ sơ kết thúc trong 24 giờ trước mỗi thời điểm; "
                f"đường gạch = chỉ tiêu {target.text}. / On-time % of the dossiers ended in the "
                "24 h before each point; dashed lines = thresholds.",
                "percentunit",
                target.on_time,
                [c.prom(q.rolling_on_time("1d"), bi("Đúng hạn (24 giờ)", "On time (24 h)"))],
                Size(8, TREND_H),
                maximum=1,
                decimals=target.decimals,
                show_thresholds=True,
            ).time_from("30d")
        )
        .with_panel(
            c.timeseries_panel(
                bi("Tiếp nhận và giải quyết mỗi ngày", "Received and ended per day"),
                "Số hồ sơ tiếp nhận và kết thúc trong 24 giờ trước mỗi thời điểm, 30 ngày qua. "
                "/ Dossiers received and ended in the 24 h before each point, last 30 days.",
                "short",
                c.NEUTRAL,
                [
                    c.prom(
                        q.increase_sum("dossiers_received_total", "1d"),
                        bi("Tiếp nhận", "Received"),
                        "A",
                    ),
                    c.prom(
                        q.increase_sum("dossiers_ended_total", "1d"), bi("Giải quyết", "Ended"), "B"
                    ),
                ],
                Size(8, TREND_H),
                decimals=0,
            ).time_from("30d")
        )
    )


def build(target: OnTimeTarget | None = None) -> builders.Dashboard:
    """The wall, its on-time colours at `target` (default: the default objective)."""
    target = target or OnTimeTarget()
    board = (
        c.dashboard(
            UID,
            TITLE,
            (
                "Bảng điều hành hồ sơ thủ tục hành chính của tỉnh cho màn hình IOC (chế độ kiosk). "
                "/ The province's administrative-dossier figures for the IOC wall (kiosk mode)."
            ),
            ["ioc"],
            "now-30d",
            "30s",
        )
        .with_variable(c.datasource_variable())
        .with_variable(c.api_variable())
        .with_variable(c.agency_variable())
        .with_variable(c.period_variable())
    )
    board = headline(board, target)
    board = by_agency(board, target)
    board = channels_and_trend(board, target)
    return board.with_panel(report.this_month(Size(24, REPORT_H)))
