"""`iocmon --version` and the licence the package declares."""

from __future__ import annotations

import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from iocmon.cli import cli
from iocmon.version import git_commit, version_text

REPO = Path(__file__).resolve().parents[2]


def test_version_names_the_installed_package_and_the_checkout_commit() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    line = result.output.strip()
    assert line.startswith(f"iocmon {version('iocmon')} (git ")
    commit = line.split("(git ", 1)[1].rstrip(")").removesuffix("+changes")
    assert len(commit) == 12 and head.startswith(commit)


def test_outside_a_checkout_there_is_no_commit(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    assert version_text(tmp_path) == f"iocmon {version('iocmon')}"


def test_the_licence_is_apache_2_and_ships_with_the_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    dockerfile = (REPO / "deploy/docker/Dockerfile").read_text()
    assert "COPY pyproject.toml README.md LICENSE" in dockerfile  # the image's wheel has it
