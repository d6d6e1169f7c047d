"""`iocmon overdue`: the open dossiers past their due date, most overdue first."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from typing import Any

import click

from iocmon.config import Settings
from iocmon.console import labels as L
from iocmon.console.client import ApiClient
from iocmon.console.errors import ConsoleError
from iocmon.console.fmt import Palette, clip, integer, local_time, table
from iocmon.console.options import (
    ColorMode,
    color_option,
    echo_json,
    fail,
    json_option,
    use_color,
    worker_options,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000  # the API's limit


def render_overdue(
    body: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    total: int | None = None,
    agency: str | None = None,
    columns: int | None = None,
    palette: Palette | None = None,
) -> list[str]:
    """The table for an /api/v1/overdue answer. `names`: agency names for items that carry
    none; `total`: how many are overdue in all (to say when the list is cut); `columns`: the
    terminal width, to shorten the agency column (None: never cut, for pipes)."""
    c = palette or Palette(False)
    names = names or {}
    items = list(body.get("items") or [])
    where = f" — {agency}" if agency else ""
    if not items:
        return [c.good(f"Không có hồ sơ quá hạn (no overdue dossier){where}")]
    rows = []
    for i, item in enumerate(items, start=1):
        code = str(item.get("agency") or "")
        name = item.get("agency_name") or names.get(code)
        rows.append(
            [
                str(i),
                str(item.get("dossier_id")),
                f"{code} {name}" if name else code,
                str(item.get("procedure") or "—"),
                local_time(item.get("due_at")),
                c.bad(integer(item.get("overdue_days"))),
            ]
        )
    if columns is not None:
        fixed = max(len(r[0]) for r in rows) + max(len(r[1]) for r in rows) + 50
        agency_width = max(16, columns - fixed)
        for row in rows:
            row[2] = clip(row[2], agency_width)
    shown = len(items)
    count = (
        f"{integer(shown)} / {integer(total)}"
        if total is not None and total > shown
        else integer(shown)
    )
    lines = [
        c.bold(f"Hồ sơ quá hạn (overdue dossiers){where}: {count}"),
        c.dim(f"{L.AS_OF} {local_time(body.get('as_of'), seconds=True)}"),
        "",
        *table(
            ["#", L.DOSSIER, L.AGENCY, L.PROCEDURE, L.DUE, "Quá hạn (days over)"],
            rows,
            [">", "<", "<", "<", "<", ">"],
        ),
    ]
    if total is not None and total > shown:
        lines += ["", c.dim(f"… {integer(total - shown)} more: --limit N (at most {MAX_LIMIT})")]
    return lines


def agency_names(settings: Settings) -> dict[str, str]:
    """Names from the agency catalogue the worker uses (IOCMON_AGENCIES_FILE or the shipped
    one); empty if it cannot be read — names are a convenience here."""
    from iocmon.domain.agencies import load_catalogue
    from iocmon.errors import IocmonError

    try:
        return {a.code: a.name for a in load_catalogue(settings.agencies_file)}
    except (IocmonError, OSError):
        return {}


@click.command("overdue")
@worker_options
@click.option("--agency", metavar="CODE", default=None, help="Only this agency (its code).")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most this many dossiers.",
)
@json_option
@color_option
def overdue_command(
    url: str,
    token: str | None,
    agency: str | None,
    limit: int,
    as_json: bool,
    color_mode: ColorMode,
) -> None:
    """Open dossiers past their due date, most overdue first: dossier, agency, procedure,
    due date (local time) and days overdue.

    With --json, prints the worker's /api/v1/overdue answer unchanged.
    """
    client = ApiClient(url, token)
    try:
        body = client.get("/api/v1/overdue", agency=agency, limit=limit)
    except ConsoleError as exc:
        fail(str(exc), as_json, url=url)
        return
    if as_json:
        echo_json(body)
        return
    total: int | None
    try:
        total = int(client.get("/api/v1/summary", agency=agency)["overdue"])
    except (ConsoleError, KeyError, TypeError, ValueError):
        total = None  # the count is a nicety; the list above is what was asked for
    palette = Palette(use_color(color_mode))
    lines = render_overdue(
        body,
        names=agency_names(Settings.from_env()),
        total=total,
        agency=agency,
        columns=shutil.get_terminal_size().columns if sys.stdout.isatty() else None,
        palette=palette,
    )
    click.echo("\n".join(lines), color=palette.enabled)
