"""Under CI=true a test skipped because a tool is missing fails instead.

`make test` installs what the tests need first (`deploy/local/stack.sh install`), so on CI a
skip for a missing tool means the install step is broken, and 18 rule tests skipped in
silence looked like a green run. Locally a skip stays a skip: a developer may run a subset
without the tools.

The convention: a test that skips for a missing tool says "<tool> is not installed" in its
reason (tests/unit/test_prometheus_rules.py, tests/integration/test_notifier.py,
dashboards.lint). Registered as a plugin by tests/conftest.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import pytest

MISSING_TOOL = re.compile(r"\bis not installed\b", re.IGNORECASE)
STRICT_VALUES = frozenset({"1", "true", "yes"})


def strict(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """CI services set CI=true; .ci/run sets it when they do not."""
    return environ.get("CI", "").strip().lower() in STRICT_VALUES


def skip_reason(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and strict()):
        return
    reason = skip_reason(report)
    if MISSING_TOOL.search(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: skipped for a missing tool ({reason}). `make test` installs the tools "
            "first (deploy/local/stack.sh install): see why that did not install it."
        )
