"""A Kafka broker with a SASL_SSL listener (SCRAM-SHA-512) and a TLS-only Redis with an ACL
user, started from the same binaries as the test stack, for tests/faults/test_security.py.

Certificates come from a throwaway CA made with openssl: the server certificate names
127.0.0.1 and localhost, so clients verify both the chain and the host name.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.harness import REPO, free_port, wait_for

KAFKA_ADMIN = ("admin", "admin-secret-0")
KAFKA_USER = ("iocmon-worker", "kafka-pass-4f9c2")
REDIS_USER = ("iocmon-app", "redis-pass-8d31a")
KEYSTORE_PASSWORD = "keystore-pass"


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path
    keystore: Path  # PKCS12 of cert + key, for Kafka


def make_certs(folder: Path) -> Certs:
    """A CA, and a server certificate for 127.0.0.1/localhost signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.crt"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    keystore = folder / "server.p12"
    for args in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=iocmon test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
        ["pkcs12", "-export", "-in", cert, "-inkey", key, "-out", keystore,
         "-name", "server", "-passout", f"pass:{KEYSTORE_PASSWORD}"],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    key.chmod(0o600)
    return Certs(ca=ca, cert=cert, key=key, keystore=keystore)


def kafka_libs() -> Path:
    """The Kafka jars `deploy/local/stack.sh` resolved into the cache (the stack is up)."""
    cache = REPO / ".cache"
    found = sorted(
        (p.parent for p in cache.glob("kafka-*/.complete")), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise AssertionError(f"no Kafka jars in {cache}: run deploy/local/stack.sh up once")
    return found[-1]


@dataclass(frozen=True)
class Service:
    address: str  # host:port
    log: Path


@contextmanager
def secure_kafka(folder: Path, certs: Certs) -> Iterator[Service]:
    """One KRaft node whose only client listener is SASL_SSL with SCRAM-SHA-512 users."""
    port, controller = free_port(), free_port()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    conf = folder / "server.properties"
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{KAFKA_ADMIN[0]}" password="{KAFKA_ADMIN[1]}";'
    )
    conf.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                "controller.listener.names=CONTROLLER",
                f"listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=SASL_SSL://127.0.0.1:{port}",
                "inter.broker.listener.name=SASL_SSL",
                "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
                "ssl.keystore.type=PKCS12",
                f"ssl.keystore.location={certs.keystore}",
                f"ssl.keystore.password={KEYSTORE_PASSWORD}",
                f"ssl.key.password={KEYSTORE_PASSWORD}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={certs.ca}",
                f"log.dirs={data}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "",
            ]
        )
    )
    libs = kafka_libs()
    classpath = f"{libs}/*"
    log = folder / "kafka.log"
    tool_log4j = REPO / "deploy/local/kafka/tools-log4j.properties"
    subprocess.run(
        ["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", f"-Dlog4j.configuration=file:{tool_log4j}",
         "-cp", classpath, "kafka.tools.StorageTool", "format",
         "-t", _cluster_id(), "-c", str(conf),
         "--add-scram", f"SCRAM-SHA-512=[name={KAFKA_ADMIN[0]},password={KAFKA_ADMIN[1]}]",
         "--add-scram", f"SCRAM-SHA-512=[name={KAFKA_USER[0]},password={KAFKA_USER[1]}]"],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j.configuration=file:{REPO / 'deploy/local/kafka/log4j.properties'}",
             "-cp", classpath, "kafka.Kafka", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        service = Service(f"127.0.0.1:{port}", log)
        wait_for(lambda: _kafka_ready(process, log), 120, f"the SASL_SSL Kafka (log: {log})")
        yield service
    finally:
        _stop(process)


def _kafka_ready(process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"Kafka exited with {process.returncode}; see {log}")
    return "Kafka Server started" in log.read_text(errors="replace")


def _cluster_id() -> str:
    """16 random bytes in URL-safe base64, not starting with '-' (Kafka's rule)."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@contextmanager
def secure_redis(folder: Path, certs: Certs) -> Iterator[Service]:
    """redis-server on a TLS port only (`port 0`), the default user off, one ACL user."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "redis.conf"
    user, password = REDIS_USER
    conf.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                "port 0",
                f"tls-port {port}",
                f"tls-cert-file {certs.cert}",
                f"tls-key-file {certs.key}",
                f"tls-ca-cert-file {certs.ca}",
                "tls-auth-clients no",
                f"dir {folder}",
                "appendonly yes",
                'save ""',
                "user default off",
                f"user {user} on >{password} ~* &* +@all",
                "",
            ]
        )
    )
    log = folder / "redis.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["redis-server", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: _redis_ready(process, log), 30, f"the TLS Redis on port {port} (log: {log})"
        )
        yield Service(f"127.0.0.1:{port}", log)
    finally:
        _stop(process)


def _redis_ready(process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"redis-server exited with {process.returncode}; see {log}")
    return "Ready to accept connections" in log.read_text(errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
