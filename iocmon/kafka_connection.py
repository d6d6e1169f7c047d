"""How iocmon connects to Kafka: the one place that turns `Settings` into client options.

`KAFKA_SECURITY_PROTOCOL` picks the listener kind the brokers offer:

- `PLAINTEXT` (default) — no TLS, no login: a local stack only;
- `SSL` — TLS; the brokers' certificate is checked against `KAFKA_SSL_CAFILE` (or the system's
  trust store) and its host name against the bootstrap address;
- `SASL_PLAINTEXT` / `SASL_SSL` — a SASL login (`KAFKA_SASL_MECHANISM`, default
  `SCRAM-SHA-512`, with `KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD`), with TLS for
  `SASL_SSL`, the one to use beyond a single machine.

`kafka_python_kwargs` feeds kafka-python (producers, console tools, rebuild);
`faust_credentials` feeds Faust's aiokafka driver (the worker).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from iocmon.config import Secret, Settings
from iocmon.errors import ConfigError

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PROTOCOLS: tuple[Protocol, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: tuple[Mechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: Protocol
    mechanism: Mechanism
    username: str
    password: Secret
    cafile: Path | None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def description(self) -> str:
        """For logs and `iocmon doctor`: how we connect, never the password."""
        if self.sasl:
            return f"{self.protocol}, {self.mechanism} as {self.username}"
        return self.protocol

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cafile=str(self.cafile) if self.cafile is not None else None
        )


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The Kafka security settings, checked; ConfigError says which setting to fix."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol!r} is not one of "
            f"{', '.join(PROTOCOLS)}"
        )
    mechanism = settings.kafka_sasl_mechanism.upper()
    if mechanism not in MECHANISMS:
        raise ConfigError(
            f"KAFKA_SASL_MECHANISM={settings.kafka_sasl_mechanism!r} is not one of "
            f"{', '.join(MECHANISMS)}"
        )
    security = KafkaSecurity(
        protocol=cast(Protocol, protocol),
        mechanism=cast(Mechanism, mechanism),
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        cafile=settings.kafka_ssl_cafile,
    )
    if security.sasl and not (security.username and security.password):
        raise ConfigError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs a login: set KAFKA_SASL_USERNAME and "
            "KAFKA_SASL_PASSWORD"
        )
    if not security.sasl and (security.username or security.password):
        raise ConfigError(
            f"KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SECURITY_PROTOCOL is "
            f"{protocol}; set it to SASL_SSL (or unset the login)"
        )
    if security.cafile is not None:
        if not security.tls:
            raise ConfigError(
                f"KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL is {protocol}; set it "
                "to SASL_SSL or SSL (or unset KAFKA_SSL_CAFILE)"
            )
        if not security.cafile.is_file():
            raise ConfigError(f"KAFKA_SSL_CAFILE={security.cafile} is not a readable file")
    return security


def bootstrap_list(settings: Settings) -> list[str]:
    return [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer, KafkaAdminClient:
    the bootstrap servers and the security options."""
    security = kafka_security(settings)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap_list(settings),
        "security_protocol": security.protocol,
    }
    if security.tls:
        kwargs["ssl_context"] = security.ssl_context()
    if security.sasl:
        kwargs["sasl_mechanism"] = security.mechanism
        kwargs["sasl_plain_username"] = security.username
        kwargs["sasl_plain_password"] = security.password.value
    return kwargs


def faust_credentials(settings: Settings) -> Any:
    """`broker_credentials` for `faust.App` (None for PLAINTEXT)."""
    import faust

    security = kafka_security(settings)
    if security.sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.password.value,
            mechanism=security.mechanism,
            ssl_context=security.ssl_context() if security.tls else None,
        )
    if security.tls:
        return faust.SSLCredentials(security.ssl_context())
    return None
