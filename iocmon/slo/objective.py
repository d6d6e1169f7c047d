"""The on-time objective as every reader of it shows and compares it.

One number, the share of judged dossiers (early, on time, late) that must end early or on
time; `Settings.on_time_objective` (`IOCMON_ON_TIME_OBJECTIVE`, default 0.999). The terminal
wall, the API's rankings, the dashboards' thresholds and the Prometheus rules all take it from
here, so an agency cannot be green on one and red on another.
"""

from __future__ import annotations

from iocmon.config import DEFAULT_ON_TIME_OBJECTIVE

__all__ = [
    "DEFAULT_ON_TIME_OBJECTIVE",
    "error_budget",
    "meets",
    "percent",
    "percent_text",
    "warning_level",
    "worst_first",
]

_SLACK = 1e-9


def percent(objective: float) -> float:
    """0.999 -> 99.9 (rounded off float noise: 0.999 * 100 is 99.89999999999999)."""
    return round(objective * 100, 9)


def percent_text(objective: float) -> str:
    """0.999 -> '99.9 %', 0.95 -> '95 %': as the wall, the dashboards and the rules say it."""
    return f"{percent(objective):g} %"


def meets(ratio: float, objective: float) -> bool:
    """ratio ≥ objective with a little slack: 9990 on time of 10000 meets 0.999 although
    9990 / 10000 and 0.999 may differ in their last bit."""
    return ratio >= objective - _SLACK


def error_budget(objective: float) -> float:
    """The share that may end late: 1 - objective (0.001 for 0.999), float noise rounded."""
    return round(1 - objective, 12)


def warning_level(objective: float) -> float:
    """Where the dashboards turn from orange to red: late twice the budget (0.998 for 0.999,
    0.90 for 0.95). Below the objective but above this is "watch", below it "act"."""
    return max(0.0, round(1 - 2 * error_budget(objective), 12))


def worst_first(ratio: float, late: int, agency: str) -> tuple[float, int, str]:
    """Sort key of agencies against the objective, as the wall lists them below target and
    the API ranks them: lowest on-time ratio first, ties to more late dossiers, then code."""
    return (ratio, -late, agency)
