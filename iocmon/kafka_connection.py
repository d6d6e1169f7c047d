"""How iocmon connects to Kafka: the one place that turns `Settings` into client options.

`KAFKA_SECURITY_PROTOCOL` picks the listener kind the brokers offer:

- `PLAINTEXT` (default) — no TLS, no login: a local stack only;
- `SSL` — TLS; the brokers' certificate is checked against `KAFKA_SSL_CAFILE` (or the system's
  trust store) and its host name against the bootstrap address;
- `SASL_PLAINTEXT` / `SASL_SSL` — a SASL login (`KAFKA_SASL_MECHANISM`, default
  `SCRAM-SHA-512`, with `KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD`), with TLS for
  `SASL_SSL`, the one to use beyond a single machine.

`kafka_python_kwargs` feeds kafka-python (producers, console tools); `faust_credentials`
feeds Faust's aiokafka driver (the worker); `librdkafka_config` feeds confluent-kafka (the
rebuild's bulk read).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iocmon.config import KAFKA_MECHANISMS as MECHANISMS
from iocmon.config import KAFKA_PROTOCOLS as PROTOCOLS
from iocmon.config import KafkaMechanism as Mechanism
from iocmon.config import KafkaProtocol as Protocol
from iocmon.config import Secret, Settings
from iocmon.errors import ConfigError


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


PLAINTEXT = KafkaSecurity("PLAINTEXT", "SCRAM-SHA-512", "", Secret(""), None)


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
        protocol=protocol,
        mechanism=mechanism,
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
    return {
        "bootstrap_servers": bootstrap_list(settings),
        **security_kwargs(kafka_security(settings)),
    }


def security_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """The security options alone, for kafka-python."""
    kwargs: dict[str, Any] = {"security_protocol": security.protocol}
    if security.tls:
        kwargs["ssl_context"] = security.ssl_context()
    if security.sasl:
        kwargs["sasl_mechanism"] = security.mechanism
        kwargs["sasl_plain_username"] = security.username
        kwargs["sasl_plain_password"] = security.password.value
    return kwargs


def librdkafka_config(settings: Settings) -> dict[str, Any]:
    """The bootstrap servers and security options in librdkafka's names (confluent-kafka)."""
    security = kafka_security(settings)
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(bootstrap_list(settings)),
        "security.protocol": security.protocol,
    }
    if security.tls:
        # librdkafka checks the host name by default, as the other clients do.
        config["ssl.endpoint.identification.algorithm"] = "https"
        if security.cafile is not None:
            config["ssl.ca.location"] = str(security.cafile)
    if security.sasl:
        config["sasl.mechanism"] = security.mechanism
        config["sasl.username"] = security.username
        config["sasl.password"] = security.password.value
    return config


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


def explain_failure(options: Mapping[str, Any], timeout_s: float = 5.0) -> str:
    """Why a kafka-python client given `options` (from `kafka_python_kwargs`) could not
    bootstrap, probed step by step (TCP, TLS, then the login), as a hint naming what to fix.

    kafka-python only says "Unable to bootstrap" whether the port is closed, the certificate
    untrusted or the password wrong; the broker just closes the connection on a bad login.
    """
    servers = options.get("bootstrap_servers") or []
    first = servers[0] if isinstance(servers, list) and servers else str(servers).split(",")[0]
    host, _, port = first.rpartition(":")
    protocol = options.get("security_protocol", "PLAINTEXT")
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout_s)
    except (OSError, ValueError) as exc:
        return (
            f"nothing answers at {first} ({exc}): is Kafka running (`make up`)? "
            "Else set KAFKA_BOOTSTRAP_SERVERS"
        )
    with sock:
        context = options.get("ssl_context")
        if protocol in ("SSL", "SASL_SSL") and isinstance(context, ssl.SSLContext):
            try:
                with context.wrap_socket(sock, server_hostname=host):
                    pass
            except ssl.SSLCertVerificationError as exc:
                return (
                    f"the broker's TLS certificate is not trusted ({exc.verify_message}): set "
                    "KAFKA_SSL_CAFILE to the CA that signed it, and connect by a host name or "
                    "address the certificate names"
                )
            except (ssl.SSLError, OSError) as exc:
                return (
                    f"the TLS handshake with {first} failed ({exc}): does that listener speak "
                    "TLS? Check KAFKA_SECURITY_PROTOCOL and KAFKA_BOOTSTRAP_SERVERS"
                )
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        user = options.get("sasl_plain_username", "")
        mechanism = options.get("sasl_mechanism", "")
        return (
            f"{first} accepts the connection{' and TLS' if protocol == 'SASL_SSL' else ''} "
            f"but not the login: check KAFKA_SASL_USERNAME ({user}), KAFKA_SASL_PASSWORD and "
            f"KAFKA_SASL_MECHANISM ({mechanism}); the broker's log says 'Failed authentication'"
        )
    return (
        f"{first} answers but sends no Kafka metadata: is it Kafka, and does its listener "
        "expect TLS or SASL? Check KAFKA_SECURITY_PROTOCOL"
    )
