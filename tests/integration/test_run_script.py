"""`make run` (deploy/local/run.sh) stops every child on Ctrl-C, however its output is redirected.

`make run 2>&1 | tee run.log` then Ctrl-C: the same SIGINT kills `tee`, so run.sh's cleanup
writes to a pipe nobody reads. The worker and the simulator run in sessions of their own (so
Ctrl-C reaches only the live view), hence nothing but the cleanup stops them.

The script runs here with stand-ins: a stack command that only records what it was asked, and
an `iocmon` that serves /metrics (worker), sleeps (simulate) or prints frames (live), each
writing its pid to a file, so the test needs no Kafka and checks only run.sh's own job.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_SH = REPO / "deploy/local/run.sh"
DEADLINE_S = 60.0

FAKE_IOCMON = """#!/usr/bin/env bash
# Stand-in for iocmon in run.sh's test: records its pid, then acts like the real command.
echo $$ >"$FAKE_PIDS/$1.pid"
case $1 in
worker) cd "$FAKE_WEB" && exec python3 -m http.server --bind 127.0.0.1 "$IOCMON_WEB_PORT" ;;
simulate) exec sleep 600 ;;
live) while :; do echo "frame $(date +%s.%N)"; sleep 0.05; done ;;
esac
"""

FAKE_STACK = """#!/usr/bin/env bash
# Stand-in for stack.sh in run.sh's test: records the command and prints a line as stack.sh does.
echo "$1" >>"$FAKE_PIDS/stack.calls"
echo "stack $1"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent, run.sh, is gone and init reaps it).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[dict[str, str]]:
    pids = tmp_path / "pids"
    web = tmp_path / "web"
    local = tmp_path / "local"
    for d in (pids, web, local / "logs", local / "prometheus"):
        d.mkdir(parents=True)
    (web / "metrics").write_text("iocmon_up 1\n")
    env = {
        **os.environ,
        "FAKE_PIDS": str(pids),
        "FAKE_WEB": str(web),
        "IOCMON_CLI": str(executable(tmp_path / "iocmon", FAKE_IOCMON)),
        "IOCMON_STACK_CMD": str(executable(tmp_path / "stack.sh", FAKE_STACK)),
        "IOCMON_LOCAL_DIR": str(local),
        "IOCMON_WEB_PORT": str(free_port()),
    }
    yield env
    for pidfile in pids.glob("*.pid"):  # never leave one behind, whatever the outcome
        pid = int(pidfile.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_for(path: Path, deadline: float) -> None:
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)


@pytest.mark.parametrize("pipe_closed", [False, True], ids=["output-read", "output-pipe-closed"])
def test_ctrl_c_stops_the_worker_the_simulator_and_the_stack(
    fakes: dict[str, str], pipe_closed: bool
) -> None:
    pids = Path(fakes["FAKE_PIDS"])
    run = subprocess.Popen(
        ["bash", str(RUN_SH)],
        cwd=REPO,
        env=fakes,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    assert run.stdout is not None
    deadline = time.monotonic() + DEADLINE_S
    for name in ("worker", "simulate", "live"):
        wait_for(pids / f"{name}.pid", deadline)
    children = {name: int((pids / f"{name}.pid").read_text()) for name in ("worker", "simulate")}
    assert all(alive(pid) for pid in children.values())

    if pipe_closed:
        run.stdout.close()  # what `tee` does when the same Ctrl-C kills it
    os.killpg(run.pid, signal.SIGINT)
    if not pipe_closed:
        run.stdout.read()
    run.wait(timeout=DEADLINE_S)

    while any(alive(pid) for pid in children.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [name for name, pid in children.items() if alive(pid)]
    assert left == [], f"still running after Ctrl-C: {left}"
    assert (pids / "stack.calls").read_text().split() == ["up", "down"]
