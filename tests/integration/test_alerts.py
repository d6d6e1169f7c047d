"""Per-dossier alerts from real workers through the notifier into a real Alertmanager,
driven by a shifted worker clock.

Two workers share the partitions. Their clocks start just before midnight local on a
dossier's due date: the due-soon alert comes at once, the owner of the dossier's partition
is killed before midnight, and the overdue alert still arrives — from the other worker —
exactly once, in the alerts topic and in Alertmanager. Ending the dossier resolves it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from datetime import datetime, timedelta

import pytest
from kafka import KafkaProducer

from iocmon.domain.calendar import LOCAL_TZ
from tests.integration.harness import REPO, Pipeline, Worker, http_get, sum_samples, wait_for

pytestmark = pytest.mark.integration

DUE_DAY = datetime(2026, 3, 10, tzinfo=LOCAL_TZ)  # a Tuesday, a working day
START = DUE_DAY.replace(hour=23, minute=58, second=20)
"""The workers' clock at the test's start: 100 s for two workers and the notifier to start,
the due-soon alert to reach Alertmanager and the owner to be killed before midnight, which a
busy machine needed (55 s were too few once)."""


def send(pipeline: Pipeline, *events: dict) -> int:
    """Sends events in order; the partition of the last one (they share a dossier)."""
    producer = KafkaProducer(bootstrap_servers=pipeline.stack.kafka, acks="all")
    try:
        partition = -1
        for event in events:
            meta = producer.send(
                pipeline.events_topic,
                key=event["dossier_id"].encode(),
                value=json.dumps(event).encode(),
            ).get(timeout=30)
            partition = meta.partition
        return partition
    finally:
        producer.close()


def in_alertmanager(pipeline: Pipeline, dossier: str) -> list[str]:
    """Alert names active in Alertmanager for one dossier."""
    query = urllib.parse.quote(f'dossier_id="{dossier}"')
    status, body = http_get(f"{pipeline.stack.alertmanager_url}/api/v2/alerts?filter={query}")
    assert status == 200
    return sorted(
        a["labels"]["alertname"] for a in json.loads(body) if a["status"]["state"] == "active"
    )


def start_notifier(pipeline: Pipeline) -> subprocess.Popen[bytes]:
    env = pipeline.env(
        ALERTMANAGER_URL=pipeline.stack.alertmanager_url,
        IOCMON_NOTIFY_GROUP=f"{pipeline.name}-notify",
        IOCMON_NOTIFY_PORT="0",
        IOCMON_NOTIFY_RESEND_S="2",
    )
    log = (pipeline.stack.local_dir / "logs" / f"notify-{pipeline.name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "iocmon", "notify"], env=env, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def owns(worker: Worker, partition: int) -> bool:
    samples = worker.metrics(fresh=False)
    return ("iocmon_partition_lag_records", frozenset({("partition", str(partition))})) in samples


def test_due_soon_then_overdue_survive_the_owner_being_killed_and_end_clears(
    pipeline: Pipeline,
) -> None:
    offset_s = START.timestamp() - time.time()
    env = {"IOCMON_CLOCK_OFFSET_S": str(offset_s), "IOCMON_ALERT_CHECK_INTERVAL_S": "1"}
    dossier = f"000.00.31.H01-260310-{pipeline.name}"
    received = {
        "v": 1, "event_id": f"{dossier}-1", "dossier_id": dossier, "type": "received",
        "at": DUE_DAY.replace(hour=8).isoformat(), "agency": "STP", "procedure": "1.001234",
        "channel": "online", "level": "full", "due_at": DUE_DAY.replace(hour=17).isoformat(),
        "citizen_id": "079203001234",
    }  # fmt: skip
    partition = send(pipeline, received)
    first, second = pipeline.start_worker(**env), pipeline.start_worker(**env)
    notifier = start_notifier(pipeline)
    try:
        _due_soon_overdue_cleared(pipeline, dossier, partition, offset_s, first, second)
    finally:
        notifier.terminate()
        notifier.wait(timeout=30)


def _due_soon_overdue_cleared(
    pipeline: Pipeline, dossier: str, partition: int, offset_s: float, first: Worker, second: Worker
) -> None:
    wait_for(lambda: any(a["kind"] == "due_soon" for a in pipeline.alerts()), 60, "due_soon")
    wait_for(lambda: in_alertmanager(pipeline, dossier) == ["DossierDueSoon"], 60, "AM due soon")
    wait_for(lambda: owns(first, partition) or owns(second, partition), 60, "an owner")
    owner, survivor = (first, second) if owns(first, partition) else (second, first)
    shifted_now = datetime.now(LOCAL_TZ) + timedelta(seconds=offset_s)
    assert shifted_now < DUE_DAY + timedelta(days=1), "too slow: midnight passed before the kill"
    owner.kill9()

    wait_for(lambda: any(a["kind"] == "overdue" for a in pipeline.alerts()), 220, "overdue")
    # Overdue replaces due soon: one active alert per dossier, never two of a kind.
    wait_for(lambda: in_alertmanager(pipeline, dossier) == ["DossierOverdue"], 60, "AM overdue")
    assert owns(survivor, partition)
    assert (
        sum(sum_samples(survivor.metrics(fresh=False), "iocmon_alerts_emitted_total").values()) >= 1
    )

    received_due = DUE_DAY.replace(hour=17).isoformat()
    resolved = {"v": 1, "event_id": f"{dossier}-2", "dossier_id": dossier, "type": "resolved",
                "at": (DUE_DAY + timedelta(days=1, minutes=1)).isoformat()}  # fmt: skip
    send(pipeline, resolved)
    wait_for(lambda: any(a["kind"] == "cleared" for a in pipeline.alerts()), 60, "cleared")
    wait_for(lambda: in_alertmanager(pipeline, dossier) == [], 60, "the alert resolved in AM")

    time.sleep(3)  # a few more checks: nothing may be repeated
    seen = pipeline.alerts()
    kinds = sorted(a["kind"] for a in seen)
    assert kinds == ["cleared", "cleared", "due_soon", "overdue"]
    fired = {a["kind"]: a for a in seen if a["kind"] != "cleared"}
    assert fired["overdue"]["overdue_days"] == 1
    assert fired["overdue"]["due_at"] == received_due
    assert {a["clears"] for a in seen if a["kind"] == "cleared"} == {
        fired["due_soon"]["alert_id"],
        fired["overdue"]["alert_id"],
    }
    assert "079203001234" not in json.dumps(seen)
