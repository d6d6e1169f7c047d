"""What a rebuild is asked (`Limits`) and what it reports (`Summary`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    batch_size: int = 2000
    """Records read per partition at a time."""
    keep_dossiers: int = 250_000
    """States the folds of one process keep in memory (~3 KB each); past its share of them,
    a partition's fold is written and forgotten, and its states are loaded from the new
    generation as records name them."""


DEFAULT_LIMITS = Limits()


@dataclass
class Summary:
    prefix: str
    old_prefixes: list[str]
    records: int = 0
    seconds: float = 0.0
    switch_retries: int = 0
    deleted_keys: int = 0
    events: int = 0
    ignored: int = 0
    rejected: int = 0
    partitions: int = 0
    left_to_worker: int = 0

    def text(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        lines = [
            f"rebuilt {self.partitions} partitions from {self.records:,} records in "
            f"{self.seconds:.1f}s ({rate:,.0f} records/s)",
            f"  events applied {self.events:,}, ignored {self.ignored:,}, "
            f"rejected {self.rejected:,}",
            f"  live generation now {self.prefix} (was {', '.join(self.old_prefixes)})",
        ]
        if self.left_to_worker:
            lines.append(
                f"  {self.left_to_worker:,} records the worker has not processed yet are left "
                "to it (its dead letters and alerts come with them)"
            )
        if self.switch_retries:
            lines.append(f"  {self.switch_retries} switch(es) retried: the worker was ahead")
        if self.deleted_keys:
            lines.append(f"  deleted {self.deleted_keys:,} keys of the old generation")
        return "\n".join(lines)
