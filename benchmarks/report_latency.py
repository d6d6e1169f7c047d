"""How long `GET /api/v1/report` takes over five years of a province's counters.

Fills Redis (the integration tests' stack; `IOCMON_TEST_PORT_OFFSET` picks one's own) with
the report's counters as five years of the An Giang profile leave them, laid out as the
worker and its roll-up leave them: per partition for the buckets within the horizon (days
and hours are kept there only), summed over the partitions beyond it. The shape comes from
a simulated month: the (agency, field) pairs each partition sees in a month and in a day
(`iocmon simulate --no-send`, 30 days; partitions by a hash of the dossier id). Counts are
random: what a report costs depends on how many hashes and fields it reads, not on them.

Then times the report handler in-process against that Redis (the API process's work
without HTTP), by agency and by field, for the periods people ask: the running month, a
past month, a quarter, a year, five years, and days mid-month at both ends (the worst case
for the buckets read). The question is absolute (issue #17: well under a second for five
years), so the figures are milliseconds and their share of that second.

    .venv/bin/python -m benchmarks.report_latency [--years 5] [--partitions 12] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

from redis.typing import EncodableT, FieldT

from benchmarks.common import code_version
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.buckets import ALL_TIME, Bucket, bucket_end
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.procedures import field_keys, load_procedures
from iocmon.domain.report import STORED_COLUMNS
from iocmon.redis_connection import AsyncRedis as Redis
from iocmon.redis_connection import async_redis
from iocmon.streams.keys import PartitionKeys, RolledKeys, procedure_field, rolled_member
from iocmon.streams.queries import FigureReader
from iocmon.streams.report_api import ReportApi
from tests.integration.harness import REPO, Pipeline, start_stack

TOPIC = "dossier-events"
HORIZON = timedelta(days=400)
Pairs = list[tuple[str, str]]


def month_shape(partitions: int) -> tuple[list[Pairs], list[Pairs]]:
    """(agency, field) pairs of each partition in a simulated month, and in one of its days."""
    fields = field_keys(load_procedures())
    with TemporaryDirectory() as tmp:
        truth = Path(tmp) / "truth.jsonl"
        subprocess.run(
            [sys.executable, "-m", "iocmon", "simulate", "--seed", "1", "--backfill-days", "30",
             "--duration", "0", "--rate", "0", "--no-send", "--truth-out", str(truth),
             "--events-out", str(Path(tmp) / "events.jsonl")],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        month: list[set[tuple[str, str]]] = [set() for _ in range(partitions)]
        day: list[set[tuple[str, str]]] = [set() for _ in range(partitions)]
        first_day = None
        for line in truth.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("kind") != "dossier":
                continue
            p = zlib.crc32(row["dossier_id"].encode()) % partitions
            pair = (row["agency"], fields(row["procedure"]))
            month[p].add(pair)
            first_day = first_day or row["received_at"][:10]
            if row["received_at"][:10] == first_day:
                day[p].add(pair)
    return [sorted(m) for m in month], [sorted(d) for d in day]


def buckets_of_span(now: datetime, years: int) -> list[Bucket]:
    """Every day, month, quarter and year bucket from `years` years back to now."""
    out: list[Bucket] = []
    at = now.replace(year=now.year - years, month=1, day=1, hour=0, minute=0, second=0,
                     microsecond=0)  # fmt: skip
    while at < now:
        out.append(Bucket("d", at.strftime("%Y%m%d")))
        if at.day == 1:
            out.append(Bucket("m", at.strftime("%Y%m")))
            if at.month % 3 == 1:
                out.append(Bucket("q", f"{at.year}Q{(at.month - 1) // 3 + 1}"))
            if at.month == 1:
                out.append(Bucket("y", str(at.year)))
        at += timedelta(days=1)
    return [*out, ALL_TIME]


def _fields(counts: Mapping[str, int]) -> Mapping[FieldT, EncodableT]:
    """`counts` as HSET's mapping: redis-py types its keys invariantly, so that no
    dict[str, int] fits although every one is accepted."""
    return cast("Mapping[FieldT, EncodableT]", counts)


async def fill(redis: Redis, prefix: str, now: datetime, years: int, partitions: int) -> int:
    """Writes the counters; returns the fields written."""
    months, days = month_shape(partitions)
    rng = random.Random(7)
    rolled_keys = RolledKeys(prefix, TOPIC)
    edge = (now - HORIZON).timestamp()
    written = 0
    for bucket in buckets_of_span(now, years):
        within = bucket is ALL_TIME or bucket_end(bucket) > edge
        if bucket.resolution == "d" and not within:
            continue  # deleted past the horizon (retire.lua)
        shapes = days if bucket.resolution == "d" else months
        pipe = redis.pipeline(transaction=False)
        rolled: dict[str, int] = defaultdict(int)
        for p in range(partitions):
            counts = {
                procedure_field(agency, field, column): rng.randint(1, 40)
                for agency, field in shapes[p]
                for column in rng.sample(STORED_COLUMNS, 4)
            }
            written += len(counts)
            if within:
                pipe.hset(PartitionKeys(prefix, TOPIC, p).report(bucket), mapping=_fields(counts))
            else:
                for name, n in counts.items():
                    rolled[name] += n
        if not within:
            members = {rolled_member(p): 1 for p in range(partitions)}
            pipe.hset(rolled_keys.report(bucket), mapping=_fields({**rolled, **members}))
        await pipe.execute()
    return written


async def time_requests(
    redis: Redis, prefix: str, now: datetime, partitions: int, repeat: int
) -> None:
    reader = FigureReader(redis, prefix, TOPIC, partitions)
    agencies = load_catalogue()
    procedures = load_procedures()
    report = ReportApi(reader, agencies, procedures, HORIZON)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (month - timedelta(days=1)).replace(day=1)
    mid = (month - timedelta(days=80)).replace(day=17)
    cases = {
        "running month": {},
        f"month {last_month:%Y-%m}": {"period": f"{last_month:%Y-%m}"},
        f"quarter {now.year - 1}-Q3": {"period": f"{now.year - 1}-Q3"},
        f"year {now.year - 1}": {"period": str(now.year - 1)},
        "five years to now": {"from": month.replace(year=now.year - 5, month=1).isoformat(),
                              "to": (month + timedelta(days=40)).replace(day=1).isoformat()},
        "days mid-month to mid-month": {"from": mid.isoformat(),
                                        "to": (month - timedelta(days=10)).isoformat()},
    }  # fmt: skip
    print(f"{'request':28} {'by':6} {'ms: median':>11} {'max':>5} {'of 1 s':>7}")
    for name, params in cases.items():
        for by in ("agency", "field"):
            report_ms = await _timed(report.report, {**params, "by": by}, now, repeat)
            median = statistics.median(report_ms)
            print(f"{name:28} {by:6} {median:>11.0f} {max(report_ms):>5.0f} {median / 1000:>7.0%}")


async def _timed(
    handler: Callable[[dict[str, str], datetime], Awaitable[tuple[int, Any]]],
    params: dict[str, str],
    now: datetime,
    repeat: int,
) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        status, body = await handler(params, now)
        out.append((time.perf_counter() - start) * 1000)
        assert status == 200, body
    return out


async def run(args: argparse.Namespace, pipeline: Pipeline) -> None:
    redis = async_redis(pipeline.settings())
    now = datetime.now(LOCAL_TZ)
    prefix = f"{pipeline.name}:bench"
    try:
        started = time.perf_counter()
        fields = await fill(redis, prefix, now, args.years, args.partitions)
        print(f"filled {fields:,} counter fields over {args.years} years, {args.partitions} "
              f"partitions in {time.perf_counter() - started:.0f} s")  # fmt: skip
        await time_requests(redis, prefix, now, args.partitions, args.repeat)
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=5000):
            await redis.unlink(key)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(code_version())
    pipeline = Pipeline(start_stack())
    try:
        asyncio.run(run(args, pipeline))
    finally:
        pipeline.stop()


if __name__ == "__main__":
    main()
