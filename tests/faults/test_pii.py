"""No personal data leaves the intake: events that carry applicant names (Vietnamese, with
diacritics, also decomposed NFD), citizen ID numbers, phone numbers and e-mail addresses —
in the applicant fields sources send (`applicant_name`, `citizen_id`, `phone`), in fields
nobody expects (nested objects, lists, notes) and inside invalid records — leave no trace in
Redis (every key and value of the test's own Redis), `/metrics`, the API, the worker's log,
the alerts topic, or the dead-letter topic's headers.

The dead-letter topic keeps each rejected record's original key and value bytes on purpose:
it is the repair queue, where an operator fixes and re-sends a record, so its values may hold
what the source sent (access to it is restricted like the events topic itself). What the
worker adds — the `iocmon-reason`, `iocmon-detail` and `iocmon-source` headers, and the
`reason` label — must name fields and rules only, never a value; that is what is checked.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer

from tests.faults.figures import report
from tests.faults.redis_server import own_redis, pipeline_on
from tests.integration.harness import Pipeline, Stack, Worker, http_get, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

NAME = "Nguyễn Thị Ánh Tuyết"
NAME_NFD = unicodedata.normalize("NFD", "Trần Đức Hoàng Phương")
CITIZEN_ID = "089301774213"
PHONE = "0987650321"
PHONE_INTL = "+84 987 650 322"
EMAIL = "tuyet.nguyen.pii@example.vn"
ADDRESS = "Số 12 đường Tôn Đức Thắng, phường Mỹ Bình, Long Xuyên"
SIMULATED_EVENTS = 1_500


def needles(values: Iterable[str]) -> set[str]:
    """Each value as UTF-8 text in NFC and NFD, and as JSON would escape it."""
    out: set[str] = set()
    for value in values:
        for form in ("NFC", "NFD"):
            text = unicodedata.normalize(form, value)
            out |= {text, json.dumps(text)[1:-1]}
    return out


def pii(**extra: Any) -> dict[str, Any]:
    return {
        "applicant_name": NAME,
        "citizen_id": CITIZEN_ID,
        "phone": PHONE,
        "email": EMAIL,
        **extra,
    }


def crafted_records(now: datetime) -> tuple[list[tuple[bytes, bytes]], int]:
    """Valid events with personal data in expected and unexpected places, and invalid ones
    whose bad field *is* personal data; the number of records that must be dead-lettered."""

    def at(days: float) -> str:
        return (now - timedelta(days=days)).astimezone(UTC).isoformat()

    def received(dossier: str, **extra: Any) -> dict[str, Any]:
        return {
            "v": 1,
            "event_id": f"{dossier}-r",
            "dossier_id": dossier,
            "type": "received",
            "at": at(10),
            "agency": "PII.UB",
            "procedure": "1.000001",
            "channel": "counter",
            "level": "none",
            "due_at": at(3),  # overdue already: an alert goes out
            **extra,
        }

    valid = [
        received("PII-1", **pii(applicant={"ho_ten": NAME, "so_cccd": CITIZEN_ID})),
        received(
            "PII-2",
            nguoi_nop=[NAME_NFD, PHONE_INTL],
            ghi_chu=f"Gọi {PHONE_INTL} hoặc gửi {EMAIL}; địa chỉ {ADDRESS}",
        ),
        received("PII-3", ChuHoSo=NAME, SoCMND=CITIZEN_ID, DiaChi=ADDRESS, SoDienThoai=PHONE),
        {
            "v": 1,
            "event_id": "PII-1-s",
            "dossier_id": "PII-1",
            "type": "supplement_requested",
            "at": at(9),
            "note": f"{NAME} ({CITIZEN_ID}) thiếu bản sao",
            **pii(),
        },
        {
            "v": 1,
            "event_id": "PII-2-x",
            "dossier_id": "PII-2",
            "type": "resolved",
            "at": at(1),
            "result": {"nguoi_nhan": NAME_NFD, "email": EMAIL},
        },
    ]
    invalid: list[dict[str, Any] | bytes] = [
        {**received("PII-9"), "type": NAME},  # unknown_type
        {**received("PII-9"), "at": CITIZEN_ID},  # bad_timestamp
        {**received("PII-9"), "at": f"{NAME} 2024-01-01"},  # bad_timestamp
        {**received("PII-9"), "agency": f"{NAME} {ADDRESS} {ADDRESS}"},  # invalid_value
        {**received("PII-9"), "channel": EMAIL},  # invalid_value
        {**received("PII-9"), "processing_days": PHONE, "due_at": None},  # wrong_type
        {**received("PII-9"), "v": CITIZEN_ID},  # bad_version
        {**received("PII-9"), "event_id": f"{NAME}-{CITIZEN_ID}-{ADDRESS}"},  # invalid_value
        {**received("PII-9"), "dossier_id": 89301774213},  # wrong_type
        {
            "v": 1,
            "event_id": "PII-8-p",
            "dossier_id": "PII-8",
            "type": "processing",
            "at": at(1),
            **pii(),
        },  # unknown_dossier
        f"{NAME}; CCCD {CITIZEN_ID}; ĐT {PHONE}".encode(),  # not_json
        json.dumps([NAME, CITIZEN_ID], ensure_ascii=False).encode(),  # not_an_object
    ]
    records = [(str(e["dossier_id"]).encode(), _json(e)) for e in valid]
    for bad in invalid:
        key = b"PII-8" if isinstance(bad, dict) and bad["dossier_id"] == "PII-8" else b"PII-9"
        records.append((key, bad if isinstance(bad, bytes) else _json(bad)))
    # a key that is personal data and differs from the dossier id: key_mismatch
    records.append((PHONE.encode(), _json(received("PII-7", **pii()))))
    return records, len(invalid) + 1


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def simulated_applicants(pipeline: Pipeline, tmp_path: Path) -> tuple[Path, set[str], int]:
    """A simulated stream: its `received` events carry fake applicants (the default)."""
    events = tmp_path / "events.jsonl"
    pipeline.iocmon(
        "simulate",
        "--seed", "31",
        "--backfill-days", "20",
        "--max-events", str(SIMULATED_EVENTS),
        "--duration", "0",
        "--rate", "0",
        "--events-out", str(events),
        "--no-send",
    )  # fmt: skip
    rows = []
    for line in events.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # the simulator's own bad records
        if isinstance(row, dict) and "applicant_name" in row:
            rows.append(row)
    values = {row[f] for row in rows for f in ("applicant_name", "citizen_id", "phone")}
    assert values, "the simulator no longer puts applicant data on events"
    return events, values, len(rows)


def redis_dump(client: redis.Redis) -> Iterator[tuple[bytes, bytes]]:
    """Every key of the test's own Redis with everything it holds, as bytes."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key) or b""
        elif kind == b"hash":
            value = b"\n".join(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            value = b"\n".join(m for m, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"set":
            value = b"\n".join(client.smembers(key))
        elif kind == b"list":
            value = b"\n".join(client.lrange(key, 0, -1))
        else:
            raise AssertionError(f"key {key!r} has type {kind!r}; teach this scan to read it")
        yield key, value


def topic_records(pipeline: Pipeline, topic: str) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=pipeline.stack.kafka,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    try:
        return [(m.key or b"", m.value or b"", dict(m.headers)) for m in consumer]
    finally:
        consumer.close()


def api_bodies(worker: Worker) -> dict[str, bytes]:
    paths = [
        "/api/v1/summary?by=agency&from=2000-01-01T00:00:00%2B07:00&to=2100-01-01T00:00:00%2B07:00",
        "/api/v1/overdue?limit=1000",
        "/api/v1/rankings?by=overdue",
        "/api/v1/series",
        "/api/v1/agencies/PII.UB/procedures",
        *(f"/api/v1/dossiers/PII-{n}" for n in (1, 2, 3)),
    ]
    out = {}
    for path in paths:
        status, body = http_get(f"{worker.url}{path}")
        assert status == 200, (path, body[:300])
        out[path] = body
    return out


def leaks(where: str, haystack: bytes, wanted: set[str]) -> list[str]:
    text = haystack.decode("utf-8", "replace")
    return [f"{where}: {needle!r}" for needle in wanted if needle in text]


def test_personal_data_leaves_no_trace(stack: Stack, tmp_path: Path) -> None:
    with own_redis(tmp_path) as server:
        pipeline = pipeline_on(stack, server)
        try:
            events, simulated, simulated_records = simulated_applicants(pipeline, tmp_path)
            worker = pipeline.start_worker(IOCMON_ALERT_CHECK_INTERVAL_S="1")
            pipeline.iocmon("replay", str(events))
            crafted, dead_expected = crafted_records(datetime.now(UTC))
            producer = KafkaProducer(bootstrap_servers=stack.kafka, acks="all")
            for key, value in crafted:
                producer.send(pipeline.events_topic, key=key, value=value)
            producer.flush()
            producer.close()
            pipeline.wait_caught_up()
            alerts_topic = f"{pipeline.name}-alerts"
            wait_for(
                lambda: any(k == b"PII-3" for k, _, _ in topic_records(pipeline, alerts_topic)),
                90,
                "the overdue alert of dossier PII-3",
            )

            wanted = needles([NAME, NAME_NFD, CITIZEN_ID, PHONE, PHONE_INTL, EMAIL, ADDRESS])
            wanted |= needles(simulated)
            found: list[str] = []
            client = server.client()
            keys = 0
            for key, value in redis_dump(client):
                keys += 1
                found += leaks(f"redis key {key!r}", key + b"\n" + value, wanted)
            client.close()
            assert keys > 0
            found += leaks("/metrics", http_get(f"{worker.url}/metrics")[1], wanted)
            bodies = api_bodies(worker)
            for path, body in bodies.items():
                found += leaks(f"API {path}", body, wanted)
            alerts = topic_records(pipeline, alerts_topic)
            for key, value, headers in alerts:
                found += leaks("alert", key + value + repr(headers).encode(), wanted)
            dead = pipeline.dead_letters()
            crafted_dead = [
                d for d in dead if (d[0] or b"").startswith(b"PII-") or d[0] == PHONE.encode()
            ]
            assert len(crafted_dead) == dead_expected, [h for _, _, h in crafted_dead]
            for _, _, headers in dead:
                found += leaks("dead-letter headers", b"\n".join(headers.values()), wanted)
            pipeline.stop()  # the log is complete once the worker has stopped
            found += leaks("worker log", worker.log_path.read_bytes(), wanted)
            assert not found, "personal data leaked:\n" + "\n".join(sorted(found)[:50])

            status, dossier = worker_dossier_fields(bodies["/api/v1/dossiers/PII-1"])
            assert status and dossier == {"PII.UB", "1.000001"}
            report(
                "personal data",
                distinct_values_searched=len(wanted),
                records_with_personal_data=len(crafted) + simulated_records,
                redis_keys_scanned=keys,
                api_responses=len(bodies),
                alerts=len(alerts),
                dead_letter_headers_checked=len(dead),
                leaks=0,
            )
        finally:
            pipeline.stop()


def worker_dossier_fields(body: bytes) -> tuple[bool, set[str]]:
    """The dossier view holds the agency and procedure codes, nothing of the applicant."""
    doc = json.loads(body)
    return doc["dossier_id"] == "PII-1", {doc["agency"], doc["procedure"]}
