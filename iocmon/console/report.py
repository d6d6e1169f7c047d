"""`iocmon report`: the periodic report of dossier handling (CONTRACT §6) from the worker,
as a terminal table, CSV, an Excel workbook or the worker's JSON.

The worker computes the report (`GET /api/v1/report`); this command only asks for it and
writes it out. openpyxl is imported only for `--format xlsx`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import click

from iocmon.console.client import ApiClient
from iocmon.console.errors import ConsoleError
from iocmon.console.fmt import LOCAL_TZ, Palette
from iocmon.console.options import (
    ColorMode,
    color_option,
    echo_json,
    fail,
    use_color,
    worker_options,
)
from iocmon.console.report_doc import GROUPINGS, Grouping, Report, read_report
from iocmon.console.report_render import render_csv, render_table

Format = Literal["table", "csv", "xlsx", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "xlsx", "json")
_BY_SUFFIX: Mapping[str, Format] = {".csv": "csv", ".xlsx": "xlsx", ".json": "json"}


class LocalInstant(click.ParamType):
    """A date (its local midnight) or a timestamp (local time when it has no offset), sent
    to the worker as RFC 3339 with the offset, which the API requires."""

    name = "ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)  # a date alone is its midnight
        except ValueError:
            self.fail(
                f"{text!r} is neither a date (2024-01-01) nor a timestamp "
                "(2024-01-01T00:00:00+07:00)",
                param,
                ctx,
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
        return moment.isoformat()


def query(
    period: str | None,
    start: str | None,
    end: str | None,
    by: Grouping,
    agency: str | None,
    scope: str | None,
) -> dict[str, str | None]:
    """The /api/v1/report parameters (None ones are not sent)."""
    return {"period": period, "from": start, "to": end, "by": by, "agency": agency, "scope": scope}


def choose_format(given: Format | None, as_json: bool, out: Path | None) -> Format:
    """--format, else --json, else the --out file's suffix (.csv, .xlsx, .json), else table.
    xlsx needs --out: a workbook is binary, of no use on a terminal or in a pipe."""
    if as_json and given not in (None, "json"):
        raise click.UsageError(f"--json and --format {given} ask for two formats; give one")
    chosen: Format = given or ("json" if as_json else None) or _suffix_format(out) or "table"
    if chosen == "xlsx" and out is None:
        raise click.UsageError(
            "--format xlsx writes a workbook, which is binary: give --out FILE.xlsx"
        )
    return chosen


def _suffix_format(out: Path | None) -> Format | None:
    return _BY_SUFFIX.get(out.suffix.lower()) if out is not None else None


def encode(
    report: Report, chosen: Format, *, columns: int | None = None, palette: Palette | None = None
) -> bytes:
    """The report in `chosen` format (not json: that is the worker's answer as it came)."""
    if chosen == "csv":
        return render_csv(report)
    if chosen == "xlsx":
        from iocmon.console.report_xlsx import workbook_bytes

        return workbook_bytes(report)
    return ("\n".join(render_table(report, columns=columns, palette=palette)) + "\n").encode()


def write_file(path: Path, data: bytes) -> None:
    """Write through a temporary file beside `path`, so a failure never leaves half a
    report where a good one was."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConsoleError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command("report")
@worker_options
@click.option(
    "--period",
    metavar="P",
    help="2024, 2024-H1, 2024-Q1, 2024-02 or 2024-02-05 (local calendar).",
)
@click.option("--from", "start", type=LocalInstant(), help="Start of a range instead of --period.")
@click.option(
    "--to", "end", type=LocalInstant(), help="End of the range, not included (default: now)."
)
@click.option(
    "--by",
    type=click.Choice(GROUPINGS),
    default="agency",
    show_default=True,
    help="One row per agency, or per field of procedures (lĩnh vực).",
)
@click.option(
    "--agency", metavar="CODE", default=None, help="Only this agency's dossiers (its code)."
)
@click.option(
    "--scope",
    type=click.Choice(["unit", "tree"]),
    default=None,
    help="With --agency: tree = the agency and each of its units, each row with its own "
    "units' dossiers (a district with its communes').",
)
@click.option(
    "--format",
    "given_format",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), csv, xlsx (needs --out) or json (the worker's answer). "
    "Without it, --out's suffix (.csv, .xlsx, .json) decides.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@color_option
def report_command(
    url: str,
    token: str | None,
    period: str | None,
    start: str | None,
    end: str | None,
    by: Grouping,
    agency: str | None,
    scope: str | None,
    given_format: Format | None,
    out: Path | None,
    as_json: bool,
    color_mode: ColorMode,
) -> None:
    """The periodic report of dossier handling for a period: per agency (or field), dossiers
    carried over, received online / at the counter or by post, resolved early / on time /
    late, withdrawn, and in process at the end (not yet due / overdue), with totals.

    Give --period, or --from (and --to; dates are local midnights); with neither, this
    month so far. A period still running is reported as of now. The XLSX is the government's
    table, ready to print; the CSV is UTF-8 with a byte order mark, for Excel. Exit code 1
    when the worker cannot answer, 2 for wrong options.
    """
    chosen = choose_format(given_format, as_json, out)
    if period is not None and (start is not None or end is not None):
        raise click.UsageError("give either --period or --from/--to, not both")
    if end is not None and start is None:
        raise click.UsageError("--to needs --from (without --to, the range runs until now)")
    errors_as_json = chosen == "json" and out is None
    params = query(period, start, end, by, agency, scope)
    try:
        body = ApiClient(url, token).get("/api/v1/report", **params)
        if chosen == "json":
            data = (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode()
            report = None
        else:
            report = read_report(
                body, received_at=datetime.now(LOCAL_TZ), asked_period=period, asked_by=by
            )
            to_terminal = out is None and sys.stdout.isatty()
            palette = Palette(out is None and use_color(color_mode))
            columns = shutil.get_terminal_size().columns if to_terminal else None
            data = encode(report, chosen, columns=columns, palette=palette)
        if out is not None:
            write_file(out, data)
    except ConsoleError as exc:
        fail(str(exc), errors_as_json, url=url)
        return
    if out is not None:
        rows = f", {len(report.rows)} rows" if report is not None else ""
        click.echo(f"iocmon: report written to {out} ({chosen}{rows})", err=True)
    elif chosen == "json":
        echo_json(body)
    else:
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
