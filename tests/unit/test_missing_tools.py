"""CI=true turns a skip for a missing tool into a failure; other skips, and local runs, stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TESTS = """
import pytest

needs_frobtool = pytest.mark.skipif(True, reason="frobtool is not installed (apt-get install frob)")

@needs_frobtool
def test_marked():
    pass

@pytest.fixture
def tool():
    pytest.skip("frobd is not installed (Debian: frobd)")

def test_fixture(tool):
    pass

def test_other_reason():
    pytest.skip("deploy/frob/*.yml is missing: nothing to check")
"""


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tools.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.missing_tools", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "pytest.ini"), "-rA", str(tmp_path / "test_tools.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_skip_for_a_missing_tool_fails(tmp_path: Path, ci: str) -> None:
    result = run_pytest(tmp_path, ci)
    assert result.returncode == 1, result.stdout
    assert "2 errors" in result.stdout or "2 failed" in result.stdout, result.stdout
    assert "1 skipped" in result.stdout, result.stdout
    assert "CI=true: skipped for a missing tool (frobtool is not installed" in result.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_outside_ci_every_skip_stays_a_skip(tmp_path: Path, ci: str | None) -> None:
    result = run_pytest(tmp_path, ci)
    assert result.returncode == 0, result.stdout
    assert "3 skipped" in result.stdout, result.stdout


def test_make_test_installs_the_tools_before_pytest_runs_and_ci_sets_ci() -> None:
    script = (REPO / "deploy/local/test.sh").read_text()
    assert "stack.sh install" in script
    assert script.index("stack.sh install") < script.index("-m pytest")
    assert 'export CI="${CI:-true}"' in (REPO / ".ci/run").read_text()
