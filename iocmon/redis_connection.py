"""How iocmon connects to Redis: the one place that builds a Redis client from `Settings`.

`REDIS_URL` says everything about the connection:

- `redis://host:port/0` — one Redis, plain TCP;
- `rediss://user:password@host:port/0` — TLS, authenticated as an ACL user (the server's
  certificate is checked against `REDIS_SSL_CA_FILE` if set, else the system's trust store);
- `redis+cluster://host:port` and `rediss+cluster://user:password@host:port` — a Redis Cluster,
  reached through any one of its nodes (the client learns the others and follows the slots).

Every key one batch touches shares its partition's hash tag (`streams.keys`), so the Lua
scripts run on one node; reads that span partitions are pipelines of single-key commands,
never a multi-key command across slots.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, cast

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.typing import ZSetRangeResponse

from iocmon.config import Settings
from iocmon.errors import ConfigError

AsyncRedis: TypeAlias = redis.asyncio.Redis | redis.asyncio.RedisCluster
SyncRedis: TypeAlias = redis.Redis | redis.RedisCluster

_SCHEMES = {
    "redis": ("redis", False),
    "rediss": ("rediss", False),
    "redis+cluster": ("redis", True),
    "rediss+cluster": ("rediss", True),
}


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """`REDIS_URL` understood: the URL redis-py takes, and how to connect."""

    url: str
    cluster: bool
    tls: bool
    ca_file: Path | None

    @property
    def description(self) -> str:
        """For logs and `iocmon doctor`: the address without the password."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        user = f"{parts.username}@" if parts.username else ""
        kind = "Redis Cluster" if self.cluster else "Redis"
        return f"{kind} at {parts.scheme}://{user}{host}{parts.path}"

    def client_kwargs(self) -> dict[str, Any]:
        if self.tls and self.ca_file is not None:
            return {"ssl_ca_certs": str(self.ca_file)}
        return {}


def redis_target(settings: Settings) -> RedisTarget:
    """Parse `REDIS_URL` (and `REDIS_SSL_CA_FILE`); raise ConfigError saying what to fix."""
    raw = settings.redis_url
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in _SCHEMES:
        raise ConfigError(
            f"REDIS_URL has the scheme {parts.scheme or '(none)'!r}; use redis://host:port/0, "
            "rediss:// for TLS, or redis+cluster:// / rediss+cluster:// for a Redis Cluster"
        )
    if not parts.hostname:
        raise ConfigError("REDIS_URL names no host; use e.g. redis://127.0.0.1:6379/0")
    scheme, cluster = _SCHEMES[parts.scheme]
    if cluster and parts.path.strip("/") not in ("", "0"):
        raise ConfigError(
            f"REDIS_URL selects database {parts.path.strip('/')} but a Redis Cluster has only "
            "database 0; drop the /N from the URL"
        )
    tls = scheme == "rediss"
    ca_file = settings.redis_ssl_ca_file
    if ca_file is not None:
        if not tls:
            raise ConfigError(
                "REDIS_SSL_CA_FILE is set but REDIS_URL is not a TLS URL; use rediss:// "
                "(or rediss+cluster://), or unset REDIS_SSL_CA_FILE"
            )
        if not ca_file.is_file():
            raise ConfigError(f"REDIS_SSL_CA_FILE={ca_file} is not a readable file")
    url = urllib.parse.urlunsplit(parts._replace(scheme=scheme))
    return RedisTarget(url=url, cluster=cluster, tls=tls, ca_file=ca_file)


def async_redis(settings: Settings, timeout_s: float | None = None, **kwargs: Any) -> AsyncRedis:
    """An asyncio client (worker, rebuild): a RedisCluster client for a cluster URL.

    With `timeout_s`, a command that gets no answer in that time fails with TimeoutError
    and is not retried (redis-py would retry it ten times, so a paused Redis would hold a
    caller for half a minute); a broken connection is still retried once on a new one.
    """
    target = redis_target(settings)
    options = {**target.client_kwargs(), **kwargs}
    if timeout_s is not None:
        options.setdefault("socket_timeout", timeout_s)
        options.setdefault("socket_connect_timeout", min(timeout_s, settings.redis_timeout_s))
        options.setdefault("retry", AsyncRetry(NoBackoff(), 1, (redis.ConnectionError,)))
    if target.cluster:
        return redis.asyncio.RedisCluster.from_url(target.url, **options)
    return redis.asyncio.Redis.from_url(target.url, **options)


def sync_redis(settings: Settings, **kwargs: Any) -> SyncRedis:
    """A blocking client (console tools, tests): a RedisCluster client for a cluster URL."""
    target = redis_target(settings)
    options = {**target.client_kwargs(), **kwargs}
    if target.cluster:
        return redis.RedisCluster.from_url(target.url, **options)
    return redis.Redis.from_url(target.url, **options)


def text(reply: bytes | str) -> str:
    """A string reply as text. redis-py types replies as bytes or str (str with
    decode_responses); iocmon's clients do not decode, so they are bytes."""
    return reply.decode("utf-8") if isinstance(reply, bytes) else reply


def members(reply: ZSetRangeResponse) -> list[str]:
    """The members of a ZRANGE / ZRANGEBYSCORE reply read without WITHSCORES, as text.
    redis-py has one return type for both forms, (member, score) pairs included."""
    return [text(member) for member in cast("list[bytes | str]", reply)]
