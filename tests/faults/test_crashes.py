"""Workers killed with SIGKILL again and again mid-stream: the figures still equal the truth.

A kill -9 leaves no chance to commit offsets or finish a Redis write, so Kafka redelivers
whatever the dead worker had not committed; the per-partition CAS on the last applied offset
must skip what was already applied. Each kill is followed at once by a replacement worker (as a
supervisor would start one), and the test measures how long processing stalls:

    recovery = from the kill until every partition of the events topic has applied records
               past its applied offset at the kill (unless no record came after it).

The dead worker's partitions stay silent until the group coordinator gives them to a survivor
or to the replacement (the session timeout, 10 s in the tests, bounds it), so this is the time
an operator sees some agencies' figures frozen. Times are reported, never asserted.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from iocmon.redis_connection import sync_redis
from tests.faults.figures import report
from tests.faults.progress import Progress, spread
from tests.integration.harness import Pipeline, Worker, sum_samples, wait_for
from tests.integration.notifying import Alertmanager, Notifier, Webhook, active_alerts, firing
from tests.integration.truth import (
    Expected,
    assert_dead_letters_as_designed,
    assert_figures_exact,
    expected_from_truth,
)
from tests.integration.workload import (
    accounted_records,
    count_records,
    dead_letter_sources,
    finish,
    start_simulator,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]
LOCAL = timezone(timedelta(hours=7))
ALERT_CHECKS = {"IOCMON_ALERT_CHECK_INTERVAL_S": "2"}
"""Every 2 s rather than 10: the alert checks keep pace with the test's waits."""
ALERT_NAMES = {"due_soon": "DossierDueSoon", "overdue": "DossierOverdue"}
"""Alertmanager's alertname for each alert kind (and open state) that fires."""
AT_RISK_NAME = "DossierAtRisk"
"""The forecast's alert (issue #18): which dossiers it flags, the truth cannot say."""


def test_3_kills_of_2_workers_during_15k_events(
    pipeline: Pipeline, tmp_path: Path, own_alertmanager: Alertmanager, webhook: Webhook
) -> None:
    """The CI version: three kills, two workers, a 60 s stream."""
    live, expected = run_kills(
        pipeline, tmp_path, events=15_000, rate=250, kills=3, workers=2, seed=71
    )
    again = kill_between_sending_and_recording_alerts(pipeline, live)
    deliver_alerts(pipeline, expected, again, kills=4, alertmanager=own_alertmanager,
                   webhook=webhook)  # fmt: skip


@pytest.mark.faults_full
def test_10_kills_of_3_workers_during_100k_events(
    pipeline: Pipeline, tmp_path: Path, own_alertmanager: Alertmanager, webhook: Webhook
) -> None:
    events = int(os.environ.get("IOCMON_FAULT_CRASH_EVENTS", "100000"))
    live, expected = run_kills(
        pipeline, tmp_path, events=events, rate=300, kills=10, workers=3, seed=72
    )
    again = kill_between_sending_and_recording_alerts(pipeline, live)
    deliver_alerts(pipeline, expected, again, kills=11, alertmanager=own_alertmanager,
                   webhook=webhook)  # fmt: skip


def run_kills(
    pipeline: Pipeline,
    tmp_path: Path,
    *,
    events: int,
    rate: float,
    kills: int,
    workers: int,
    seed: int,
) -> tuple[list[Worker], Expected]:
    """`events` records sent live at `rate`/s (slower than the workers apply, so every
    partition keeps receiving records and a dead owner shows as a stalled partition); the
    workers alive at the end and the figures the truth expects."""
    rng = random.Random()
    rng_seed = rng.randrange(1 << 30)
    rng.seed(rng_seed)
    # Kill points spread over 10-85 % of the stream, so every kill finds the stream running.
    step = 0.75 / kills
    targets = [int(events * (0.10 + step * (i + rng.random()))) for i in range(kills)]
    print(f"{events} records at {rate}/s, kills at {targets} applied (rng seed {rng_seed})")

    live: list[Worker] = [pipeline.start_worker(**ALERT_CHECKS) for _ in range(workers)]
    source, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    producer = start_simulator(pipeline, source, truth, events=events, rate=rate, seed=seed)
    recoveries: list[float] = []
    restarts: list[float] = []
    with (
        Progress(pipeline) as progress,
        ThreadPoolExecutor(max_workers=1) as pool,
        stopped_at_exit(producer),
    ):
        for n, target in enumerate(targets, 1):
            pipeline.wait_group_settled(live)
            wait_for(
                lambda t=target: progress.applied_records() >= t, 900, f"{target} records applied"
            )
            victim = rng.choice(live)
            victim.kill9()
            killed_at = time.monotonic()
            at_kill = progress.applied()
            live.remove(victim)
            replacement: Future[tuple[Worker, float]] = pool.submit(start_timed, pipeline)
            recovered_s = progress.wait_all_moving(at_kill, killed_at, timeout_s=300)
            worker, answered_at = replacement.result(timeout=300)
            restart_s = answered_at - killed_at
            live.append(worker)
            recoveries.append(recovered_s)
            restarts.append(restart_s)
            print(
                f"kill {n}/{kills} at {progress.applied_records()} applied: "
                f"recovered in {recovered_s:.1f}s"
            )
        finish(producer, timeout_s=1800)
        pipeline.wait_caught_up(timeout_s=1800)
    sent = count_records(source)
    expected = expected_from_truth(truth, source)

    assert_figures_exact(live, expected)
    applied, rejected, duplicates = accounted_records(live)
    assert applied + rejected + duplicates == sent  # nothing lost, nothing counted twice
    assert len(dead_letter_sources(pipeline)) == rejected
    assert_dead_letters_as_designed(pipeline, expected, replayed=False)
    skipped = sum(
        sum(sum_samples(w.metrics(fresh=False), "iocmon_records_skipped_total").values())
        for w in live
    )
    report(
        f"kill -9 x{kills}, {workers} workers, {sent} records live at {rate:g}/s",
        recovery_s=spread(recoveries),
        replacement_up_s=spread(restarts),
        figures="exact",
        applied_rejected_duplicates=f"{applied}+{rejected}+{duplicates}={sent}",
        redelivered_skipped_by_last_workers=skipped,
    )
    return live, expected


def kill_between_sending_and_recording_alerts(pipeline: Pipeline, live: list[Worker]) -> set[str]:
    """The kill the README's "may be produced again with the same alert_id" is about. A few
    dossiers already overdue are received and alerted; then, while Redis refuses writes
    (CLIENT PAUSE WRITE), they are resolved: the workers send the `cleared` alerts ahead of
    the batch, cannot apply it, and are all killed. Their replacement applies the batch and
    sends the same alerts again. Returns their ids."""
    due = (datetime.now(LOCAL) - timedelta(days=3)).replace(hour=17, minute=0, second=0)
    dossiers = sorted(f"{pipeline.name}-R{n}" for n in range(6))

    def event(dossier: str, kind: str, at: datetime, **fields: str) -> dict[str, object]:
        return {"v": 1, "event_id": f"{dossier}-{kind}", "dossier_id": dossier, "type": kind,
                "at": at.replace(microsecond=0).isoformat(), **fields}  # fmt: skip

    def alerts(kind: str) -> Counter[str]:
        return Counter(
            a["alert_id"]
            for a in pipeline.alerts()
            if a["dossier_id"] in dossiers and a["kind"] == kind
        )

    pipeline.send(
        *(
            event(d, "received", due - timedelta(days=2), agency="LX", procedure="1.001",
                  channel="online", level="full", due_at=due.replace(microsecond=0).isoformat())
            for d in dossiers
        )
    )  # fmt: skip
    wait_for(lambda: len(alerts("overdue")) == len(dossiers), 60, "the overdue alerts")
    redis = sync_redis(pipeline.settings())
    try:
        redis.execute_command("CLIENT", "PAUSE", "120000", "WRITE")
        pipeline.send(*(event(d, "resolved", datetime.now(LOCAL)) for d in dossiers))
        wait_for(lambda: len(alerts("cleared")) == len(dossiers), 60, "the cleared alerts")
        for worker in live:
            worker.kill9()
    finally:
        redis.execute_command("CLIENT", "UNPAUSE")
        redis.close()
    live[:] = [pipeline.start_worker(**ALERT_CHECKS)]
    wait_for(
        lambda: alerts("cleared").total() == 2 * len(dossiers),
        300,  # as long as a recovery may take: start, the dead members' session, the backlog
        "the replacement to send them again",
    )
    return set(alerts("cleared"))


def deliver_alerts(
    pipeline: Pipeline,
    expected: Expected,
    sent_twice: set[str],
    *,
    kills: int,
    alertmanager: Alertmanager,
    webhook: Webhook,
) -> None:
    """Alerts exactly once under kill -9 (README, Alerts): an alert produced just before a
    crash may be produced again, with the same `alert_id`; the notifier delivers every id, a
    receiver that deduplicates by `Idempotency-Key` takes each once, and Alertmanager holds
    one alert per dossier, the one its latest alert says (none once the dossier ended)."""
    alertmanager.start()
    webhook.start()
    notifier = Notifier(
        pipeline.stack,
        f"{pipeline.name}-alerts",
        f"{pipeline.name}-notify",
        alertmanager.url,
        webhook.url,
    )
    # Thousands of alerts are active: resent every 30 s, not every second (no expiry here).
    notifier.env["IOCMON_NOTIFY_RESEND_S"] = "30"
    notifier.start()
    try:
        held = TruthAlerts(expected, alertmanager.url)
        try:
            wait_for(
                held.as_the_truth_says, 120, "Alertmanager to hold the alerts the truth implies"
            )
        except AssertionError as failed:
            raise AssertionError(f"{failed}; {held.difference()}") from None
        assert any(name == "DossierOverdue" for name, _ in held.wanted)

        def delivered() -> bool:
            return webhook.received() == Counter(a["alert_id"] for a in pipeline.alerts())

        wait_for(delivered, 120, "the notifier to deliver every alert record once")
        records = pipeline.alerts()
        repeated = assert_repeats_keep_their_id(records, kills)
        assert sent_twice <= set(repeated)
        # What the webhook got under one key is one alert (a receiver keeps the first).
        bodies: dict[str, set[str]] = defaultdict(set)
        for key, body in zip(webhook.keys, webhook.bodies, strict=True):
            bodies[key].add(json.dumps(_said(body), sort_keys=True))
        assert all(len(b) == 1 for b in bodies.values())
        wanted = latest_firing(records)
        wait_for(lambda: firing(alertmanager.url) == wanted, 60, "the latest alerts to fire")
        dossiers = [a["labels"]["dossier_id"] for a in active_alerts(alertmanager.url)]
        assert len(dossiers) == len(set(dossiers)), "a dossier has two active alerts"
    finally:
        notifier.close()
    report(
        f"alerts after kill -9 x{kills}",
        records=len(records),
        alert_ids=len({a["alert_id"] for a in records}),
        ids_sent_again=len(repeated),
        firing=len(dossiers),
        webhook="each record once",
    )


class TruthAlerts:
    """What Alertmanager should hold by the truth: every open dossier never paused nor
    rescheduled (its alert clock is then its judging clock) has the alert of its state now
    if due soon or overdue, and no dossier that ended has one. At-risk alerts are left out:
    the forecast is not the truth's (`latest_firing` checks them against the records)."""

    def __init__(self, expected: Expected, alertmanager_url: str) -> None:
        self._expected = expected
        self._url = alertmanager_url
        self._eligible = [
            d
            for d in expected.dossiers
            if d.outcome is None and not d.pauses and d.dossier_id not in expected.rescheduled
        ]
        self._watched = {d.dossier_id for d in self._eligible} | {
            d.dossier_id for d in expected.dossiers if d.outcome is not None
        }
        self.wanted: set[tuple[str, str]] = set()
        self.shown: set[tuple[str, str]] = set()

    def as_the_truth_says(self) -> bool:
        now = datetime.now(UTC)
        self.wanted = {
            (ALERT_NAMES[state], d.dossier_id)
            for d in self._eligible
            if (state := d.state_at(now, self._expected.calendar)) in ALERT_NAMES
        }
        self.shown = {
            (name, d)
            for name, d in firing(self._url)
            if d in self._watched and name != AT_RISK_NAME
        }
        return self.shown == self.wanted

    def difference(self) -> str:
        """What the last look found against the truth, for a failure message."""
        missing, extra = sorted(self.wanted - self.shown), sorted(self.shown - self.wanted)
        return f"missing {missing[:10]} ({len(missing)}), not wanted {extra[:10]} ({len(extra)})"


def assert_repeats_keep_their_id(records: list[dict[str, Any]], kills: int) -> dict[str, int]:
    """A repeated alert has its first copy's id and says the same (but when it was emitted
    and the days overdue then); each kill repeats an alert at most once; and one appointment
    of one dossier has one id per kind. Returns the ids sent more than once."""
    copies: dict[str, set[str]] = defaultdict(set)
    ids: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for a in records:
        copies[a["alert_id"]].add(json.dumps(_said(a), sort_keys=True))
        ids[(a["dossier_id"], a["kind"], a["due_at"], a.get("clears", ""))].add(a["alert_id"])
    differ = {i: c for i, c in copies.items() if len(c) > 1}
    assert not differ, f"repeats that say something else: {list(differ.items())[:3]}"
    several = {key: i for key, i in ids.items() if len(i) > 1}
    assert not several, f"one appointment's alert under several ids: {list(several.items())[:3]}"
    repeated = {i: n for i, n in Counter(a["alert_id"] for a in records).items() if n > 1}
    assert max(repeated.values(), default=1) <= 1 + kills, repeated
    return repeated


def _said(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert record but when it was emitted and the days overdue then."""
    return {k: v for k, v in alert.items() if k not in ("emitted_at", "overdue_days")}


def latest_firing(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(alertname, dossier) of the dossiers whose latest alert, repeats of earlier ones
    left out, fires (a `cleared` resolves; a newer alert replaces the one before)."""
    seen: set[str] = set()
    latest: dict[str, str] = {}
    for a in records:
        if a["alert_id"] not in seen:
            seen.add(a["alert_id"])
            latest[a["dossier_id"]] = a["kind"]
    names = {**ALERT_NAMES, "at_risk": AT_RISK_NAME}
    return {(names[kind], d) for d, kind in latest.items() if kind in names}


@contextmanager
def stopped_at_exit(process: subprocess.Popen[str]) -> Iterator[None]:
    """The producer does not outlive a failed test."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def start_timed(pipeline: Pipeline) -> tuple[Worker, float]:
    """A replacement worker, and when (monotonic) it answered on its web port."""
    worker = pipeline.start_worker(**ALERT_CHECKS)
    return worker, time.monotonic()
