"""The worker's helper processes (the applier, the API): spawned, joined by a pipe, stopped.

Spawned, never forked: Faust's process runs threads (the pipes' readers among them) that a
fork would copy mid-flight. Each child is a daemon, so it cannot outlive the worker, and
reads its settings from the object handed over, not from the environment again.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from iocmon.config import Settings

STOP_WAIT_S = 5.0
LOG_FORMAT = "[%(asctime)s] [%(process)s] [%(levelname)s] %(message)s"


def spawn(
    target: Callable[[Any, Settings], None], settings: Settings, name: str
) -> tuple[BaseProcess, Connection]:
    """The started child running `target(its end of the pipe, settings)`, and our end."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=target, args=(there, settings), name=name, daemon=True)
    process.start()
    there.close()
    return process, here


def stop(process: BaseProcess | None) -> None:
    """Terminates the child; killed if it has not gone after `STOP_WAIT_S`."""
    if process is None:
        return
    process.terminate()
    process.join(STOP_WAIT_S)
    if process.is_alive():
        process.kill()
