"""What this worker sent for a partition's plan whose write then did not land.

Dead letters and alerts leave before their plan is written, so a crash in between repeats
them (each carries an id: the source offset, the alert id) and never loses one. A write that
is refused (the partition moved on: `iocmon rebuild` switched its generation, another worker
wrote it) or fails (Redis unreachable) is planned again, and the new plan holds the same dead
letters and alerts; without this record the worker's own retry would send them a second
time. What it holds is dropped once a plan that contains it is written, or when the
partition leaves this worker (its next owner starts from Redis, at least once as ever).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from iocmon.domain.alerts import Alert
from iocmon.domain.batch import BatchPlan, DeadLetter


class SentAhead:
    def __init__(self) -> None:
        self._alerts: defaultdict[int, set[str]] = defaultdict(set)
        self._letters: defaultdict[int, set[int]] = defaultdict(set)

    def unsent_alerts(self, partition: int, alerts: Sequence[Alert]) -> list[Alert]:
        sent = self._alerts.get(partition, ())
        return [a for a in alerts if a.alert_id not in sent]

    def unsent_letters(self, partition: int, letters: Sequence[DeadLetter]) -> list[DeadLetter]:
        sent = self._letters.get(partition, ())
        return [d for d in letters if d.record.offset not in sent]

    def sent(self, partition: int, plan: BatchPlan) -> None:
        """Every dead letter and alert of `plan` is in Kafka; its write is still to come."""
        self._alerts[partition].update(a.alert_id for a in plan.alerts)
        self._letters[partition].update(d.record.offset for d in plan.dead_letters)

    def written(self, partition: int, plan: BatchPlan) -> None:
        alerts = self._alerts.get(partition)
        if alerts:
            alerts.difference_update(a.alert_id for a in plan.alerts)
        letters = self._letters.get(partition)
        if letters:
            letters.difference_update([o for o in letters if o <= plan.last_offset])

    def forget_partitions(self, keep: Collection[int]) -> None:
        for held in (self._alerts, self._letters):
            for partition in set(held) - set(keep):
                del held[partition]
