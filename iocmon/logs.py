"""Logging for every command, set up in one place: one line a record, in one format.

`IOCMON_LOG_FORMAT=text` (the default) writes, for people,

    2026-12-07T22:03:38.430+07:00 ERROR iocmon.streams.quarantine [17381] partition 3: dossier H01.1
    set aside: … partition=3 dossier_id=H01.1

(on one line), and `IOCMON_LOG_FORMAT=json` one JSON object a line, for Loki or Elasticsearch:

    {"time": "2026-12-07T22:03:38.430+07:00", "level": "ERROR",
     "logger": "iocmon.streams.quarantine", "message": "…", "process": 17381,
     "partition": 3, "dossier_id": "H01.1"}

`time` is ISO 8601 with the machine's offset, `process` tells the worker's three processes
apart (Faust's, the applier's, the API's), and a traceback goes in `exception`. The partition,
offset and dossier id are given where a line has one, with `extra=fields(...)`; nothing else
of a record's `extra` is written, so whatever a caller attaches (an event, applicant data a
source sent) cannot reach the log through it. Everything goes to stderr, so that a command's
output on stdout (a report, `--json`) stays clean.

The `iocmon` command configures it before any subcommand runs (`configure`); the worker hands
the same configuration to Faust, which sets up logging itself (`dict_config`), and to its
helper processes (`iocmon.streams.child_process`); `python -m iocmon.notifier` calls
`configure` too.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import datetime
from types import TracebackType
from typing import Any, TextIO

from iocmon.config import LOG_FORMATS, Settings

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
"""An exception as `sys.exc_info()` gives it inside an `except`."""
FIELDS = ("partition", "offset", "dossier_id")
"""The context a line may carry besides its message (as `extra=fields(...)`)."""


def fields(
    *, partition: int | None = None, offset: int | None = None, dossier_id: str | None = None
) -> dict[str, Any]:
    """`extra=` for a log call about a partition, an offset or a dossier; keyword-only, so a
    misspelt field is an error rather than a line without it."""
    values = {"partition": partition, "offset": offset, "dossier_id": dossier_id}
    return {k: v for k, v in values.items() if v is not None}


def context_of(record: logging.LogRecord) -> dict[str, Any]:
    """The FIELDS a record carries, in their order."""
    out = {}
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            out[name] = value
    return out


def _exception(record: logging.LogRecord) -> ExcInfo | None:
    """The record's exception, if it has one. exc_info=True outside an `except` gives
    (None, None, None): no traceback to write (mode logs a crash that way)."""
    info = record.exc_info
    if not info or info[0] is None:
        return None
    return info


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [pid] message field=value…`, then the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name} [{record.process}] "
        line += record.getMessage()
        context = context_of(record)
        if context:
            line += " " + " ".join(f"{k}={v}" for k, v in context.items())
        exception = _exception(record)
        if exception is not None:
            line += "\n" + self.formatException(exception)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, process, the record's FIELDS,
    and `exception` / `stack` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            **context_of(record),
        }
        exception = _exception(record)
        if exception is not None:
            doc["exception"] = self.formatException(exception)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def dict_config(
    level: str = "info", fmt: str = "text", stream: TextIO | None = None
) -> dict[str, Any]:
    """The `logging.config.dictConfig` configuration: one handler on the root logger, to
    `stream` (default stderr) in format `fmt`. Loggers made at import (every module's `log`)
    keep working."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"iocmon": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "iocmon": {
                "class": "logging.StreamHandler",
                "formatter": "iocmon",
                "stream": stream if stream is not None else "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["iocmon"]},
    }


def configure(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Logs of this process from now on: `fmt` at `level`, to `stream` (default stderr);
    Python's warnings too."""
    logging.config.dictConfig(dict_config(level, fmt, stream))
    logging.captureWarnings(True)


def configure_from(settings: Settings, stream: TextIO | None = None) -> None:
    """`configure` with IOCMON_LOG_LEVEL and IOCMON_LOG_FORMAT."""
    configure(settings.log_level, settings.log_format, stream)


def configure_from_env() -> None:
    """For the `iocmon` command before its subcommand runs. Settings that do not parse leave
    the defaults: the subcommand reads them again and says what is wrong."""
    from iocmon.errors import ConfigError

    try:
        settings = Settings.from_env()
    except ConfigError:
        configure()
    else:
        configure_from(settings)


__all__ = [
    "FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "configure_from",
    "configure_from_env",
    "context_of",
    "dict_config",
    "fields",
]
