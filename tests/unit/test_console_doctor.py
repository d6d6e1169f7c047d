"""`iocmon doctor` and `iocmon topics` without the stack: every check against a real closed
port names the service and the fix; verdicts on canned /metrics and Prometheus targets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from functools import partial

import kafka
import pytest
from click.testing import CliRunner

from iocmon.console import doctor
from iocmon.console.doctor import Check, doctor_command, target_check, worker_check
from iocmon.console.net import redact
from iocmon.console.topics import build_report, render_topics, topics_command
from tests.unit.test_console import FakeWorker, closed_port

TOPICS = {"events": "dossier-events", "dlq": "dossier-events-dlq", "alerts": "dossier-alerts"}


def test_redis_on_a_closed_port_names_redis_and_the_fix() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    (check,) = doctor.check_redis(url, timeout_s=2)
    assert not check.ok
    assert check.line == (
        f"✗ Redis at {url}: connection refused — start it with `make up`, or set REDIS_URL"
    )


def test_kafka_on_a_closed_port_names_kafka_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(*args: object, **kwargs: object) -> None:
        raise AssertionError("asked Kafka for metadata although TCP was refused")

    monkeypatch.setattr(kafka, "KafkaAdminClient", no_metadata)
    bootstrap = f"127.0.0.1:{closed_port()}"
    (check,) = doctor.check_kafka(bootstrap, TOPICS, 12, timeout_s=2)
    assert check.line == (
        f"✗ Kafka at {bootstrap}: connection refused — start it with `make up`, "
        "or set KAFKA_BOOTSTRAP_SERVERS"
    )


def test_kafka_check_reads_every_bootstrap_address() -> None:
    (check,) = doctor.check_kafka("no-port-here:x", TOPICS, 12, timeout_s=1)
    assert not check.ok and "KAFKA_BOOTSTRAP_SERVERS=host:port" in check.detail


def test_kafka_port_open_but_not_kafka_says_so() -> None:
    fake = FakeWorker()  # an HTTP server: TCP opens, Kafka's protocol gets nowhere
    try:
        address = fake.url.removeprefix("http://")
        (check,) = doctor.check_kafka(address, TOPICS, 12, timeout_s=1)
    finally:
        fake.close()
    assert not check.ok
    assert "the port is open but no Kafka metadata came back" in check.detail


def test_prometheus_on_a_closed_port_names_prometheus_and_the_fix() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    (check,) = doctor.check_prometheus(url, timeout_s=2)
    assert check.line == (
        f"✗ Prometheus at {url}: connection refused — start it with `make up`, "
        "or set IOCMON_PROMETHEUS_URL"
    )


def test_worker_on_a_closed_port_says_how_to_start_it() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    (check,) = doctor.check_worker(url, "dossier-events", 12, timeout_s=2)
    assert check.line.startswith(f"✗ worker at {url}: not answering (connection refused)")
    assert "is `iocmon worker` running? (make run starts it)" in check.line


@pytest.fixture
def fake() -> Iterator[FakeWorker]:
    server = FakeWorker()
    yield server
    server.close()


def test_prometheus_ready_and_scraping_an_iocmon_target(fake: FakeWorker) -> None:
    fake.routes["/-/ready"] = (200, "Prometheus Server is Ready.")
    fake.routes["/api/v1/targets"] = (
        200,
        {
            "status": "success",
            "data": {
                "activeTargets": [
                    {"labels": {"job": "iocmon", "instance": "127.0.0.1:6066"}, "health": "up"}
                ]
            },
        },
    )
    checks = doctor.check_prometheus(fake.url, timeout_s=2)
    assert [c.line for c in checks] == [
        f"✓ Prometheus at {fake.url}: ready",
        "✓ Prometheus targets of job iocmon: 1 up (127.0.0.1:6066)",
    ]


def test_prometheus_not_ready(fake: FakeWorker) -> None:
    fake.routes["/-/ready"] = (503, "Service Unavailable")
    (check,) = doctor.check_prometheus(fake.url, timeout_s=2)
    assert not check.ok and "not ready (HTTP 503 from /-/ready)" in check.detail


def test_target_check_verdicts() -> None:
    down = {
        "labels": {"job": "iocmon", "instance": "127.0.0.1:1"},
        "health": "down",
        "lastError": "connection refused",
    }
    other = {"labels": {"job": "node", "instance": "x:9100"}, "health": "up"}
    assert not target_check([other], "t").ok
    assert "no `iocmon` scrape job" in target_check([other], "t").detail
    verdict = target_check([down, other], "t")
    assert not verdict.ok
    assert "none is up: 127.0.0.1:1 down (connection refused) — start the worker" in verdict.detail
    up = {"labels": {"job": "iocmon", "instance": "127.0.0.1:6066"}, "health": "up"}
    assert target_check([down, up], "t") == Check("prometheus", True, "t", "1 up (127.0.0.1:6066)")


METRICS = """# HELP iocmon_assigned_partitions Partitions this worker consumes now.
# TYPE iocmon_assigned_partitions gauge
iocmon_assigned_partitions {owned}
# TYPE iocmon_redis_up gauge
iocmon_redis_up {redis_up}
# TYPE iocmon_partition_lag_records gauge
iocmon_partition_lag_records{{partition="0"}} 5.0
iocmon_partition_lag_records{{partition="1"}} 2.0
"""


def test_worker_check_on_a_healthy_worker() -> None:
    samples = {"iocmon_assigned_partitions": 12.0, "iocmon_redis_up": 1.0}
    verdict = worker_check("worker at u", samples, 7.0, "dossier-events", 12)
    assert verdict.ok
    assert (
        verdict.detail == "answers; owns 12 of 12 partitions of dossier-events, 7 record(s) behind"
    )


def test_worker_check_failures() -> None:
    no_parts = worker_check("w", {"iocmon_assigned_partitions": 0.0}, 0, "ev", 12)
    assert not no_parts.ok and "owns no partition of ev" in no_parts.detail
    no_redis = worker_check(
        "w", {"iocmon_assigned_partitions": 3.0, "iocmon_redis_up": 0.0}, 0, "ev", 12
    )
    assert not no_redis.ok and "cannot read Redis" in no_redis.detail
    stranger = worker_check("w", {"process_cpu_seconds_total": 1.0}, 0, "ev", 12)
    assert not stranger.ok and "is this an iocmon worker?" in stranger.detail


def test_worker_metrics_and_api_over_http(fake: FakeWorker) -> None:
    fake.routes["/metrics"] = (200, METRICS.format(owned=12, redis_up=1))
    fake.routes["/api/v1/overdue"] = (200, {"as_of": "x", "items": []})
    assert [c.line for c in doctor.check_worker(fake.url, "ev", 12, timeout_s=2)] == [
        f"✓ worker at {fake.url}: answers; owns 12 of 12 partitions of ev, 7 record(s) behind",
        f"✓ worker API at {fake.url}: answers",
    ]
    fake.routes["/metrics"] = (200, METRICS.format(owned=0, redis_up=1))
    fake.routes["/api/v1/overdue"] = (401, {"error": "missing or wrong bearer token"})
    parts, api = doctor.check_worker(fake.url, "ev", 12, timeout_s=2)
    assert not parts.ok and "owns no partition of ev" in parts.detail
    assert not api.ok and "set IOCMON_API_TOKEN (or --token)" in api.detail
    fake.routes["/metrics"] = (200, "not metrics {")
    (bad,) = doctor.check_worker(fake.url, "ev", 12, timeout_s=2)
    assert not bad.ok


def test_the_checks_run_side_by_side() -> None:
    """Each group waits for the others: run one after another, the barrier breaks."""
    barrier = threading.Barrier(3, timeout=30)

    def group(name: str) -> Callable[[], list[Check]]:
        def run() -> list[Check]:
            barrier.wait()
            return [Check(name, True, name, "answers")]

        return run

    checks = doctor.run_checks([group("kafka"), group("redis"), group("prometheus")])
    assert [c.service for c in checks] == ["kafka", "redis", "prometheus"]


def test_doctor_command_exits_1_and_names_every_dead_service() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
        "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "IOCMON_PROMETHEUS_URL": f"http://127.0.0.1:{closed_port()}",
        "IOCMON_WEB_PORT": str(closed_port()),
    }
    result = CliRunner().invoke(doctor_command, ["--timeout", "2"], env=env)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [ln.split(" at ")[0] for ln in lines[:4]] == [
        "✗ Kafka",
        "✗ Redis",
        "✗ Prometheus",
        "✗ worker",
    ]
    assert lines[-1] == "4 of 4 checks failed"
    as_json = CliRunner().invoke(doctor_command, ["--timeout", "2", "--json"], env=env)
    assert as_json.exit_code == 1
    doc = json.loads(as_json.output)
    assert doc["ok"] is False
    assert [c["service"] for c in doc["checks"]] == ["kafka", "redis", "prometheus", "worker"]
    assert all(set(c) == {"service", "ok", "subject", "detail", "line"} for c in doc["checks"])


def test_passwords_never_reach_the_output() -> None:
    assert redact("redis://:hunter2@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact("redis://app:hunter2@redis:6379/0") == "redis://app:***@redis:6379/0"
    assert redact("redis://localhost:6379/0") == "redis://localhost:6379/0"
    (check,) = doctor.check_redis(f"redis://:hunter2@127.0.0.1:{closed_port()}/0", timeout_s=1)
    assert "hunter2" not in check.line and ":***@" in check.line


# ---------------------------------------------------------------------------------------------
# topics


def test_topics_report_lag_per_partition() -> None:
    report = build_report(
        "k:9092",
        "iocmon",
        ["ev", "dlq", "missing"],
        begins={("ev", 0): 0, ("ev", 1): 10, ("dlq", 0): 0},
        ends={("ev", 0): 100, ("ev", 1): 50, ("dlq", 0): 3},
        committed={("ev", 0): 90},
    )
    ev, dlq, missing = report["topics"]
    assert ev == {
        "topic": "ev",
        "exists": True,
        "partitions": 2,
        "records": 140,
        "lag": 10,
        "by_partition": [
            {"partition": 0, "begin": 0, "end": 100, "records": 100, "committed": 90, "lag": 10},
            {"partition": 1, "begin": 10, "end": 50, "records": 40, "committed": None, "lag": None},
        ],
    }
    assert dlq["lag"] is None and dlq["records"] == 3
    assert missing == {
        "topic": "missing", "exists": False, "partitions": 0, "records": 0, "lag": None,
        "by_partition": [],
    }  # fmt: skip
    text = "\n".join(render_topics(report))
    assert "ev  2 phân vùng (partitions) · 140 bản ghi (records) · độ trễ (lag) 10" in text
    assert "✗ missing: does not exist" in text
    assert "not read by the group" in text


def test_topics_on_a_closed_port_says_what_to_do() -> None:
    bootstrap = f"127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(
        topics_command, ["--json"], env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    )
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "error": f"Kafka at {bootstrap}: connection refused — start it with `make up`, "
        "or set KAFKA_BOOTSTRAP_SERVERS"
    }


def test_a_check_that_raises_is_one_failed_check_and_the_others_still_answer() -> None:
    def check_kafka() -> list[Check]:
        raise KeyError("leader")

    def check_redis() -> list[Check]:
        return [Check("redis", True, "Redis at x", "answers PING")]

    checks = doctor.run_checks([partial(check_kafka), check_redis])  # as doctor passes them
    assert [(c.service, c.ok, c.subject) for c in checks] == [
        ("doctor", False, "kafka"),
        ("redis", True, "Redis at x"),
    ]
    assert "KeyError" in checks[0].detail and "run it again" in checks[0].detail
