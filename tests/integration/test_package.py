"""The wheel, installed as the image installs it (issue #15): one top-level package, `iocmon`,
and every command works from it with nothing of the checkout importable.

No Docker engine runs here, so the image's steps are taken in a fresh venv: build the wheel,
`pip install --no-deps` it, and give the venv the dependencies of the project's own venv
through a path entry (not a site directory, so the checkout's editable hook stays out). The
commands run in the venv's folder: the checkout's top-level folders are not on the path.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from iocmon.cli import cli
from tests.integration.harness import REPO, Pipeline, http_get, wait_for

pytestmark = pytest.mark.integration

REPO_TOP_LEVEL = ("streams", "producers", "notifier", "dashboards")
"""Folders of the repository that are not installed under their own name."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = out.glob("iocmon-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("venv") / "iocmon"
    venv.EnvBuilder(with_pip=False).create(home)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(home), "platbase": str(home)}))
    dependencies = sysconfig.get_path("purelib")
    (site / "dependencies.pth").write_text(dependencies + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(home / "bin/python"), "install",
         "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    yield home


def run_in(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=home, capture_output=True, text=True, timeout=120)


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = archive.read(next(n for n in names if n.endswith("top_level.txt")))
    assert top_level.decode().split() == ["iocmon"]
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"iocmon"}
    for shipped in ("iocmon/streams/lua/apply_batch.lua", "iocmon/streams/openapi.json",
                    "iocmon/notifier/cli.py", "iocmon/producers/importer/cli.py"):  # fmt: skip
        assert shipped in names
    assert not any(n.startswith("iocmon/dashboards") for n in names)


def test_commands_run_from_the_installed_package_alone(installed: Path) -> None:
    python = str(installed / "bin/python")
    where = run_in(installed, python, "-c", "import iocmon.streams; print(iocmon.streams.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout
    for name in REPO_TOP_LEVEL:
        probe = run_in(installed, python, "-c", f"import {name}")
        assert probe.returncode != 0 and f"No module named '{name}'" in probe.stderr, name
    iocmon = str(installed / "bin/iocmon")
    assert run_in(installed, iocmon, "--version").returncode == 0
    with click.Context(cli) as ctx:
        commands = cli.list_commands(ctx)
    assert {"worker", "notify", "report", "rebuild"} <= set(commands)
    for command in commands:
        done = run_in(installed, iocmon, command, "--help")
        assert done.returncode == 0 and "Usage:" in done.stdout, (command, done.stderr)


def test_the_installed_worker_serves_and_applies(installed: Path, pipeline: Pipeline) -> None:
    worker = pipeline.start_installed_worker(installed)
    wait_for(lambda: http_get(f"{worker.url}/readyz")[0] == 200, 90, "the worker's /readyz")
    pipeline.send(
        {"v": 1, "event_id": "pkg-1", "dossier_id": "PKG-1", "type": "received",
         "at": "2026-12-01T09:00:00+07:00", "agency": "PKG", "procedure": "1.001",
         "channel": "online", "level": "full", "processing_days": 5}
    )  # fmt: skip
    pipeline.wait_caught_up()
    status, body = worker.get_json("/api/v1/dossiers/PKG-1")
    assert status == 200, body
    assert body["agency"] == "PKG"
