"""The two reference consumers `benchmarks.intake_rate` times against the worker.

Each runs in a process of its own, reads the events topic (settings from the environment,
as the worker's) from offset 0 in its own consumer group, decodes every value with orjson,
and prints `at COUNT CPU` when it has the first record and at each fifth of `--total`, then
`done COUNT CPU` and exits (CPU: the process's CPU seconds so far, all threads). The parent
timestamps those lines as they arrive.

    bare: aiokafka's AIOKafkaConsumer.getmany, no Faust (plaintext, as the test stack).
    noop: a Faust agent on the worker's exact app, loop and topic (`streams.faust_app`:
          uvloop, LeanMonitor), batching as the worker does (`take_events(batch_size,
          within=batch_window_s)`), acking each batch; `--conf JSON` sets faust.App
          settings on top, `--take`/`--within` change the batching, `--no-monitor` drops
          the Monitor sensor, `--faust-monitor` puts Faust's own back, `--asyncio` runs on
          asyncio's loop.

    python -m benchmarks.intake_consumers {bare,noop} --group G --total N [options]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import TYPE_CHECKING, cast

import orjson

from iocmon.config import Settings
from iocmon.kafka_connection import bootstrap_list

if TYPE_CHECKING:
    pass


def decode(value: bytes | None) -> object:
    """Decode a value as the worker does first; the simulator sends some malformed ones."""
    try:
        return orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None


def say(line: str) -> None:
    """To the real stdout: Faust's worker redirects `sys.stdout` into its log."""
    os.write(1, f"{line}\n".encode())


class Progress:
    """Prints `at COUNT CPU` at the first record and each fifth, `done ...` at the total."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self._marks = [1, *(total * i // 5 for i in range(1, 5))]

    def add(self, n: int) -> bool:
        """Count `n` more records; True once the total is reached."""
        self.count += n
        while self._marks and self.count >= self._marks[0]:
            say(f"at {self._marks.pop(0)} {time.process_time():.3f}")
        if self.count >= self.total:
            say(f"done {self.count} {time.process_time():.3f}")
            return True
        return False


async def bare(settings: Settings, group: str, progress: Progress) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.events_topic,
        bootstrap_servers=bootstrap_list(settings),
        group_id=group,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    decode(record.value)
                if progress.add(len(records)):
                    return
    finally:
        await consumer.stop()


def noop(settings: Settings, group: str, progress: Progress, args: argparse.Namespace) -> None:
    import faust
    from faust.sensors import Monitor
    from faust.worker import Worker

    from iocmon.streams.faust_app import build_faust_app, events_topic, use_worker_loop

    if not args.asyncio:
        use_worker_loop()
    app = build_faust_app(settings, app_id=group)
    if args.faust_monitor:
        # faust types its settings' descriptors as a special form, not as their values.
        app.conf.Monitor = Monitor  # type: ignore[assignment]
    for name, value in json.loads(args.conf).items():
        setattr(app.conf, name, value)
    take = args.take or settings.batch_size
    within = settings.batch_window_s if args.within is None else args.within

    @app.agent(events_topic(app, settings), name="noop")
    async def intake(stream: faust.StreamT[bytes]) -> None:
        if args.no_monitor:
            app.sensors.remove(app.monitor)
        # Faust hands every agent a faust.Stream; its StreamT interface lacks take_events.
        async for events in cast("faust.Stream[bytes]", stream).take_events(take, within=within):
            for event in events:
                decode(event.message.value)
            if progress.add(len(events)):
                os._exit(0)  # the parent has its figure; no graceful stop to wait for

    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("bare", "noop"))
    parser.add_argument("--group", required=True)
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--conf", default="{}", help="faust.App settings as JSON (noop)")
    parser.add_argument("--take", type=int, default=0, help="take_events size (batch size)")
    parser.add_argument("--within", type=float, default=None, help="take_events window")
    parser.add_argument("--no-monitor", action="store_true", help="drop Faust's Monitor")
    parser.add_argument("--faust-monitor", action="store_true", help="Faust's own Monitor")
    parser.add_argument("--asyncio", action="store_true", help="asyncio's loop, not uvloop")
    args = parser.parse_args()
    settings = Settings.from_env()
    progress = Progress(args.total)
    if args.kind == "bare":
        asyncio.run(bare(settings, args.group, progress))
    else:
        sys.argv = sys.argv[:1]  # Faust's Worker reads the command line
        noop(settings, args.group, progress, args)


if __name__ == "__main__":
    main()
