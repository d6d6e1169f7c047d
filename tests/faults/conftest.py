"""The fault suite shares the integration tests' stack and pipeline fixtures.

`make test` runs the reduced set (tests not marked `faults_full`); `make test-faults` runs every
fault test, the long ones included.
"""

from __future__ import annotations

from tests.integration.conftest import pipeline, stack

__all__ = ["pipeline", "stack"]
