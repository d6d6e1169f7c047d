"""Committable offsets: what every receiver has acknowledged, per partition and epoch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iocmon.notifier.progress import Progress


def test_commits_what_every_lane_acknowledged() -> None:
    progress = Progress(["am", "hook"])
    epoch = progress.assign(0)
    assert progress.committable() == {}
    progress.ack("am", 0, epoch, 4)
    assert progress.committable() == {}  # the webhook has nothing yet
    progress.ack("hook", 0, epoch, 2)
    assert progress.committable() == {0: 3}
    progress.committed({0: 3})
    assert progress.committable() == {}
    progress.ack("hook", 0, epoch, 9)
    assert progress.committable() == {0: 5}


def test_acknowledgements_from_an_earlier_assignment_do_not_count() -> None:
    progress = Progress(["am"])
    old = progress.assign(0)
    progress.revoke(0)
    progress.ack("am", 0, old, 7)
    assert progress.committable() == {}
    new = progress.assign(0)
    assert new != old and progress.owns(0, new) and not progress.owns(0, old)
    progress.ack("am", 0, old, 7)
    assert progress.committable() == {}
    progress.ack("am", 0, new, 3)
    assert progress.committable() == {0: 4}


def test_partitions_are_independent_and_revoked_ones_are_not_committed() -> None:
    progress = Progress(["am"])
    e0, e1 = progress.assign(0), progress.assign(1)
    progress.ack("am", 0, e0, 10)
    progress.ack("am", 1, e1, 20)
    progress.revoke(1)
    assert progress.committable() == {0: 11}
    assert progress.epoch(1) is None


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 100)), max_size=60))
def test_never_commits_past_what_a_lane_has_not_acknowledged(acks: list[tuple[str, int]]) -> None:
    progress = Progress(["a", "b", "c"])
    epoch = progress.assign(0)
    highest: dict[str, int] = {}
    for lane, offset in acks:
        progress.ack(lane, 0, epoch, offset)
        highest[lane] = max(highest.get(lane, -1), offset)
        offsets = progress.committable()
        if len(highest) < 3:
            assert offsets == {}
        else:
            assert offsets == {0: min(highest.values()) + 1}
