"""The environment variables iocmon reads, for the deploy tests (Helm chart, systemd units):
a setting spelt wrong there would be ignored in silence."""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache

from iocmon.config import _ENV_NAMES


def notifier_config_module():  # type: ignore[no-untyped-def]
    """notifier.config, wherever the package lives (issue #15 moves it under iocmon)."""
    for name in ("iocmon.notifier.config", "notifier.config"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("neither iocmon.notifier.config nor notifier.config can be imported")


@cache
def known_settings() -> frozenset[str]:
    """Every variable of `iocmon.config.Settings`, and every upper-case name the notifier's
    settings module spells as a string (it reads them one by one)."""
    source = inspect.getsource(notifier_config_module())
    notifier = set(re.findall(r'"((?:IOCMON|KAFKA|REDIS|ALERTMANAGER)_[A-Z0-9_]+)"', source))
    return frozenset(_ENV_NAMES.values()) | notifier
