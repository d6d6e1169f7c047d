"""Redis key names, in one place.

Every key that one partition's batch touches carries the hash tag `{topic/partition}`, so a
batch is one atomic script on a single Redis and on Redis Cluster alike. Dossier keys live in
their partition's slot too: Kafka's key partitioning keeps a dossier in one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from iocmon.domain.batch import OpenEntry
from iocmon.domain.buckets import Bucket
from iocmon.domain.risk import Scope, Subject


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    prefix: str
    topic: str
    partition: int

    @property
    def base(self) -> str:
        """Every key of the partition starts with this (its hash tag included)."""
        return f"{self.prefix}:{{{self.topic}/{self.partition}}}"

    @property
    def offset(self) -> str:
        return f"{self.base}:offset"

    def dossier(self, dossier_id: str) -> str:
        return f"{self.base}:d:{dossier_id}"

    def ended(self, bucket: Bucket) -> str:
        """Hash `agency|outcome` -> dossiers that ended in the bucket."""
        return f"{self.base}:ended:{bucket.name}"

    def by_procedure(self, bucket: Bucket) -> str:
        """Hash `agency|procedure|outcome` -> dossiers that ended (no hourly buckets)."""
        return f"{self.base}:procedure:{bucket.name}"

    def report(self, bucket: Bucket) -> str:
        """Hash `agency|field|column` -> dossiers: the periodic report's counters
        (`iocmon.domain.report`); hourly buckets hold only the dossiers becoming overdue."""
        return f"{self.base}:report:{bucket.name}"

    def received(self, bucket: Bucket) -> str:
        """Hash `agency|channel|level` -> dossiers received in the bucket."""
        return f"{self.base}:received:{bucket.name}"

    def durations(self, month: Bucket) -> str:
        """Hash `duration_field` -> dossiers of this partition that ended in the month (not
        withdrawn) after that many working days: the at-risk forecast's histograms (issue
        #18). One hash a month for every scope, so that a reader merges every histogram of
        the horizon with one HGETALL per partition and month; deleted once the month is past
        the horizon (`retire.lua`)."""
        return f"{self.base}:durations:{month.name}"

    @property
    def duration_months(self) -> str:
        """Sorted set of the months (`YYYYMM`) with a `durations` hash, scored by the
        month's end: what `retire.lua` deletes in time."""
        return f"{self.base}:duration-months"

    @property
    def at_risk(self) -> str:
        """Hash dossier id -> JSON entry (`domain.risk_check.AtRiskItem`): the open dossiers
        of the partition found at risk, as its owner's last risk check wrote them."""
        return f"{self.base}:at-risk"

    @property
    def stats(self) -> str:
        """Hash `events|type`, `ignored|reason`, `rejected|reason` -> count."""
        return f"{self.base}:stats"

    @property
    def open_counts(self) -> str:
        """Hash of open dossiers: `open`, `paused` in all, `open|agency`, `paused|agency`."""
        return f"{self.base}:open"

    def overdue_from(self, agency: str | None = None) -> str:
        """Sorted set of unpaused open dossiers, scored by when they become overdue."""
        return f"{self.base}:overdue-from" + (f":{agency}" if agency else "")

    def due_soon_from(self, agency: str | None = None) -> str:
        """Sorted set of unpaused open dossiers, scored by when they become due soon."""
        return f"{self.base}:due-soon-from" + (f":{agency}" if agency else "")

    @property
    def alert_next(self) -> str:
        """Sorted set of open dossiers, scored by when their next alert threshold passes."""
        return f"{self.base}:alert-next"

    @property
    def version(self) -> str:
        """Counts the scripts that wrote this partition: the fence of a worker's cached states."""
        return f"{self.base}:version"

    @property
    def stream_time(self) -> str:
        """The partition's stream time (CONTRACT §3a), Unix seconds."""
        return f"{self.base}:stream-time"

    def ended_on(self, day: str) -> str:
        """List of the dossiers that ended on a local day (YYYYMMDD): forgotten together."""
        return f"{self.base}:ended-on:{day}"

    @property
    def ended_days(self) -> str:
        """Sorted set of the days with an `ended_on` list, scored by the day's start."""
        return f"{self.base}:ended-days"

    @property
    def hour_buckets(self) -> str:
        """Sorted set of the hours with hourly counters, scored by the hour's start."""
        return f"{self.base}:hour-buckets"

    @property
    def procedure_days(self) -> str:
        """Sorted set of the days with per-procedure or report day counters, scored by the
        day's start: deleted past the horizon, the months hold them."""
        return f"{self.base}:procedure-days"

    @property
    def counter_buckets(self) -> str:
        """Sorted set of the day and month buckets (`d:YYYYMMDD`, `m:YYYYMM`) with counters
        in this partition, scored by the bucket's end: what `streams.rollup` sums, in time."""
        return f"{self.base}:counter-buckets"

    @property
    def agencies(self) -> str:
        """Set of agency codes that have figures in this partition."""
        return f"{self.base}:agencies"


@dataclass(frozen=True, slots=True)
class RolledKeys:
    """Counters of closed days and months summed over every partition (`streams.rollup`).

    Under the base prefix, not a generation's: figures beyond the horizon no longer change,
    so every generation and the rebuild share them. Each hash also holds one field `@<p>`
    per partition added to it; counter fields always hold a '|', so the two never meet.
    """

    prefix: str
    topic: str

    def ended(self, bucket: Bucket) -> str:
        return f"{self.prefix}:rolled:{self.topic}:ended:{bucket.name}"

    def by_procedure(self, bucket: Bucket) -> str:
        return f"{self.prefix}:rolled:{self.topic}:procedure:{bucket.name}"

    def report(self, bucket: Bucket) -> str:
        return f"{self.prefix}:rolled:{self.topic}:report:{bucket.name}"

    def received(self, bucket: Bucket) -> str:
        return f"{self.prefix}:rolled:{self.topic}:received:{bucket.name}"


def rolled_member(partition: int) -> str:
    """The field that says a partition's counts are in a rolled hash."""
    return f"@{partition}"


def agency_labels_key(prefix: str) -> str:
    """Sorted set of agency codes by first-seen order: the bounded `agency` label values."""
    return f"{prefix}:agency-labels"


def open_count_fields(entry: OpenEntry) -> tuple[str, ...]:
    """The `open_counts` fields one open dossier adds to."""
    fields: tuple[str, ...] = ("open", f"open|{entry.agency}")
    if entry.clock is None:
        fields += ("paused", f"paused|{entry.agency}")
    return fields


_SCOPE_CODES = {
    Scope.AGENCY_PROCEDURE: "ap",
    Scope.PROCEDURE: "p",
    Scope.AGENCY: "a",
    Scope.PROVINCE: "r",
}
_SCOPE_OF_CODE = {code: scope for scope, code in _SCOPE_CODES.items()}


def duration_field(scope: Scope, subject: Subject, label: str) -> str:
    """The field of one histogram bucket in a `durations` hash: `ap|<agency>|<procedure>|
    <label>` (a procedure at an agency, both codes escaped as in `procedure_field`),
    `p|<procedure>|<label>`, `a|<agency>|<label>`, `r||<label>` (the province). A single code
    may contain '|' unescaped (fields written before the agency-procedure level keep their
    form): the scope never does and the label (`histogram.LABELS`) neither, so such a field
    splits from both ends."""
    if scope is Scope.AGENCY_PROCEDURE:
        if not isinstance(subject, tuple):
            raise TypeError(f"a procedure at an agency is an (agency, procedure) pair: {subject!r}")
        agency, procedure = subject
        return f"ap|{_escape(agency)}|{_escape(procedure)}|{label}"
    if not isinstance(subject, str):
        raise TypeError(f"the {scope.value} histogram's subject is one code: {subject!r}")
    return f"{_SCOPE_CODES[scope]}|{subject}|{label}"


def parse_duration_field(field: str) -> tuple[Scope, Subject, str]:
    """(scope, subject, label) of a `duration_field`; ValueError if it is not one."""
    kind, _, rest = field.partition("|")
    if kind == "ap":
        parts = rest.split("|")
        if len(parts) != 3:
            raise ValueError(f"not a duration histogram field: {field!r}")
        agency, procedure, label = parts
        return Scope.AGENCY_PROCEDURE, (_unescape(agency), _unescape(procedure)), label
    code, bar, label = rest.rpartition("|")
    if kind not in _SCOPE_OF_CODE or not bar:
        raise ValueError(f"not a duration histogram field: {field!r}")
    return _SCOPE_OF_CODE[kind], code, label


def _escape(code: str) -> str:
    """A code without '|', so that a field holding several splits unambiguously; codes
    without '%' or '|' are stored as they are."""
    return code.replace("%", "%25").replace("|", "%7C")


def _unescape(escaped: str) -> str:
    return escaped.replace("%7C", "|").replace("%25", "%")


def procedure_field(agency: str, procedure: str, column: str) -> str:
    """The field of one agency's procedure column in a `by_procedure` or `report` hash
    (where the procedure's place holds a field key).

    Both codes may contain '|' (the contract allows any 1–64 characters), so the procedure is
    escaped and the field splits unambiguously from the right.
    """
    return f"{agency}|{_escape(procedure)}|{column}"


def parse_procedure_field(field: str) -> tuple[str, str, str]:
    """(agency, procedure, column) of a `procedure_field`."""
    agency, escaped, outcome = field.rsplit("|", 2)
    return agency, _unescape(escaped), outcome
