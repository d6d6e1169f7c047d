"""A catch-up pages nobody about history: per-dossier alerts wait until the worker is
caught up (`IOCMON_ALERT_MAX_EVENT_AGE_S`), also when Redis lost its keys mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import Pipeline, read_jsonl, wait_for
from tests.integration.test_rebuild import _delete_all_keys
from tests.integration.workload import applied_records, simulate

pytestmark = pytest.mark.integration


@pytest.mark.partitions(3)
def test_a_backlog_and_a_recovery_from_lost_keys_alert_only_dossiers_open_at_the_end(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    events, _expected = simulate(pipeline, tmp_path, seed=31, events=6000)
    pipeline.iocmon("replay", str(events))  # a backlog of 30 days of history
    worker = pipeline.start_worker(IOCMON_ALERT_CHECK_INTERVAL_S="1")
    wait_for(lambda: applied_records(pipeline) >= 1500, 120, "1,500 records applied")
    assert _delete_all_keys(pipeline) > 0  # Redis lost everything: the worker reads it all again
    pipeline.wait_caught_up()
    wait_for(lambda: len(pipeline.alerts()) > 0, 60, "the open dossiers' alerts")

    rows = read_jsonl(tmp_path / "truth.jsonl")
    truth = {row["dossier_id"]: row for row in rows if row.get("kind") == "dossier"}
    alerts = pipeline.alerts()
    assert not [a for a in alerts if a["kind"] == "cleared"], "a dossier was alerted mid-replay"
    ended = [a["dossier_id"] for a in alerts if truth[a["dossier_id"]]["outcome"] is not None]
    assert not ended, f"{len(ended)} alerts for dossiers that had ended: {ended[:5]}"
    assert worker.process is not None and worker.process.poll() is None
