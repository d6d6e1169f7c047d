"""Which records of a delivered batch to apply, by offset: each once, in order, up to a gap."""

from __future__ import annotations

from collections.abc import Sequence

from iocmon.domain.batch import Record


def unapplied_in_order(applied: int, records: Sequence[Record]) -> list[Record]:
    """The records past `applied`, each once, in offset order. After a seek (a rewind, a
    rebalance) records fetched before it can arrive in the same batch as those re-read after
    it, out of order and repeated; applied as they came, a repeat would be applied twice (and
    counted as a duplicate event) or the batch's last offset would jump a gap."""
    by_offset = {r.offset: r for r in records if r.offset > applied}
    return [by_offset[offset] for offset in sorted(by_offset)]


def until_gap(records: list[Record]) -> tuple[list[Record], int | None]:
    """The leading run of consecutive offsets, and the first missing offset after it (None
    when there is no gap). The events topic is neither compacted nor transactional, so its
    offsets have no holes of their own."""
    for i in range(1, len(records)):
        if records[i].offset != records[i - 1].offset + 1:
            return records[:i], records[i - 1].offset + 1
    return records, None
