"""Small network helpers shared by the console commands: why a connection failed, in words."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.parse


def network_reason(err: BaseException) -> str:
    """A short operator-readable cause: 'connection refused', 'timed out', ..."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, TimeoutError | socket.timeout):
            return "timed out"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            current = current.reason
            continue
        current = current.__cause__ or current.__context__
    text = str(err)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    return text or type(err).__name__


def tcp_problem(host: str, port: int, timeout_s: float) -> str | None:
    """None if a TCP connection opens, else why not ('connection refused', ...)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return network_reason(exc)


def host_port(address: str, default_port: int) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep:
        return address.strip(), default_port
    return host.strip("[]"), int(port)


def redact(url: str) -> str:
    """A URL without its password, fit for output."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + host))


def quiet_kafka_logs() -> None:
    """kafka-python logs every refused connection at ERROR; the console reports them instead."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
