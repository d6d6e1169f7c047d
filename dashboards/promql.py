"""PromQL fragments shared by the dashboards.

Every agency-scoped selector matches `agency=~"$agency"`: the agency variable's All value is
`.*`, so one query serves the whole province and a single agency. Province-level figures are
sums over agencies, and ratios are computed from the period gauges so that they follow the
variable; a ratio is absent (not 0, not NaN) when its denominator is 0, as in the contract.
"""

from __future__ import annotations

AGENCY = 'agency=~"$agency"'
NAMED_AGENCY = 'agency!=""'
INSTANCE = 'job="iocmon", instance=~"$instance"'

ON_TIME_OUTCOMES = "early|on_time"
JUDGED_OUTCOMES = "early|on_time|late"
GOOD_766_OUTCOMES = "early|on_time|withdrawn"


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def match(label: str, regex: str) -> str:
    return f'{label}=~"{regex}"'


def sel(metric: str, *matchers: str) -> str:
    """`metric{m1, m2}`; empty matchers are left out."""
    inner = ", ".join(m for m in matchers if m)
    return metric + "{" + inner + "}"


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, absent when the denominator is 0 (or absent)."""
    return f"{numerator}\n/\n({denominator} > 0)"


def period_ended(outcomes: str | None = None, period: str = "$period") -> str:
    """sum of `dossiers_period_ended` in the period, for the outcomes (a regex) or all."""
    matchers = [eq("period", period), AGENCY]
    if outcomes is not None:
        matchers.append(match("outcome", outcomes))
    return "sum(" + sel("dossiers_period_ended", *matchers) + ")"


def period_received(period: str = "$period") -> str:
    return "sum(" + sel("dossiers_period_received", eq("period", period), AGENCY) + ")"


def open_now(*matchers: str) -> str:
    """sum of `dossiers_open`, e.g. open_now(eq("state", "overdue"))."""
    return "sum(" + sel("dossiers_open", AGENCY, *matchers) + ")"


def open_by_agency(*matchers: str) -> str:
    return "sum by (agency) (" + sel("dossiers_open", AGENCY, *matchers) + ")"


def at_risk_by_agency() -> str:
    """Open dossiers the forecast says will likely end late (`dossiers_at_risk`, issue #18)."""
    return "sum by (agency) (" + sel("dossiers_at_risk", AGENCY) + ")"


def on_time_ratio(period: str = "$period") -> str:
    """CONTRACT §3: (early + on_time) / (early + on_time + late), dossiers ended in the period."""
    return ratio(period_ended(ON_TIME_OUTCOMES, period), period_ended(JUDGED_OUTCOMES, period))


def late_ratio(period: str = "$period") -> str:
    return ratio(period_ended("late", period), period_ended(JUDGED_OUTCOMES, period))


def progress_766(period: str = "$period") -> str:
    """CONTRACT §3: 20 × (early + on_time + withdrawn ended + open not overdue) / (ended + open)."""
    good = period_ended(GOOD_766_OUTCOMES, period) + "\n+\n" + open_now('state!="overdue"')
    everything = period_ended(None, period) + "\n+\n" + open_now()
    return f"20 * (\n{good}\n)\n/\n(\n{everything}\n> 0)"


def increase_sum(metric: str, window: str, *matchers: str, by: str = "") -> str:
    """sum [by (…)] (increase(metric{agency, …}[window]))."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(increase({sel(metric, AGENCY, *matchers)}[{window}]))"


def rolling_on_time(window: str = "1d") -> str:
    """On-time share of the dossiers ended in the `window` before each instant."""
    return ratio(
        increase_sum("dossiers_ended_total", window, match("outcome", ON_TIME_OUTCOMES)),
        increase_sum("dossiers_ended_total", window, match("outcome", JUDGED_OUTCOMES)),
    )


def with_names(expr: str) -> str:
    """Adds the catalogue `name` label to a per-agency vector.

    Agencies missing from the catalogue (and `other`) keep their code as the name, so a
    worker started without a catalogue still fills the panel. `group by` keeps the join
    one-to-one when several workers export the catalogue.
    """
    return (
        f"(\n  {expr}\n"
        "  * on(agency) group_left(name) group by (agency, name) (iocmon_agency_info)\n)\n"
        "or on(agency)\n"
        f'label_replace({expr}, "name", "$1", "agency", "(.+)")'
    )
