"""Calls over the pipe between the worker's processes: answers, and errors by type."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

import aiokafka.errors
import pytest
import redis.exceptions

from iocmon.streams.rpc import PipeRpc, RemoteError


async def _call_raising(error: Exception) -> Any:
    here, there = multiprocessing.Pipe()
    caller, server = PipeRpc(here, {}, "caller"), PipeRpc(there, {}, "server")

    async def fails() -> None:
        raise error

    async def echoes(value: int) -> int:
        return value + 1

    server.serve(fails=fails, echoes=echoes)
    caller.start()
    server.start()
    assert await caller.call("echoes", 41) == 42
    return await caller.call("fails")


@pytest.mark.parametrize(
    ("raised", "caught"),
    [
        # The alert timer catches RedisError: one raised in the applier process crashed the
        # worker when it came back as RemoteError.
        (redis.exceptions.ConnectionError("Error 111 connecting"), redis.exceptions.RedisError),
        (redis.exceptions.TimeoutError("Timeout reading"), redis.exceptions.TimeoutError),
        (aiokafka.errors.KafkaTimeoutError(), aiokafka.errors.KafkaError),
        (ValueError("anything else"), RemoteError),
    ],
)
def test_an_error_comes_back_as_what_the_caller_can_catch(
    raised: Exception, caught: type[Exception]
) -> None:
    with pytest.raises(caught) as error:
        asyncio.run(_call_raising(raised))
    assert type(raised).__name__ in str(error.value)
