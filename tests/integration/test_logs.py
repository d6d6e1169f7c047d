"""A real `iocmon worker` with IOCMON_LOG_FORMAT=json: every line its three processes write is
one JSON object with time, level, logger and message, a dossier set aside carries its
partition and dossier id, and the applicant data the events carry appears nowhere."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from iocmon.redis_connection import sync_redis
from iocmon.streams.keys import PartitionKeys
from tests.integration.harness import Pipeline, Stack

pytestmark = pytest.mark.integration

APPLICANT = "Nguyễn Thị Bình"
CITIZEN_ID = "079123456789"


def event(dossier: str, seq: int, kind: str, at: str, **fields: object) -> dict[str, object]:
    return {"v": 1, "event_id": f"{dossier}-{seq}", "dossier_id": dossier, "type": kind,
            "at": f"{at}+07:00", "applicant_name": APPLICANT, "citizen_id": CITIZEN_ID,
            **fields}  # fmt: skip


def received(dossier: str) -> dict[str, object]:
    return event(dossier, 1, "received", "2024-03-04T08:00:00", agency="LX", procedure="1.001",
                 channel="online", level="full", due_at="2024-03-08T17:00:00+07:00")  # fmt: skip


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the log as JSON; fails naming the first line that is not."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise AssertionError(f"{path}:{number} is not JSON: {line[:200]!r}") from None
        assert isinstance(doc, dict), f"{path}:{number}: {line[:200]!r}"
        out.append(doc)
    return out


def test_a_worker_logging_json_writes_one_object_a_line(stack: Stack) -> None:
    pipeline = Pipeline(stack, partitions=3)
    pipeline.create_topics()
    pipeline.send(received("A"), received("B"))
    first = pipeline.start_worker(IOCMON_LOG_FORMAT="json")
    pipeline.wait_caught_up()
    first.stop()

    # A state this version cannot read: the next worker sets the dossier aside and says so.
    client = sync_redis(pipeline.settings())
    try:
        keys = [PartitionKeys(pipeline.name, pipeline.events_topic, p).dossier("A")
                for p in range(pipeline.partitions)]  # fmt: skip
        (key,) = [k for k in keys if client.exists(k)]
        partition = keys.index(key)
        client.set(key, b'["a format from elsewhere"]')
    finally:
        client.close()
    second = pipeline.start_worker(IOCMON_LOG_FORMAT="json")
    pipeline.send(event("A", 2, "resolved", "2024-03-06T10:00:00"))
    pipeline.wait_caught_up()
    second.stop()

    lines = json_lines(first.log_path) + json_lines(second.log_path)
    assert len(lines) > 20
    for doc in lines:
        assert {"time", "level", "logger", "message", "process"} <= set(doc), doc
        assert datetime.fromisoformat(doc["time"]).tzinfo is not None, doc
        assert doc["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, doc
    loggers = {d["logger"] for d in lines}
    assert {"iocmon.streams.preflight", "iocmon.streams.child_process"} <= loggers
    assert any(name.startswith(("faust", "mode")) for name in loggers), loggers

    # written by the applier process, not Faust's
    (aside,) = [d for d in lines if d["logger"] == "iocmon.streams.quarantine"]
    faust = {d["process"] for d in lines if d["logger"].startswith("faust.")}
    assert aside["process"] not in faust
    assert aside["level"] == "ERROR"
    assert (aside["partition"], aside["dossier_id"]) == (partition, "A")
    assert "set aside" in aside["message"]

    text = first.log_path.read_text(encoding="utf-8") + second.log_path.read_text("utf-8")
    assert APPLICANT not in text and CITIZEN_ID not in text
