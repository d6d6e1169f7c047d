"""Agency label values on real Redis: a code first seen while Redis does not answer still
becomes a label value once Redis is back (found by test_redis_outage: an agency whose
dossiers all came during a pause was reported as `other` for good)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from redis.asyncio import Redis

from iocmon.streams.labels import AgencyLabels
from tests.integration.harness import Stack

pytestmark = pytest.mark.integration


def test_codes_redis_did_not_take_are_sent_with_the_next_note(stack: Stack) -> None:
    prefix = f"labels-{uuid.uuid4().hex[:8]}"
    side = redis.Redis.from_url(stack.redis_url)

    async def scenario() -> tuple[bool, frozenset[str], bool]:
        client = Redis.from_url(stack.redis_url, socket_timeout=0.3)
        labels = AgencyLabels(client, prefix, limit=10, catalogue=None)
        try:
            await labels.note(["AG-1"])
            side.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
            try:
                with pytest.raises(redis.RedisError):
                    await labels.note(["AG-2"])
            finally:
                side.execute_command("CLIENT", "UNPAUSE")
            waiting = labels.pending
            await labels.note(())
            return waiting, await labels.allowed(), labels.pending
        finally:
            await client.aclose()

    try:
        waiting, allowed, still_waiting = asyncio.run(scenario())
    finally:
        side.delete(*side.keys(f"{prefix}:*"))
        side.close()
    assert waiting
    assert allowed == {"AG-1", "AG-2"}
    assert not still_waiting
