"""Logs in one format for every command (iocmon.logs): the text line and the JSON object, the
partition / offset / dossier a line carries, nothing else of a record's `extra`, and the entry
points that set it up."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from iocmon import logs

REPO = Path(__file__).resolve().parents[2]
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[(?P<process>\d+)\] (?P<message>.*)$"
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`configure` replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(fmt: str, *args: object, **kwargs: object) -> str:
    """What one record logged at `fmt` writes."""
    out = io.StringIO()
    logger = logging.getLogger("iocmon.test")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logs.TextFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(*args, **kwargs)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return out.getvalue()


def test_a_text_line_has_time_level_logger_process_message_and_fields() -> None:
    line = emit("text", "dossier %s set aside", "H01.1",
                extra=logs.fields(partition=3, offset=17, dossier_id="H01.1"))  # fmt: skip
    assert line.endswith("\n") and line.count("\n") == 1
    match = TEXT_LINE.match(line.rstrip("\n"))
    assert match, line
    assert (match["level"], match["logger"], int(match["process"])) == (
        "WARNING", "iocmon.test", os.getpid()
    )  # fmt: skip
    assert match["message"] == "dossier H01.1 set aside partition=3 offset=17 dossier_id=H01.1"
    stamp = line.split(" ", 1)[0]
    assert datetime.fromisoformat(stamp).tzinfo is not None


def test_a_json_line_is_one_object_with_the_fields_it_has() -> None:
    line = emit("json", "dossier %s set aside", "H01.1",
                extra=logs.fields(partition=3, dossier_id="H01.1"))  # fmt: skip
    assert line.count("\n") == 1
    doc = json.loads(line)
    assert set(doc) == {"time", "level", "logger", "message", "process", "partition",
                        "dossier_id"}  # fmt: skip
    assert doc["level"] == "WARNING" and doc["logger"] == "iocmon.test"
    assert doc["message"] == "dossier H01.1 set aside"
    assert (doc["partition"], doc["dossier_id"], doc["process"]) == (3, "H01.1", os.getpid())
    assert datetime.fromisoformat(doc["time"]).tzinfo is not None
    assert "partition" not in json.loads(emit("json", "no context"))


def test_a_traceback_and_a_multi_line_message_stay_on_one_json_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        line = emit("json", "first\nsecond", exc_info=True)
    assert line.count("\n") == 1
    doc = json.loads(line)
    assert doc["message"] == "first\nsecond"
    assert doc["exception"].startswith("Traceback") and "ValueError: bad" in doc["exception"]
    assert "exception" not in json.loads(emit("json", "crashed", exc_info=(None, None, None)))


def test_nothing_else_of_a_records_extra_is_written() -> None:
    """An event or the applicant data a source sent, attached by mistake, stays out."""
    applicant = {"applicant_name": "Nguyễn Văn A", "citizen_id": "079123456789"}
    for fmt in ("text", "json"):
        line = emit(fmt, "received", extra={**applicant, **logs.fields(partition=1)})
        assert "Nguyễn" not in line and "079123456789" not in line, line
        assert "partition" in line


def test_fields_are_keyword_only_and_named() -> None:
    assert logs.fields() == {}
    assert logs.fields(partition=0, offset=0) == {"partition": 0, "offset": 0}
    with pytest.raises(TypeError):
        logs.fields(applicant="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        logs.fields(3)  # type: ignore[misc]


def test_configure_sends_every_logger_and_warnings_to_one_handler(
    restore_logging: None,
) -> None:
    early = logging.getLogger("iocmon.made.before")  # as every module's `log` at import
    out = io.StringIO()
    logs.configure("warning", "json", out)
    early.warning("kept")
    early.info("below the level")
    logging.getLogger("faust.worker").error("from a library")
    import warnings

    warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(d["logger"], d["level"]) for d in docs] == [
        ("iocmon.made.before", "WARNING"), ("faust.worker", "ERROR"), ("py.warnings", "WARNING")
    ]  # fmt: skip
    assert len(logging.getLogger().handlers) == 1


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'xml' is not one of text, json"):
        logs.dict_config("info", "xml")


def run_entry(module: str, fmt: str) -> str:
    """stderr of `python -c` running an entry point's main with --help, then logging a line."""
    code = (
        "import logging, sys\n"
        f"from {module} import main\n"
        "sys.argv = ['x', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "logging.getLogger('after.main').warning('hello', extra={'partition': 5})\n"
    )
    env = {**os.environ, "IOCMON_LOG_FORMAT": fmt, "IOCMON_LOG_LEVEL": "info"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return result.stderr


@pytest.mark.parametrize("module", ["iocmon.cli", "iocmon.notifier.cli"])
def test_the_entry_points_log_in_the_configured_format(module: str) -> None:
    """`iocmon …` (worker, console, rebuild, import, notify, …) and `python -m iocmon.notifier`."""
    (line,) = run_entry(module, "json").splitlines()
    doc = json.loads(line)
    assert (doc["logger"], doc["message"], doc["partition"]) == ("after.main", "hello", 5)
    (line,) = run_entry(module, "text").splitlines()
    match = TEXT_LINE.match(line)
    assert match and match["message"] == "hello partition=5", line


def test_no_command_sets_up_logging_on_its_own() -> None:
    """basicConfig anywhere else would give that command a format of its own (the worker and
    the notifier had two). The applier's call is a no-op: its process is set up first by
    streams.child_process."""
    allowed = {"streams/applier_process.py"}
    found = []
    for package in ("iocmon", "streams", "notifier", "producers"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "basicConfig(" in text or "logging.Formatter(" in text:
                found.append(str(path.resolve().relative_to(REPO)))
    assert set(found) <= allowed, found
