"""Kafka over SASL_SSL (SCRAM-SHA-512) and Redis over TLS with an ACL user, for real; and the
worker's web port bound to localhost unless configured.

A throwaway CA signs the servers' certificate; the broker's only client listener is SASL_SSL,
Redis listens on a TLS port only with the default user off. The worker, `iocmon replay`,
`iocmon rebuild` and `iocmon doctor` connect through `iocmon.kafka_connection` and
`iocmon.redis_connection`; the figures must equal the simulator's truth, wrong passwords must
fail with an error that names the setting to fix, and no password may reach a log or the
doctor's output.

CI runs the quick checks (Redis refuses anonymous, plain and wrong-password connections, the
worker stops on a refused Redis login, the web bind); the end-to-end runs (a worker and
replay with TLS + ACL Redis; with SASL_SSL Kafka too, whose broker alone takes over a minute
to start) and the Kafka wrong-password checks are marked `faults_full` (`make test-faults`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from iocmon.config import Settings
from iocmon.redis_connection import sync_redis
from tests.faults.figures import report
from tests.faults.secure_services import (
    KAFKA_USER,
    REDIS_USER,
    Certs,
    make_certs,
    secure_kafka,
    secure_redis,
)
from tests.integration.harness import REPO, Pipeline, Stack, free_port, http_get
from tests.integration.truth import assert_figures_exact
from tests.integration.workload import count_records, simulate

pytestmark = [pytest.mark.integration, pytest.mark.faults]

EVENTS = 2_000
PASSWORDS = (KAFKA_USER[1], REDIS_USER[1])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_redis(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL of a TLS-only Redis whose one user is an ACL user (default user off)."""
    with secure_redis(tmp_path_factory.mktemp("redis"), certs) as service:
        user, password = REDIS_USER
        yield f"rediss://{user}:{password}@{service.address}/0"


@pytest.fixture(scope="module")
def sasl_kafka(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a broker whose client listener is SASL_SSL only."""
    with secure_kafka(tmp_path_factory.mktemp("kafka"), certs) as service:
        yield service.address


@pytest.fixture
def redis_tls_pipeline(stack: Stack, certs: Certs, tls_redis: str) -> Iterator[Pipeline]:
    """The stack's Kafka, the TLS + ACL Redis."""
    yield from _pipeline(
        replace(stack, redis_url=tls_redis, env={"REDIS_SSL_CA_FILE": str(certs.ca)})
    )


@pytest.fixture
def secure_pipeline(
    stack: Stack, certs: Certs, tls_redis: str, sasl_kafka: str
) -> Iterator[Pipeline]:
    """SASL_SSL Kafka, TLS + ACL Redis."""
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": KAFKA_USER[0],
        "KAFKA_SASL_PASSWORD": KAFKA_USER[1],
        "KAFKA_SSL_CAFILE": str(certs.ca),
        "REDIS_SSL_CA_FILE": str(certs.ca),
    }
    yield from _pipeline(replace(stack, kafka=sasl_kafka, redis_url=tls_redis, env=env))


def _pipeline(stack: Stack) -> Iterator[Pipeline]:
    p = Pipeline(stack)
    p.create_topics()
    yield p
    p.stop()


@pytest.mark.faults_full  # ~1 min on a busy machine; CI keeps the refusal tests below
def test_worker_with_redis_over_tls_as_an_acl_user(
    redis_tls_pipeline: Pipeline, tmp_path: Path
) -> None:
    _run_exactly(redis_tls_pipeline, tmp_path, "Security: TLS + ACL Redis")


@pytest.mark.faults_full
def test_worker_and_producers_over_sasl_ssl_kafka_and_tls_redis(
    secure_pipeline: Pipeline, tmp_path: Path
) -> None:
    _run_exactly(secure_pipeline, tmp_path, "Security: SASL_SSL Kafka + TLS/ACL Redis")


def _run_exactly(pipeline: Pipeline, tmp_path: Path, fault: str) -> None:
    """Simulated events through replay and a worker, then a rebuild: figures exact, doctor
    happy, no password printed or logged."""
    started = time.monotonic()
    events, expected = simulate(pipeline, tmp_path, seed=31, events=EVENTS)
    worker = pipeline.start_worker()
    replay = pipeline.iocmon("replay", str(events))
    pipeline.wait_caught_up()
    assert_figures_exact([worker], expected)
    elapsed = time.monotonic() - started
    # The rebuild reads through its own Kafka client (confluent-kafka) and writes in bulk.
    rebuilt = pipeline.iocmon("rebuild", "--delete-old")
    assert "live generation now" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
    assert_figures_exact([worker], expected)

    doctor = pipeline.iocmon("doctor", "--json", "--url", worker.url, check=False)
    checks = {c["service"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["kafka"]["ok"] and checks["redis"]["ok"], doctor.stdout
    for text in (doctor.stdout, doctor.stderr, replay.stdout, replay.stderr, rebuilt.stderr):
        assert not any(p in text for p in PASSWORDS), "a password was printed"
    worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert not any(p in log for p in PASSWORDS), f"a password is in {worker.log_path}"
    report(fault, records=count_records(events), applied_and_checked_s=round(elapsed, 1))


def test_redis_refuses_anonymous_and_plain_connections(certs: Certs, tls_redis: str) -> None:
    """Without the ACL user's password Redis refuses; plain TCP to the TLS port fails."""
    settings = Settings(redis_url=tls_redis, redis_ssl_ca_file=certs.ca)
    anonymous = tls_redis.replace(f"{REDIS_USER[0]}:{REDIS_USER[1]}@", "")
    client = sync_redis(replace(settings, redis_url=anonymous), socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        client.ping()
    client.close()
    plain = sync_redis(Settings(redis_url=tls_redis.replace("rediss://", "redis://")))
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()


def test_wrong_redis_password_fails_with_a_clear_error(redis_tls_pipeline: Pipeline) -> None:
    wrong = {"REDIS_URL": redis_tls_pipeline.stack.redis_url.replace(REDIS_USER[1], "wrong-pw")}
    doctor = _iocmon(redis_tls_pipeline, wrong, "doctor", "--json")
    checks = {c["service"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert not checks["redis"]["ok"] and "authentication failed" in checks["redis"]["detail"]

    # The worker stops (exit code ≠ 0) and says why, rather than retrying forever.
    worker = _worker(redis_tls_pipeline, wrong)
    assert worker.returncode != 0
    assert "refused the login" in worker.stdout and "REDIS_URL" in worker.stdout, worker.stdout
    _assert_no_password(doctor, worker)


@pytest.mark.faults_full
def test_wrong_kafka_password_fails_with_a_clear_error(
    secure_pipeline: Pipeline, tmp_path: Path
) -> None:
    events = tmp_path / "one.jsonl"
    events.write_text('{"not": "an event"}\n')
    wrong = {"KAFKA_SASL_PASSWORD": "wrong-kafka-pw"}

    replay = _iocmon(secure_pipeline, wrong, "replay", str(events))
    assert replay.returncode != 0
    assert "not the login: check KAFKA_SASL_USERNAME" in replay.stderr, replay.stderr

    doctor = _iocmon(secure_pipeline, wrong, "doctor", "--json")
    checks = {c["service"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert not checks["kafka"]["ok"] and "KAFKA_SASL_PASSWORD" in checks["kafka"]["detail"]

    worker = _worker(secure_pipeline, wrong)
    assert worker.returncode != 0
    assert "SaslAuthenticationFailed" in worker.stdout, worker.stdout[-3000:]
    _assert_no_password(replay, doctor, worker)


def _assert_no_password(*results: subprocess.CompletedProcess[str]) -> None:
    for result in results:
        text = result.stdout + (result.stderr or "")
        assert not any(p in text for p in ("wrong-kafka-pw", "wrong-pw", *PASSWORDS)), text


def _iocmon(
    pipeline: Pipeline, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iocmon", *args],
        env=pipeline.env(**env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _worker(pipeline: Pipeline, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A worker run to its end (it must stop by itself), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "iocmon", "worker"],
        env=pipeline.env(IOCMON_WEB_PORT=str(free_port()), **env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
    )


def test_web_port_binds_to_localhost_unless_configured(pipeline: Pipeline) -> None:
    address = _non_loopback_address()
    default = pipeline.start_worker()
    assert http_get(f"{default.url}/metrics")[0] == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{address}:{default.port}/metrics", timeout=5)

    exposed = _worker(pipeline, {"IOCMON_WEB_HOST": address})  # no token: refused at once
    assert exposed.returncode != 0 and "IOCMON_API_TOKEN" in exposed.stdout, exposed.stdout

    everywhere = pipeline.start_worker(IOCMON_WEB_HOST="0.0.0.0", IOCMON_API_TOKEN="t0ken")
    assert http_get(f"http://{address}:{everywhere.port}/metrics")[0] == 200
    assert http_get(f"http://{address}:{everywhere.port}/api/v1/summary")[0] == 401
    report("Web bind", default="127.0.0.1 only", other_interface=address)


def _non_loopback_address() -> str:
    """An IPv4 address of this machine other than loopback (the interface of its route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent; picks the outgoing interface
            address = str(s.getsockname()[0])
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.fail("this machine has no non-loopback IPv4 address to test the bind against")
    return address
