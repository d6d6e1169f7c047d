"""Intake rate: the worker against a no-op Faust agent and a bare aiokafka consumer, one run.

Simulates N records once, replays them into one topic, then lets each consumer read that
same topic from offset 0 in a consumer group of its own, one after another (never two at
once), each in a process of its own started from nothing:

    bare aiokafka   AIOKafkaConsumer.getmany, each value decoded with orjson;
    no-op Faust     the worker's Faust app and topic (`streams.faust_app`), the worker's
                    batching (`take_events(IOCMON_BATCH_SIZE, within=IOCMON_BATCH_WINDOW_S)`),
                    each value decoded with orjson, batches acked;
    worker          `iocmon worker` with the deployed settings, a fresh Redis prefix and group.

Each is timed from its process start until it has everything: the reference consumers say
so themselves (`benchmarks.intake_consumers`), the worker when its applied offsets in Redis
reach the end offsets (`wait_caught_up`). Its progress is sampled meanwhile from its group's
committed offsets (kafka-python admin `list_group_offsets`, every 0.5 s) for its rate over
the first and the last fifth of the backlog (the first from its first commit); Faust commits
every 2.8 s, so with small --events those two are rough.

Prints one row per consumer: seconds and records/s from process start, records/s from the
first record read (the worker: from its first commit), the process's CPU seconds (all
threads, start included) and records per CPU second, CPU microseconds per record after the
first record (the reference consumers), the rates over the first and the last fifth and
their ratio, and the rate against the no-op agent's; then the ratios worker / no-op and
the worker's last fifth / first fifth. On a shared machine the CPU figures move less than
the wall-clock ones.

`--variants` also runs the no-op agent with the Faust settings of `VARIANTS`, after the
default, `--rounds` times in turn on the same topic, and prints the medians against the
default's (docs/faust-cost.md). `--reuse NAME` reads the topic of an earlier run's pipeline
instead of simulating again.

Runs on the integration tests' stack (`IOCMON_TEST_PORT_OFFSET` picks one of one's own):

    .venv/bin/python -m benchmarks.intake_rate --events 1000000
    .venv/bin/python -m benchmarks.intake_rate --events 100000 --no-worker --no-bare \\
        --variants no-monitor,cython,settings --rounds 4
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kafka.admin import KafkaAdminClient

from benchmarks.common import code_version
from iocmon.config import Settings
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.simulate import DEFAULT_DOSSIERS_PER_DAY
from iocmon.redis_connection import SyncRedis, sync_redis
from tests.integration.harness import REPO, Pipeline, Stack, free_port, start_stack

STEP_TIMEOUT_S = 3 * 3600
SETTINGS = '{"cython_optimizations": true, "broker_max_poll_records": 2000}'
# Extra arguments of `benchmarks.intake_consumers noop` for each variant tried
# (docs/faust-cost.md). The no-op agent runs as the worker does (uvloop, LeanMonitor);
# `asyncio` and `faust-monitor` put back Faust's defaults, to see what they cost.
VARIANTS: dict[str, list[str]] = {
    "no-monitor": ["--no-monitor"],
    "faust-monitor": ["--faust-monitor"],
    "asyncio": ["--asyncio"],
    "faust-defaults": ["--asyncio", "--faust-monitor"],
    "cython": ["--conf", '{"cython_optimizations": true}'],
    "poll-2000": ["--conf", '{"broker_max_poll_records": 2000}'],
    "poll-500": ["--conf", '{"broker_max_poll_records": 500}'],
    "fetch-4m": ["--conf", '{"consumer_max_fetch_size": 4194304}'],
    "buffer-32k": ["--conf", '{"stream_buffer_maxsize": 32768}'],
    "buffer-1k": ["--conf", '{"stream_buffer_maxsize": 1024}'],
    "take-2000": ["--take", "2000"],
    "within-1s": ["--within", "1.0"],
    "commit-every-50k": ["--conf", '{"broker_commit_every": 50000}'],
    "settings": ["--conf", SETTINGS],
}


@dataclass
class OnTopicOf(Pipeline):
    """A pipeline of its own (consumer group, Redis prefix) reading another one's topics."""

    source: str = ""

    @property
    def events_topic(self) -> str:
        return f"{self.source}-events"

    @property
    def dlq_topic(self) -> str:
        return f"{self.source}-dlq"


@dataclass
class Run:
    """One consumer's read of the whole topic, timed from its process start."""

    name: str
    total: int
    seconds: float = 0.0
    cpu: float | None = None  # the process's CPU seconds, start to end, all threads
    children_cpu: float = 0.0  # its child processes' (the worker's applier process)
    # (records, seconds since start, process CPU seconds then or None)
    marks: list[tuple[float, float, float | None]] = field(default_factory=list)

    def rate(self) -> float:
        return self.total / self.seconds

    def _mark(self, records: float) -> tuple[float, float, float | None]:
        return min(self.marks, key=lambda m: abs(m[0] - records))

    def between(self, low: float, high: float) -> float | None:
        """Records per second between the marks nearest `low` and `high` records."""
        if len(self.marks) < 2:
            return None
        a, b = self._mark(low), self._mark(high)
        return (b[0] - a[0]) / (b[1] - a[1]) if b[1] > a[1] else None

    def steady(self) -> float | None:
        """Records per second from the first mark (first record read) to the end."""
        return self.between(0, self.total)

    def cpu_per_record(self) -> float | None:
        """CPU microseconds per record from the first record read to the end."""
        if len(self.marks) < 2:
            return None
        (n0, _, c0), (n1, _, c1) = self.marks[0], self.marks[-1]
        if c0 is None or c1 is None:
            return None
        return (c1 - c0) / (n1 - n0) * 1e6

    def fifths(self) -> tuple[float | None, float | None]:
        return self.between(0, self.total / 5), self.between(self.total * 4 / 5, self.total)


def prepare(stack: Stack, events: int) -> Pipeline:
    """A fresh pipeline whose events topic holds `events` simulated records."""
    pipeline = Pipeline(stack)
    pipeline.create_topics()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        # As benchmarks.rebuild_rate: a 30-day back-fill gives ~75 records per
        # dossier-a-day; --max-events cuts at the asked size.
        per_day = str(max(DEFAULT_DOSSIERS_PER_DAY, events / 75))
        pipeline.iocmon(
            "simulate", "--seed", "1", "--backfill-days", "30", "--dossiers-per-day", per_day,
            "--max-events", str(events), "--duration", "0", "--rate", "0",
            "--events-out", str(path), "--no-send",
            timeout_s=STEP_TIMEOUT_S,
        )  # fmt: skip
        pipeline.iocmon("replay", str(path), timeout_s=STEP_TIMEOUT_S)
    return pipeline


def run_consumer(pipeline: Pipeline, name: str, kind: str, extra: list[str]) -> Run:
    """Start `benchmarks.intake_consumers KIND` and timestamp the lines it prints."""
    total = sum(pipeline.end_offsets().values())
    group = f"{pipeline.name}-{name.replace(' ', '-')}-{time.monotonic_ns()}"
    log = pipeline.stack.local_dir / "logs" / f"{group}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = pipeline.env(IOCMON_WEB_PORT=str(free_port()))
    command = [sys.executable, "-m", "benchmarks.intake_consumers", kind]
    start = time.monotonic()
    with log.open("wb") as err:
        process = subprocess.Popen(
            [*command, "--group", group, "--total", str(total), *extra],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    watchdog = threading.Timer(STEP_TIMEOUT_S, process.kill)
    watchdog.start()
    run = Run(name, total)
    assert process.stdout is not None
    for line in process.stdout:
        word, count, cpu = line.split()
        run.marks.append((int(count), time.monotonic() - start, float(cpu)))
        if word == "done":
            run.seconds = run.marks[-1][1]
            break
    watchdog.cancel()
    _, status, usage = os.wait4(process.pid, 0)  # it exits right after `done`
    process.returncode = os.waitstatus_to_exitcode(status)
    run.cpu = usage.ru_utime + usage.ru_stime
    if not run.seconds:
        raise RuntimeError(f"{name} stopped before reading {total:,} records; see {log}")
    return run


def run_worker(source: Pipeline, name: str, **env: str) -> tuple[Run, float]:
    """`iocmon worker` from a standing start, progress from its committed offsets; with
    the CPU seconds Redis spent meanwhile."""
    pipeline = OnTopicOf(source.stack, source=source.name)
    total = sum(pipeline.end_offsets().values())
    admin = KafkaAdminClient(**kafka_python_kwargs(pipeline.settings()))
    redis = sync_redis(pipeline.settings())
    samples: list[tuple[float, float]] = []  # (committed records, seconds since start)
    stop = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop.wait(0.5):
            with contextlib.suppress(Exception):  # the group does not exist yet
                count = committed(admin, pipeline.name, pipeline.events_topic)
                samples.append((count, time.monotonic() - start))
            if samples and samples[-1][0] >= total:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deployed = Settings()
    redis_cpu = -redis_cpu_seconds(redis)
    run = Run(name, total)
    try:
        worker = pipeline.start_worker(
            IOCMON_ALERTS_TOPIC=f"{source.name}-alerts",
            IOCMON_METRICS_REFRESH_S=str(deployed.metrics_refresh_s),
            IOCMON_SESSION_TIMEOUT_S=str(deployed.session_timeout_s),
            **env,
        )
        pipeline.wait_caught_up(timeout_s=STEP_TIMEOUT_S)
        run.seconds = time.monotonic() - start
        assert worker.process is not None
        run.cpu = process_cpu_seconds(worker.process.pid)
        run.children_cpu = sum(map(process_cpu_seconds, child_pids(worker.process.pid)))
        redis_cpu += redis_cpu_seconds(redis)
        sampler.join(timeout=60)  # until the last commit shows every record
    finally:
        stop.set()
        pipeline.stop()
        admin.close()
        redis.close()
    run.marks = crossings(samples, total)
    return run, redis_cpu


def committed(admin: KafkaAdminClient, group: str, topic: str) -> int:
    # types-kafka-python leaves list_group_offsets unannotated.
    offsets = admin.list_group_offsets({group: None}).get(group, {})  # type: ignore[no-untyped-call]
    return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def child_pids(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def redis_cpu_seconds(redis: SyncRedis) -> float:
    info = redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def crossings(
    samples: list[tuple[float, float]], total: int
) -> list[tuple[float, float, float | None]]:
    """When the committed count first showed something, and crossed each fifth
    (interpolated linearly between the samples either side)."""
    moving: list[tuple[float, float, float | None]] = [(c, t, None) for c, t in samples if c > 0]
    marks: list[tuple[float, float, float | None]] = moving[:1]
    for goal in (total * i / 5 for i in range(1, 6)):
        for (c0, t0), (c1, t1) in itertools.pairwise(samples):
            if c0 < goal <= c1:
                marks.append((goal, t0 + (t1 - t0) * (goal - c0) / (c1 - c0), None))
                break
    return marks


HEADER = (
    f"{'consumer':<18} {'seconds':>8} {'records/s':>10} {'from 1st':>10} {'CPU s':>7}"
    f" {'rec/CPU s':>10} {'CPU us/rec':>10} {'1st fifth/s':>11} {'last fifth/s':>12}"
    f" {'last/1st':>8} {'vs no-op':>8}"
)


def show(run: Run, against: float | None = None) -> None:
    first, last = run.fifths()

    def num(value: float | None, width: int, form: str = ",.0f") -> str:
        return f"{'-' if value is None else format(value, form):>{width}}"

    print(
        f"{run.name:<18} {run.seconds:8.1f} {num(run.rate(), 10)} {num(run.steady(), 10)}"
        f" {num(run.cpu, 7, '.1f')} {num(run.cpu and run.total / run.cpu, 10)}"
        f" {num(run.cpu_per_record(), 10, '.1f')} {num(first, 11)} {num(last, 12)}"
        f" {num(first and last and last / first, 8, '.2f')}"
        f" {num(against and run.rate() / against, 8, '.2f')}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reuse", help="a pipeline name whose topic is already filled")
    parser.add_argument("--variants", default="", help=f"of: {', '.join(VARIANTS)}")
    parser.add_argument("--rounds", type=int, default=1, help="times to run the no-op agents")
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--no-bare", action="store_true")
    args = parser.parse_args()
    stack = start_stack()
    pipeline = Pipeline(stack, name=args.reuse) if args.reuse else prepare(stack, args.events)
    total = sum(pipeline.end_offsets().values())
    print(f"topic {pipeline.events_topic}: {total:,} records in {pipeline.partitions} partitions")
    print(HEADER, flush=True)
    runs: dict[str, list[Run]] = {}
    if not args.no_bare:
        runs["bare aiokafka"] = [run_consumer(pipeline, "bare aiokafka", "bare", [])]
        show(runs["bare aiokafka"][0])
    names = ["no-op Faust", *filter(None, args.variants.split(","))]
    for _ in range(args.rounds):
        for name in names:
            extra = [] if name == "no-op Faust" else VARIANTS[name]
            run = run_consumer(pipeline, name, "noop", extra)
            runs.setdefault(name, []).append(run)
            show(run, runs["no-op Faust"][-1].rate())
    noop = statistics.median(r.rate() for r in runs["no-op Faust"])
    if not args.no_worker:
        print(f"worker {code_version()}", flush=True)  # the worker core may be in flux
        worker, redis_cpu = run_worker(pipeline, "worker")
        runs["worker"] = [worker]
        show(worker, noop)
        print(
            f"(the worker's applier process: {worker.children_cpu:.1f} s of CPU;"
            f" redis-server meanwhile: {redis_cpu:.1f} s)"
        )
    if len(names) > 1:
        print("median of each: records/s from process start, CPU us per record after the first;")
        print("ratios to the default no-op agent's medians (CPU: its us / this one's)")
        base_cpu = statistics.median(r.cpu_per_record() or 0 for r in runs["no-op Faust"])
        for name in names:
            rate = statistics.median(r.rate() for r in runs[name])
            cpu = statistics.median(r.cpu_per_record() or 0 for r in runs[name])
            print(
                f"  {name:<18} {rate:>8,.0f}/s {rate / noop:5.2f}x"
                f"  {cpu:6.1f} us {base_cpu / cpu:5.2f}x"
            )
    if "worker" in runs:
        first, last = worker.fifths()
        print(f"worker / no-op Faust: {worker.rate() / noop:.2f} (target >= 0.70)")
        if first and last:
            print(f"worker last fifth / first fifth: {last / first:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
