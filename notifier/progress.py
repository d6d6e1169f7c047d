"""Which offsets of the alerts topic may be committed: those every receiver acknowledged.

Every record becomes one job in every receiver's lane (a no-op job when that receiver has
nothing to do for it), and each lane works through its jobs in order, so the offsets a lane
acknowledges per partition only grow. The committable offset of a partition is one past the
smallest offset all lanes have acknowledged.

Each assignment of a partition to this notifier opens a new *epoch*; acknowledgements of jobs
from an earlier epoch (before a rebalance took the partition away) no longer count. The
consumer's rebalance callbacks and the lanes' threads call in concurrently, hence the lock.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping


class Progress:
    def __init__(self, lanes: Iterable[str]) -> None:
        self._lanes = tuple(lanes)
        self._lock = threading.Lock()
        self._epochs = itertools.count(1)
        self._epoch: dict[int, int] = {}  # owned partition -> its current epoch
        self._acked: dict[tuple[str, int], int] = {}  # (lane, partition) -> offset
        self._committed: dict[int, int] = {}  # partition -> next offset, as committed

    def assign(self, partition: int) -> int:
        """The partition is ours (again), from its committed offset on; returns the epoch."""
        with self._lock:
            self._forget(partition)
            epoch = self._epoch[partition] = next(self._epochs)
            return epoch

    def revoke(self, partition: int) -> None:
        with self._lock:
            self._forget(partition)
            self._epoch.pop(partition, None)

    def epoch(self, partition: int) -> int | None:
        with self._lock:
            return self._epoch.get(partition)

    def owns(self, partition: int, epoch: int) -> bool:
        with self._lock:
            return self._epoch.get(partition) == epoch

    def ack(self, lane: str, partition: int, epoch: int, offset: int) -> None:
        """`lane` has delivered (or had nothing to deliver for) the record at `offset`."""
        with self._lock:
            if self._epoch.get(partition) != epoch:
                return
            key = (lane, partition)
            self._acked[key] = max(self._acked.get(key, -1), offset)

    def committable(self) -> dict[int, int]:
        """Partition -> next offset to commit, for the partitions that moved since the last
        commit."""
        out: dict[int, int] = {}
        with self._lock:
            for partition in self._epoch:
                acked = [self._acked.get((lane, partition)) for lane in self._lanes]
                if not acked or any(a is None for a in acked):
                    continue
                following = min(a for a in acked if a is not None) + 1
                if following > self._committed.get(partition, -1):
                    out[partition] = following
        return out

    def committed(self, offsets: Mapping[int, int]) -> None:
        with self._lock:
            for partition, offset in offsets.items():
                if partition in self._epoch:
                    self._committed[partition] = max(self._committed.get(partition, -1), offset)

    def _forget(self, partition: int) -> None:
        self._committed.pop(partition, None)
        for lane in self._lanes:
            self._acked.pop((lane, partition), None)
