"""How Settings become Redis and Kafka connections: parsing, checks, and no password shown."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import confluent_kafka
import faust
import pytest
import redis
import redis.asyncio

from iocmon.config import Secret, Settings
from iocmon.errors import ConfigError
from iocmon.kafka_connection import (
    explain_failure,
    faust_credentials,
    kafka_python_kwargs,
    kafka_security,
    librdkafka_config,
)
from iocmon.redis_connection import async_redis, redis_target, sync_redis


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


# Redis ----------------------------------------------------------------------------------------


def test_plain_url_is_one_redis() -> None:
    target = redis_target(settings(REDIS_URL="redis://127.0.0.1:6379/0"))
    assert (target.cluster, target.tls, target.url) == (False, False, "redis://127.0.0.1:6379/0")


def test_cluster_scheme_picks_the_cluster_client_and_keeps_tls() -> None:
    target = redis_target(settings(REDIS_URL="rediss+cluster://app:pw@10.0.0.5:7000"))
    assert target.cluster and target.tls
    assert target.url == "rediss://app:pw@10.0.0.5:7000"


def test_clients_match_the_url() -> None:
    one = settings(REDIS_URL="redis://127.0.0.1:1/0")
    assert isinstance(async_redis(one), redis.asyncio.Redis)
    assert isinstance(sync_redis(one), redis.Redis)


def test_a_timeout_is_not_retried_and_a_broken_connection_once() -> None:
    client = async_redis(settings(REDIS_URL="redis://127.0.0.1:1/0"), timeout_s=0.5)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.5
    retry = client.get_retry()
    assert retry is not None
    assert retry.get_retries() == 1
    assert set(retry._supported_errors) == {redis.ConnectionError}


@pytest.mark.parametrize("value", ["0", "-1", "61"])
def test_the_redis_timeout_is_checked(value: str) -> None:
    with pytest.raises(ConfigError, match=f"^IOCMON_REDIS_TIMEOUT_S='{value}' is out of range"):
        settings(IOCMON_REDIS_TIMEOUT_S=value)


def test_cluster_has_only_database_0() -> None:
    with pytest.raises(ConfigError, match="only database 0"):
        redis_target(settings(REDIS_URL="redis+cluster://127.0.0.1:7000/3"))


def test_unknown_scheme_says_which_are_accepted() -> None:
    with pytest.raises(ConfigError, match=r"redis\+cluster://"):
        redis_target(settings(REDIS_URL="http://127.0.0.1:6379"))


def test_ca_file_needs_a_tls_url(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    with pytest.raises(ConfigError, match="rediss://"):
        redis_target(settings(REDIS_URL="redis://127.0.0.1:6379/0", REDIS_SSL_CA_FILE=str(ca)))
    target = redis_target(settings(REDIS_URL="rediss://h:6380/0", REDIS_SSL_CA_FILE=str(ca)))
    assert target.client_kwargs() == {"ssl_ca_certs": str(ca)}
    with pytest.raises(ConfigError, match="not a readable file"):
        redis_target(settings(REDIS_URL="rediss://h:6380/0", REDIS_SSL_CA_FILE="/nonexistent"))


def test_description_hides_the_password() -> None:
    target = redis_target(settings(REDIS_URL="rediss+cluster://app:hunter2@h:7000"))
    assert "hunter2" not in target.description
    assert target.description == "Redis Cluster at rediss://app@h:7000"


# Kafka ----------------------------------------------------------------------------------------


def test_plaintext_by_default() -> None:
    kwargs = kafka_python_kwargs(settings(KAFKA_BOOTSTRAP_SERVERS="a:9092, b:9092"))
    assert kwargs == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}
    assert faust_credentials(Settings()) is None


SASL = {
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_USERNAME": "worker",
    "KAFKA_SASL_PASSWORD": "hunter2",
}


def test_sasl_ssl_options_for_kafka_python_and_faust() -> None:
    s = settings(**SASL)
    kwargs = kafka_python_kwargs(s)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("worker", "hunter2")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].check_hostname
    creds = faust_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.protocol.value == "SASL_SSL" and creds.mechanism.value == "SCRAM-SHA-512"
    assert "hunter2" not in repr(creds) and "hunter2" not in kafka_security(s).description


def test_librdkafka_config_for_the_rebuild_is_accepted_by_confluent_kafka() -> None:
    """confluent-kafka refuses unknown or inconsistent properties when a client is made."""
    config = librdkafka_config(settings(**SASL, KAFKA_BOOTSTRAP_SERVERS="a:9092, b:9092"))
    assert config["bootstrap.servers"] == "a:9092,b:9092"
    assert (config["security.protocol"], config["sasl.mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (config["sasl.username"], config["sasl.password"]) == ("worker", "hunter2")
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    for env in ({}, SASL):
        confluent_kafka.Consumer({**librdkafka_config(settings(**env)), "group.id": "t"}).close()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({**SASL, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs a login"),
        ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "set it to SASL_SSL"),
        ({"KAFKA_SSL_CAFILE": "/etc/hostname"}, "set it to SASL_SSL or SSL"),
        ({**SASL, "KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"}, "not a readable file"),
    ],
)
def test_inconsistent_kafka_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kafka_python_kwargs(settings(**env))


def test_explain_failure_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = kafka_python_kwargs(settings(**SASL, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}"))
    assert "nothing answers at" in explain_failure(options, timeout_s=1)


# Secrets --------------------------------------------------------------------------------------


def test_settings_repr_shows_no_secret() -> None:
    s = settings(**SASL, REDIS_URL="rediss://app:redispw@h:6380/0", IOCMON_API_TOKEN="tok3n-value")
    text = repr(s)
    assert "hunter2" not in text and "redispw" not in text and "tok3n-value" not in text
    assert s.kafka_sasl_password == Secret("hunter2") and s.kafka_sasl_password.value == "hunter2"
    assert str(Secret("x")) == "Secret('***')" and not Secret("")
