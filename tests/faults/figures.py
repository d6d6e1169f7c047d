"""Figures measured by the fault tests, printed at the end of the pytest run.

Each fault test calls `report("kill -9 x10", recover_s_max=4.2, ...)`; the terminal summary
lists every report, so a CI log or `make test-faults` shows the numbers behind
docs/reliability.md without `-s`.
"""

from __future__ import annotations

from typing import Any

REPORTS: list[tuple[str, dict[str, Any]]] = []


def report(fault: str, **figures: Any) -> None:
    REPORTS.append((fault, figures))


def render() -> list[str]:
    return [
        f"{fault}: " + ", ".join(f"{name}={value}" for name, value in figures.items())
        for fault, figures in REPORTS
    ]
