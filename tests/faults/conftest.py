"""The fault suite shares the integration tests' stack and pipeline fixtures.

`make test` runs the reduced set (tests not marked `faults_full`); `make test-faults` runs every
fault test, the long ones included. Figures the tests measure are listed at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.faults.figures import render
from tests.integration.conftest import own_alertmanager, pipeline, stack, webhook

__all__ = ["own_alertmanager", "pipeline", "stack", "webhook"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = render()
    if lines:
        terminalreporter.section("fault figures")
        for line in lines:
            terminalreporter.write_line(line)
