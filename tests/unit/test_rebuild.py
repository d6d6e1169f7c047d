"""The pure parts of `iocmon rebuild`: signposts, the progress line, literal SCAN patterns."""

from __future__ import annotations

import io

from iocmon.streams.generations import moved_target, parse_offset, pointer_key
from iocmon.streams.rebuild import _glob
from iocmon.streams.rebuild_progress import Progress
from iocmon.streams.rebuild_summary import Summary


def test_a_moved_offset_key_names_the_new_prefix() -> None:
    assert moved_target(b"moved:iocmon:g1700000000") == "iocmon:g1700000000"
    assert moved_target("moved:x") == "x"
    assert moved_target(b"41") is None
    assert moved_target(None) is None
    assert parse_offset(None) == -1
    assert parse_offset(b"41") == 41
    assert pointer_key("iocmon") == "iocmon:generation"


def test_progress_line_shows_done_total_rate_and_eta() -> None:
    ticks = iter([0.0, 10.0])
    progress = Progress(io.StringIO(), clock=lambda: next(ticks))
    line = progress.line(1000, 4000)
    assert "1,000/4,000 records" in line
    assert "100/s" in line
    assert "ETA 0:30" in line
    assert "25.0%" in line


def test_progress_is_not_redrawn_more_than_twice_a_second_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [0.0]
    out = Tty()
    progress = Progress(out, clock=lambda: now[0])
    for step in range(10):
        now[0] = step * 0.1
        progress.show(step, 10)
    assert out.getvalue().count("\r") == 2
    progress.close(10, 10)
    last = out.getvalue().split("\r")[-1]
    assert "100.0% 10/10 records" in last
    assert last.endswith("\n")
    assert last.strip().endswith("ETA 0:00")


def test_scan_patterns_match_the_prefix_literally() -> None:
    assert _glob("iocmon:{events/3}") == "iocmon:{events/3}"
    assert _glob("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"


def test_summary_says_where_the_figures_live_now() -> None:
    text = Summary("iocmon:g2", ["iocmon"], records=1000, seconds=2.0, partitions=12).text()
    assert "1,000 records in 2.0s (500 records/s)" in text
    assert "live generation now iocmon:g2 (was iocmon)" in text
