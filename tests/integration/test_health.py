"""`/healthz` and `/readyz` of the worker on the real stack: ready once it owns its
partitions and knows their end offsets; unready, with the reason, while Redis does not
answer; ready again after, without a restart."""

from __future__ import annotations

import json
import time

import pytest
import redis

from tests.integration.harness import Pipeline, http_get, wait_for

pytestmark = pytest.mark.integration

PAUSE_S = 6


def _ready(url: str) -> tuple[int, dict]:
    status, body = http_get(f"{url}/readyz")
    return status, json.loads(body)


def test_readyz_follows_redis_and_healthz_answers_throughout(pipeline: Pipeline) -> None:
    worker = pipeline.start_worker(IOCMON_REDIS_TIMEOUT_S="0.5")
    wait_for(lambda: _ready(worker.url)[0] == 200, 60, "/readyz to pass")
    status, body = _ready(worker.url)
    assert body["ready"] is True
    assert set(body["checks"]) == {"partitions", "redis", "lag"}
    assert body["checks"]["partitions"]["detail"].startswith("owns [0, 1")

    with redis.Redis.from_url(pipeline.stack.redis_url) as side:
        side.execute_command("CLIENT", "PAUSE", str(PAUSE_S * 1000), "ALL")
    paused_until = time.monotonic() + PAUSE_S
    status, body = _ready(worker.url)
    assert time.monotonic() < paused_until, "the check took the whole pause"
    assert (status, body["ready"]) == (503, False), body
    assert body["checks"]["redis"] == {"ok": False, "detail": "no answer to PING (TimeoutError)"}
    assert body["checks"]["partitions"]["ok"] is True
    assert http_get(f"{worker.url}/healthz")[0] == 200
    # The pause ends by itself (a paused Redis answers no UNPAUSE either).
    wait_for(lambda: _ready(worker.url)[0] == 200, 30, "/readyz to pass after Redis is back")
