"""`iocmon replay FILE.jsonl`: send a file of events to Kafka, one line per record, in order.

Each non-blank line is sent byte for byte (without its line ending) as one record value, keyed
by the line's `dossier_id` so that all events of a dossier land on one partition in file order.
A line that is not a JSON object, or has no string `dossier_id`, is still sent, with no key:
replay does not judge input, the worker does, and it dead-letters such records (CONTRACT §4).
So a file of recorded production traffic, bad records included, replays faithfully.

What replay cannot reproduce from a file of values alone: the *key* a record originally had.
A record that was sent with a key other than its `dossier_id` is re-sent keyed by its
`dossier_id`; a non-JSON record that had a key is re-sent without one.

Exit status 0 means Kafka acknowledged every record (acks=all, idempotent producer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from iocmon.config import Settings
from iocmon.errors import IocmonError
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.progress import Progress, RateMeter
from iocmon.producers.sender import KafkaSender, Sender

Record = tuple[bytes | None, bytes]


def key_for_value(value: bytes) -> bytes | None:
    """The record key for an event value: its `dossier_id` in UTF-8, or None if it has none."""
    try:
        event = json.loads(value)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly nested
        return None
    if not isinstance(event, dict):
        return None
    dossier_id = event.get("dossier_id")
    if not isinstance(dossier_id, str):
        return None
    try:
        return dossier_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\udXXX" escape
        return None


def record_for_line(line: bytes) -> Record | None:
    """The (key, value) to send for one file line, or None for a blank line."""
    value = line.removesuffix(b"\n").removesuffix(b"\r")
    if not value.strip():
        return None
    return key_for_value(value), value


def read_records(path: Path) -> Iterator[Record]:
    """Every record of a JSONL file, in file order, blank lines skipped."""
    with path.open("rb") as f:
        for line in f:
            record = record_for_line(line)
            if record is not None:
                yield record


def count_records(path: Path) -> int:
    """How many records `read_records` will yield (a cheap pre-pass, for progress)."""
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def replay(records: Iterable[Record], sender: Sender, progress: Progress | None = None) -> int:
    """Send every record through `sender` and wait for all acknowledgements.

    Returns the number of records sent; raises `DeliveryError` if any was not acknowledged.
    """
    for key, value in records:
        sender.send(key, value)
        if progress is not None:
            progress.tick()
    on_wait = progress.tick if progress is not None else None
    sender.flush(on_wait=on_wait)
    return sender.sent


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--topic",
    default=None,
    help="Topic to send to (default: IOCMON_EVENTS_TOPIC, else dossier-events).",
)
def replay_command(file: Path, topic: str | None) -> None:
    """Send each line of FILE (JSON Lines) as one event, keyed by its dossier_id, in order.

    Exits 0 once Kafka has acknowledged every record. Kafka is found through
    KAFKA_BOOTSTRAP_SERVERS (default localhost:9092).
    """
    try:
        settings = Settings.from_env()
        topic = topic or settings.events_topic
        total = count_records(file)
        sender = KafkaSender(
            settings.kafka_bootstrap_servers, topic, client_options=kafka_python_kwargs(settings)
        )
        progress = _replay_progress(sender, total)
        try:
            sent = replay(read_records(file), sender, progress)
        finally:
            sender.close()
    except IocmonError as exc:
        raise click.ClickException(str(exc)) from exc
    progress.tick(force=True)
    click.echo(f"replay: {sent} records sent to {topic!r} and acknowledged", err=True)


def _replay_progress(sender: Sender, total: int) -> Progress:
    meter = RateMeter()

    def render() -> str:
        return (
            f"replay: sent {sender.sent}/{total}, acked {sender.acked}, "
            f"{meter.rate(sender.acked):,.0f} acks/s"
        )

    return Progress(render)
