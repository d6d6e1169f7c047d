from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.harness import Pipeline, Stack, stack_running, start_stack, stop_stack
from tests.integration.notifying import own_alertmanager, webhook

__all__ = ["own_alertmanager", "webhook"]  # fixtures: the test's own receivers of alerts


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The test stack, started once per session and stopped at its end if this session
    started it (IOCMON_KEEP_STACK=1 keeps it for the next run)."""
    started_here = not stack_running()
    yield start_stack()
    if started_here and os.environ.get("IOCMON_KEEP_STACK") != "1":
        stop_stack()


@pytest.fixture
def pipeline(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    """A fresh pipeline; `@pytest.mark.partitions(N)` sets its topic's partition count.
    Its workers are stopped however the test ends."""
    marker = request.node.get_closest_marker("partitions")
    p = Pipeline(stack, partitions=marker.args[0]) if marker else Pipeline(stack)
    p.create_topics()
    yield p
    p.stop()
