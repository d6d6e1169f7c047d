"""Prometheus metrics: the worker's own (per process) and the dossier figures (from Redis).

Dossier figures are global totals kept in Redis, so they survive restarts. To keep sums over
instances exact, only the worker that owns partition 0 of the events topic reports them; the
others report none, and the series move with that partition on a rebalance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Gauge, Histogram, disable_created_metrics
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.samples import Sample

from iocmon.domain.agencies import Agency
from iocmon.domain.figures import Figures
from iocmon.streams.labels import OTHER_AGENCY
from iocmon.streams.queries import Totals

OUTCOMES = ("early", "on_time", "late", "withdrawn")

# `_created` series double the exposition and no panel reads them. (prometheus_client leaves
# this function unannotated.)
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
RECORDS_APPLIED = PromCounter(
    "iocmon_records_applied_total",
    "Event records applied to Redis by this worker (each at most once).",
    registry=REGISTRY,
)
RECORDS_SKIPPED = PromCounter(
    "iocmon_records_skipped_total",
    "Redelivered records skipped because their offset was already applied.",
    registry=REGISTRY,
)
BATCH_CONFLICTS = PromCounter(
    "iocmon_batch_conflicts_total",
    "Batches planned again because another worker applied the partition meanwhile.",
    registry=REGISTRY,
)
REDIS_ERRORS = PromCounter(
    "iocmon_redis_errors_total",
    "Failed Redis round trips while applying batches (retried with backoff).",
    registry=REGISTRY,
)
DEAD_LETTERS = PromCounter(
    "iocmon_dead_letters_produced_total",
    "Records this worker wrote to the dead-letter topic (may repeat after a crash).",
    registry=REGISTRY,
)
REWINDS = PromCounter(
    "iocmon_partition_rewinds_total",
    "Seeks back to the first unapplied record after Kafka's offset ran ahead of Redis.",
    registry=REGISTRY,
)
ALERTS_EMITTED = PromCounter(
    "iocmon_alerts_emitted_total",
    "At-risk, due-soon and overdue alerts this worker sent to the alerts topic.",
    registry=REGISTRY,
)
RISK_SWEEPS = PromCounter(
    "iocmon_at_risk_sweeps_total",
    "Forecasts of every on-track dossier of a partition (when the worker takes it, then "
    "daily at 08:00 local on working days).",
    registry=REGISTRY,
)
APPLY_SECONDS = Histogram(
    "iocmon_apply_batch_seconds",
    "Time to apply one partition batch in Redis.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
EVENT_AGE_SECONDS = Histogram(
    "iocmon_event_age_seconds",
    "Seconds from a record's Kafka timestamp to its batch being applied (pipeline latency).",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
    registry=REGISTRY,
)
ASSIGNED_PARTITIONS = Gauge(
    "iocmon_assigned_partitions",
    "Partitions of the events topic this worker consumes now.",
    registry=REGISTRY,
)
REPORTS_FIGURES = Gauge(
    "iocmon_reports_dossier_figures",
    "1 if this worker reports the global dossier figures (it owns partition 0), else 0.",
    registry=REGISTRY,
)
SNAPSHOT_TIMESTAMP = Gauge(
    "iocmon_figures_snapshot_timestamp_seconds",
    "When the dossier figures on this /metrics were read from Redis (Unix time, unshifted).",
    registry=REGISTRY,
)
REDIS_FULL = Gauge(
    "iocmon_redis_full",
    "1 while Redis refuses writes at maxmemory and this worker holds its intake back.",
    registry=REGISTRY,
)
DOSSIERS_FORGOTTEN = PromCounter(
    "iocmon_dossiers_forgotten_total",
    "Ended dossiers whose state this worker deleted past the retention horizon.",
    registry=REGISTRY,
)
REDIS_UP = Gauge(
    "iocmon_redis_up",
    "1 if this worker's last figure read or ping of Redis succeeded (failed batches count in "
    "iocmon_redis_errors_total).",
    registry=REGISTRY,
)


def figure_families(totals: Totals, allowed_agencies: set[str]) -> list[Metric]:
    """The contract's dossier metrics, with unknown agencies folded into `other`."""

    def label(agency: str) -> str:
        return agency if agency in allowed_agencies else OTHER_AGENCY

    events = CounterMetricFamily(
        "dossier_events", "Distinct valid events applied, by type.", labels=["type"]
    )
    _fill(events, totals.events.items())
    rejected = CounterMetricFamily(
        "dossier_events_rejected",
        "Records sent to the dead-letter topic, by reason.",
        labels=["reason"],
    )
    _fill(rejected, totals.rejected.items())
    ignored = CounterMetricFamily(
        "dossier_events_ignored",
        "Valid events that changed nothing (duplicates, after the end, ...), by reason.",
        labels=["reason"],
    )
    _fill(ignored, totals.ignored.items())

    ended = CounterMetricFamily(
        "dossiers_ended",
        "Dossiers that ended, by receiving agency and outcome.",
        labels=["agency", "outcome"],
    )
    # Every outcome of an agency that has any, from zero: `increase()` needs a sample before
    # the first late dossier, or the burn-rate rules would never count it.
    ended_by_label = _fold(((label(a), o), n) for (a, o), n in totals.ended.items())
    for agency in {a for a, _ in ended_by_label}:
        for outcome in OUTCOMES:
            ended_by_label[(agency, outcome)] += 0
    _fill(ended, ended_by_label.items())
    received = CounterMetricFamily(
        "dossiers_received",
        "Dossiers received, by agency, channel and online service level.",
        labels=["agency", "channel", "level"],
    )
    _fill(
        received,
        _fold(((label(a), c, lv), n) for (a, c, lv), n in totals.received.items()).items(),
    )
    opened = GaugeMetricFamily(
        "dossiers_open",
        "Open dossiers now, by receiving agency and state.",
        labels=["agency", "state"],
    )
    _fill(opened, _fold(((label(a), str(s)), n) for (a, s), n in totals.open.items()).items())
    return [events, rejected, ignored, ended, received, opened]


def at_risk_family(
    at_risk: Counter[str], open_agencies: Iterable[str], allowed_agencies: set[str]
) -> Metric:
    """`dossiers_at_risk{agency}` (issue #18): the on-track dossiers the forecast says will
    likely be late, from every partition's at-risk list; zero for every agency label with
    open dossiers, so a panel shows 0 rather than no data."""

    def label(agency: str) -> str:
        return agency if agency in allowed_agencies else OTHER_AGENCY

    family = GaugeMetricFamily(
        "dossiers_at_risk",
        "Open dossiers on track that the forecast says will likely end late "
        "(IOCMON_AT_RISK_THRESHOLD), by receiving agency.",
        labels=["agency"],
    )
    counts: Counter[str] = Counter({label(a): 0 for a in open_agencies if a})
    for agency, n in at_risk.items():
        counts[label(agency)] += n
    _fill(family, counts.items())
    return family


def period_families(
    periods: Mapping[str, Mapping[str, Figures]], allowed_agencies: set[str]
) -> list[Metric]:
    """Calendar-period figures (today, month, quarter, half-year, year), province and agency.

    Agencies outside the label set are summed into `other` before ratios are taken, so the
    `other` ratio is a true ratio, not an average of ratios.
    """
    ended = GaugeMetricFamily(
        "dossiers_period_ended",
        "Dossiers that ended in the current calendar period, by agency and outcome.",
        labels=["period", "agency", "outcome"],
    )
    received = GaugeMetricFamily(
        "dossiers_period_received",
        "Dossiers received in the current calendar period, by agency.",
        labels=["period", "agency"],
    )
    ratio = GaugeMetricFamily(
        "dossiers_on_time_ratio",
        "(early + on_time) / judged, of dossiers that ended in the period; absent if none. "
        "Without an agency label: the whole province.",
    )
    score = GaugeMetricFamily(
        "dossiers_progress_766",
        "Decision 766 progress score (0-20 points) for the period; absent if no dossiers. "
        "Without an agency label: the whole province.",
    )
    for period, by_agency in sorted(periods.items()):
        folded: dict[str, Figures] = {}
        for agency, figures in by_agency.items():
            label = agency if agency in allowed_agencies else OTHER_AGENCY
            folded[label] = folded.get(label, Figures()) + figures
        province = Figures.total(by_agency.values())
        _add_ratio(ratio, {"period": period}, province.on_time_ratio)
        _add_ratio(score, {"period": period}, province.progress_766)
        for agency, figures in sorted(folded.items()):
            for outcome in OUTCOMES:
                ended.add_metric([period, agency, outcome], getattr(figures, outcome))
            received.add_metric([period, agency], figures.received)
            _add_ratio(ratio, {"period": period, "agency": agency}, figures.on_time_ratio)
            _add_ratio(score, {"period": period, "agency": agency}, figures.progress_766)
    return [ended, received, ratio, score]


def agency_info_family(catalogue: Iterable[Agency], allowed_agencies: set[str]) -> Metric:
    info = GaugeMetricFamily(
        "iocmon_agency_info",
        "Catalogue entry of each agency label value (join on `agency` for names).",
        labels=["agency", "name", "kind", "parent"],
    )
    for agency in catalogue:
        if agency.code in allowed_agencies:
            info.add_metric([agency.code, agency.name, agency.kind, agency.parent or ""], 1)
    return info


def lag_family(lag_by_partition: Mapping[int, int]) -> Metric:
    lag = GaugeMetricFamily(
        "iocmon_partition_lag_records",
        "Records in the events topic not yet applied, per partition this worker owns.",
        labels=["partition"],
    )
    for partition, n in sorted(lag_by_partition.items()):
        lag.add_metric([str(partition)], max(0, n))
    return lag


def exported_families() -> list[Metric]:
    """Every family the worker's `/metrics` can show (those read from Redis without
    samples): the names dashboards and rules may query (`dashboards.lint`)."""
    empty = Totals(Counter(), Counter(), Counter(), Counter(), Counter(), Counter())
    return [
        *REGISTRY.collect(),
        *figure_families(empty, set()),
        at_risk_family(Counter(), (), set()),
        *period_families({}, set()),
        agency_info_family([], set()),
        lag_family({}),
    ]


def _add_ratio(family: GaugeMetricFamily, labels: dict[str, str], value: float | None) -> None:
    if value is not None:
        family.samples.append(Sample(family.name, labels, value, None))


def render_families(families: Iterable[Metric]) -> bytes:
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Fixed(list(families)))
    return generate_latest(snapshot)


APPLIER_METRICS = (
    RECORDS_APPLIED, RECORDS_SKIPPED, BATCH_CONFLICTS, REDIS_ERRORS, REWINDS, ALERTS_EMITTED,
    APPLY_SECONDS, REDIS_FULL, DOSSIERS_FORGOTTEN, RISK_SWEEPS,
)  # fmt: skip
"""Kept by the applier process (`streams.applier_process`); the Faust process keeps the rest."""
_APPLIER_NAMES = frozenset(f.name for m in APPLIER_METRICS for f in m.describe())


def render(*parts: bytes, applier: bytes = b"") -> bytes:
    """Exposition text of this process's metrics, the applier process's (`applier`, from
    `render_applier` there; empty when it did not answer in time), then pre-rendered parts.

    This process's own copies of the applier's metrics are never shown: they are zeros.
    (They once stood in for the applier's when it did not answer, and this process's own
    metrics — whether it reports the figures, the snapshot's time — went missing with it,
    so a scraper could take a stale snapshot for a fresh one.)"""
    own = _Only(REGISTRY, _APPLIER_NAMES, keep=False)
    return b"".join((_latest(own), applier, *parts))


def render_applier() -> bytes:
    """The applier process's own metrics, for the Faust process's /metrics."""
    return _latest(_Only(REGISTRY, _APPLIER_NAMES, keep=True))


def _latest(collector: _Only) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


class _Only:
    """The families of `registry` named in `names` (`keep`), or all the others."""

    def __init__(self, registry: CollectorRegistry, names: frozenset[str], keep: bool) -> None:
        self._registry = registry
        self._names = names
        self._keep = keep

    def collect(self) -> list[Metric]:
        return [f for f in self._registry.collect() if (f.name in self._names) is self._keep]

    def describe(self) -> list[Metric]:
        return []


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families

    def describe(self) -> list[Metric]:
        return []


def _fold(items: Iterable[tuple[tuple[str, ...], int]]) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for key, n in items:
        out[key] += n
    return out


def _fill(
    family: CounterMetricFamily | GaugeMetricFamily, items: Iterable[tuple[object, int]]
) -> None:
    for key, n in sorted(items, key=lambda kv: str(kv[0])):
        labels = list(key) if isinstance(key, tuple) else [str(key)]
        family.add_metric(labels, n)
