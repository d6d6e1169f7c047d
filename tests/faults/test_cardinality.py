"""Hostile agency codes cannot blow up Prometheus series (CONTRACT §5).

A flood of received (and half of them resolved) dossiers, each with a distinct random agency
code — Vietnamese letters, `|`, braces, quotes, backslashes, emoji, up to 64 characters —
reaches the real worker, configured like production: no catalogue, the first N codes seen get
a label (N = 500, the default, in the full run; 60 in the reduced CI run). The worker's
`/metrics` is counted before and after: the `agency` label takes at most N + 1 (`other`)
values, the series stay bounded by that, the figures still add up exactly (every hostile
dossier is in some series, the rest under `other`), and the API answers any single code
exactly. A refresh of /metrics reads open dossiers only for the label values, so its cost is
bounded too.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from tests.faults.figures import report
from tests.faults.redis_server import own_redis, pipeline_on
from tests.integration.harness import Pipeline, Stack, Worker, sum_samples

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BASELINE_AGENCIES = 20
ALPHABET = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    ".-_|{}[]\"'\\/:;,=+*&%$#@!?<>`~^ "
    "ăâđêôơưĂÂĐÊÔƠƯáàảãạấầẩẫậếềểễệốồổỗộớờởỡợúùủũụứừửữựíìỉĩịýỳỷỹỵ"
    "😀🇻🇳"
)


def hostile_codes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        code = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 64)))
        if code.strip() == code and code.isprintable():  # what the contract accepts
            out.add(code)
    return sorted(out, key=lambda _: rng.random())


def send_dossiers(pipeline: Pipeline, codes: list[str], tag: str) -> int:
    """One received dossier per code (open, on track); every second one also resolved."""
    now = datetime.now(UTC)
    producer = KafkaProducer(
        bootstrap_servers=pipeline.stack.kafka, acks="all", linger_ms=20, batch_size=262_144
    )
    sent = 0
    for i, code in enumerate(codes):
        dossier = f"{tag}-{i}"
        received = {
            "v": 1,
            "event_id": f"{dossier}-r",
            "dossier_id": dossier,
            "type": "received",
            "at": (now - timedelta(hours=2)).isoformat(),
            "agency": code,
            "procedure": "1.000001",
            "channel": "online",
            "level": "full",
            "due_at": (now + timedelta(days=40)).isoformat(),
        }
        events = [received]
        if i % 2:
            events.append(
                {**received, "event_id": f"{dossier}-x", "type": "resolved", "at": now.isoformat()}
            )
        for event in events:
            value = json.dumps(event, ensure_ascii=False).encode()
            producer.send(pipeline.events_topic, key=dossier.encode(), value=value)
            sent += 1
    producer.flush()
    producer.close()
    return sent


def series(worker: Worker) -> tuple[int, set[str], dict[str, Counter[str]]]:
    """Number of series, the `agency` label values, and open/ended sums by agency label."""
    samples = worker.metrics()
    agencies = {v for _, labels in samples for k, v in labels if k == "agency"}
    sums: dict[str, Counter[str]] = {}
    for name in ("dossiers_open", "dossiers_ended_total"):
        sums[name] = Counter()
        for labels, n in sum_samples(samples, name).items():
            sums[name][dict(labels)["agency"]] += n
    return len(samples), agencies, sums


def run_flood(stack: Stack, tmp_path: Path, hostile: int, label_limit: int) -> None:
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            worker = pipeline.start_worker(IOCMON_AGENCY_LABEL_LIMIT=str(label_limit))
            baseline = [f"AG.{n:02d}" for n in range(BASELINE_AGENCIES)]
            sent = send_dossiers(pipeline, baseline, "B")
            pipeline.wait_caught_up()
            before, before_labels, _ = series(worker)
            assert before_labels - {"other"} == set(baseline)  # `other` may be there, at 0

            codes = hostile_codes(hostile, seed=hostile)
            sent += send_dossiers(pipeline, codes, "H")
            pipeline.wait_caught_up(timeout_s=1800)
            after, labels, sums = series(worker)

            assert len(labels) <= label_limit + 1, len(labels)
            assert "other" in labels
            assert set(baseline) <= labels  # the first seen keep their label
            assert labels <= set(baseline) | set(codes) | {"other"}
            # Bounded by the label limit, whatever the number of codes: at most twice the
            # baseline's series per agency label (which also counts the agency-free series).
            bound = 2 * before / BASELINE_AGENCIES * (label_limit + 1)
            assert after <= bound, (after, bound)
            per_label = (after - before) / max(1, len(labels) - len(before_labels))
            total = BASELINE_AGENCIES + len(codes)
            ended = sum(1 for i in range(BASELINE_AGENCIES) if i % 2) + sum(
                1 for i in range(len(codes)) if i % 2
            )
            assert sum(sums["dossiers_open"].values()) == total - ended
            assert sum(sums["dossiers_ended_total"].values()) == ended
            assert sums["dossiers_open"]["other"] + sums["dossiers_ended_total"]["other"] == (
                total - (len(labels) - 1)
            )

            rng = random.Random(7)
            for i in rng.sample(range(len(codes)), 8):  # any code is still answered exactly
                query = urllib.parse.urlencode(
                    {
                        "agency": codes[i],
                        "from": "2000-01-01T00:00:00+07:00",
                        "to": "2100-01-01T00:00:00+07:00",
                    }
                )
                status, body = worker.get_json(f"/api/v1/summary?{query}")
                assert status == 200, body
                assert (body["open"], body["early"] + body["on_time"]) == (
                    (0, 1) if i % 2 else (1, 0)
                ), (codes[i], body)

            report(
                f"label cardinality ({len(codes):,} hostile agency codes, limit {label_limit})",
                records=sent,
                series_before=before,
                series_after=after,
                agency_labels_before=len(before_labels),
                agency_labels_after=len(labels),
                series_per_agency_label=round(per_label, 1),
                in_other=sums["dossiers_open"]["other"] + sums["dossiers_ended_total"]["other"],
            )
        finally:
            pipeline.stop()


def test_hostile_agency_codes_fold_into_other_ci(stack: Stack, tmp_path: Path) -> None:
    run_flood(stack, tmp_path, hostile=400, label_limit=60)


@pytest.mark.faults_full
def test_100k_hostile_agency_codes_fold_into_other(stack: Stack, tmp_path: Path) -> None:
    run_flood(stack, tmp_path, hostile=100_000, label_limit=500)  # the default limit
