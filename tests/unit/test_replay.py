"""`iocmon replay`: which line becomes which record, in which order, and when it fails.

The sender is passed in, so these tests use an in-memory one; sending to a real Kafka is
covered by the integration tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iocmon.producers.errors import DeliveryError
from iocmon.producers.progress import Progress
from iocmon.producers.replay import count_records, read_records, record_for_line, replay
from iocmon.producers.sender import DiscardSender
from iocmon.producers.simulate import simulate_command

EVENT = {
    "v": 1,
    "event_id": "000.00.01.H01-240205-0001-1",
    "dossier_id": "000.00.01.H01-240205-0001",
    "type": "processing",
    "at": "2024-02-05T08:30:00+07:00",
}


class MemorySender(DiscardSender):
    def __init__(self, fail_on_flush: bool = False) -> None:
        super().__init__()
        self.records: list[tuple[bytes | None, bytes]] = []
        self.fail_on_flush = fail_on_flush
        self.flushed = False

    def send(self, key: bytes | None, value: bytes) -> None:
        super().send(key, value)
        self.records.append((key, value))

    def flush(self, on_wait=None) -> None:  # type: ignore[no-untyped-def]
        self.flushed = True
        if self.fail_on_flush:
            raise DeliveryError("Kafka at x did not acknowledge 1 of 1 records")


def line(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode() + b"\n"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (line(EVENT), b"000.00.01.H01-240205-0001"),
        (line({**EVENT, "dossier_id": "Hồ sơ 1"}), "Hồ sơ 1".encode()),
        (line({k: v for k, v in EVENT.items() if k != "dossier_id"}), None),
        (line({**EVENT, "dossier_id": 42}), None),
        (line({**EVENT, "dossier_id": None}), None),
        (line([EVENT]), None),
        (line("000.00.01.H01-240205-0001"), None),
        (b'{"v":1,"dossier_id":"000.00.01.H01-240205-0001"\n', None),  # truncated
        (b"\xff\xfe not utf-8\n", None),
        (b'{"dossier_id": "\\ud800"}\n', None),  # lone surrogate: cannot be a UTF-8 key
    ],
)
def test_key_is_the_dossier_id_when_there_is_one(raw, key):
    record = record_for_line(raw)
    assert record is not None
    assert record == (key, raw.rstrip(b"\n"))


def test_values_are_sent_byte_for_byte_without_the_line_ending():
    raw = b'{"dossier_id": "a",   "type": "x"}'
    assert record_for_line(raw + b"\r\n") == (b"a", raw)
    assert record_for_line(raw) == (b"a", raw)  # last line without a newline


@pytest.mark.parametrize("raw", [b"\n", b"\r\n", b"   \t\n", b""])
def test_blank_lines_are_skipped(raw):
    assert record_for_line(raw) is None


def test_file_order_is_kept_and_bad_lines_are_still_sent(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    second = {**EVENT, "event_id": "e-2", "dossier_id": "B"}
    path.write_bytes(line(EVENT) + b"\n" + b"not json\n" + line(second) + b"[1, 2]")
    sender = MemorySender()
    sent = replay(read_records(path), sender)
    assert sent == 4 == count_records(path)
    assert sender.records == [
        (EVENT["dossier_id"].encode(), line(EVENT).rstrip(b"\n")),
        (None, b"not json"),
        (b"B", line(second).rstrip(b"\n")),
        (None, b"[1, 2]"),
    ]
    assert sender.flushed


def test_a_delivery_failure_is_raised_not_swallowed(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(EVENT))
    with pytest.raises(DeliveryError, match="did not acknowledge"):
        replay(read_records(path), MemorySender(fail_on_flush=True))


def test_progress_lines_are_throttled():
    now = [0.0]
    out = io.StringIO()
    progress = Progress(lambda: f"at {now[0]:.1f}", interval=2.0, clock=lambda: now[0], out=out)
    for step in range(10):
        now[0] = step * 0.5
        progress.tick()
    progress.tick(force=True)
    assert out.getvalue().splitlines() == ["at 2.0", "at 4.0", "at 4.5"]


def test_replaying_a_simulation_file_resends_the_same_records(tmp_path: Path):
    """What `simulate --events-out` wrote, replay sends again: same values, same order, and
    the same keys except for the two documented kinds of bad record."""
    events = tmp_path / "sim.jsonl"
    result = CliRunner().invoke(
        simulate_command,
        [
            *["--no-send", "--seed", "5", "--now", "2024-03-08T15:00:00+07:00"],
            *["--backfill-days", "1", "--dossiers-per-day", "400", "--duration", "0"],
            *["--rate", "0", "--invalid-rate", "0.05"],
            *("--events-out", str(events)),
        ],
    )
    assert result.exit_code == 0, result.output
    sender = MemorySender()
    replay(read_records(events), sender)
    values = events.read_bytes().splitlines()
    assert [value for _, value in sender.records] == values
    unkeyed = 0
    for key, value in sender.records:
        try:
            doc = json.loads(value)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            assert key == doc["dossier_id"].encode()
        else:
            assert key is None
            unkeyed += 1
    assert unkeyed > 0
