"""`iocmon status`: the live terminal wall (also `iocmon live`, which `make run` shows)."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from types import FrameType
from typing import Any, TextIO

import click

from iocmon.config import Settings
from iocmon.console import wall
from iocmon.console.client import ApiClient
from iocmon.console.errors import ApiError, ConsoleError, WorkerUnreachable
from iocmon.console.fmt import LOCAL_TZ, Palette, clip_line
from iocmon.console.options import (
    ColorMode,
    color_option,
    echo_json,
    fail,
    json_option,
    use_color,
    worker_options,
)
from iocmon.slo.objective import percent


def fetch(client: ApiClient) -> wall.WallData:
    """Three summaries: the last 24 h (which also gives the worker's clock), today and this
    month by agency, in the worker's local calendar; then the dossiers at risk."""
    last_24h = client.get("/api/v1/summary")
    today_period, month_period = wall.periods_for(last_24h.get("as_of"))
    today = client.get("/api/v1/summary", period=today_period)
    month = client.get("/api/v1/summary", period=month_period, by="agency")
    return wall.WallData(
        url=client.url, today=today, month=month, last_24h=last_24h, at_risk=fetch_at_risk(client)
    )


def fetch_at_risk(client: ApiClient) -> dict[str, Any] | None:
    """The /api/v1/at-risk answer (issue #18), or None when the worker answers 404: one older
    than the forecast, during a rolling upgrade, still shows the rest of the wall."""
    try:
        return client.get("/api/v1/at-risk", limit=wall.AT_RISK_LIMIT)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


# ANSI: alternate screen, cursor home, clear to end of line / of screen, hide / show cursor
_ENTER = "\x1b[?1049h\x1b[?25l"
_LEAVE = "\x1b[?25h\x1b[?1049l"
_HOME, _EOL, _EOS = "\x1b[H", "\x1b[K", "\x1b[J"


class Screen:
    """Draws whole frames: in place on a terminal (full screen), one after another otherwise."""

    def __init__(self, out: TextIO, full_screen: bool) -> None:
        self.out = out
        self.full_screen = full_screen

    def draw(self, lines: list[str]) -> None:
        if self.full_screen:
            size = shutil.get_terminal_size()
            shown = [clip_line(line, size.columns) for line in lines[: size.lines]]
            self.out.write(_HOME + "".join(f"{line}{_EOL}\n" for line in shown[:-1]))
            self.out.write(f"{shown[-1] if shown else ''}{_EOL}{_EOS}")
        else:
            self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()


@contextmanager
def full_screen(out: TextIO) -> Iterator[None]:
    """The alternate screen with a hidden cursor; both restored on any exit, SIGTERM too."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    out.write(_ENTER)
    out.flush()
    try:
        yield
    finally:
        out.write(_LEAVE)
        out.flush()
        signal.signal(signal.SIGTERM, previous)


@click.command("status")
@worker_options
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option(
    "--target",
    type=click.FloatRange(0, 100),
    default=lambda: percent(Settings.from_env().on_time_objective),
    show_default="IOCMON_ON_TIME_OBJECTIVE in percent (99.9)",
    help="On-time target in percent; agencies below it are listed. Leave it to the "
    "objective the dashboards, the rules and the API use.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=wall.DEFAULT_TOP,
    show_default=True,
    help="Rows per agency list on screen (fewer if the terminal is short).",
)
@click.option("--once", is_flag=True, help="Print one frame and exit (no screen control).")
@json_option
@color_option
def status_command(
    url: str,
    token: str | None,
    interval: float,
    target: float,
    top: int,
    once: bool,
    as_json: bool,
    color_mode: ColorMode,
) -> None:
    """Live wall: on-time % today / this month / last 24 h, late %, 766 score, received and
    ended today, open / overdue / due soon / paused, dossiers at risk of ending late (the top
    agencies), agencies below target, overdue by agency.

    Refreshes every --interval seconds until Ctrl-C. With --json, prints the figures once as
    one JSON document (all agencies, not only --top). Exit code 1 when the worker does not
    answer with --once or --json.
    """
    client = ApiClient(url, token)
    palette = Palette(use_color(color_mode))
    if as_json or once:
        try:
            data = fetch(client)
        except ConsoleError as exc:
            fail(str(exc), as_json, url=url)
            return
        if as_json:
            echo_json(wall.to_json(data, target))
        else:
            frame = wall.render_frame(data, target_percent=target, top=top, palette=palette)
            click.echo("\n".join(frame), color=palette.enabled)
        return
    _run(client, interval, target, top, palette, sys.stdout)


def _run(
    client: ApiClient, interval: float, target: float, top: int, palette: Palette, out: TextIO
) -> None:
    screen = Screen(out, full_screen=out.isatty())
    live = LiveWall(client, target, top, palette, interval)
    try:
        with full_screen(out) if screen.full_screen else nullcontext():
            while True:
                rows = shutil.get_terminal_size().lines if screen.full_screen else None
                screen.draw(live.next_frame(rows))
                time.sleep(interval)
    except KeyboardInterrupt:
        pass


class LiveWall:
    """Frames for the refreshing wall; keeps the last good figures to show under a warning
    while the worker does not answer."""

    def __init__(
        self, client: ApiClient, target: float, top: int, palette: Palette, interval: float
    ) -> None:
        self.client = client
        self.target = target
        self.top = top
        self.palette = palette
        self.footer = (
            f"Ctrl-C để thoát (to quit) · làm mới mỗi {interval:g} s "
            f"(refreshes every {interval:g} s)"
        )
        self.last: wall.WallData | None = None

    def next_frame(self, rows: int | None = None) -> list[str]:
        """Fresh figures, or the last ones under a line saying what is wrong and what to do.
        `rows`: the terminal's height, to shorten the agency lists so the frame fits."""
        c = self.palette
        notice: list[str] = []
        try:
            data = fetch(self.client)
            self.last = data
        except (WorkerUnreachable, ApiError) as exc:
            tried = datetime.now(LOCAL_TZ).strftime("%H:%M:%S")
            if isinstance(exc, WorkerUnreachable):
                headline, detail = exc.headline, f"{exc.reason}; retrying, last try {tried}"
            else:
                headline, detail = str(exc), f"retrying, last try {tried}"
            if self.last is None:
                frame = wall.render_unreachable(self.client.url, headline, detail, c)
                return [*frame, "", c.dim(self.footer)]
            data = self.last
            notice = [c.bad(f"✗ {headline}"), c.dim(f"  {detail}; the figures below are older")]
        kwargs: dict[str, Any] = {
            "target_percent": self.target,
            "palette": c,
            "notice": notice,
            "footer": self.footer,
        }
        top = self.top if rows is None else wall.fitted_top(data, self.top, rows, **kwargs)
        return wall.render_frame(data, top=top, **kwargs)
