"""`iocmon notify` and the receivers it delivers to, for the integration and fault tests: a
real Alertmanager of the test's own (Debian package, the example configuration), a small JSON
webhook receiver, and the notifier as a subprocess. Receiver outages are real: each can start
late, stop and start again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import REPO, Stack, free_port, http_get, wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
EXAMPLE_CONFIG = REPO / "deploy/alertmanager/alertmanager.yml"


class Webhook:
    """A JSON webhook receiver on a fixed port that can start late and stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/iocmon"
        self.keys: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook._lock:
                    hook.keys.append(self.headers["Idempotency-Key"])
                    hook.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> Counter[str]:
        with self._lock:
            return Counter(self.keys)


class Alertmanager:
    """An Alertmanager of the test's own (the example configuration), to stop and start."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        storage = self.workdir / "data"
        storage.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "alertmanager.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    ALERTMANAGER,
                    f"--config.file={EXAMPLE_CONFIG}",
                    f"--storage.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._ready, 30, f"Alertmanager on port {self.port} (log: {self.workdir})")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"Alertmanager exited; see {self.workdir}/alertmanager.log")
        try:
            return http_get(f"{self.url}/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture
def own_alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    if not Path(ALERTMANAGER).exists():
        pytest.skip("prometheus-alertmanager is not installed (Debian: prometheus-alertmanager)")
    am = Alertmanager(tmp_path / "alertmanager")
    yield am
    am.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


def active_alerts(alertmanager_url: str, prefix: str = "") -> list[dict[str, Any]]:
    """Alerts Alertmanager holds as active (not resolved) for dossiers whose id starts with
    `prefix` (a test's own, on a shared Alertmanager)."""
    query = urllib.parse.urlencode({"filter": f'dossier_id=~"{prefix}.*"'})
    status, body = http_get(f"{alertmanager_url}/api/v2/alerts?{query}")
    assert status == 200, body
    return list(json.loads(body))


def firing(alertmanager_url: str, prefix: str = "") -> set[tuple[str, str]]:
    return {
        (a["labels"]["alertname"], a["labels"]["dossier_id"])
        for a in active_alerts(alertmanager_url, prefix)
    }


def resent_since(
    alertmanager_url: str, prefix: str, before: dict[tuple[str, str], datetime]
) -> bool:
    """Whether every alert in `before` (key -> its endsAt then) was sent again since: each
    send moves its endsAt on. Checks the resends themselves, where a fixed wait past the
    expiry would only hope that they kept up."""
    now = ends_at(alertmanager_url, prefix)
    return all(key in now and now[key] > ends for key, ends in before.items())


def ends_at(alertmanager_url: str, prefix: str) -> dict[tuple[str, str], datetime]:
    return {
        (a["labels"]["alertname"], a["labels"]["dossier_id"]): datetime.fromisoformat(a["endsAt"])
        for a in active_alerts(alertmanager_url, prefix)
    }


class Notifier:
    """`iocmon notify` (`python -m iocmon.notifier`) as a subprocess, resending active alerts every
    second so that Alertmanager's 4-second expiry is exercised."""

    def __init__(
        self,
        stack: Stack,
        topic: str,
        group: str,
        alertmanager_url: str,
        webhook_url: str | None,
    ) -> None:
        self.log_path = stack.local_dir / "logs" / f"notify-{group}.log"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
            "IOCMON_ALERTS_TOPIC": topic,
            "IOCMON_NOTIFY_GROUP": group,
            "ALERTMANAGER_URL": alertmanager_url,
            "IOCMON_WEBHOOK_URL": webhook_url or "",
            "IOCMON_NOTIFY_RESEND_S": "1",
            "IOCMON_NOTIFY_BACKOFF_MAX_S": "1",
            "IOCMON_NOTIFY_HTTP_TIMEOUT_S": "2",
            "IOCMON_NOTIFY_PORT": str(free_port()),
        }
        self.metrics_url = f"http://127.0.0.1:{self.env['IOCMON_NOTIFY_PORT']}/metrics"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Notifier:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "iocmon.notifier"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, 60, f"the notifier's /metrics (log: {self.log_path})")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"notifier exited with {self.process.returncode}: {self.log_path}")
        try:
            return http_get(self.metrics_url, timeout=2)[0] == 200
        except OSError:
            return False

    def metric(self, name: str) -> float:
        _, body = http_get(self.metrics_url)
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )

    def stop(self) -> int:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill9()
