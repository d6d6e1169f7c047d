"""Settings shared by every test.

Hypothesis's per-example deadline is a timing assertion: on a busy CI machine it fails tests
whose behaviour is right. Speed is measured in benchmarks/, so the deadline is off everywhere.

Under CI=true a test skipped because a tool is missing fails (tests/missing_tools.py).
"""

from __future__ import annotations

from hypothesis import settings

from tests.missing_tools import pytest_runtest_makereport

__all__ = ["pytest_runtest_makereport"]

settings.register_profile("iocmon", deadline=None)
settings.load_profile("iocmon")
