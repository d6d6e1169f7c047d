"""`iocmon backtest`: how well the at-risk forecast would have warned, on a history (issue #18).

Replays a history of events (a JSON-lines file, or the events topic to its end offsets) as
the worker would have seen it (`domain.forecast_replay`): each dossier forecast at the daily
check and after its events, from the durations of the dossiers that had ended by then. Then,
for each threshold, scores the first `at_risk` of every dossier that ended against whether it
really ended late (`domain.backtest`), beside the same figures for the `due_soon` warning:

- precision: of the dossiers warned about, the share that ended late;
- recall: of the late dossiers, the share warned about at all; recall ahead: warned at least
  `--min-lead-days` working days before the due date (the issue's acceptance figure);
- median lead: working days from the first warning to the due date, over the late ones;
- lift: precision over the base rate (the late share of all dossiers ended).

Exit codes: 0 figures printed; 1 Kafka could not give the history; 2 a bad option, setting
or file (one holding no events).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from iocmon.config import Settings
from iocmon.console.backtest_source import (
    DEFAULT_TOPIC_TIMEOUT_S,
    History,
    HistoryUnavailable,
    read_file,
    read_topic,
)
from iocmon.console.fmt import NONE, integer, percent, table
from iocmon.console.options import echo_json, json_option
from iocmon.console.overdue import agency_names
from iocmon.domain.backtest import DEFAULT_MIN_LEAD_DAYS, Score
from iocmon.domain.calendar import WorkingCalendar, load_calendar
from iocmon.domain.events import Event
from iocmon.domain.forecast_replay import DEFAULT_CHECK_AT, ReplayResult, replay
from iocmon.domain.risk import DEFAULT_MIN_SAMPLES
from iocmon.errors import IocmonError
from iocmon.kafka_connection import kafka_python_kwargs
from iocmon.producers.progress import Progress

DEFAULT_THRESHOLDS = (0.3, 0.5, 0.7)
"""The worker's default (0.5) and one either side, to show what moving it would trade."""
_THRESHOLD = click.FloatRange(0.0, 1.0, min_open=True)


@click.command("backtest")
@click.argument(
    "file",
    required=False,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option(
    "--topic",
    default=None,
    help="Without FILE: the topic to read (default: IOCMON_EVENTS_TOPIC, else dossier-events).",
)
@click.option(
    "--threshold",
    "thresholds",
    type=_THRESHOLD,
    multiple=True,
    help="An at-risk threshold to score (repeat for several). "
    f"Default: {', '.join(map(str, DEFAULT_THRESHOLDS))}.",
)
@click.option(
    "--min-lead-days",
    type=click.IntRange(0, 60),
    default=DEFAULT_MIN_LEAD_DAYS,
    show_default=True,
    help="Working days before the due date a warning must come to count as ahead.",
)
@click.option(
    "--min-samples",
    type=click.IntRange(1),
    default=DEFAULT_MIN_SAMPLES,
    show_default=True,
    help="Ended dossiers a procedure at an agency (or a procedure, an agency) needs before "
    "its own times are used.",
)
@click.option(
    "--agency",
    "agencies",
    metavar="CODE",
    multiple=True,
    help="Also score the dossiers of this agency alone (repeat for several).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(1.0),
    default=DEFAULT_TOPIC_TIMEOUT_S,
    show_default=True,
    help="Without FILE: give up when Kafka sends nothing for this many seconds.",
)
@json_option
def backtest_command(
    file: Path | None,
    topic: str | None,
    thresholds: tuple[float, ...],
    min_lead_days: int,
    min_samples: int,
    agencies: tuple[str, ...],
    timeout_s: float,
    as_json: bool,
) -> None:
    """Score the at-risk forecast on a history: FILE (JSON lines, as `iocmon simulate
    --events-out` writes), or without FILE the events topic from its start to its end
    offsets.

    For each --threshold: precision, recall, recall at least --min-lead-days working days
    before the due date, median lead time and lift over the base late rate, beside the same
    figures for the due_soon warning. Progress goes to stderr. Exit code 1 when Kafka cannot
    give the history, 2 for a bad option, setting or file.
    """
    if file is not None and topic is not None:
        raise click.UsageError("give FILE or --topic, not both")
    chosen = tuple(sorted(set(thresholds))) if thresholds else DEFAULT_THRESHOLDS
    progress = _ProgressLine()
    try:
        settings = Settings.from_env()
        calendar = load_calendar(settings.calendar_file)
        if file is not None:
            history = read_file(file, progress.reading)
        else:
            history = read_topic(
                kafka_python_kwargs(settings),
                topic or settings.events_topic,
                progress.reading,
                timeout_s=timeout_s,
            )
        progress.replaying(history)
        result = replay(
            progress.follow(history.events),
            calendar,
            thresholds=chosen,
            min_samples=min_samples,
        )
        names = agency_names(settings)
    except HistoryUnavailable as exc:
        _fail(str(exc), as_json, code=1)
        return
    except IocmonError as exc:
        _fail(str(exc), as_json, code=2)
        return
    progress.done()
    figures = Figures(history, result, calendar, min_lead_days, min_samples, agencies)
    if as_json:
        echo_json(figures.to_json())
    else:
        click.echo("\n".join(figures.render(names)))


@dataclasses.dataclass(frozen=True, slots=True)
class Figures:
    """A replay's scores, for the province and the agencies asked for."""

    history: History
    result: ReplayResult
    calendar: WorkingCalendar
    min_lead_days: int
    min_samples: int
    agencies: Sequence[str] = ()

    def of_agency(self, code: str) -> ReplayResult:
        agency_of = self.history.agency_of
        return dataclasses.replace(
            self.result,
            ended=tuple(d for d in self.result.ended if agency_of.get(d.dossier_id) == code),
        )

    def scores(self, result: ReplayResult) -> tuple[list[tuple[float, Score]], Score]:
        at_risk = [
            (t, result.at_risk_score(t, self.calendar, self.min_lead_days))
            for t in result.thresholds
        ]
        return at_risk, result.due_soon_score(self.calendar, self.min_lead_days)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.history.source,
            "records": self.history.records,
            "refused": self.history.refused,
            "events": len(self.history.events),
            "skipped_events": self.result.skipped_events,
            "from": _iso(self.history.first_at),
            "to": _iso(self.history.last_at),
            "checks": self.result.checks,
            "check_at": DEFAULT_CHECK_AT.isoformat("minutes"),
            "min_lead_days": self.min_lead_days,
            "min_samples": self.min_samples,
            "still_open": self.result.still_open,
            "province": self._scores_json(self.result),
            "agencies": {code: self._scores_json(self.of_agency(code)) for code in self.agencies},
        }

    def _scores_json(self, result: ReplayResult) -> dict[str, Any]:
        at_risk, due_soon = self.scores(result)
        return {
            "dossiers": due_soon.dossiers,
            "late": due_soon.late,
            "base_rate": due_soon.base_rate,
            "at_risk": [{"threshold": t, **score_json(s)} for t, s in at_risk],
            "due_soon": score_json(due_soon),
        }

    def render(self, names: dict[str, str]) -> list[str]:
        h, r = self.history, self.result
        lines = [
            f"backtest of {h.source}: {integer(len(h.events))} events from "
            f"{_local(h.first_at)} to {_local(h.last_at)}; {integer(h.refused)} records "
            f"refused as the worker would, {integer(r.skipped_events)} events after their "
            "dossier's end skipped",
            f"{integer(r.checks)} daily checks at {DEFAULT_CHECK_AT:%H:%M}; the times of a "
            "procedure at an agency, else of the procedure, else of the agency, used from "
            f"{self.min_samples} ended dossiers; "
            f"{integer(r.still_open)} dossiers still open at the end",
            "",
            *self._block("Province", r),
        ]
        for code in self.agencies:
            name = names.get(code)
            title = f"Agency {code}" + (f" ({name})" if name else "")
            lines += ["", *self._block(title, self.of_agency(code))]
        return lines

    def _block(self, title: str, result: ReplayResult) -> list[str]:
        at_risk, due_soon = self.scores(result)
        if not due_soon.dossiers:
            return [f"{title}: no dossier ended, nothing to score"]
        heading = (
            f"{title}: {integer(due_soon.dossiers)} dossiers ended (withdrawn left out), "
            f"{integer(due_soon.late)} late: base rate {percent(due_soon.base_rate)}"
        )
        rows = [[f"at_risk ≥ {t:g}", *score_cells(s)] for t, s in at_risk]
        rows.append(["due_soon", *score_cells(due_soon)])
        headers = [
            "warning",
            "warned",
            "precision",
            "recall",
            f"recall ≥ {self.min_lead_days} days ahead",
            "median lead (working days)",
            "lift",
        ]
        return [
            heading,
            *table(headers, rows, ["<", ">", ">", ">", ">", ">", ">"], split_headers=False),
        ]


def score_json(score: Score) -> dict[str, Any]:
    return {
        "warned": score.warned,
        "warned_late": score.warned_late,
        "warned_late_ahead": score.warned_late_ahead,
        "precision": score.precision,
        "recall": score.recall,
        "recall_ahead": score.recall_ahead,
        "median_lead_days": score.median_lead_days,
        "lift": score.lift,
    }


def score_cells(score: Score) -> list[str]:
    lead = score.median_lead_days
    return [
        integer(score.warned),
        percent(score.precision),
        percent(score.recall),
        percent(score.recall_ahead),
        NONE if lead is None else f"{lead:g}",
        NONE if score.lift is None else f"{score.lift:.1f}×",
    ]


class _ProgressLine:
    """A line on stderr every few seconds while reading and replaying a long history."""

    def __init__(self) -> None:
        self._phase = "reading"
        self._history: History | None = None
        self._replayed = 0
        self._clock: datetime | None = None
        self._line = Progress(self._render, interval=3.0, out=sys.stderr)

    def reading(self, history: History) -> None:
        self._history = history
        self._line.tick()

    def replaying(self, history: History) -> None:
        self._phase, self._history = "replaying", history

    def follow(self, events: Iterable[Event]) -> Iterator[Event]:
        for self._replayed, event in enumerate(events, start=1):
            if self._replayed % 5_000 == 0:
                self._clock = event.at
                self._line.tick()
            yield event

    def done(self) -> None:
        self._phase = "done"

    def _render(self) -> str:
        h = self._history
        if h is None:
            return "backtest: reading"
        if self._phase == "reading":
            return f"backtest: read {integer(h.records)} records, {integer(len(h.events))} events"
        clock = f", history at {self._clock:%Y-%m-%d}" if self._clock else ""
        done = f"{integer(self._replayed)} of {integer(len(h.events))}"
        return f"backtest: replayed {done} events{clock}"


def _fail(message: str, as_json: bool, *, code: int) -> None:
    if as_json:
        echo_json({"error": message})
    else:
        click.echo(f"iocmon: {message}", err=True)
    raise click.exceptions.Exit(code)


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def _local(instant: datetime | None) -> str:
    return NONE if instant is None else f"{instant:%Y-%m-%d %H:%M}"
