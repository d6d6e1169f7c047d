"""A Redis server of a test's own (append-only on), so faults never touch the shared stack."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import redis

from tests.integration.harness import Pipeline, Stack, free_port, wait_for


@dataclass
class RedisServer:
    """`redis-server --appendonly yes` in `data_dir` on `port`; start, stop, kill -9, restart."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, port: int | None = None) -> None:
        """Start on `port` (default: its own), reading the append-only file left behind."""
        port = port or self.port
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(self.data_dir),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--logfile", str(self.log_path),
            ],
            start_new_session=True,
        )  # fmt: skip
        wait_for(
            lambda: self._answers(port), 30, f"redis-server on port {port} (log {self.log_path})"
        )

    def _answers(self, port: int) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"redis-server exited; see {self.log_path}")
        return answers(port)

    def client(self, port: int | None = None) -> redis.Redis:
        return redis.Redis(port=port or self.port, socket_timeout=10)

    def shutdown(self) -> None:
        """A clean stop: the append-only file is flushed, nothing is lost."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def kill9(self) -> None:
        """A crash: writes of the last second (appendfsync everysec) may be lost."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    @contextmanager
    def on_side_port(self) -> Iterator[redis.Redis]:
        """Start on another port (the worker cannot see it), yield a client, stop again:
        reads what the data holds while the worker's Redis stays unreachable."""
        side = free_port()
        self.start(side)
        client = self.client(side)
        try:
            yield client
        finally:
            client.close()
            self.shutdown()


def answers(port: int) -> bool:
    """Whether the Redis on `port` answers a PING and has finished loading its data."""
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        return bool(client.ping()) and client.info("persistence")["loading"] == 0
    except redis.RedisError:
        return False
    finally:
        client.close()


@contextmanager
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill9()


def pipeline_on(stack: Stack, server: RedisServer) -> Pipeline:
    """A pipeline whose worker, offsets and figures use `server`, not the stack's Redis."""
    pipeline = Pipeline(replace(stack, redis_url=server.url))
    pipeline.create_topics()
    return pipeline


def applied_offsets(client: redis.Redis, pipeline: Pipeline) -> dict[int, int]:
    """Last applied offset per partition (-1: none), as the worker's store keeps it."""
    raw = client.mget(
        [
            f"{pipeline.name}:{{{pipeline.events_topic}/{p}}}:offset"
            for p in range(pipeline.partitions)
        ]
    )
    return {p: -1 if v is None else int(v) for p, v in enumerate(raw)}
