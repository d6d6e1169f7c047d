"""Grafana's time ranges as `dashboards.grafana_time` reads them, and the on-call panel of last
month's report: whatever the day and hour in Vietnam and whatever zone Grafana's server or the
viewer's browser is in, it asks for the month before the current one.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboards import grafana_time as g
from dashboards import model, report
from dashboards.model import Json
from tests.unit.test_dashboards import load_all

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ZONES = [timezone(timedelta(hours=h)) for h in range(-12, 15)]
"""Every whole-hour zone a Grafana server or browser may be in, UTC-12 to UTC+14."""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN)


# ---------------------------------------------------------------------------------------------
# date math, against the examples of Grafana's documentation and datemath.ts


def test_rounding_and_calendar_arithmetic() -> None:
    now = at("2024-03-31 14:25:36.5")
    assert g.date_math("now", now) == now
    assert g.date_math("now/M", now) == at("2024-03-01 00:00")
    assert g.date_math("now/M", now, round_up=True) == at("2024-03-31 23:59:59.999")
    assert g.date_math("now-1M", now) == at("2024-02-29 14:25:36.5")  # clamped, as moment
    assert g.date_math("now-1M/M", now) == at("2024-02-01 00:00")
    assert g.date_math("now-1M/M", now, round_up=True) == at("2024-02-29 23:59:59.999")
    assert g.date_math("now-5d/d", now) == at("2024-03-26 00:00")
    assert g.date_math("now/d+8h", now) == at("2024-03-31 08:00")
    assert g.date_math("now/Q", now) == at("2024-01-01 00:00")
    assert g.date_math("now-2y/y", now) == at("2022-01-01 00:00")
    assert g.date_math("now - 15m", now) == at("2024-03-31 14:10:36.5")


def test_what_is_not_modelled_is_refused() -> None:
    now = at("2024-03-31 14:25")
    for expression in ("now/w", "now/2M", "2024-01-01", "now-1x", "now*2"):
        with pytest.raises(g.UnsupportedTimeSyntax):
            g.date_math(expression, now)
    with pytest.raises(g.UnsupportedTimeSyntax):
        g.zone("browser")


def panel(**override: str) -> Json:
    return {"id": 1, **override}


BOARD = {"timezone": "Asia/Ho_Chi_Minh", "time": {"from": "now-24h", "to": "now"}}


def test_a_panel_range_follows_its_relative_time_then_its_shift() -> None:
    now = at("2024-03-31 14:25")
    assert g.panel_time_range(BOARD, panel(), now) == g.TimeRange(at("2024-03-30 14:25"), now)
    assert g.panel_time_range(BOARD, panel(timeFrom="7d"), now).start == at("2024-03-24 14:25")
    assert g.panel_time_range(BOARD, panel(timeFrom="now/M"), now) == g.TimeRange(
        at("2024-03-01 00:00"), now
    )
    # Grafana's documented "last entire month": time shift 1M/M.
    assert g.panel_time_range(BOARD, panel(timeFrom="now/M", timeShift="1M/M"), now) == (
        g.TimeRange(at("2024-02-01 00:00"), at("2024-02-29 23:59:59.999"))
    )
    fixed = {**BOARD, "time": {"from": "2024-01-01T00:00:00Z", "to": "now"}}
    with pytest.raises(g.UnsupportedTimeSyntax):
        g.panel_time_range(fixed, panel(timeFrom="now/M"), now)


def test_time_macro_formats_follow_the_plugin() -> None:
    # The cases of infinity-libs' macros_test.go: 2020-07-13T20:19:09.254Z.
    moment = datetime.fromtimestamp(1594671549.254, UTC)
    span = g.TimeRange(moment, moment)
    cases = {
        "${__timeFrom}": "1594671549254",
        "${__timeFrom:date}": "2020-07-13T20:19:09.254Z",
        "${__timeFrom:date:iso}": "2020-07-13T20:19:09.254Z",
        "${__timeFrom:date:seconds}": "1594671549",
        "foo ${__timeFrom:date:YYYY:MM:DD:hh:mm} bar": "foo 2020:07:13:08:19 bar",
        "foo ${__timeFrom:date:YYYY:MM:DD:HH:mm} bar": "foo 2020:07:13:20:19 bar",
        "${__timeTo:date:YYYY-MM}": "2020-07",
    }
    for text, expected in cases.items():
        assert model.interpolate(text, {}, span) == expected, text
    # Written in the zone of the range: 03:19 on the 14th in Vietnam.
    assert model.interpolate("${__timeFrom:date:DD HH}", {}, span.astimezone(VN)) == "14 03"
    with pytest.raises(model.UnknownVariable):
        model.interpolate("${__timeFrom:date:YYYY-MM}", {})


# ---------------------------------------------------------------------------------------------
# last month on the on-call dashboard


def oncall_report() -> tuple[Json, Json]:
    oncall = load_all()["iocmon-oncall.json"]
    (target,) = [t for t in model.targets(oncall) if "/report" in t.query.get("url", "")]
    return oncall, model.panel_of(oncall, target)


def asked_month(board: Json, report_panel: Json, now: datetime, zone: timezone) -> str:
    url = report_panel["targets"][0]["url"]
    span = g.panel_time_range(board, report_panel, now).astimezone(zone)
    asked = model.interpolate(url, {}, span)
    return asked.split("period=")[1].split("&")[0]


def month_before(now: datetime) -> str:
    local = now.astimezone(VN)
    return f"{local.replace(day=1) - timedelta(days=1):%Y-%m}"


def instants() -> list[datetime]:
    """Every day of 2024 and 2025 (a leap February, 31-day months, New Year), at the first
    and last minutes of the local day and mid-afternoon."""
    day = datetime(2024, 1, 1, tzinfo=VN)
    out = []
    while day.year < 2026:
        out += [
            day + timedelta(seconds=30),
            day + timedelta(hours=15),
            day + timedelta(seconds=86370),
        ]
        day += timedelta(days=1)
    return out


def test_last_month_is_the_month_before_whatever_the_day_and_the_zone() -> None:
    board, report_panel = oncall_report()
    assert report_panel["timeFrom"] == report.LAST_MONTH_TIME_FROM
    assert report_panel["timeShift"] == report.LAST_MONTH_TIME_SHIFT
    wrong = [
        (now.isoformat(), zone, asked)
        for now in instants()
        for zone in ZONES
        if (asked := asked_month(board, report_panel, now, zone)) != month_before(now)
    ]
    assert wrong == []


def test_the_months_first_or_last_instant_would_name_the_wrong_month() -> None:
    # Why the panel names an instant in the middle of last month: the documented "last entire
    # month" (now/M shifted by 1M/M) starts at 00:00 in Vietnam, 17:00 the day before in UTC,
    # and ends at 23:59:59.999, already the next day east of UTC+7.
    board, report_panel = oncall_report()
    edge = copy.deepcopy(report_panel)
    edge["timeShift"] = "1M/M"
    now = at("2025-10-15 15:00")
    assert asked_month(board, edge, now, timezone(timedelta(hours=7))) == "2025-09"
    assert asked_month(board, edge, now, UTC) == "2025-08"
    edge["targets"][0]["url"] = edge["targets"][0]["url"].replace("__timeFrom", "__timeTo")
    assert asked_month(board, edge, now, UTC) == "2025-09"
    assert asked_month(board, edge, now, timezone(timedelta(hours=8))) == "2025-10"
    assert asked_month(board, report_panel, now, UTC) == "2025-09"
