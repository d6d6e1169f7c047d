from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import Pipeline, Stack, start_stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    return start_stack()


@pytest.fixture
def pipeline(stack: Stack) -> Iterator[Pipeline]:
    p = Pipeline(stack)
    p.create_topics()
    yield p
    p.stop()
