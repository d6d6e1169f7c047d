"""Settings shared by every test.

Hypothesis's per-example deadline is a timing assertion: on a busy CI machine it fails tests
whose behaviour is right. Speed is measured in benchmarks/, so the deadline is off everywhere.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("iocmon", deadline=None)
settings.load_profile("iocmon")
