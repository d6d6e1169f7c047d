"""`iocmon backtest` reading the events topic (issue #18 item 5) against a real Kafka.

A simulated history is replayed into a pipeline's topic (12 partitions, so records come
back interleaved, not in time order); the backtest from the topic must give exactly the
figures of the backtest from the file: every record read to the end offsets, nothing
twice, sorted by `at` again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.harness import Pipeline


def backtest_json(pipeline: Pipeline, *args: str) -> dict[str, Any]:
    done = pipeline.iocmon("backtest", "--json", "--agency", "VPDKDD", *args)
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_the_topic_gives_the_figures_of_the_file_it_was_filled_from(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    pipeline.iocmon(
        "simulate", "--no-send", "--seed", "8", "--now", "2024-09-27T17:00:00+07:00",
        "--backfill-days", "90", "--dossiers-per-day", "80", "--late-rate", "0.03",
        "--slow-agency-late-rate", "0.2", "--duration", "0", "--rate", "0",
        "--events-out", str(events),
    )  # fmt: skip
    pipeline.iocmon("replay", str(events))

    from_file = backtest_json(pipeline, str(events))
    from_topic = backtest_json(pipeline)
    assert from_topic.pop("source") == f"topic {pipeline.events_topic!r} at {pipeline.stack.kafka}"
    assert from_file.pop("source") == str(events)
    assert from_topic == from_file
    assert from_file["province"]["late"] > 50 and from_file["refused"] > 0


def test_a_topic_that_does_not_exist_is_exit_code_1_naming_it(pipeline: Pipeline) -> None:
    done = pipeline.iocmon("backtest", "--topic", f"{pipeline.name}-nope", check=False)
    assert done.returncode == 1, done.stderr
    assert f"no topic '{pipeline.name}-nope'" in done.stderr
    assert "--topic or IOCMON_EVENTS_TOPIC" in done.stderr
