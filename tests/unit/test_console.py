"""The console tools without services: pure renderers, and the commands against a real HTTP
server on port 0 that answers canned JSON (the worker's API as CONTRACT §5 and issue 6 say)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from iocmon.console import fmt, wall
from iocmon.console.client import ApiClient
from iocmon.console.dossier import dossier_command, render_dossier
from iocmon.console.errors import ApiError, NotFound, WorkerUnreachable
from iocmon.console.fmt import Palette, strip_ansi
from iocmon.console.live import live_command
from iocmon.console.overdue import overdue_command, render_overdue
from iocmon.console.status import LiveWall, status_command

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def figures(**values: Any) -> dict[str, Any]:
    """A summary's figures, derived the way the worker derives them."""
    out = dict.fromkeys(
        ["early", "on_time", "late", "withdrawn", "received", "on_track", "due_soon", "overdue"],
        0,
    )
    out["paused"] = 0
    out.update(values)
    judged = out["early"] + out["on_time"] + out["late"]
    out["ended"] = judged + out["withdrawn"]
    out["open"] = out["on_track"] + out["due_soon"] + out["overdue"] + out["paused"]
    out["on_time_ratio"] = None if judged == 0 else (out["early"] + out["on_time"]) / judged
    total = out["ended"] + out["open"]
    good = out["early"] + out["on_time"] + out["withdrawn"] + out["open"] - out["overdue"]
    out["progress_766"] = None if total == 0 else 20 * good / total
    return out


AS_OF = "2024-02-05T18:30:00+00:00"  # 01:30 on 6 February in Vietnam


def summary(frm: str, to: str, by_agency: list[dict[str, Any]] | None = None, **values: Any):
    body = {"from": frm, "to": to, "as_of": AS_OF, "agency": None, "agency_name": None}
    body.update(figures(**values))
    if by_agency is not None:
        body["by_agency"] = by_agency
    return body


def agency(code: str, name: str | None, **values: Any) -> dict[str, Any]:
    return {"agency": code, "agency_name": name, **figures(**values)}


BY_AGENCY = [
    agency("SYT", "Sở Y tế", early=990, on_time=8, late=2, overdue=3, due_soon=1, on_track=20),
    agency("STP", "Sở Tư pháp", early=100, on_time=0, late=0, on_track=5),
    agency("LX", "Thành phố Long Xuyên", early=95, late=5, overdue=7, on_track=9),
    agency("CD", "Thành phố Châu Đốc", early=45, late=5, overdue=7, on_track=2),
    agency("TS", None, early=9990, on_time=0, late=10, on_track=1),  # 99.90 %: meets 99.9
    agency("AP", "Huyện An Phú", on_track=4, overdue=1),  # nothing judged: ratio null
]

TODAY = summary(
    "2024-02-06T00:00:00+07:00", "2024-02-07T00:00:00+07:00", early=12, on_time=3, late=1,
    withdrawn=1, received=1234, on_track=40, due_soon=2, overdue=18, paused=4,
)  # fmt: skip
MONTH = summary(
    "2024-02-01T00:00:00+07:00",
    "2024-03-01T00:00:00+07:00",
    by_agency=BY_AGENCY,
    early=11220, on_time=8, late=22, received=23456, on_track=41, due_soon=1, overdue=18, paused=0,
)  # fmt: skip
LAST_24H = summary(
    "2024-02-05T01:00:00+07:00", "2024-02-06T02:00:00+07:00", early=20, late=0, received=300,
    on_track=41, due_soon=1, overdue=18,
)  # fmt: skip
DATA = wall.WallData(url="http://127.0.0.1:6066", today=TODAY, month=MONTH, last_24h=LAST_24H)


def at_risk(*agencies: str) -> dict[str, Any]:
    """An /api/v1/at-risk answer (issue #18): one item per dossier, of these agencies."""
    return {
        "items": [
            {
                "dossier_id": f"{code}-{i:04}",
                "agency": code,
                "procedure": "1.002520",
                "due_at": "2024-02-09T17:00:00+07:00",
                "risk": 0.7,
                "expected_end": "2024-02-12T10:00:00+07:00",
            }
            for i, code in enumerate(agencies)
        ]
    }


AT_RISK = at_risk(*["LX"] * 4, *["SYT"] * 5, *["CD"] * 4, "ZZ")


# ---------------------------------------------------------------------------------------------
# number and text formatting


def test_numbers_use_a_point_for_decimals_and_a_space_for_thousands() -> None:
    assert fmt.integer(1234567) == "1 234 567"
    assert fmt.integer(999) == "999"
    assert fmt.integer(None) == "—"
    assert fmt.percent(0.99957) == "99.95 %"
    assert fmt.percent(1.0) == "100.00 %"
    assert fmt.percent(None) == "—"
    assert fmt.score(19.987) == "19.98"


def test_percentages_are_cut_so_a_miss_never_looks_like_a_hit() -> None:
    assert fmt.percent(0.998999) == "99.89 %"  # rounding would show 99.90 % against 99.9
    assert fmt.percent(0.99999) == "99.99 %"  # only a perfect record shows 100.00 %
    assert fmt.percent(0.9995) == "99.95 %"  # no float noise: 99.94999... is not cut to 99.94
    assert fmt.percent(0.0) == "0.00 %"


def test_times_are_shown_in_vietnam_local_time() -> None:
    assert fmt.local_time("2024-02-05T10:00:00+00:00") == "2024-02-05 17:00"
    assert fmt.local_time("2024-02-05T18:30:05Z", seconds=True) == "2024-02-06 01:30:05"
    assert fmt.local_time(None) == "—"
    assert fmt.local_time("not a time") == "not a time"


def test_the_console_time_zone_is_the_calendar_s() -> None:
    from iocmon.domain.calendar import LOCAL_TZ

    assert fmt.LOCAL_TZ == LOCAL_TZ


def test_durations_in_vietnamese_and_english() -> None:
    assert fmt.duration(0) == "0 phút (0 min)"
    assert fmt.duration(2 * 86400 + 3 * 3600 + 5 * 60 + 7) == "2 ngày 3 giờ 5 phút (2 d 3 h 5 min)"


def test_width_counts_what_the_terminal_shows() -> None:
    composed = "Đúng hạn"
    decomposed = "Đu\u0301ng ha\u0323n"  # the same text with combining accents
    assert fmt.width(composed) == fmt.width(decomposed) == 8
    assert fmt.width("\x1b[31;1m12\x1b[0m") == 2
    assert fmt.width("中文") == 4
    assert fmt.clip("Văn phòng Đăng ký đất đai tỉnh", 12) == "Văn phòng Đ…"
    assert fmt.width(fmt.clip_line("\x1b[1mabcdef\x1b[0m", 4)) == 4


def test_tables_align_columns_and_put_english_under_vietnamese() -> None:
    lines = fmt.table(["#", "Quá hạn (overdue)"], [["1", "3"], ["10", "1 234"]], [">", ">"])
    assert lines == ["      Quá hạn", " #  (overdue)", " 1          3", "10      1 234"]


# ---------------------------------------------------------------------------------------------
# the wall


def test_periods_follow_the_local_calendar_of_the_worker_clock() -> None:
    assert wall.periods_for(AS_OF) == ("2024-02-06", "2024-02")
    assert wall.periods_for("2024-01-31T17:00:00+00:00") == ("2024-02-01", "2024-02")
    today = datetime.now(fmt.LOCAL_TZ).date()
    assert wall.periods_for(None)[0] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}


def test_below_target_ranks_worst_first_and_skips_agencies_with_nothing_judged() -> None:
    ranked = wall.below_target(BY_AGENCY, 99.9)
    assert [a["agency"] for a in ranked] == ["CD", "LX", "SYT"]  # 90 %, 95 %, 99.8 %
    assert "TS" not in [a["agency"] for a in ranked]  # exactly on target
    assert [a["agency"] for a in wall.below_target(BY_AGENCY, 96)] == ["CD", "LX"]
    assert wall.below_target(BY_AGENCY, 0) == []


def test_below_target_ties_go_to_the_agency_with_more_late_dossiers() -> None:
    rows = [agency("A", None, early=9, late=1), agency("B", None, early=90, late=10)]
    assert [a["agency"] for a in wall.below_target(rows, 99.9)] == ["B", "A"]


def test_overdue_by_agency_most_first() -> None:
    ranked = wall.overdue_by_agency(BY_AGENCY)
    assert [(a["agency"], a["overdue"]) for a in ranked] == [
        ("CD", 7),
        ("LX", 7),
        ("SYT", 3),
        ("AP", 1),
    ]


def test_frame_shows_the_headline_figures_with_vietnamese_labels() -> None:
    text = "\n".join(wall.render_frame(DATA))
    assert "\x1b[" not in text  # no colour unless asked
    lines = text.splitlines()

    def row(label: str) -> list[str]:
        (line,) = [ln for ln in lines if ln.startswith(label)]
        return line[len(label) :].split("  ")

    def cells(label: str) -> list[str]:
        return [c.strip() for c in row(label) if c.strip()]

    assert cells("Đúng hạn (on time)") == ["93.75 %", "99.80 %", "100.00 %"]
    assert cells("Trễ hạn (late)") == ["6.25 %", "0.19 %", "0.00 %"]
    assert cells("Tiếp nhận (received)") == ["1 234", "23 456", "300"]
    assert cells("Kết thúc (ended)") == ["17", "11 250", "20"]
    assert cells("Điểm 766 (766 score, /20)")[0] == fmt.score(TODAY["progress_766"])
    for label in ("Hôm nay", "(today)", "Tháng này", "(this month)", "24 giờ qua"):
        assert label in text
    assert "  Đang giải quyết (open)  60  Quá hạn (overdue)  18" in lines
    assert "  Sắp đến hạn (due soon)   1  Tạm dừng (paused)   0" in lines
    assert "agencies below target) — tháng 2024-02 (this month): 3 / 5" in text
    assert "Cập nhật (as of) 2024-02-06 01:30:00" in text


def test_frame_lists_agencies_below_target_ranked_with_names() -> None:
    lines = wall.render_frame(DATA, top=10)
    start = next(i for i, ln in enumerate(lines) if "agencies below target" in ln)
    body = [ln.split() for ln in lines[start + 3 : start + 6]]
    assert [r[:2] for r in body] == [["1", "CD"], ["2", "LX"], ["3", "SYT"]]
    assert " ".join(body[0]) == "1 CD Thành phố Châu Đốc 90.00 % 5 50 7"
    assert " ".join(body[2]) == "3 SYT Sở Y tế 99.80 % 2 1 000 3"


def test_frame_cuts_lists_at_top_and_says_how_many_more() -> None:
    text = "\n".join(wall.render_frame(DATA, top=1))
    assert "… 2 more (--top, or --json for all)" in text  # below target: 3
    assert "… 3 more (--top, or --json for all)" in text  # overdue by agency: 4


def test_frame_says_when_every_agency_meets_the_target() -> None:
    text = "\n".join(wall.render_frame(DATA, target_percent=80))
    assert "Tất cả đơn vị đạt chỉ tiêu (every agency meets the target)" in text
    empty = wall.WallData(DATA.url, TODAY, summary("2024-02", "2024-03", by_agency=[]), LAST_24H)
    assert "no dossier ended this month" in "\n".join(wall.render_frame(empty))


def test_colours_mark_misses_red_and_hits_green_only_when_enabled() -> None:
    lines = wall.render_frame(DATA, palette=Palette(True))
    on_time = next(ln for ln in lines if ln.startswith("Đúng hạn (on time)"))
    assert "\x1b[31;1m93.75 %\x1b[0m" in on_time  # below 99.9 %: red
    assert "\x1b[32m100.00 %\x1b[0m" in on_time  # at or above: green
    assert [strip_ansi(ln) for ln in lines] == wall.render_frame(DATA)


def test_frame_keeps_the_last_figures_under_a_notice() -> None:
    lines = wall.render_frame(DATA, notice=["✗ worker gone"])
    assert lines[2] == "✗ worker gone"


def test_fitted_top_keeps_the_frame_inside_the_terminal() -> None:
    for rows in (24, 30, 40):
        top = wall.fitted_top(DATA, 10, rows)
        assert len(wall.render_frame(DATA, top=top)) <= rows or top == 1
    assert wall.fitted_top(DATA, 2, 200) == 2


def at_risk_line(data: wall.WallData) -> str:
    (line,) = [ln for ln in wall.render_frame(data) if "(at risk)" in ln]
    return line


def test_frame_counts_the_dossiers_at_risk_and_names_the_top_agencies() -> None:
    line = at_risk_line(replace(DATA, at_risk=AT_RISK))
    assert line == (
        "  Nguy cơ trễ hạn (at risk)  14 — SYT Sở Y tế 5 · CD Thành phố Châu Đốc 4"
        " · LX Thành phố Long Xuyên 4 · … 1 more"
    )  # ties by code; names from this month's figures, the items carry codes only
    lines = wall.render_frame(replace(DATA, at_risk=AT_RISK))
    assert (
        lines.index(line) == lines.index("  Sắp đến hạn (due soon)   1  Tạm dừng (paused)   0") + 1
    )


def test_the_at_risk_items_own_agency_names_come_first() -> None:
    named = at_risk("ZZ", "SYT")
    named["items"][0]["agency_name"] = "Named by the API"
    named["items"][1]["agency_name"] = "Sở Y tế tỉnh"
    assert at_risk_line(replace(DATA, at_risk=named)) == (
        "  Nguy cơ trễ hạn (at risk)  2 — SYT Sở Y tế tỉnh 1 · ZZ Named by the API 1"
    )


def test_frame_says_no_dossier_is_at_risk_and_when_the_answer_was_cut() -> None:
    assert at_risk_line(replace(DATA, at_risk={"items": []})) == "  Nguy cơ trễ hạn (at risk)  0"
    cut = at_risk(*["SYT"] * wall.AT_RISK_LIMIT)
    assert at_risk_line(replace(DATA, at_risk=cut)).startswith(
        "  Nguy cơ trễ hạn (at risk)  1 000+ — SYT Sở Y tế 1 000"
    )


def test_frame_says_n_a_when_the_worker_does_not_serve_the_forecast() -> None:
    assert DATA.at_risk is None
    assert at_risk_line(DATA) == (
        "  Nguy cơ trễ hạn (at risk)  n/a (this worker does not serve /api/v1/at-risk)"
    )


def test_json_document_holds_every_figure_and_is_plain_json() -> None:
    doc = json.loads(json.dumps(wall.to_json(DATA, 99.9)))
    assert set(doc) == {
        "url", "as_of", "target_percent", "periods", "now", "agencies_judged", "below_target",
        "overdue_by_agency", "at_risk",
    }  # fmt: skip
    assert doc["at_risk"] is None  # not served
    risky = json.loads(json.dumps(wall.to_json(replace(DATA, at_risk=AT_RISK), 99.9)))
    assert risky["at_risk"] == {
        "total": 14,
        "complete": True,
        "by_agency": [
            {"agency": "SYT", "agency_name": "Sở Y tế", "at_risk": 5},
            {"agency": "CD", "agency_name": "Thành phố Châu Đốc", "at_risk": 4},
            {"agency": "LX", "agency_name": "Thành phố Long Xuyên", "at_risk": 4},
            {"agency": "ZZ", "agency_name": None, "at_risk": 1},
        ],
    }
    assert set(doc["periods"]) == {"today", "this_month", "last_24h"}
    assert doc["periods"]["today"]["received"] == 1234
    assert "by_agency" not in doc["periods"]["this_month"]
    assert doc["now"] == {"open": 60, "on_track": 41, "due_soon": 1, "overdue": 18, "paused": 0}
    assert [a["agency"] for a in doc["below_target"]] == ["CD", "LX", "SYT"]
    assert doc["below_target"][0]["agency_name"] == "Thành phố Châu Đốc"
    assert doc["agencies_judged"] == 5
    assert [a["agency"] for a in doc["overdue_by_agency"]] == ["CD", "LX", "SYT", "AP"]


# ---------------------------------------------------------------------------------------------
# overdue and dossier renderers

OVERDUE = {
    "as_of": AS_OF,
    "items": [
        {
            "dossier_id": "000.00.32.H01-240101-0001",
            "agency": "SYT",
            "procedure": "1.002520",
            "due_at": "2024-01-30T17:00:00+07:00",
            "overdue_days": 7,
        },
        {
            "dossier_id": "000.00.32.H01-240101-0002",
            "agency": "ZZ",
            "procedure": "2.000001",
            "due_at": "2024-02-02T10:00:00+00:00",
            "overdue_days": 4,
            "agency_name": "Named by the API",
        },
    ],
}


def test_overdue_table_has_local_due_dates_days_and_agency_names() -> None:
    lines = render_overdue(OVERDUE, names={"SYT": "Sở Y tế"}, total=9)
    assert lines[0] == "Hồ sơ quá hạn (overdue dossiers): 2 / 9"
    rows = [ln.split("  ") for ln in lines[5:7]]
    first = [c.strip() for c in rows[0] if c.strip()]
    assert first == [
        "1",
        "000.00.32.H01-240101-0001",
        "SYT Sở Y tế",
        "1.002520",
        "2024-01-30 17:00",
        "7",
    ]
    second = [c.strip() for c in rows[1] if c.strip()]
    assert second[2] == "ZZ Named by the API" and second[4] == "2024-02-02 17:00"
    assert "… 7 more: --limit N (at most 1000)" in lines[-1]


def test_overdue_empty_list_says_so() -> None:
    assert render_overdue({"items": []}, agency="SYT") == [
        "Không có hồ sơ quá hạn (no overdue dossier) — SYT"
    ]


DOSSIER = {
    "dossier_id": "H01-1",
    "status": "open",
    "agency": "SYT",
    "agency_name": "Sở Y tế",
    "procedure": "1.002520",
    "channel": "online",
    "level": "partial",
    "handler": "SYT-P1",
    "received_at": "2024-01-25T08:00:00+07:00",
    "due_at": "2024-01-30T17:00:00+07:00",
    "alert_due_at": "2024-02-08T17:00:00+07:00",
    "paused_s": 90000.0,
    "paused": True,
    "supplement_requests": 1,
    "ended_at": None,
    "outcome": None,
    "state": "overdue",
    "overdue_days": 7,
    "history": [
        {"type": "received", "at": "2024-01-25T01:00:00+00:00", "effect": "received"},
        {"type": "supplement_requested", "at": "2024-01-26T08:00:00+07:00", "effect": "paused"},
        {"type": "rescheduled", "at": "2024-01-29T08:00:00+07:00", "effect": "rescheduled"},
    ],
}


def test_dossier_shows_state_dates_pauses_and_history() -> None:
    text = "\n".join(render_dossier(DOSSIER))
    assert "Hồ sơ (dossier) H01-1" in text
    assert "Đang giải quyết (open) · Quá hạn (overdue), 7 ngày (days)" in text
    assert "SYT Sở Y tế" in text
    assert "Trực tuyến (online) · Một phần (partly online)" in text
    assert "Hẹn trả (due)                          2024-01-30 17:00" in text
    assert "Hẹn trả mới (rescheduled to)           2024-02-08 17:00" in text
    assert "1 ngày 1 giờ (1 d 1 h) · đang tạm dừng (paused now)" in text
    assert "2024-01-25 08:00:00  Tiếp nhận (received)" in text
    assert "Yêu cầu bổ sung (supplement requested)" in text
    assert "Lịch sử (history): 3" in text


def test_dossier_that_ended_shows_outcome_and_no_reschedule_line() -> None:
    ended = {
        **DOSSIER, "status": "ended", "state": None, "outcome": "late", "paused": False,
        "alert_due_at": DOSSIER["due_at"], "ended_at": "2024-02-01T09:00:00+07:00",
    }  # fmt: skip
    text = "\n".join(render_dossier(ended))
    assert "Kết quả (outcome)" in text and "Trễ hạn (late)" in text
    assert "Hẹn trả mới" not in text
    assert "Kết thúc (ended)                       2024-02-01 09:00" in text


# ---------------------------------------------------------------------------------------------
# the commands against a real HTTP server


class FakeWorker:
    """Answers GETs from `routes` (path -> (status, JSON value, or str sent as is)) and
    records what was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any]] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                fake.requests.append((parts.path, params, dict(self.headers)))
                key = parts.path
                if "period" in params:
                    key += f"?period={params['period']}"
                status, body = fake.routes.get(key, fake.routes.get(parts.path, (404, None)))
                if body is None:
                    data = b"404: Not Found"
                elif isinstance(body, str):  # text as it is (/metrics, /-/ready)
                    data = body.encode()
                else:
                    data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def worker() -> Iterator[FakeWorker]:
    fake = FakeWorker()
    fake.routes["/api/v1/summary"] = (200, LAST_24H)
    fake.routes["/api/v1/summary?period=2024-02-06"] = (200, TODAY)
    fake.routes["/api/v1/summary?period=2024-02"] = (200, MONTH)
    fake.routes["/api/v1/overdue"] = (200, OVERDUE)
    fake.routes["/api/v1/dossiers/H01%2F1"] = (200, DOSSIER)
    yield fake
    fake.close()


def run(command: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)


def test_status_once_prints_the_frame_from_three_summaries(worker: FakeWorker) -> None:
    result = run(status_command, "--url", worker.url, "--once")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip("\n").splitlines() == wall.render_frame(
        wall.WallData(worker.url, TODAY, MONTH, LAST_24H)
    )
    asked = [(path, params) for path, params, _ in worker.requests]
    assert asked == [
        ("/api/v1/summary", {}),
        ("/api/v1/summary", {"period": "2024-02-06"}),
        ("/api/v1/summary", {"period": "2024-02", "by": "agency"}),
        ("/api/v1/at-risk", {"limit": "1000"}),
    ]


def test_status_once_shows_the_dossiers_at_risk_the_worker_lists(worker: FakeWorker) -> None:
    worker.routes["/api/v1/at-risk"] = (200, AT_RISK)
    result = run(status_command, "--url", worker.url, "--once")
    assert result.exit_code == 0, result.output
    assert at_risk_line(replace(DATA, at_risk=AT_RISK)) in result.output.splitlines()
    as_json = json.loads(run(status_command, "--url", worker.url, "--json").output)
    assert as_json["at_risk"]["total"] == 14


@pytest.mark.parametrize(
    "answer",
    [
        (404, None),  # the route unknown: aiohttp's plain "404: Not Found"
        (404, {"error": "not found"}),  # ... or a JSON error
    ],
)
def test_a_worker_without_the_forecast_still_shows_the_wall(
    worker: FakeWorker, answer: tuple[int, Any]
) -> None:
    worker.routes["/api/v1/at-risk"] = answer
    result = run(status_command, "--url", worker.url, "--once")
    assert result.exit_code == 0, result.output
    assert "Nguy cơ trễ hạn (at risk)  n/a" in result.output
    assert "Đúng hạn (on time)" in result.output
    as_json = run(status_command, "--url", worker.url, "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output)["at_risk"] is None
    live = LiveWall(ApiClient(worker.url), 99.9, 10, Palette(False), 2)
    assert "  Nguy cơ trễ hạn (at risk)  n/a" in "\n".join(live.next_frame())


def test_a_failing_forecast_is_an_error_like_any_other_figure(worker: FakeWorker) -> None:
    """Only a 404 means "not served"; a 503 (Redis) is the worker's trouble and is said."""
    worker.routes["/api/v1/at-risk"] = (503, {"error": "Redis is not answering"})
    result = CliRunner().invoke(status_command, ["--url", worker.url, "--once"])
    assert result.exit_code == 1
    assert "HTTP 503: Redis is not answering" in result.output


def test_status_json_is_the_wall_document(worker: FakeWorker) -> None:
    result = run(status_command, "--url", worker.url, "--json", "--target", "96")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc == json.loads(
        json.dumps(wall.to_json(wall.WallData(worker.url, TODAY, MONTH, LAST_24H), 96))
    )
    assert [a["agency"] for a in doc["below_target"]] == ["CD", "LX"]


def test_bearer_token_comes_from_the_environment(worker: FakeWorker) -> None:
    result = run(status_command, "--url", worker.url, "--once", env={"IOCMON_API_TOKEN": "s3cret"})
    assert result.exit_code == 0, result.output
    assert [h.get("Authorization") for _, _, h in worker.requests] == ["Bearer s3cret"] * 4


def test_no_token_no_authorization_header(worker: FakeWorker) -> None:
    result = run(overdue_command, "--url", worker.url, env={"IOCMON_API_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert worker.requests, "the overdue command asked the worker nothing"
    assert [h.get("Authorization") for _, _, h in worker.requests] == [None] * len(worker.requests)


def test_status_says_what_to_do_when_the_worker_is_not_answering() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(status_command, ["--url", url, "--once"])
    assert result.exit_code == 1
    assert (
        f"worker at {url} not answering — is `iocmon worker` running? (make run starts it)"
        in result.output
    )
    as_json = CliRunner().invoke(status_command, ["--url", url, "--json"])
    assert as_json.exit_code == 1
    assert "not answering" in json.loads(as_json.output)["error"]


def test_status_url_defaults_to_the_web_port_setting() -> None:
    port = closed_port()
    result = CliRunner().invoke(status_command, ["--once"], env={"IOCMON_WEB_PORT": str(port)})
    assert f"worker at http://127.0.0.1:{port} not answering" in result.output


def test_live_is_the_status_command() -> None:
    assert live_command is status_command


def test_overdue_json_is_the_api_answer_unchanged(worker: FakeWorker) -> None:
    result = run(overdue_command, "--url", worker.url, "--json", "--agency", "SYT", "--limit", "7")
    assert json.loads(result.output) == OVERDUE
    assert worker.requests[0][:2] == ("/api/v1/overdue", {"agency": "SYT", "limit": "7"})


def test_overdue_table_counts_all_overdue_from_the_summary(worker: FakeWorker) -> None:
    result = run(overdue_command, "--url", worker.url)
    assert result.exit_code == 0
    assert result.output.startswith("Hồ sơ quá hạn (overdue dossiers): 2 / 18\n")
    assert "000.00.32.H01-240101-0001" in result.output


def test_overdue_rejects_a_limit_the_api_would_refuse() -> None:
    result = CliRunner().invoke(overdue_command, ["--limit", "0"])
    assert result.exit_code == 2 and "--limit" in result.output


def test_dossier_quotes_the_id_and_prints_state(worker: FakeWorker) -> None:
    result = run(dossier_command, "H01/1", "--url", worker.url)
    assert result.exit_code == 0, result.output
    assert "Hồ sơ (dossier) H01-1" in result.output
    as_json = run(dossier_command, "H01/1", "--url", worker.url, "--json")
    assert json.loads(as_json.output) == DOSSIER


def test_unknown_dossier_exits_1_with_the_worker_s_message(worker: FakeWorker) -> None:
    worker.routes["/api/v1/dossiers/nope"] = (404, {"error": "no dossier 'nope' has been received"})
    result = CliRunner().invoke(dossier_command, ["nope", "--url", worker.url, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "error": f"no dossier 'nope' has been received (worker at {worker.url})",
        "dossier_id": "nope",
    }


def test_client_tells_missing_routes_bad_tokens_and_bad_parameters_apart(
    worker: FakeWorker,
) -> None:
    client = ApiClient(worker.url)
    worker.routes["/api/v1/dossiers/x"] = (404, {"error": "no dossier 'x'"})
    with pytest.raises(NotFound):
        client.get("/api/v1/dossiers/x")
    with pytest.raises(ApiError, match=r"does not serve /api/v1/nothing .*older version"):
        client.get("/api/v1/nothing")
    worker.routes["/api/v1/rankings"] = (401, {"error": "missing or wrong bearer token"})
    with pytest.raises(ApiError, match="set IOCMON_API_TOKEN"):
        client.get("/api/v1/rankings")
    worker.routes["/api/v1/rankings"] = (400, {"error": "'by' accepts on_time_ratio, overdue"})
    with pytest.raises(ApiError, match="HTTP 400: 'by' accepts on_time_ratio, overdue"):
        client.get("/api/v1/rankings")
    with pytest.raises(WorkerUnreachable, match="connection refused"):
        ApiClient(f"http://127.0.0.1:{closed_port()}").get("/api/v1/summary")


def test_live_wall_keeps_the_last_figures_while_the_worker_is_away(worker: FakeWorker) -> None:
    live = LiveWall(ApiClient(worker.url), 99.9, 10, Palette(False), 2)
    first = live.next_frame()
    assert "Đúng hạn (on time)" in "\n".join(first)
    worker.close()
    again = live.next_frame()
    assert again[2] == (
        f"✗ worker at {worker.url} not answering — is `iocmon worker` running? (make run starts it)"
    )
    assert "Đúng hạn (on time)" in "\n".join(again)  # the older figures stay on screen
    assert "the figures below are older" in again[3]


def test_live_wall_in_a_terminal_restores_the_cursor_on_ctrl_c() -> None:
    """Full screen in a real pseudo-terminal: the not-answering frame, then Ctrl-C."""
    url = f"http://127.0.0.1:{closed_port()}"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the live wall on the pty
        # As from a terminal: a shell without job control starts background jobs with
        # SIGINT ignored, and the wall would never see the Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(
            sys.executable,
            [sys.executable, "-c", "from iocmon.console.live import live_command as c; c()",
             "--url", url, "--interval", "0.3"],
            {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100", "LINES": "30"},
        )  # fmt: skip
    output = b""
    try:
        deadline = time.monotonic() + 30
        while b"make run starts it" not in output and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                output += os.read(fd, 65536)
        os.kill(pid, signal.SIGINT)
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        status = _reap(pid)
    assert output.startswith(b"\x1b[?1049h\x1b[?25l")  # alternate screen, cursor hidden
    assert b"not answering" in output
    assert output.rstrip().endswith(b"\x1b[?25h\x1b[?1049l")  # cursor back, screen restored
    assert os.waitstatus_to_exitcode(status) == 0


def _reap(pid: int) -> int:
    """The child's wait status; killed if it outlives the test, which then fails, not hangs."""
    for _ in range(25):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def test_help_of_every_command() -> None:
    from iocmon.console.doctor import doctor_command
    from iocmon.console.topics import topics_command

    for command in (
        status_command,
        overdue_command,
        dossier_command,
        doctor_command,
        topics_command,
    ):
        result = CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0
        assert "--json" in result.output


def test_console_commands_start_without_loading_heavy_modules() -> None:
    code = (
        "import sys; import iocmon.console.status, iocmon.console.overdue, "
        "iocmon.console.dossier, iocmon.console.doctor, iocmon.console.topics; "
        "print(sorted(m for m in ('holidays', 'kafka', 'redis', 'faust') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr


def test_dates_in_the_fixture_are_consistent() -> None:
    assert datetime.fromisoformat(AS_OF).astimezone(fmt.LOCAL_TZ).day == 6
