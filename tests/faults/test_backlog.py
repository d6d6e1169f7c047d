"""A backlog built while the worker is down: once started it catches up, and counts it right.

An operations center's worker can be down for hours (a failed deploy, a weekend) while the
one-stop desks keep sending. The events topic keeps everything, so the worker must work the
backlog off from its last applied offset, bring the consumer lag back to zero and end on the
exact figures. Measured (reported, not asserted): produce rate, catch-up rate, time to lag 0.

1,000,000 events by default; IOCMON_FAULT_BACKLOG_EVENTS sets another size (a worker that
applies ~800 records/s needs ~20 min for the full one).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, TopicPartition

from tests.faults.figures import report
from tests.faults.progress import Progress, wait_timed
from tests.integration.harness import Pipeline
from tests.integration.truth import assert_figures_exact
from tests.integration.workload import (
    accounted_records,
    count_records,
    finish,
    simulate,
    start_replay,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.faults_full]

EVENTS = int(os.environ.get("IOCMON_FAULT_BACKLOG_EVENTS", "1000000"))
LAG_LOG_EVERY_S = 30.0


def test_backlog_produced_while_the_worker_is_down_is_caught_up(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    source, expected = simulate(pipeline, tmp_path, seed=91, events=EVENTS)
    sent = count_records(source)

    started = time.monotonic()
    finish(start_replay(pipeline, source), timeout_s=3600)
    produce_s = time.monotonic() - started
    print(f"{sent} records produced in {produce_s:.0f}s with no worker running")

    with Progress(pipeline) as progress:
        assert progress.lag() == sent
        started = time.monotonic()
        worker = pipeline.start_worker()
        up_s = time.monotonic() - started
        last_log = [started]

        def caught_up() -> bool:
            lag = progress.lag()
            if time.monotonic() - last_log[0] >= LAG_LOG_EVERY_S:
                last_log[0] = time.monotonic()
                print(f"  lag {lag} after {last_log[0] - started:.0f}s")
            return lag == 0

        applied_s = wait_timed(caught_up, started, 4 * 3600, "the backlog to be applied")
        committed_s = wait_timed(
            lambda: committed_lag(pipeline) == 0, started, 300, "the group's committed lag to be 0"
        )

    assert_figures_exact([worker], expected)
    applied, rejected, duplicates = accounted_records([worker])
    assert applied + rejected + duplicates == sent
    report(
        f"backlog of {sent} records, worker down while produced",
        produce_rate_per_s=round(sent / produce_s),
        worker_up_s=round(up_s, 1),
        catch_up_rate_per_s=round(sent / applied_s),
        time_to_lag_0_s=round(applied_s, 1),
        time_to_committed_lag_0_s=round(committed_s, 1),
        applied_rejected_duplicates=f"{applied}+{rejected}+{duplicates}={sent}",
        figures="exact",
    )


def committed_lag(pipeline: Pipeline) -> int:
    """The consumer group's lag as Kafka sees it (end offsets minus committed offsets)."""
    admin = KafkaAdminClient(bootstrap_servers=pipeline.stack.kafka)
    try:
        committed = admin.list_group_offsets(pipeline.name)[pipeline.name]
    finally:
        admin.close()
    ends = pipeline.end_offsets()
    return sum(
        end - committed[TopicPartition(pipeline.events_topic, p)].offset
        if TopicPartition(pipeline.events_topic, p) in committed
        else end
        for p, end in ends.items()
    )
