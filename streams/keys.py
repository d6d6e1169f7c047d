"""Redis key names, in one place.

Every key that one partition's batch touches carries the hash tag `{topic/partition}`, so a
batch is one atomic script on a single Redis and on Redis Cluster alike. Dossier keys live in
their partition's slot too: Kafka's key partitioning keeps a dossier in one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from iocmon.domain.batch import OpenEntry
from iocmon.domain.buckets import Bucket


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    prefix: str
    topic: str
    partition: int

    @property
    def _base(self) -> str:
        return f"{self.prefix}:{{{self.topic}/{self.partition}}}"

    @property
    def offset(self) -> str:
        return f"{self._base}:offset"

    def dossier(self, dossier_id: str) -> str:
        return f"{self._base}:d:{dossier_id}"

    def ended(self, bucket: Bucket) -> str:
        """Hash `agency|outcome` -> dossiers that ended in the bucket."""
        return f"{self._base}:ended:{bucket.name}"

    def ended_by_procedure(self, bucket: Bucket) -> str:
        """Hash `agency|procedure|outcome` -> dossiers that ended (no hourly buckets)."""
        return f"{self._base}:ended-procedure:{bucket.name}"

    def received(self, bucket: Bucket) -> str:
        """Hash `agency|channel|level` -> dossiers received in the bucket."""
        return f"{self._base}:received:{bucket.name}"

    @property
    def stats(self) -> str:
        """Hash `events|type`, `ignored|reason`, `rejected|reason` -> count."""
        return f"{self._base}:stats"

    @property
    def open_counts(self) -> str:
        """Hash of open dossiers: `open`, `paused` in all, `open|agency`, `paused|agency`."""
        return f"{self._base}:open"

    def overdue_from(self, agency: str | None = None) -> str:
        """Sorted set of unpaused open dossiers, scored by when they become overdue."""
        return f"{self._base}:overdue-from" + (f":{agency}" if agency else "")

    def due_soon_from(self, agency: str | None = None) -> str:
        """Sorted set of unpaused open dossiers, scored by when they become due soon."""
        return f"{self._base}:due-soon-from" + (f":{agency}" if agency else "")

    @property
    def alert_next(self) -> str:
        """Sorted set of open dossiers, scored by when their next alert threshold passes."""
        return f"{self._base}:alert-next"

    @property
    def agencies(self) -> str:
        """Set of agency codes that have figures in this partition."""
        return f"{self._base}:agencies"


def agency_labels_key(prefix: str) -> str:
    """Sorted set of agency codes by first-seen order: the bounded `agency` label values."""
    return f"{prefix}:agency-labels"


def open_count_fields(entry: OpenEntry) -> tuple[str, ...]:
    """The `open_counts` fields one open dossier adds to."""
    fields = ("open", f"open|{entry.agency}")
    if entry.clock is None:
        fields += ("paused", f"paused|{entry.agency}")
    return fields


def procedure_field(agency: str, procedure: str, outcome: str) -> str:
    """The field of one agency's procedure outcome in an `ended_by_procedure` hash.

    Both codes may contain '|' (the contract allows any 1–64 characters), so the procedure is
    escaped and the field splits unambiguously from the right; codes without '%' or '|' are
    stored as they are.
    """
    escaped = procedure.replace("%", "%25").replace("|", "%7C")
    return f"{agency}|{escaped}|{outcome}"


def parse_procedure_field(field: str) -> tuple[str, str, str]:
    """(agency, procedure, outcome) of a `procedure_field`."""
    agency, escaped, outcome = field.rsplit("|", 2)
    return agency, escaped.replace("%7C", "|").replace("%25", "%"), outcome
