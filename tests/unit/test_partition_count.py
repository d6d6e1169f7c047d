"""The partition count recorded beside the figures, compared with the topic's (no services)."""

from __future__ import annotations

import pytest

from iocmon.console.partition_check import partition_count_check
from iocmon.streams.partition_count import (
    PartitionCountChanged,
    check_recorded,
    count_key,
    live_generation,
)


def test_the_count_lives_beside_the_live_generation() -> None:
    assert live_generation("iocmon", None) == "iocmon"
    assert live_generation("iocmon", b"iocmon:g1700000000") == "iocmon:g1700000000"
    assert count_key("iocmon:g1700000000", "dossier-events") == (
        "iocmon:g1700000000:partitions:dossier-events"
    )


def test_another_count_than_the_recorded_one_is_refused_with_what_to_do() -> None:
    check_recorded("dossier-events", 12, "iocmon", None)  # nothing recorded yet
    check_recorded("dossier-events", 12, "iocmon", b"12")
    with pytest.raises(PartitionCountChanged) as caught:
        check_recorded("dossier-events", 16, "iocmon", b"12")
    message = str(caught.value)
    assert "has 16 partitions" in message and "built with 12" in message
    assert "Changing the partition count" in message


def test_doctor_line_for_each_case() -> None:
    assert partition_count_check("dossier-events", 12, "iocmon", None).ok
    assert partition_count_check("dossier-events", 12, "iocmon", b"12").ok
    bad = partition_count_check("dossier-events", 16, "iocmon", b"12")
    assert not bad.ok and "built with 12" in bad.detail
