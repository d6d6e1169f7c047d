"""Engineering: is the pipeline healthy — throughput, rejects, lag, latency, Redis, SLO burn."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from dashboards import common as c
from dashboards import promql as q
from dashboards.common import OnTimeTarget, Size

UID = "iocmon-engineering"
TITLE = "iocmon — Engineering"

JOB = q.eq("job", "iocmon")
RATE = "[$__rate_interval]"

# Multi-window burn-rate alerting of deploy/prometheus/slo.rules.yml: long and short windows.
BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
BURN = c.thresholds(("green", None), ("orange", 1.0), ("red", 6.0))

UP_DOWN = c.value_text(("0", "Down"), ("1", "Up"))


def per_worker(metric: str) -> str:
    return q.sel(metric, q.INSTANCE)


def rate_sum(selector: str, by: str = "") -> str:
    """sum [by (…)] (rate(selector[$__rate_interval]))."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({selector}{RATE}))"


def quantile(phi: float, histogram: str) -> str:
    bucket = per_worker(histogram + "_bucket")
    return f"histogram_quantile({phi}, sum by (le) (rate({bucket}{RATE})))"


def throughput(board: builders.Dashboard) -> builders.Dashboard:
    return (
        board.with_row(builders.Row("Throughput"))
        .with_panel(
            c.timeseries_panel(
                "Events/s by type",
                "Distinct valid events applied per second, by event type (dossier_events_total; "
                "repeats are not counted).",
                "eps",
                c.NEUTRAL,
                [
                    c.prom(
                        rate_sum(q.sel("dossier_events_total", JOB), by="type"),
                        "{{type}}",
                    )
                ],
                Size(12, 8),
                stacked=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Records applied and skipped /s, by worker",
                "Kafka records each worker applied to Redis, and redelivered records it skipped "
                "because their offset was already applied (normal after a rebalance or restart).",
                "recps",
                c.NEUTRAL,
                [
                    c.prom(
                        rate_sum(per_worker("iocmon_records_applied_total"), by="instance"),
                        "applied {{instance}}",
                        "A",
                    ),
                    c.prom(
                        rate_sum(per_worker("iocmon_records_skipped_total"), by="instance"),
                        "skipped {{instance}}",
                        "B",
                    ),
                ],
                Size(12, 8),
            )
        )
    )


def errors(board: builders.Dashboard) -> builders.Dashboard:
    per_minute = 1 / 60
    return (
        board.with_row(builders.Row("Rejects and errors"))
        .with_panel(
            c.timeseries_panel(
                "Dead-letter rate by reason",
                "Records sent to the dead-letter topic per second, by reason "
                "(dossier_events_rejected_total). The IocmonDeadLetters alert fires above 1 per "
                "minute for 15 minutes (red line).",
                "eps",
                c.thresholds(("green", None), ("red", per_minute)),
                [
                    c.prom(
                        rate_sum(q.sel("dossier_events_rejected_total", JOB), by="reason"),
                        "{{reason}}",
                    )
                ],
                Size(8, 8),
                show_thresholds=True,
                stacked=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Ignored events by reason",
                "Valid events that changed nothing, per second, by reason "
                "(dossier_events_ignored_total): duplicates, events after the end, a second "
                "`received`. Normal in small numbers (at-least-once delivery).",
                "eps",
                c.NEUTRAL,
                [
                    c.prom(
                        rate_sum(q.sel("dossier_events_ignored_total", JOB), by="reason"),
                        "{{reason}}",
                    )
                ],
                Size(8, 8),
                stacked=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Worker errors /s",
                "Per second, all selected workers: dead letters produced, batches planned again "
                "after a conflict with another worker, failed Redis round trips (retried). Any "
                "Redis error is worth a look (red line).",
                "cps",
                c.thresholds(("green", None), ("red", 0.001)),
                [
                    c.prom(
                        rate_sum(per_worker("iocmon_dead_letters_produced_total")),
                        "dead letters produced",
                        "A",
                    ),
                    c.prom(
                        rate_sum(per_worker("iocmon_batch_conflicts_total")),
                        "batch conflicts",
                        "B",
                    ),
                    c.prom(
                        rate_sum(per_worker("iocmon_redis_errors_total")),
                        "Redis errors",
                        "C",
                    ),
                ],
                Size(8, 8),
            )
        )
    )


def latency_and_lag(board: builders.Dashboard) -> builders.Dashboard:
    lag = f"max by (partition) ({per_worker('iocmon_partition_lag_records')})"
    return (
        board.with_row(builders.Row("Latency and lag"))
        .with_panel(
            c.timeseries_panel(
                "End-to-end latency",
                "Seconds from a record's Kafka timestamp to its batch being applied in Redis "
                "(iocmon_event_age_seconds): p50, p95, p99. Orange from 5 s, red from 30 s.",
                "s",
                c.thresholds(("green", None), ("orange", 5.0), ("red", 30.0)),
                [
                    c.prom(quantile(0.5, "iocmon_event_age_seconds"), "p50", "A"),
                    c.prom(quantile(0.95, "iocmon_event_age_seconds"), "p95", "B"),
                    c.prom(quantile(0.99, "iocmon_event_age_seconds"), "p99", "C"),
                ],
                Size(8, 8),
                show_thresholds=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Batch apply time",
                "Seconds to apply one partition batch in Redis (one Lua CAS script call), p50 "
                "and p99 (iocmon_apply_batch_seconds). Orange from 250 ms, red from 1 s.",
                "s",
                c.thresholds(("green", None), ("orange", 0.25), ("red", 1.0)),
                [
                    c.prom(quantile(0.5, "iocmon_apply_batch_seconds"), "p50", "A"),
                    c.prom(quantile(0.99, "iocmon_apply_batch_seconds"), "p99", "B"),
                ],
                Size(8, 8),
                show_thresholds=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Consumer lag per partition",
                "Records in the events topic not yet applied, per partition "
                "(iocmon_partition_lag_records; the largest report per partition during a "
                "rebalance). IocmonConsumerLagGrowing fires above 1000 in total while growing.",
                "short",
                c.thresholds(("green", None), ("orange", 1000.0), ("red", 10000.0)),
                [c.prom(lag, "partition {{partition}}")],
                Size(8, 8),
                stacked=True,
                decimals=0,
            )
        )
    )


def health(board: builders.Dashboard) -> builders.Dashboard:
    size = Size(4, 5)
    return (
        board.with_row(builders.Row("Worker and Redis health"))
        .with_panel(
            c.stat_panel(
                "Workers up",
                'Workers Prometheus scraped successfully (up{job="iocmon"}); red when none is.',
                "none",
                c.ONE_IS_GOOD,
                [c.prom(f"sum({q.sel('up', q.INSTANCE)})", "up")],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.stat_panel(
                "Redis",
                "Whether the last read of figures from Redis succeeded, worst of the selected "
                "workers (iocmon_redis_up).",
                "none",
                c.ONE_IS_GOOD,
                [c.prom(f"min({per_worker('iocmon_redis_up')})", "Redis")],
                size,
                mappings=UP_DOWN,
            )
        )
        .with_panel(
            c.stat_panel(
                "Assigned partitions",
                "Partitions of the events topic consumed now, all selected workers "
                "(iocmon_assigned_partitions); with all workers selected it should equal the "
                "topic's partition count. Red at 0.",
                "none",
                c.ONE_IS_GOOD,
                [c.prom(f"sum({per_worker('iocmon_assigned_partitions')})", "partitions")],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.stat_panel(
                "Figure reporters",
                "Workers reporting the global dossier figures (the owner of partition 0, "
                "iocmon_reports_dossier_figures). Exactly 1 is right: 0 means no figures, 2 "
                "means a rebalance is under way.",
                "none",
                c.thresholds(("red", None), ("green", 1.0), ("orange", 2.0)),
                [c.prom(f"sum({q.sel('iocmon_reports_dossier_figures', JOB)})", "reporters")],
                size,
                decimals=0,
            )
        )
        .with_panel(
            c.stat_panel(
                "Total lag",
                "Records not yet applied, all partitions (sum of the per-partition lag).",
                "short",
                c.thresholds(("green", None), ("orange", 1000.0), ("red", 10000.0)),
                [
                    c.prom(
                        f"sum(max by (partition) ({per_worker('iocmon_partition_lag_records')}))",
                        "lag",
                    )
                ],
                size,
                decimals=0,
                sparkline=True,
            )
        )
        .with_panel(
            c.stat_panel(
                "Dead letters (1 h)",
                "Records rejected to the dead-letter topic in the last hour, all reasons.",
                "short",
                c.thresholds(("green", None), ("orange", 1.0), ("red", 60.0)),
                [
                    c.prom(
                        f"sum(increase({q.sel('dossier_events_rejected_total', JOB)}[1h]))",
                        "rejected",
                    )
                ],
                size,
                decimals=0,
            )
        )
    )


def slo(board: builders.Dashboard, target: OnTimeTarget) -> builders.Dashboard:
    def burn(window: str, *matchers: str) -> str:
        ratio = q.sel(f"iocmon:dossiers_late_ratio:rate{window}", q.AGENCY, *matchers)
        return f"{ratio}\n/ on(agency)\niocmon:slo_error_budget"

    return (
        board.with_row(builders.Row("SLO: on-time error budget"))
        .with_panel(
            c.timeseries_panel(
                "Burn rate by window (worst of the selection)",
                "Late ratio over each window divided by the error budget (1 - objective), from "
                "the recording rules of deploy/prometheus/slo.rules.yml; the highest of the "
                "province and the selected agencies. 1 spends the budget exactly over the SLO "
                "period; the page alerts need 14.4 (1h and 5m) or 6 (6h and 30m), the tickets 3 "
                "(1d and 2h) or 1 (3d and 6h), with a minimum volume.",
                "none",
                BURN,
                [
                    c.prom(f"max(\n{burn(w)}\n)", w, chr(ord("A") + i))
                    for i, w in enumerate(BURN_WINDOWS)
                ],
                Size(12, 9),
                decimals=2,
                show_thresholds=True,
            )
        )
        .with_panel(
            c.timeseries_panel(
                "Burn rate (1 h) by agency, top 10",
                "Late ratio over the last hour divided by the agency's error budget, the 10 "
                "agencies burning fastest.",
                "none",
                BURN,
                [c.prom(f"topk(10,\n{burn('1h', q.NAMED_AGENCY)}\n)", "{{agency}}")],
                Size(8, 9),
                decimals=2,
                show_thresholds=True,
            )
        )
        .with_panel(
            c.stat_panel(
                "On-time objective",
                "The province's SLO objective: share of judged dossiers that must end on time "
                "(iocmon:slo_objective; agencies may have their own). Orange when it is looser "
                f"than the objective these dashboards were generated with ({target.text}): "
                "generate the rules and the dashboards from the same IOCMON_ON_TIME_OBJECTIVE.",
                "percentunit",
                c.thresholds(("orange", None), ("green", target.objective)),
                [c.prom(q.sel("iocmon:slo_objective", q.eq("agency", "")), "objective")],
                Size(4, 9),
                decimals=max(2, target.decimals),
            )
        )
    )


def build(target: OnTimeTarget | None = None) -> builders.Dashboard:
    """The engineering board; `target` is the objective its SLO panel expects."""
    target = target or OnTimeTarget()
    board = (
        c.dashboard(
            UID,
            TITLE,
            (
                "Pipeline health of the iocmon workers: throughput, dead letters, lag, latency, "
                "Redis, and the on-time SLO burn rates."
            ),
            ["engineering"],
            "now-6h",
            "30s",
        )
        .with_variable(c.datasource_variable())
        .with_variable(c.instance_variable())
        .with_variable(c.agency_variable())
    )
    for section in (throughput, errors, latency_and_lag, health):
        board = section(board)
    return slo(board, target)
