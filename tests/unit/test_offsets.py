"""Records of one partition, as a batch may bring them after a seek: each applied once, in order."""

from __future__ import annotations

from iocmon.domain.batch import Record
from iocmon.domain.offsets import unapplied_in_order, until_gap


def offsets(records: list[Record]) -> list[int]:
    return [r.offset for r in records]


def batch(*offs: int) -> list[Record]:
    return [Record(o, b"k", b"v") for o in offs]


def test_records_fetched_before_a_seek_back_come_once_and_in_order() -> None:
    # 52-54 were fetched before the consumer seeked back to 50, then 50-54 came again.
    records = batch(52, 53, 54, 50, 51, 52, 53, 54)
    assert offsets(unapplied_in_order(49, records)) == [50, 51, 52, 53, 54]


def test_applied_records_are_left_out() -> None:
    assert offsets(unapplied_in_order(51, batch(50, 51, 52, 53))) == [52, 53]
    assert unapplied_in_order(60, batch(50, 51)) == []


def test_a_batch_is_applied_only_up_to_a_gap() -> None:
    run, gap = until_gap(batch(50, 51, 52, 60, 61))
    assert offsets(run) == [50, 51, 52] and gap == 53
    run, gap = until_gap(batch(50, 51))
    assert offsets(run) == [50, 51] and gap is None
