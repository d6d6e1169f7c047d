"""`/healthz` and `/readyz` on the worker's web port, for orchestrators and load balancers.

`/healthz` answers while the worker's event loop serves: restart the worker when it stops
answering. `/readyz` says whether the worker does its job now: it has been given its
partitions (or, with more workers than partitions, none to have) and is not in a
rebalance, Redis answers within `IOCMON_REDIS_TIMEOUT_S`, and the end offset of each
partition it owns is known (so its lag is). Each answer is JSON naming every check, 200
when all pass, 503 otherwise: take the worker out of rotation, do not restart it (a Redis
outage makes every worker unready at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import faust
from faust.web import Request, Response, View
from redis.exceptions import RedisError

from iocmon.streams.ownership import Ownership

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class Readiness:
    def __init__(
        self,
        app: faust.App,
        ownership: Ownership,
        ping: Callable[[], Awaitable[object]],
        timeout_s: float,
    ) -> None:
        self._app = app
        self._ownership = ownership
        self._ping = ping
        self._timeout_s = timeout_s

    async def checks(self) -> list[Check]:
        return [self._partitions(), await self._redis(), self._lag()]

    def _partitions(self) -> Check:
        if self._app.rebalancing_count == 0:
            return Check("partitions", False, "not yet given its partitions by the group")
        if self._app.rebalancing:
            return Check("partitions", False, "the consumer group is rebalancing")
        owned = sorted(tp.partition for tp in self._ownership.partitions())
        return Check("partitions", True, f"owns {owned}" if owned else "owns none (spare)")

    async def _redis(self) -> Check:
        try:
            await asyncio.wait_for(self._ping(), self._timeout_s)
        except (TimeoutError, RedisError, OSError) as exc:
            return Check("redis", False, f"no answer to PING ({type(exc).__name__})")
        return Check("redis", True, "answers")

    def _lag(self) -> Check:
        unknown = sorted(
            tp.partition
            for tp in self._ownership.partitions()
            if self._ownership.highwater(tp) is None
        )
        if unknown:
            return Check("lag", False, f"end offsets not yet known for partitions {unknown}")
        return Check("lag", True, "known")


def register_health(app: faust.App, readiness: Readiness) -> None:
    @app.page(HEALTHZ_PATH)
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "serving"})

    @app.page(READYZ_PATH)
    class ReadyView(View):
        async def get(self, request: Request) -> Response:
            checks = await readiness.checks()
            ready = all(c.ok for c in checks)
            body = {
                "ready": ready,
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
            }
            return self.json(body, status=200 if ready else 503)
