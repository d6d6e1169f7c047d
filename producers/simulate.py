"""`iocmon simulate`: realistic one-stop-desk traffic for a province, sent to Kafka.

Dossiers are received from `--backfill-days` ago onwards. Their events that are already in
the past are sent at once (at `--rate`), then the simulator follows the clock: new dossiers
keep arriving in office hours and planned events are sent when their time comes. No event is
ever sent before its `at`. Output is reproducible: the same `--seed` and `--now` give the
same records in the same order (`--now` makes the clock start there and run at real speed).

Files:
- `--events-out FILE`: every record sent, one value per line (repeats and bad records
  included). `iocmon replay FILE` sends them again, keyed by `dossier_id`; what it cannot
  reproduce is a record's original key: `key_mismatch` records come back correctly keyed
  (so valid), and non-JSON records come back without a key (still dead-lettered).
- `--truth-out FILE`: the expected outcome of every received dossier and the expected
  dead-letter reason of every bad record (format in `producers.truth`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import click

from iocmon.config import Settings
from iocmon.domain.agencies import load_catalogue
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.errors import IocmonError
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.arrivals import plan_dossiers
from iocmon.producers.pacing import SystemClock
from iocmon.producers.profile import Profile, default_profile
from iocmon.producers.progress import Progress, RateMeter
from iocmon.producers.records import Faults, OutRecord
from iocmon.producers.sender import DiscardSender, KafkaSender, Sender
from iocmon.producers.simulation import Limits, RunStats, Simulation
from iocmon.producers.stopping import StopSignals
from iocmon.producers.timeline import merge_by_time
from iocmon.producers.truth import TruthLedger

DEFAULT_DOSSIERS_PER_DAY = 2900
"""Makes a 7-day backfill about 50,000 events: a week with five working days yields ~17
events per unit of this setting (many dossiers received in it are still open at `now`)."""

_RATE = click.FloatRange(0.0, 1.0)


@click.command("simulate")
@click.option(
    "--topic",
    default=None,
    help="Topic to send to (default: IOCMON_EVENTS_TOPIC, else dossier-events).",
)
@click.option(
    "--backfill-days",
    type=click.FloatRange(0),
    default=7.0,
    show_default=True,
    help="Dossiers are received from this many days before now.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=200.0,
    show_default=True,
    help="Records per second at most; 0 = as fast as possible.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0),
    default=None,
    help="Stop after this many seconds; 0 = once the backfill is sent. "
    "Default: run until interrupted (Ctrl-C), following the clock.",
)
@click.option(
    "--max-events",
    type=click.IntRange(0),
    default=None,
    help="Stop after sending this many records (repeats and bad ones included).",
)
@click.option(
    "--dossiers-per-day",
    type=click.FloatRange(0),
    default=DEFAULT_DOSSIERS_PER_DAY,
    show_default=True,
    help="Mean dossiers per working day, all agencies.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed; with --now, output is identical run after run.",
)
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="RFC3339",
    help="Pretend the clock starts here (e.g. 2024-03-08T15:00:00+07:00).",
)
@click.option(
    "--late-rate",
    type=_RATE,
    default=0.001,
    show_default=True,
    help="Share of received dossiers designed to end late, at every agency but the slow one.",
)
@click.option(
    "--slow-agency-late-rate",
    type=_RATE,
    default=None,
    help="Late share of the slow agency (the busiest branch: in An Giang, the provincial "
    "land registration office VPDKDD), made by the times of its land procedures, which run "
    "across their due date. Default: 5 times --late-rate.",
)
@click.option(
    "--duplicate-rate",
    type=_RATE,
    default=0.01,
    show_default=True,
    help="Chance, after each event, of re-sending an earlier one (same event_id).",
)
@click.option(
    "--invalid-rate",
    type=_RATE,
    default=0.002,
    show_default=True,
    help="Chance, after each event, of sending a record the worker must dead-letter.",
)
@click.option(
    "--events-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every record sent to this JSONL file (replayable).",
)
@click.option(
    "--truth-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the expected outcomes (JSONL) here at the end.",
)
@click.option(
    "--send/--no-send",
    default=True,
    show_default=True,
    help="--no-send only writes the files; Kafka is not contacted.",
)
@click.option(
    "--personal-data/--no-personal-data",
    default=True,
    show_default=True,
    help="Put fake applicant name, citizen ID and phone on `received` events, "
    "as real sources do (the worker must drop them).",
)
def simulate_command(
    topic: str | None,
    backfill_days: float,
    rate: float,
    duration: float | None,
    max_events: int | None,
    dossiers_per_day: float,
    seed: int | None,
    now_text: str | None,
    late_rate: float,
    slow_agency_late_rate: float | None,
    duplicate_rate: float,
    invalid_rate: float,
    events_out: Path | None,
    truth_out: Path | None,
    send: bool,
    personal_data: bool,
) -> None:
    """Send realistic dossier events (An Giang 2023 profile) to Kafka.

    Kafka is found through KAFKA_BOOTSTRAP_SERVERS; agencies and the working calendar come
    from IOCMON_AGENCIES_FILE and IOCMON_CALENDAR_FILE (default: the shipped ones).
    """
    start_clock = _parse_now(now_text) if now_text else None
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
        click.echo(
            f"simulate: seed {seed} (pass --seed {seed} --now … to repeat this run)", err=True
        )
    try:
        settings = Settings.from_env()
        topic = topic or settings.events_topic
        calendar = load_calendar(settings.calendar_file)
        profile = dataclasses.replace(
            default_profile(load_catalogue(settings.agencies_file), dossiers_per_day),
            late_rate=late_rate,
            slow_agency_late_rate=slow_agency_late_rate,
        )
        click.echo(_agencies_line(profile), err=True)
        clock = SystemClock(start_clock)
        now = clock.now()
        plan = plan_dossiers(
            profile,
            random.Random(f"plan:{seed}"),
            now - timedelta(days=backfill_days),
            None,
            calendar,
        )
        faults = Faults(
            random.Random(f"faults:{seed}"),
            duplicate_rate=duplicate_rate,
            invalid_rate=invalid_rate,
        )
        sender: Sender = (
            KafkaSender(
                settings.kafka_bootstrap_servers,
                topic,
                client_options=kafka_python_kwargs(settings),
            )
            if send
            else DiscardSender()
        )
        ledger = TruthLedger()
        stats = RunStats()
        progress = _progress(stats, sender)
        with _records_file(events_out) as sink, StopSignals() as stop:
            simulation = Simulation(
                merge_by_time(plan),
                sender,
                clock=clock,
                faults=faults,
                ledger=ledger,
                limits=Limits(duration_s=duration, max_events=max_events),
                rate=rate,
                personal_data=personal_data,
                sink=sink,
                on_idle=progress.tick,
                should_stop=lambda: stop.requested,
                stats=stats,
            )
            try:
                stats = simulation.run()
                sender.flush(on_wait=progress.tick, give_up_at=stop.give_up_at)
            finally:
                sender.close(give_up_at=stop.give_up_at)
                if truth_out is not None:
                    ledger.write(truth_out)
    except IocmonError as exc:
        raise click.ClickException(str(exc)) from exc
    progress.tick(force=True)
    where = f"to {topic!r}" if send else "(not sent: --no-send)"
    click.echo(
        f"simulate: {stats.sent} records {where}: {stats.events} events, "
        f"{stats.duplicates} repeats, {stats.invalid} bad; {ledger.received} dossiers "
        f"received, {ledger.ended} ended; stopped: {stats.stopped_because}",
        err=True,
    )


def _agencies_line(profile: Profile) -> str:
    """Which agencies differ, for whoever reads the run's figures by agency."""
    slow = (
        f"slow agency {profile.slow_agency} (late share "
        f"{profile.late_rate_of(profile.slow_agency):.2%}: "
        f"{len(profile.slow_agency_backlog)} procedures in backlog, "
        f"{profile.backlog_share:.1%} of its dossiers, {profile.backlog_late_share:.1%} late)"
        if profile.slow_agency
        else "no slow agency"
    )
    overloaded = (
        f"overloaded agency {profile.overloaded_agency} in "
        f"{profile.overload_week_share:.0%} of weeks (times x{profile.overload_speed:g}, "
        f"late x{profile.overload_lateness:g})"
        if profile.overloaded_agency
        else "no overloaded agency"
    )
    return f"simulate: {slow}; {overloaded}; late share elsewhere {profile.late_rate:.2%}"


def _parse_now(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not RFC 3339", param_hint="--now") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{text!r} needs an offset, e.g. +07:00", param_hint="--now")
    return parsed.astimezone(LOCAL_TZ)


@contextmanager
def _records_file(path: Path | None) -> Iterator[Callable[[OutRecord], None] | None]:
    if path is None:
        yield None
        return
    with path.open("wb") as f:
        yield _writer(f)


def _writer(f: BinaryIO) -> Callable[[OutRecord], None]:
    def write(record: OutRecord) -> None:
        f.write(record.value + b"\n")

    return write


def _progress(stats: RunStats, sender: Sender) -> Progress:
    meter = RateMeter()

    def render() -> str:
        clock = f"{stats.clock:%Y-%m-%d %H:%M}" if stats.clock else "-"
        phase = "live" if stats.live else "backfill"
        return (
            f"simulate: sent {stats.sent:,} (acked {sender.acked:,}), "
            f"{meter.rate(stats.sent):,.0f} rec/s, clock {clock} ({phase})"
        )

    return Progress(render, interval=3.0)
