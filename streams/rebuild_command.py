"""`iocmon rebuild`: the command, and the choice between one process and several."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import click

from iocmon.config import Settings
from iocmon.streams.rebuild import open_rebuild
from iocmon.streams.rebuild_jobs import build_in_processes
from iocmon.streams.rebuild_progress import Progress
from iocmon.streams.rebuild_summary import DEFAULT_LIMITS, Limits, Summary


async def rebuild(
    settings: Settings,
    limits: Limits = DEFAULT_LIMITS,
    delete_old: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Summary:
    """With `jobs` > 1 the partitions are shared out among that many worker processes
    (planning is CPU-bound and Python runs one thread at a time); this process checks,
    shows the summed progress, and finishes once every partition switched."""
    async with open_rebuild(settings, limits, progress) as job:
        if jobs <= 1:
            return await job.run(delete_old)
        start = time.monotonic()
        numbers = await job.check_new()
        built = await build_in_processes(
            settings, job.prefix, numbers, limits, min(jobs, len(numbers)), progress
        )
        return await job.finish(built, start, delete_old)


@click.command("rebuild")
@click.option(
    "--batch-size",
    default=Limits.batch_size,
    show_default=True,
    help="Records read per partition at a time.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Worker processes, each rebuilding and switching its share of the partitions.",
)
@click.option(
    "--keep-dossiers",
    type=click.IntRange(min=1),
    default=Limits.keep_dossiers,
    show_default=True,
    help="Dossier states each process keeps in memory (about 3 KB each); beyond them it "
    "writes what it has and reads states back from Redis.",
)
@click.option(
    "--delete-old",
    is_flag=True,
    help="After the switch, delete the old generation's keys (its offset keys stay).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rebuild_command(
    batch_size: int, jobs: int, keep_dossiers: int, delete_old: bool, quiet: bool
) -> None:
    """Recompute every Redis figure from the full history in the events topic.

    Builds a new generation of keys while the worker keeps running, then switches each
    partition to it atomically (the live view never stops). Use it after Redis lost data or
    after a change of the judging rules. Configured like the worker: KAFKA_BOOTSTRAP_SERVERS,
    REDIS_URL, IOCMON_REDIS_PREFIX, IOCMON_EVENTS_TOPIC, ...
    """
    settings = Settings.from_env()
    progress = None if quiet else Progress(sys.stderr)
    limits = Limits(batch_size, keep_dossiers)
    summary = asyncio.run(rebuild(settings, limits, delete_old, progress, jobs))
    click.echo(summary.text())
