"""The periodic report's panels (issue #17 item 5) on the dashboard JSON: the wall's table of
this month and on-call's last month, most overdue first; and `dashboards.api_frame`, which
reads an API answer as the Infinity plugin and the table panel would, on hand-made answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboards import api_frame, model, report
from dashboards.model import Json
from tests.unit.test_dashboards import REPO, load_all

SCHEMA = json.loads((REPO / "streams" / "openapi.json").read_text(encoding="utf-8"))
ROW_SCHEMA = SCHEMA["paths"]["/api/v1/report"]["get"]["responses"]["200"]["content"][
    "application/json"
]["schema"]["properties"]["rows"]["items"]


def report_panel(board: str) -> tuple[Json, Json]:
    d = load_all()[board]
    (target,) = [t for t in model.targets(d) if "/report" in t.query.get("url", "")]
    return model.panel_of(d, target), target.query


@pytest.mark.parametrize("board", ["iocmon-wall.json", "iocmon-oncall.json"])
def test_a_report_panel_shows_every_column_of_a_row_under_a_bilingual_header(board: str) -> None:
    panel, query = report_panel(board)
    assert sorted(c["selector"] for c in query["columns"]) == sorted(ROW_SCHEMA["required"])
    for column in query["columns"]:
        expected = ROW_SCHEMA["properties"][column["selector"]]["type"]
        assert (column["type"] == "number") == (expected == "integer"), column
    assert query["root_selector"] == "rows"
    assert query["filterExpression"] == "key =~ '^(${agency})$'"
    shown = api_frame.shown_names(panel, api_frame.field_names(query))
    assert shown[:2] == ["Đơn vị / Agency", "Mã / Code"]  # the footer's label goes first
    assert len(shown) == len(set(shown)) == 11
    assert all(len(h.split(" / ")) == 2 for h in shown)
    assert panel["options"]["sortBy"] == [{"desc": True, "displayName": "Quá hạn / Overdue"}]
    assert panel["fieldConfig"]["defaults"]["unit"] == "locale"  # 1,234, not 1.23 K
    assert panel["fieldConfig"]["defaults"]["decimals"] == 0
    assert list(api_frame.problems(panel, query)) == []


def test_the_wall_shows_this_month_with_the_totals_beneath() -> None:
    panel, query = report_panel("iocmon-wall.json")
    assert query["url"] == "/api/v1/report?by=agency"  # the API's default: the running month
    assert panel["options"]["footer"] == {"show": True, "reducer": ["sum"], "countRows": False}
    assert not panel.get("timeFrom") and not panel.get("timeShift")
    assert panel["gridPos"]["w"] == 24
    bottom = max(
        p["gridPos"]["y"] + p["gridPos"]["h"] for p in load_all()["iocmon-wall.json"]["panels"]
    )
    assert panel["gridPos"]["y"] + panel["gridPos"]["h"] == bottom <= 30


def test_on_call_shows_the_ten_most_overdue_at_last_months_end() -> None:
    panel, query = report_panel("iocmon-oncall.json")
    assert query["url"] == "/api/v1/report?by=agency&period=${__timeFrom:date:YYYY-MM}"
    assert (panel["timeFrom"], panel["timeShift"], panel["hideTimeOverride"]) == (
        "now/M",
        "15d",
        True,
    )
    kinds = [t["id"] for t in panel["transformations"]]
    assert kinds == ["sortBy", "limit", "organize"]
    assert panel["transformations"][0]["options"]["sort"] == [
        {"field": "open_overdue", "desc": True}
    ]
    assert panel["transformations"][1]["options"] == {"limitField": 10}
    assert not panel["options"]["footer"]["show"]  # a sum of ten rows is no total


# ---------------------------------------------------------------------------------------------
# reading an answer as Grafana would


def answer_row(key: str, overdue: int, **figures: int) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key, "name": f"Sở {key}"}
    row.update({f: 0 for f in report.FIGURES})
    row.update(figures, open_overdue=overdue)
    return row


def test_the_top_rows_are_the_most_overdue_renamed_in_the_tables_order() -> None:
    panel, query = report_panel("iocmon-oncall.json")
    rows = [answer_row(f"A{i:02d}", overdue=(i * 7) % 13, late=i) for i in range(20)]
    frame = api_frame.frame(query, rows)
    shown = api_frame.rows_shown(panel, frame)
    overdue = [r["Quá hạn / Overdue"] for r in shown]
    assert len(shown) == 10
    assert overdue == sorted((r["open_overdue"] for r in rows), reverse=True)[:10]
    assert list(shown[0]) == list(report.COLUMNS.values())
    assert shown[0]["Mã / Code"] == "A11" and shown[0]["Trễ hạn / Late"] == 11


def test_the_filter_reads_fields_by_the_names_the_frame_gives_them() -> None:
    _, query = report_panel("iocmon-wall.json")
    frame = api_frame.frame(query, [answer_row("STP", 1), answer_row("SXD", 2)])
    kept = api_frame.apply_filter(query, frame, "key =~ '^(STP)$'")
    assert [r["key"] for r in kept] == ["STP"]
    assert len(api_frame.apply_filter(query, frame, "key =~ '^(.*)$'")) == 2
    renamed = {**query, "columns": [{**c, "text": c["selector"].upper()} for c in query["columns"]]}
    # The plugin also knows a field by its slug: lower case, non-ASCII-word characters as _.
    frame = api_frame.frame(renamed, [answer_row("STP", 1)])
    assert api_frame.apply_filter(renamed, frame, "key =~ 'STP'")
    bilingual = {
        **query,
        "columns": [
            {**c, "text": "Mã / Code"} if c["selector"] == "key" else c for c in query["columns"]
        ],
    }
    assert api_frame.slug("Mã / Code") == "m____code"
    with pytest.raises(api_frame.FilterFailed, match="No parameter 'key' found"):
        api_frame.apply_filter(
            bilingual, api_frame.frame(bilingual, [answer_row("STP", 1)]), "key =~ 'STP'"
        )
