"""Midnight: thousands of dossiers turn overdue at once while the intake goes on.

A province's dossiers fall due at the end of working days, so at local midnight many turn
overdue together; their alerts must reach on-call staff quickly without stalling the intake
(issue #14: all of 10,000 within 60 s, intake held back less than 1 s).

On a fresh pipeline of the integration tests' stack (`IOCMON_TEST_PORT_OFFSET` picks one of
one's own) the worker runs with its clock shifted (`IOCMON_CLOCK_OFFSET_S`) so that a local
midnight M comes a few minutes into the run. `--dossiers` dossiers are received three days
before M, each due at the last second before M (so overdue from M); their `due_soon` alerts
are let out first. Meanwhile a producer keeps `--rate` fresh `received` events a second
flowing, stamped with the worker's clock. Printed side by side: the intake's event age
(`iocmon_event_age_seconds`, diffed) over a quiet window before M and over the window from M
until every overdue alert is out, and how long after M the last overdue alert was emitted.

    .venv/bin/python -m benchmarks.midnight_alerts --dossiers 10000
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer

from benchmarks.common import code_version
from benchmarks.latency import Buckets, histogram, quantile
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.kafka_connection import kafka_python_kwargs
from tests.integration.harness import Pipeline, start_stack, wait_for

SETUP_S = 150.0
"""Real seconds from the worker's start to M: time to receive the dossiers and let their
`due_soon` alerts out, then the quiet window."""
QUIET_S = 20.0


def received(dossier_id: str, at: datetime, due_at: datetime | None = None) -> bytes:
    event = {
        "v": 1, "event_id": f"{dossier_id}-1", "dossier_id": dossier_id, "type": "received",
        "at": at.isoformat(), "agency": "000.00.01.H01", "procedure": "1.001",
        "channel": "counter", "level": "none",
        **({"due_at": due_at.isoformat()} if due_at else {"processing_days": 15}),
    }  # fmt: skip
    return json.dumps(event).encode()


class Trickle:
    """Fresh dossiers at a steady rate, stamped with the worker's clock."""

    def __init__(self, pipeline: Pipeline, rate: float, offset_s: float) -> None:
        self._pipeline = pipeline
        self._rate = rate
        self._offset = timedelta(seconds=offset_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        producer = KafkaProducer(**kafka_python_kwargs(self._pipeline.settings()), linger_ms=5)
        i = 0
        started = time.monotonic()
        while not self._stop.is_set():
            i += 1
            dossier_id = f"TRICKLE-{i:07d}"
            now = datetime.now(LOCAL_TZ) + self._offset
            producer.send(self._pipeline.events_topic, key=dossier_id.encode(),
                          value=received(dossier_id, now))  # fmt: skip
            time.sleep(max(0.0, started + i / self._rate - time.monotonic()))
        producer.flush()
        producer.close()


def overdue_alerts(pipeline: Pipeline, midnight: datetime) -> dict[str, datetime]:
    """Alert id -> emitted_at of the overdue alerts due at `midnight` sent so far."""
    consumer = KafkaConsumer(
        f"{pipeline.name}-alerts",
        **kafka_python_kwargs(pipeline.settings()),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    due = (midnight - timedelta(seconds=1)).isoformat()
    found: dict[str, datetime] = {}
    try:
        for message in consumer:
            alert = json.loads(message.value)
            if alert["kind"] == "overdue" and alert["due_at"] == due:
                found.setdefault(alert["alert_id"], datetime.fromisoformat(alert["emitted_at"]))
    finally:
        consumer.close()
    return found


def describe(name: str, buckets: Buckets, seconds: float) -> str:
    total = buckets[float("inf")]
    if not total:
        return f"{name}: no record applied"
    p99, lower, upper = quantile(0.99, buckets)
    slowest = min((le for le, n in buckets.items() if n == total), default=float("inf"))
    return (
        f"{name}: {total:,.0f} records applied in {seconds:.0f}s, event age p99 ~ "
        f"{1000 * p99:,.0f} ms (bucket ({lower:g}s, {upper:g}s]), all within {slowest:g}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="fresh events a second")
    parser.add_argument("--limit-s", type=float, default=600.0, help="give up after")
    args = parser.parse_args()

    print(code_version(), flush=True)
    stack = start_stack()
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    real_start = datetime.now(LOCAL_TZ)
    midnight = datetime.combine(
        real_start.date() + timedelta(days=30), datetime.min.time(), tzinfo=LOCAL_TZ
    )
    offset_s = (midnight - real_start).total_seconds() - SETUP_S
    started = time.monotonic()
    worker = pipeline.start_worker(
        IOCMON_CLOCK_OFFSET_S=f"{offset_s:.3f}", IOCMON_ALERT_CHECK_INTERVAL_S="1"
    )
    trickle = Trickle(pipeline, args.rate, offset_s)
    try:
        producer = KafkaProducer(**kafka_python_kwargs(pipeline.settings()), linger_ms=20)
        at, due = midnight - timedelta(days=3), midnight - timedelta(seconds=1)
        for i in range(args.dossiers):
            dossier_id = f"MIDNIGHT-{i:06d}"
            producer.send(pipeline.events_topic, key=dossier_id.encode(),
                          value=received(dossier_id, at, due))  # fmt: skip
        producer.flush()
        producer.close()
        trickle.start()
        pipeline.wait_caught_up()
        took = time.monotonic() - started
        print(f"{args.dossiers:,} dossiers received, due {due.isoformat()}; {took:.0f}s after "
              "the worker's start", flush=True)  # fmt: skip
        quiet_from = started + SETUP_S - QUIET_S - 2
        if time.monotonic() > quiet_from:
            raise SystemExit(f"setting up took longer than {SETUP_S - QUIET_S:.0f}s: raise SETUP_S")
        time.sleep(quiet_from - time.monotonic())
        before, _ = histogram(worker)
        time.sleep(QUIET_S)
        quiet_end, _ = histogram(worker)
        time.sleep(max(0.0, started + SETUP_S - time.monotonic()))
        at_midnight, _ = histogram(worker)
        midnight_real = time.monotonic()
        sent: dict[str, datetime] = {}

        wanted: int = args.dossiers

        def all_sent() -> bool:
            sent.update(overdue_alerts(pipeline, midnight))
            return len(sent) >= wanted

        wait_for(all_sent, args.limit_s, f"{args.dossiers:,} overdue alerts")
        after, _ = histogram(worker)
        window_s = time.monotonic() - midnight_real
    finally:
        trickle.stop()
        pipeline.stop()

    quiet = {le: n - before.get(le, 0.0) for le, n in quiet_end.items()}
    busy = {le: n - at_midnight.get(le, 0.0) for le, n in after.items()}
    last = max(sent.values())
    print(f"overdue alerts: {len(sent):,} of {args.dossiers:,}; first emitted "
          f"{(min(sent.values()) - midnight).total_seconds():.1f}s after midnight, last "
          f"{(last - midnight).total_seconds():.1f}s after (target: within 60 s)")  # fmt: skip
    print(describe("intake, quiet window before midnight", quiet, QUIET_S))
    print(describe("intake, from midnight until every alert was out", busy, window_s))


if __name__ == "__main__":
    main()
