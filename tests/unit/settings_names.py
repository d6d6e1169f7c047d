"""The environment variables iocmon reads, for the deploy tests (Helm chart, systemd units):
a setting spelt wrong there would be ignored in silence. Every one is declared in
`iocmon.config` (the `*_FILE` variants of secrets included)."""

from __future__ import annotations

from iocmon.config import env_names as known_settings

__all__ = ["known_settings"]
