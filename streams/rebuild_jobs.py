"""`iocmon rebuild --jobs N`: the partitions shared out among N worker processes.

Planning is pure Python and CPU-bound, and one Python process runs one thread at a time, so
the rebuild scales with processes, not tasks. Each process reads, applies and switches its
own share of the partitions into the same new generation, exactly as a one-process rebuild
does for all of them: the switch stays one atomic script per partition, so the live worker
and the live view see no difference. Each process reports records done and its total in a
shared array that the parent's progress bar adds up; the parent names the new generation in
the pointer key only after every process has switched all of its partitions.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
from collections.abc import Sequence
from multiprocessing.sharedctypes import Array
from typing import Any

from iocmon.config import Settings
from iocmon.errors import IocmonError
from iocmon.streams.rebuild import open_rebuild
from iocmon.streams.rebuild_progress import Progress
from iocmon.streams.rebuild_summary import Limits, Summary

POLL_S = 0.2
UNKNOWN = -1


class _Slot:
    """A worker process's progress: (done, total) at its place in the shared array."""

    def __init__(self, slots: Any, index: int) -> None:
        self._slots = slots
        self._index = index

    def show(self, done: int, total: int, force: bool = False) -> None:
        self._slots[2 * self._index] = done
        self._slots[2 * self._index + 1] = total

    def close(self, done: int, total: int) -> None:
        self.show(done, total)


async def _build(
    settings: Settings, prefix: str, partitions: Sequence[int], limits: Limits, slot: _Slot
) -> Summary:
    async with open_rebuild(settings, limits, slot, prefix, partitions) as job:
        return await job.build()


def _child(
    settings: Settings,
    prefix: str,
    partitions: Sequence[int],
    limits: Limits,
    slots: Any,
    index: int,
    results: Any,
) -> None:
    """Entry point of one worker process; puts (index, summary, error text) on `results`."""
    try:
        summary = asyncio.run(_build(settings, prefix, partitions, limits, _Slot(slots, index)))
    except BaseException as exc:  # reported to the parent, which stops the others
        results.put((index, None, f"{type(exc).__name__}: {exc}"))
        raise
    results.put((index, summary, None))


async def build_in_processes(
    settings: Settings,
    prefix: str,
    partitions: Sequence[int],
    limits: Limits,
    jobs: int,
    progress: Progress | None,
) -> Summary:
    """Builds and switches every partition in `jobs` processes; the summary of them all."""
    context = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
    slots = Array("q", [UNKNOWN] * (2 * jobs), lock=False, ctx=context)
    results = context.Queue()
    shares = [list(partitions[i::jobs]) for i in range(jobs)]
    processes = [
        context.Process(
            target=_child,
            args=(settings, prefix, share, limits, slots, i, results),
            name=f"iocmon-rebuild-{i}",
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    done: dict[int, Summary] = {}
    try:
        silent_exits = 0
        while len(done) < jobs:
            _collect(results, done, shares)
            exited = [
                i for i, p in enumerate(processes) if i not in done and p.exitcode is not None
            ]
            silent_exits = silent_exits + 1 if exited else 0
            if silent_exits > 10:  # exited without a word for two seconds: killed
                i = exited[0]
                raise IocmonError(
                    f"rebuild worker process {i} (partitions {_names(shares[i])}) exited with "
                    f"code {processes[i].exitcode} before finishing; the live generation is "
                    "unchanged for partitions not yet switched: run `iocmon rebuild` again"
                )
            _show(progress, slots, jobs)
            if len(done) < jobs:
                await asyncio.sleep(POLL_S)
    except BaseException:
        for process in processes:
            if process.is_alive():
                process.terminate()
        raise
    finally:
        for process in processes:
            process.join(timeout=10)
    if progress is not None:
        total = sum(s.records for s in done.values())
        progress.close(total, total)
    return _merge(prefix, list(done.values()))


def _collect(results: Any, done: dict[int, Summary], shares: list[list[int]]) -> None:
    while True:
        try:
            index, summary, error = results.get_nowait()
        except queue.Empty:
            return
        if error is not None:
            raise IocmonError(
                f"rebuild worker process {index} (partitions {_names(shares[index])}) failed: "
                f"{error}; partitions already switched stay on the new generation, the others "
                "on the live one: fix the cause and run `iocmon rebuild` again"
            )
        done[index] = summary


def _show(progress: Progress | None, slots: Any, jobs: int) -> None:
    if progress is None:
        return
    totals = [slots[2 * i + 1] for i in range(jobs)]
    if UNKNOWN in totals:
        return
    progress.show(sum(max(slots[2 * i], 0) for i in range(jobs)), sum(totals))


def _names(partitions: Sequence[int]) -> str:
    return ", ".join(str(p) for p in partitions)


def _merge(prefix: str, parts: list[Summary]) -> Summary:

    merged = Summary(prefix, sorted({old for s in parts for old in s.old_prefixes}))
    for s in parts:
        merged.records += s.records
        merged.switch_retries += s.switch_retries
        merged.events += s.events
        merged.ignored += s.ignored
        merged.rejected += s.rejected
        merged.partitions += s.partitions
        merged.left_to_worker += s.left_to_worker
    return merged
