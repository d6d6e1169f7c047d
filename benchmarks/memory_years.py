"""Memory over simulated years: Redis and worker RSS per quarter, and every year's figures exact.

Simulates `--years` calendar years of the An Giang profile (2,900 dossiers a working day
times `--fraction`) ending at `--end` into files (`iocmon simulate --now END --no-send`),
splits the records by simulated quarter (of the running maximum of their `at`: repeats and
bad records travel with the records around them), then, on a fresh pipeline of the
integration tests' stack (`IOCMON_TEST_PORT_OFFSET` picks one of one's own), replays one
quarter after the other into a worker whose clock is shifted to `--end`
(`IOCMON_CLOCK_OFFSET_S`; the contract refuses events more than a day ahead of it) and,
once it has applied everything, prints Redis `used_memory` and `used_memory_dataset` (after
`MEMORY PURGE`, and above what Redis held before the run), its key count and the worker's RSS
(its processes together).
At the end it compares each year's `GET /api/v1/summary?period=YYYY` with the simulator's
truth (dossiers by the year of their terminal event) and the open dossiers with those still
open, and says whether used_memory stayed within +-10 % of its mean after the first 400 days.

    .venv/bin/python -m benchmarks.memory_years --years 3 [--fraction 0.5] [--keep-files DIR]

The default fraction, 0.5, makes about 4.9 million records for three years: about 5 min to
simulate and 27 min of worker time at 3,000 records/s. `--keep-files DIR` keeps the simulated
files there and reuses them when the same years, fraction, end and seed are asked again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from benchmarks.common import code_version
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.producers.simulate import DEFAULT_DOSSIERS_PER_DAY
from iocmon.redis_connection import sync_redis
from tests.integration.harness import REPO, Pipeline, Worker, read_jsonl, start_stack
from tests.integration.truth import OUTCOMES, expected_from_truth

HORIZON_DAYS = 400
STEP_TIMEOUT_S = 4 * 3600


@dataclass(frozen=True)
class Quarter:
    name: str  # 2024-Q3
    end: datetime
    path: Path
    records: int


@dataclass(frozen=True)
class Row:
    quarter: str
    days: int  # from the start of the simulation to the quarter's end
    records: int
    used: int
    dataset: int
    keys: int
    rss_kib: int
    rate: float


def simulate(args: argparse.Namespace, start: datetime, end: datetime, files: Path) -> None:
    events, truth, params_file = (
        files / "events.jsonl",
        files / "truth.jsonl",
        files / "params.json",
    )
    params = {"years": args.years, "fraction": args.fraction, "end": args.end, "seed": args.seed}
    if params_file.exists() and json.loads(params_file.read_text()) == params and truth.exists():
        print(f"simulated files reused from {files}", flush=True)
        return
    params_file.unlink(missing_ok=True)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "iocmon", "simulate", "--seed", str(args.seed), "--now", args.end,
         "--backfill-days", str((end - start).days),
         "--dossiers-per-day", str(DEFAULT_DOSSIERS_PER_DAY * args.fraction),
         "--rate", "0", "--duration", "0", "--no-send",
         "--events-out", str(events), "--truth-out", str(truth)],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
    )  # fmt: skip
    print(f"simulated in {time.monotonic() - began:.0f}s: {done.stderr.strip().splitlines()[-1]}")
    params_file.write_text(json.dumps(params))


def split_by_quarter(events: Path, start: datetime, end: datetime) -> list[Quarter]:
    """One file a simulated quarter, in order; each record goes with the running maximum of
    the `at`s (inside the simulated span) read so far."""
    out: dict[str, list[bytes]] = {}
    clock, behind = start, 0
    for line in events.read_bytes().splitlines():
        try:
            at = datetime.fromisoformat(json.loads(line)["at"])
            if start <= at <= end:
                behind += at < clock
                clock = max(clock, at)
        except (ValueError, KeyError, TypeError):
            pass  # a bad record: it goes where the stream is
        local = clock.astimezone(LOCAL_TZ)
        out.setdefault(f"{local.year}-Q{(local.month - 1) // 3 + 1}", []).append(line)
    print(f"records behind the running maximum of `at` (repeats): {behind:,}")
    quarters = []
    for name, lines in out.items():
        year, q = int(name[:4]), int(name[-1])
        ends = (
            datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)
            if q == 4
            else datetime(year, 3 * q + 1, 1, tzinfo=LOCAL_TZ)
        )
        path = events.with_name(f"q-{name}.jsonl")
        path.write_bytes(b"\n".join(lines) + b"\n")
        quarters.append(Quarter(name, min(ends, end), path, len(lines)))
    return quarters


def redis_memory(pipeline: Pipeline) -> tuple[int, int, int]:
    """(used_memory, used_memory_dataset, keys) of the whole Redis, after MEMORY PURGE."""
    client = sync_redis(pipeline.settings())
    try:
        client.memory_purge()
        info = client.info("memory")
        return int(info["used_memory"]), int(info["used_memory_dataset"]), int(client.dbsize())
    finally:
        client.close()


def rss_kib(worker: Worker) -> int:
    """The worker's resident memory: its Faust process and the processes it started (the
    applier process, multiprocessing's resource tracker)."""
    assert worker.process is not None
    return sum(_rss_kib(pid) for pid in _tree(worker.process.pid))


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(p for child in children for p in _tree(int(child)))]


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def year_figures(worker: Worker, truth: Path, years: list[int]) -> bool:
    expected: dict[int, Counter[str]] = {y: Counter() for y in years}
    for row in read_jsonl(truth):
        if row.get("kind", "dossier") == "dossier" and row.get("outcome"):
            year = datetime.fromisoformat(row["ended_at"]).astimezone(LOCAL_TZ).year
            expected.setdefault(year, Counter())[row["outcome"]] += 1
    print(f"{'year':<6}" + "".join(f"{o:>22}" for o in OUTCOMES) + "  equal")
    all_equal = True
    for year in sorted(expected):
        status, body = worker.get_json(f"/api/v1/summary?period={year}")
        got = {o: body.get(o) for o in OUTCOMES} if status == 200 else {}
        equal = all(got.get(o) == expected[year][o] for o in OUTCOMES)
        all_equal &= equal
        cells = "".join(
            f"{f'{got.get(o)} / {expected[year][o]}':>22}" for o in OUTCOMES
        )  # api / truth
        print(f"{year:<6}{cells}  {'yes' if equal else f'NO (HTTP {status})'}")
    status, body = worker.get_json("/api/v1/summary")
    want = expected_from_truth(truth).open
    print(f"open now (api / truth): {body.get('open')} / {want}: "
          f"{'yes' if body.get('open') == want else 'NO'}")  # fmt: skip
    return all_equal and body.get("open") == want


def flatness(rows: list[Row]) -> None:
    late = [r.used for r in rows if r.days > HORIZON_DAYS]
    if not late:
        print(f"after the first {HORIZON_DAYS} days: no quarter (run more years)")
        return
    mean = sum(late) / len(late)
    flat = all(abs(u - mean) <= 0.1 * mean for u in late)
    print(f"after the first {HORIZON_DAYS} days ({len(late)} quarters), used_memory within "
          f"+-10 % of its mean: {'yes' if flat else 'no'} (min {min(late) / 2**20:.1f} MiB, "
          f"max {max(late) / 2**20:.1f} MiB, mean {mean / 2**20:.1f} MiB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.5,
                        help="of the profile's 2,900 dossiers a working day")  # fmt: skip
    parser.add_argument("--end", default="2026-01-01T00:00:00+07:00",
                        help="simulated end (a local New Year: whole years)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-files", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    end = datetime.fromisoformat(args.end).astimezone(LOCAL_TZ)
    start = datetime.combine(date(end.year - args.years, end.month, end.day), end.timetz())
    print(code_version())
    per_day = DEFAULT_DOSSIERS_PER_DAY * args.fraction
    print(f"{args.years} years {start:%Y-%m-%d} .. {end:%Y-%m-%d}, fraction {args.fraction:g}"
          f" = {per_day:g} dossiers a working day", flush=True)  # fmt: skip

    with TemporaryDirectory() as tmp:
        files = args.keep_files or Path(tmp)
        files.mkdir(parents=True, exist_ok=True)
        simulate(args, start, end, files)
        quarters = split_by_quarter(files / "events.jsonl", start, end)
        stack = start_stack()
        pipeline = Pipeline(stack)
        pipeline.create_topics()
        base_used, base_dataset, base_keys = redis_memory(pipeline)
        print(f"Redis before the run: used_memory {base_used / 2**20:.1f} MiB, dataset "
              f"{base_dataset / 2**20:.1f} MiB, {base_keys:,} keys; figures below are above "
              "these")  # fmt: skip
        rows: list[Row] = []
        try:
            worker = pipeline.start_worker(
                IOCMON_METRICS_REFRESH_S="5",
                IOCMON_CLOCK_OFFSET_S=f"{end.timestamp() - time.time():.0f}",
            )
            print(f"{'quarter':<8}{'records':>12}{'used MiB':>10}{'dataset MiB':>12}{'keys':>11}"
                  f"{'RSS MiB':>9}{'rec/s':>8}", flush=True)  # fmt: skip
            total = 0
            for q in quarters:
                began = time.monotonic()
                pipeline.iocmon("replay", str(q.path), timeout_s=STEP_TIMEOUT_S)
                pipeline.wait_caught_up(timeout_s=STEP_TIMEOUT_S)
                total += q.records
                used, dataset, keys = redis_memory(pipeline)
                row = Row(q.name, (q.end - start).days, total, used - base_used,
                          dataset - base_dataset, keys - base_keys, rss_kib(worker),
                          q.records / (time.monotonic() - began))  # fmt: skip
                rows.append(row)
                print(f"{row.quarter:<8}{row.records:>12,}{row.used / 2**20:>10.1f}"
                      f"{row.dataset / 2**20:>12.1f}{row.keys:>11,}{row.rss_kib / 1024:>9.0f}"
                      f"{row.rate:>8,.0f}", flush=True)  # fmt: skip
            years = sorted({int(q.name[:4]) for q in quarters})
            exact = year_figures(worker, files / "truth.jsonl", years)
        finally:
            pipeline.stop()
    flatness(rows)
    rss = [r.rss_kib for r in rows if r.days > HORIZON_DAYS]
    if rss:
        print(f"worker RSS after the first {HORIZON_DAYS} days: min {min(rss) / 1024:.0f} MiB, "
              f"max {max(rss) / 1024:.0f} MiB")  # fmt: skip
    print(f"every year equal to the simulator's truth: {'yes' if exact else 'NO'}")


if __name__ == "__main__":
    main()
