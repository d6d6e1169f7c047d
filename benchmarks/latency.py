"""Latency at a sustained event rate: produce -> applied, from the worker and from outside.

Starts a worker (deployed settings) on a fresh pipeline of the integration tests' stack
(`IOCMON_TEST_PORT_OFFSET` picks one of one's own), then runs `iocmon simulate` into its topic
at `--rate` records/s for a warm-up plus `--duration` seconds. The simulator sends its
back-fill (`--backfill-days` of `--dossiers-per-day`, enough records to last the run) paced at
`--rate`: its live phase cannot sustain thousands of records/s, because it plans each day's
arrivals in advance and they fall in office hours. During the steady window an outside probe
produces, every `--probe-interval-s`, a `received` event of a fresh dossier and polls
`GET /api/v1/dossiers/{id}` until it answers 200 (produce -> visible in the API). The
worker's histogram `iocmon_event_age_seconds` is read at the start and end of the window and
diffed.

    .venv/bin/python -m benchmarks.latency --rate 2000 --duration 300

Prints the achieved rate (records the topic gained in the window), the worker's lag at the
window's end, probe samples and p50/p95/p99/max, the histogram's p99 (linear interpolation
inside its bucket, as PromQL's histogram_quantile; the bucket's bounds are printed), and
PASS/FAIL of each p99 against `--target-ms`.

`--hammer N` adds a second window as long as the first, side by side in the same run, in
which N threads ask the worker's heaviest API endpoints back to back (`benchmarks.api_hammer`):
whether heavy reads delay intake (issue #14), e.g.

    .venv/bin/python -m benchmarks.latency --rate 2000 --duration 120 --hammer 8 --target-ms 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaProducer

from benchmarks.api_hammer import Hammer, heavy_paths
from benchmarks.common import code_version
from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.profile import default_profile
from tests.integration.harness import REPO, Pipeline, Worker, http_get, start_stack, wait_for

HISTOGRAM = "iocmon_event_age_seconds"
Buckets = dict[float, float]  # upper bound -> cumulative count
POLL_PAUSE_S = 0.025  # between sweeps of the pending probes: ~40 GETs/s on the worker


@dataclass
class Probe:
    """Produces fresh dossiers and times each until the worker's API shows it."""

    pipeline: Pipeline
    worker: Worker
    interval_s: float
    timeout_s: float
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    latencies: list[float] = field(default_factory=list)
    timed_out: int = 0
    _pending: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _producing: threading.Event = field(default_factory=threading.Event)

    def produce_until(self, deadline: float) -> None:
        profile = default_profile(load_catalogue(None), 1)
        agency = profile.agencies[0]
        producer = KafkaProducer(
            **kafka_python_kwargs(self.pipeline.settings()), acks="all", linger_ms=0
        )
        poller = threading.Thread(target=self._poll, daemon=True)
        self._producing.set()
        poller.start()
        try:
            i = 0
            while time.monotonic() < deadline:
                i += 1
                dossier_id = f"PROBE-{self.run}-{i:05d}"
                event = {
                    "v": 1,
                    "event_id": f"{dossier_id}-1",
                    "dossier_id": dossier_id,
                    "type": "received",
                    "at": datetime.now(LOCAL_TZ).isoformat(timespec="milliseconds"),
                    "agency": agency.code,
                    "procedure": agency.procedures[0].code,
                    "channel": "counter",
                    "level": "none",
                    "processing_days": 5,
                }
                sent = time.monotonic()
                with self._lock:
                    self._pending[dossier_id] = sent
                producer.send(
                    self.pipeline.events_topic,
                    key=dossier_id.encode(),
                    value=json.dumps(event).encode(),
                )
                time.sleep(max(0.0, self.interval_s - (time.monotonic() - sent)))
            producer.flush()
        finally:
            producer.close()
            self._producing.clear()
        poller.join()

    def _poll(self) -> None:
        """Sweeps the pending dossiers, oldest first, until none is left after producing."""
        while self._producing.is_set() or self._pending:
            with self._lock:
                pending = sorted(self._pending.items(), key=lambda item: item[1])
            for dossier_id, sent in pending:
                quoted = urllib.parse.quote(dossier_id, safe="")
                try:
                    status, _ = http_get(f"{self.worker.url}/api/v1/dossiers/{quoted}", timeout=30)
                except OSError:
                    status = 0
                now = time.monotonic()
                if status == 200 or now - sent > self.timeout_s:
                    with self._lock:
                        del self._pending[dossier_id]
                    if status == 200:
                        self.latencies.append(now - sent)
                    else:
                        self.timed_out += 1
            time.sleep(POLL_PAUSE_S)


def histogram(worker: Worker) -> tuple[Buckets, float]:
    """Cumulative bucket counts and the sum (seconds) of the worker's event-age histogram."""
    samples = worker.metrics(fresh=False)
    buckets = {
        float(dict(labels)["le"]): value
        for (name, labels), value in samples.items()
        if name == f"{HISTOGRAM}_bucket"
    }
    return buckets, samples.get((f"{HISTOGRAM}_sum", frozenset()), 0.0)


def quantile(q: float, buckets: Buckets) -> tuple[float, float, float]:
    """(estimate, lower bound, upper bound) of quantile q, as PromQL's histogram_quantile."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    rank, lower, below = q * total, 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if upper == float("inf"):
                return lower, lower, upper
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (upper - lower) * share, lower, upper
        lower, below = upper, count
    return lower, lower, float("inf")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def topic_records(pipeline: Pipeline) -> int:
    return sum(pipeline.end_offsets().values())


def lag(pipeline: Pipeline) -> int:
    ends, applied = pipeline.end_offsets(), pipeline.applied_offsets()
    return sum(end - (applied[p] + 1) for p, end in ends.items())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Window:
    """One measured stretch of the run: the histogram's diff and the probe's samples."""

    name: str
    buckets: Buckets
    seconds_sum: float
    records: int
    elapsed: float
    end_lag: int
    probe: Probe
    hammer: Hammer | None


def measure(
    name: str,
    pipeline: Pipeline,
    worker: Worker,
    args: argparse.Namespace,
    hammer: Hammer | None,
) -> Window:
    start_hist, start_sum = histogram(worker)
    start_records, start = topic_records(pipeline), time.monotonic()
    deadline = start + args.duration
    probe = Probe(pipeline, worker, args.probe_interval_s, args.probe_timeout_s)
    probe_thread = threading.Thread(target=probe.produce_until, args=(deadline,), daemon=True)
    probe_thread.start()
    if hammer is not None:
        hammer.start(deadline)
    while time.monotonic() < deadline:
        time.sleep(0.5)
    end_hist, end_sum = histogram(worker)
    records, elapsed = topic_records(pipeline) - start_records, time.monotonic() - start
    end_lag = lag(pipeline)
    probe_thread.join()
    if hammer is not None:
        hammer.join()
    window = {le: end_hist[le] - start_hist.get(le, 0.0) for le in end_hist}
    return Window(name, window, end_sum - start_sum, records, elapsed, end_lag, probe, hammer)


def report(w: Window, args: argparse.Namespace) -> None:
    print(f"== {w.name} window: {w.elapsed:.1f}s; topic gained {w.records:,} records = "
          f"{w.records / w.elapsed:,.0f} records/s (probe's {1 / args.probe_interval_s:g}/s "
          f"included); worker lag at its end: {w.end_lag:,} records")  # fmt: skip
    if w.hammer is not None:
        answered = w.hammer.seconds
        print(f"api client: {args.hammer} threads on {len(w.hammer.paths)} heavy endpoints, "
              f"{len(answered):,} requests ({len(answered) / w.elapsed:,.1f}/s), statuses "
              f"{dict(sorted(w.hammer.statuses.items()))}; answer p50 "
              f"{1000 * percentile(answered, 0.5):.0f} ms, p99 "
              f"{1000 * percentile(answered, 0.99):.0f} ms")  # fmt: skip
    target = args.target_ms / 1000
    lat, probe = w.probe.latencies, w.probe
    probe_ok = bool(lat) and not probe.timed_out and percentile(lat, 0.99) < target
    if lat:
        ms = {q: 1000 * percentile(lat, q) for q in (0.5, 0.95, 0.99)}
        print(f"probe (produce -> GET /api/v1/dossiers/ID answers 200): {len(lat)} samples, "
              f"{probe.timed_out} not visible within {args.probe_timeout_s:g}s; "
              f"p50 {ms[0.5]:.0f} ms, p95 {ms[0.95]:.0f} ms, p99 {ms[0.99]:.0f} ms, "
              f"max {1000 * max(lat):.0f} ms")  # fmt: skip
    else:
        print(f"probe: no sample ({probe.timed_out} not visible within {args.probe_timeout_s:g}s)")
    print(f"probe p99 < {args.target_ms:g} ms: {verdict(probe_ok)}")
    window, total = w.buckets, w.buckets[float("inf")]
    if not total:
        print("worker histogram: no record in the window")
        return
    p99, lower, upper = quantile(0.99, window)
    at_target = window.get(target)
    print(f"worker histogram {HISTOGRAM} (Kafka timestamp -> batch applied): "
          f"{total:,.0f} records in the window, mean {w.seconds_sum / total:,.3f} s;"
          f" p99 ~ {1000 * p99:,.0f} ms "
          f"(interpolated in bucket ({lower:g}s, {upper:g}s])")  # fmt: skip
    if upper == float("inf"):
        print(f"  p99 is beyond the last finite bound ({lower:g}s): the histogram cannot "
              "bound it; a mean of that size is no pipeline latency")  # fmt: skip
    if at_target is not None:
        share = at_target / total
        print(f"  share <= {target:g}s: {100 * share:.3f} % -> histogram p99 <= "
              f"{args.target_ms:g} ms: {verdict(share >= 0.99)}")  # fmt: skip
    else:
        print(f"  no bucket bound at {target:g}s: the histogram cannot decide the target")
    print("  window buckets (le: count): "
          + ", ".join(f"{le:g}: {n:,.0f}" for le, n in sorted(window.items())))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000.0,
                        help="simulator records/s; 0: no simulator (the probe alone)")  # fmt: skip
    parser.add_argument("--duration", type=float, default=300.0, help="steady window, s")
    parser.add_argument("--warmup", type=float, default=20.0, help="s before the window")
    parser.add_argument("--backfill-days", type=float, default=7.0)
    parser.add_argument("--dossiers-per-day", type=float, default=None,
                        help="default: enough back-fill for the whole run (~17 records a week "
                        "per dossier-a-day)")  # fmt: skip
    parser.add_argument("--probe-interval-s", type=float, default=0.2)
    parser.add_argument("--probe-timeout-s", type=float, default=120.0)
    parser.add_argument("--target-ms", type=float, default=500.0)
    parser.add_argument("--hammer", type=int, default=0,
                        help="after the window, a second one as long with this many threads "
                        "asking the heaviest API endpoints (benchmarks.api_hammer)")  # fmt: skip
    args = parser.parse_args()
    windows = 2 if args.hammer else 1
    running_s = args.warmup + windows * args.duration
    per_day = args.dossiers_per_day or 1 + 1.5 * args.rate * running_s / (
        17 * args.backfill_days / 7
    )

    print(code_version(), flush=True)
    stack = start_stack()
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    sim_log = stack.local_dir / "logs" / f"simulate-{pipeline.name}.log"
    simulator: subprocess.Popen[bytes] | None = None
    measured: list[Window] = []
    try:
        worker = pipeline.start_worker(IOCMON_METRICS_REFRESH_S=str(Settings().metrics_refresh_s))
        wait_for(
            lambda: (
                worker.metrics(fresh=False).get(("iocmon_assigned_partitions", frozenset()))
                == pipeline.partitions
            ),
            90,
            "the worker to own every partition",
        )
        with sim_log.open("wb") as log:
            simulator = None if not args.rate else subprocess.Popen(
                [sys.executable, "-m", "iocmon", "simulate", "--seed", "1",
                 "--backfill-days", str(args.backfill_days),
                 "--dossiers-per-day", f"{per_day:.0f}", "--rate", str(args.rate),
                 "--duration", str(running_s + 5)],
                env=pipeline.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        time.sleep(args.warmup)
        measured.append(measure("quiet", pipeline, worker, args, None))
        if args.hammer:
            agency = default_profile(load_catalogue(None), 1).agencies[0].code
            paths = heavy_paths(agency, datetime.now(LOCAL_TZ).year)
            hammer = Hammer(worker.url, paths, args.hammer)
            measured.append(measure("hammered", pipeline, worker, args, hammer))
        if simulator is not None:
            simulator.wait(timeout=120)
    finally:
        if simulator is not None and simulator.poll() is None:
            simulator.terminate()
        pipeline.stop()

    sim_summary = [line for line in sim_log.read_text().splitlines() if "records to" in line]
    print(f"simulator: --rate {args.rate:g} --backfill-days {args.backfill_days:g} "
          f"--dossiers-per-day {per_day:.0f}")  # fmt: skip
    print(sim_summary[-1] if sim_summary else f"simulator summary missing: see {sim_log}")
    for window in measured:
        report(window, args)
    print(f"worker log: {pipeline.workers[0].log_path}; simulator log: {sim_log}")


if __name__ == "__main__":
    main()
