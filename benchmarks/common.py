"""Helpers shared by the benchmarks that run on the integration tests' stack."""

from __future__ import annotations

import subprocess

from tests.integration.harness import REPO


def code_version() -> str:
    """The commit the run used, and the worker's files that differed from it (the working
    tree may hold someone's edits in progress)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--short", "--", "streams", "iocmon").splitlines()
    return f"code: {git('rev-parse', '--short', 'HEAD')}" + (
        f" with {len(dirty)} uncommitted change(s) under streams/ and iocmon/" if dirty else ""
    )
