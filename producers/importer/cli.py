"""`iocmon import EXPORT`: a one-stop system's export -> contract events, sent or written.

Wired into the `iocmon` group as `import` (the object is `import_command`). Exit status: 0 when
at least one record was converted (or the export is empty) and every event written or sent was
stored; 1 when no record could be converted, when `--strict` and any record was rejected, or
when the export or Kafka failed. Rejected records never stop the import unless `--strict`.

Nothing from the export reaches the terminal or a file except the events' own fields: the
rejection report names row numbers, fields and rules, and MaHoSo (a dossier code) only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click

from iocmon.config import Settings
from iocmon.errors import IocmonError
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.importer.errors import ExportError
from iocmon.producers.importer.readers import (
    FORMATS,
    ByteCounter,
    Format,
    FormatChoice,
    detect_format,
    read_export,
)
from iocmon.producers.importer.run import Emit, ImportReport, Rejection, convert_records
from iocmon.producers.progress import Progress, RateMeter

SHOWN_REJECTIONS = 20
"""Rejections printed one by one on stderr; the rest are counted (all go to --rejects)."""


class _Rejects:
    """Reports rejected records: every one to the --rejects file, the first few on stderr."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self.seen = 0

    def __call__(self, rejection: Rejection) -> None:
        self.seen += 1
        if self._file is not None:
            self._file.write(json.dumps(rejection.to_json(), ensure_ascii=False) + "\n")
        if self.seen <= SHOWN_REJECTIONS:
            click.echo(f"import: rejected {rejection.describe()}", err=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _EventFile:
    """JSON Lines output, written to a temporary file and renamed only on success, so a
    failed or refused import never leaves a half file that `iocmon replay` would send."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stdout = str(path) == "-"
        if self._stdout:
            self._tmp: Path | None = None
            self._file: IO[bytes] = sys.stdout.buffer
        else:
            self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            self._file = self._tmp.open("wb")

    def write(self, key: bytes, value: bytes) -> None:
        self._file.write(value + b"\n")

    def commit(self) -> None:
        self._file.flush()
        if self._tmp is not None:
            self._file.close()
            self._tmp.replace(self.path)

    def discard(self) -> None:
        if self._tmp is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)


@click.command("import")
@click.argument(
    "export", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help='Export format; auto looks at the first bytes: [ or {"data":...} is JSON, one '
    "object per line is JSON Lines, anything else CSV (lists as JSON text in a cell).",
)
@click.option("--send", is_flag=True, help="Send the events to Kafka (KAFKA_BOOTSTRAP_SERVERS).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the events as JSON Lines, replayable with `iocmon replay`; - for stdout.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per record not converted: row, field, reason (no values).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse the whole export if any record is rejected: exit 1, send and write nothing.",
)
@click.option(
    "--topic",
    default=None,
    help="Topic for --send (default: IOCMON_EVENTS_TOPIC, else dossier-events).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the closing report as JSON on stdout.")
def import_command(
    export: Path,
    fmt: FormatChoice,
    send: bool,
    out: Path | None,
    rejects: Path | None,
    strict: bool,
    topic: str | None,
    as_json: bool,
) -> None:
    """Turn EXPORT, a dossier export of the national public service portal's sync format
    (MaHoSo, MaTTHC, NgayTiepNhan, NgayHenTra, TrangThaiHoSo 1-10, ...), into contract events.

    Applicant fields (names, ID numbers, phones, addresses) are dropped. Event ids are
    deterministic, so importing the same export twice changes nothing. Without --send or
    --out the export is only checked. The mapping is in producers/importer/README.md.

    \b
    Example:
      iocmon import hoso.json --out events.jsonl --rejects rejects.jsonl
      iocmon import hoso.csv --send
    """
    if as_json and out is not None and str(out) == "-":
        raise click.UsageError("--json and --out - both write to stdout; choose one")
    now = datetime.now(UTC)
    try:
        source: Format = detect_format(export) if fmt == "auto" else fmt
        report, targets = _import(export, source, now, send, out, rejects, strict, topic)
    except IocmonError as exc:
        raise click.ClickException(str(exc)) from exc
    _summarise(report, source, targets, as_json)
    if report.rejected and (strict or report.converted == 0):
        sys.exit(1)


def _import(
    export: Path,
    source: Format,
    now: datetime,
    send: bool,
    out: Path | None,
    rejects_path: Path | None,
    strict: bool,
    topic: str | None,
) -> tuple[ImportReport, list[str]]:
    rejects = _Rejects(rejects_path)
    try:
        if strict and send:
            check = _convert(export, source, now, lambda k, v: None, rejects, "checking")
            if check.rejected:
                return check, ["nothing sent or written (--strict)"]
            rejects.close()
            rejects = _Rejects(None)  # the check pass has reported every record already
        return _convert_to_targets(export, source, now, send, out, rejects, strict, topic)
    finally:
        rejects.close()


def _convert_to_targets(
    export: Path,
    source: Format,
    now: datetime,
    send: bool,
    out: Path | None,
    rejects: _Rejects,
    strict: bool,
    topic: str | None,
) -> tuple[ImportReport, list[str]]:
    event_file = _EventFile(out) if out is not None else None
    targets: list[str] = []
    try:
        with ExitStack() as stack:
            emitters: list[Emit] = [event_file.write] if event_file is not None else []
            sender: Any = None
            if send:
                from iocmon.producers.sender import KafkaSender  # needs Kafka only when sending

                settings = Settings.from_env()
                topic = topic or settings.events_topic
                # On leaving the block normally, close() waits for every acknowledgement
                # and raises DeliveryError if any record was lost.
                sender = stack.enter_context(
                    KafkaSender(
                        settings.kafka_bootstrap_servers,
                        topic,
                        client_options=kafka_python_kwargs(settings),
                    )
                )
                emitters.append(sender.send)
                targets.append(f"sent to {topic!r} and acknowledged")

            def emit(key: bytes, value: bytes) -> None:
                for target in emitters:
                    target(key, value)

            try:
                report = _convert(export, source, now, emit, rejects, "importing", sender)
            except ExportError as exc:
                if send:
                    raise ExportError(
                        f"{exc} (events of the records before it may have been sent; event "
                        "ids are deterministic, so fix the export and import it again)"
                    ) from None
                raise
    except BaseException:
        if event_file is not None:
            event_file.discard()
        raise
    if event_file is not None:
        if strict and report.rejected:
            event_file.discard()
            targets.append(f"{out} not written (--strict)")
        else:
            event_file.commit()
            targets.append(f"written to {out}")
    return report, targets


def _convert(
    export: Path,
    source: Format,
    now: datetime,
    emit: Emit,
    reject: Callable[[Rejection], None],
    verb: str,
    sender: Any = None,
) -> ImportReport:
    size = export.stat().st_size
    counter = ByteCounter(export.open("rb"))
    meter = RateMeter()
    state: dict[str, ImportReport] = {}

    def render() -> str:
        report = state["report"]
        share = 100.0 * counter.bytes_read / size if size else 100.0
        line = (
            f"import: {verb} {min(share, 100.0):.0f}% of {size / 1e6:,.1f} MB, "
            f"{report.records:,} records, {report.converted:,} converted into "
            f"{report.events_total:,} events, {report.rejected:,} rejected, "
            f"{meter.rate(report.records):,.0f} records/s"
        )
        if sender is not None:
            line += f", {sender.acked:,} acknowledged"
        return line

    progress = Progress(render)

    def on_record(report: ImportReport) -> None:
        state["report"] = report
        progress.tick()

    return convert_records(read_export(export, source, counter), now, emit, reject, on_record)


def _summarise(report: ImportReport, source: Format, targets: list[str], as_json: bool) -> None:
    hidden = report.rejected - SHOWN_REJECTIONS
    if hidden > 0:
        click.echo(f"import: ... and {hidden:,} more rejected records (see --rejects)", err=True)
    by_type = ", ".join(f"{n:,} {t}" for t, n in sorted(report.events.items()))
    click.echo(
        f"import: {report.records:,} records ({source}), {report.converted:,} converted into "
        f"{report.events_total:,} events"
        + (f" ({by_type})" if by_type else "")
        + f", {report.rejected:,} rejected; "
        + ("; ".join(targets) or "checked only"),
        err=True,
    )
    for what, n in report.rejections.most_common(10):
        click.echo(f"import:   {n:,} x {what}", err=True)
    if as_json:
        click.echo(json.dumps({**report.to_json(), "format": source, "targets": targets}))
