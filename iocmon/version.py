"""What `iocmon --version` says: the installed package's version, and the git commit when the
code runs from a checkout (an editable install, `make venv`), so that a bug report names the
exact code even between releases."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE = "iocmon"
CHECKOUT = Path(__file__).resolve().parents[1]


def package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed; run `make venv`)"


def git_commit(checkout: Path = CHECKOUT) -> str | None:
    """The checkout's commit (short hash), `+changes` when files differ from it; None when
    the code is not in a git checkout (an installed wheel, the image) or git is missing."""
    if not (checkout / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+changes" if changed else head or None


def version_text(checkout: Path = CHECKOUT) -> str:
    """`iocmon 0.1.0` or `iocmon 0.1.0 (git 33059b6e1c2a)`."""
    commit = git_commit(checkout)
    return f"{PACKAGE} {package_version()}" + (f" (git {commit})" if commit else "")
