"""Python's cyclic garbage collector, set for processes that hold many long-lived states."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rare_collections() -> Iterator[None]:
    """The folds keep every state of their partitions alive: hundreds of thousands of
    tuples and strings, none in a cycle, that Python's collector walked again and again
    (about a tenth of a rebuild's time). Collect rarely while they are held."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
