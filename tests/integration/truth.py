"""Expected figures, computed from the simulator's ground truth (its designed outcomes).

The truth file (`producers.truth`) says, per dossier, its agency, procedure, channel, level,
designed outcome, receipt and end times, due date and pauses, and per deliberately bad record
the dead-letter reason the simulator meant. Everything here is counted from those lines with
the contract's words, never with the worker's judging code (`iocmon.domain`): open states at
an instant follow CONTRACT §3 with the tests' own calendar (`truth_calendar`), which also
derives the due date of every dossier received with `processing_days` (read from the events
file), so that a calendar bug shared by the simulator and the worker still shows.

`assert_figures_exact` compares every figure a stream determines, through the API and
/metrics: outcomes and receipts per agency, the open split per agency at the instant the
worker answered, receipts by channel and level, per-procedure outcomes, the daily series,
the calendar-period gauges, and the due date the worker reports for the dossiers whose
processing time meets a holiday, an override or a make-up Saturday.
`assert_dead_letters_as_designed` compares the dead-letter topic with the bad records sent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.integration.harness import Pipeline, Worker, read_jsonl, sum_samples, wait_for
from tests.integration.truth_calendar import CLOSING, LOCAL, ReferenceCalendar

OUTCOMES = ("early", "on_time", "late", "withdrawn")
STATES = ("on_track", "due_soon", "overdue", "paused")
PERIODS = ("today", "month", "quarter", "half_year", "year")
ALL_TIME = "from=2000-01-01T00:00:00%2B07:00&to=2100-01-01T00:00:00%2B07:00"
DUE_DATES_ASKED = 60
"""Dossiers whose due date is read back from the worker, calendar-sensitive ones first."""

InvalidKey = tuple[str | None, str | None, str]
"""(record key, event_id, reason) of a bad record."""


@dataclass(frozen=True)
class Dossier:
    """One `"kind": "dossier"` truth line; `due` is the due date that classifies it."""

    dossier_id: str
    agency: str
    procedure: str
    channel: str
    level: str
    outcome: str | None
    received_at: datetime
    ended_at: datetime | None
    due: date
    pauses: tuple[tuple[datetime, datetime | None], ...]
    processing_days: int | None
    """Set when its `received` carried `processing_days`: `due` is then the reference
    calendar's, not the simulator's."""

    def state_at(self, at: datetime, calendar: ReferenceCalendar) -> str:
        """CONTRACT §3 for an open dossier: paused while a pause is open; else overdue if
        date(at − paused time) > due date; due soon if the due date is that day or the next
        working day; on track otherwise."""
        if self.pauses and self.pauses[-1][1] is None:
            return "paused"
        paused = sum((end - start for start, end in self.pauses if end), timedelta())
        today = _local_date(at - paused)
        if today > self.due:
            return "overdue"
        if self.due in (today, calendar.next_working_day(today)):
            return "due_soon"
        return "on_track"


@dataclass(frozen=True)
class Expected:
    ended: Counter[tuple[str, str]]
    open_by_agency: Counter[str]
    dossiers: tuple[Dossier, ...] = ()
    invalid: Counter[InvalidKey] = field(default_factory=Counter)
    calendar: ReferenceCalendar = field(default_factory=ReferenceCalendar)
    rescheduled: frozenset[str] = frozenset()
    """Dossiers sent a `rescheduled` event (their alerts follow the new appointment); known
    only with the events file."""

    @property
    def open(self) -> int:
        return sum(self.open_by_agency.values())

    def open_states(self, at: datetime) -> Counter[tuple[str, str]]:
        """(agency, state) of the dossiers open at `at` (after every event was sent)."""
        return Counter(
            (d.agency, d.state_at(at, self.calendar)) for d in self.dossiers if d.outcome is None
        )

    def received(self) -> Counter[tuple[str, str, str]]:
        return Counter((d.agency, d.channel, d.level) for d in self.dossiers)

    def by_procedure(self) -> Counter[tuple[str, str, str]]:
        return Counter((d.agency, d.procedure, d.outcome) for d in self.dossiers if d.outcome)

    def in_period(self, start: datetime, end: datetime) -> Counter[tuple[str, ...]]:
        """(agency,) received and (agency, outcome) ended in [start, end)."""
        out: Counter[tuple[str, ...]] = Counter()
        for d in self.dossiers:
            if start <= d.received_at < end:
                out[(d.agency,)] += 1
            if d.ended_at is not None and d.outcome and start <= d.ended_at < end:
                out[(d.agency, d.outcome)] += 1
        return out

    def daily(self) -> dict[str, Counter[str]]:
        """Local day → received and outcomes, every day from the first receipt to the last
        end (zeros included)."""
        instants = [d.received_at for d in self.dossiers]
        instants += [d.ended_at for d in self.dossiers if d.ended_at is not None]
        day, last = _local_date(min(instants)), _local_date(max(instants))
        days: dict[str, Counter[str]] = {}
        while day <= last:
            days[day.isoformat()] = Counter(dict.fromkeys(("received", *OUTCOMES), 0))
            day += timedelta(days=1)
        for d in self.dossiers:
            days[_local_date(d.received_at).isoformat()]["received"] += 1
            if d.ended_at is not None and d.outcome:
                days[_local_date(d.ended_at).isoformat()][d.outcome] += 1
        return days

    def calendar_sensitive(self) -> list[Dossier]:
        """Dossiers received with `processing_days` whose working days, counted from the
        day of receipt to the due date, meet a day that is not what its weekday says (a
        holiday, an override, a make-up Saturday)."""
        out = []
        for d in self.dossiers:
            if d.processing_days is None:
                continue
            day = _local_date(d.received_at) + timedelta(days=1)
            while day <= d.due and self.calendar.is_plain(day):
                day += timedelta(days=1)
            if day <= d.due:
                out.append(d)
        return out


def expected_from_truth(path: Path, events: Path | None = None) -> Expected:
    """The figures the truth file at `path` implies; with the stream's `events` file, the
    due dates of dossiers received with `processing_days` come from the reference calendar."""
    calendar = ReferenceCalendar()
    days, rescheduled = _from_events(events) if events is not None else ({}, set())
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    dossiers: list[Dossier] = []
    invalid: Counter[InvalidKey] = Counter()
    for row in read_jsonl(path):
        kind = row.get("kind", "dossier")
        if kind == "invalid":
            invalid[(row["key"], row["event_id"], row["reason"])] += 1
            continue
        if "dossier_id" not in row or kind != "dossier":
            continue
        if row["outcome"] is None:
            opened[row["agency"]] += 1
        else:
            ended[(row["agency"], row["outcome"])] += 1
        received_at = _instant(row["received_at"])
        n = days.get(row["dossier_id"])
        due = _instant(row["due_at"]) if n is None else calendar.due_at(received_at, n)
        dossiers.append(
            Dossier(
                dossier_id=row["dossier_id"],
                agency=row["agency"],
                procedure=row["procedure"],
                channel=row["channel"],
                level=row["level"],
                outcome=row["outcome"],
                received_at=received_at,
                ended_at=_instant(row["ended_at"]) if row["ended_at"] else None,
                due=_local_date(due),
                pauses=tuple(
                    (_instant(s), _instant(e) if e else None) for s, e in row.get("pauses", ())
                ),
                processing_days=n,
            )
        )
    return Expected(ended, opened, tuple(dossiers), invalid, calendar, frozenset(rescheduled))


def _from_events(events: Path) -> tuple[dict[str, int], set[str]]:
    """Dossier → the `processing_days` of its `received` event, when it carried that
    instead of a `due_at`; and the dossiers sent a `rescheduled` event."""
    days: dict[str, int] = {}
    rescheduled: set[str] = set()
    with events.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("dossier_id"), str):
                continue
            dossier, n = doc["dossier_id"], doc.get("processing_days")
            if doc.get("type") == "rescheduled":
                rescheduled.add(dossier)
            elif doc.get("type") == "received" and "due_at" not in doc and type(n) is int:
                days.setdefault(dossier, n)
    return days, rescheduled


# -- what the worker says ------------------------------------------------------------------


def api_figures(worker: Worker) -> tuple[Counter[tuple[str, str]], Counter[str], dict]:
    status, body = worker.get_json(f"/api/v1/summary?{ALL_TIME}&by=agency")
    assert status == 200, body
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    for row in body["by_agency"]:
        for outcome in OUTCOMES:
            if row[outcome]:
                ended[(row["agency"], outcome)] += row[outcome]
        if row["open"]:
            opened[row["agency"]] += row["open"]
    return ended, opened, body


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
REPORTS = ("iocmon_reports_dossier_figures", frozenset())
TAKEN = ("iocmon_figures_snapshot_timestamp_seconds", frozenset())


def fresh_scrapes(workers: list[Worker]) -> list[tuple[Worker, Samples]]:
    """Every worker's /metrics once exactly one of them reports dossier figures read after
    this call. A worker that just started may be in a rebalance that took partition 0 from
    it for a moment: until it has it back no worker reports, and a scrape then holds no
    dossier figures at all."""
    asked = time.time()
    scrapes: list[tuple[Worker, Samples]] = []

    def one_fresh_report() -> bool:
        nonlocal scrapes
        scrapes = [(w, w.metrics(fresh=False)) for w in workers]
        reporting = [samples for _, samples in scrapes if samples.get(REPORTS, 0)]
        return len(reporting) == 1 and reporting[0].get(TAKEN, 0) >= asked

    wait_for(one_fresh_report, 60, "one worker to report fresh dossier figures on /metrics")
    return scrapes


def metric_figures(workers: list[Worker]) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Ended and open dossiers summed over every worker's /metrics, as PromQL `sum` would."""
    ended: Counter[tuple[str, str]] = Counter()
    opened: Counter[str] = Counter()
    for _, samples in fresh_scrapes(workers):
        for labels, n in sum_samples(samples, "dossiers_ended_total").items():
            d = dict(labels)
            if n:
                ended[(d["agency"], d["outcome"])] += n
        for labels, n in sum_samples(samples, "dossiers_open").items():
            if n:
                opened[dict(labels)["agency"]] += n
    return ended, opened


@dataclass(frozen=True)
class _Scrape:
    """The dossier figures of /metrics, from the worker that reports them, and that
    worker's clock when it read them (its snapshot time plus its clock offset)."""

    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float]
    now: datetime

    def counts(self, name: str, *labels: str) -> Counter[tuple[str, ...]]:
        out: Counter[tuple[str, ...]] = Counter()
        for key, n in sum_samples(self.samples, name).items():
            if n:
                d = dict(key)
                out[tuple(d[label] for label in labels)] += n
        return out


def _scrape(workers: list[Worker]) -> _Scrape:
    reporting = [(w, samples) for w, samples in fresh_scrapes(workers) if samples.get(REPORTS, 0)]
    worker, samples = reporting[0]
    taken = samples[TAKEN]
    offset = float(worker.extra_env.get("IOCMON_CLOCK_OFFSET_S") or 0)
    return _Scrape(samples, datetime.fromtimestamp(taken + offset, LOCAL))


def assert_figures_exact(workers: list[Worker], expected: Expected) -> None:
    ended, opened, body = api_figures(workers[0])
    assert ended == expected.ended, _difference(ended, expected.ended, "the API")
    assert opened == expected.open_by_agency
    for outcome in OUTCOMES:
        assert body[outcome] == sum(n for (_, o), n in expected.ended.items() if o == outcome)
    assert body["open"] == expected.open
    assert body["open"] == body["on_track"] + body["due_soon"] + body["overdue"] + body["paused"]

    metric_ended, metric_open = metric_figures(workers)
    assert metric_ended == expected.ended, _difference(metric_ended, expected.ended)
    assert metric_open == expected.open_by_agency, _difference(metric_open, expected.open_by_agency)
    if not expected.dossiers:
        return
    _assert_due_dates(workers[0], expected)
    _assert_by_agency(body, expected)
    _assert_metrics(_scrape(workers), expected)
    _assert_series(workers[0], expected)
    _assert_procedures(workers[0], expected)


def _assert_due_dates(worker: Worker, expected: Expected) -> None:
    """The worker's due date of dossiers received with `processing_days` against the
    reference calendar's: calendar-sensitive ones first, then a spread of the others."""
    sensitive = expected.calendar_sensitive()
    chosen = {d.dossier_id for d in sensitive}
    others = [d for d in expected.dossiers if d.processing_days and d.dossier_id not in chosen]
    asked = (sensitive + others[:: max(1, len(others) // 10)])[:DUE_DATES_ASKED]
    wrong = {}
    for d in asked:
        status, body = worker.get_json(f"/api/v1/dossiers/{quote(d.dossier_id, safe='')}")
        assert status == 200, body
        if datetime.fromisoformat(body["due_at"]) != datetime.combine(d.due, CLOSING, LOCAL):
            wrong[d.dossier_id] = (body["received_at"], d.processing_days, d.due, body["due_at"])
    assert not wrong, (
        f"{len(wrong)} of {len(asked)} due dates differ from the reference calendar "
        f"(received, processing days, expected due date, the worker's due_at): "
        f"{[(k, (r, n, str(due), w)) for k, (r, n, due, w) in list(wrong.items())[:5]]}"
    )


def _assert_by_agency(body: Mapping[str, Any], expected: Expected) -> None:
    at = datetime.fromisoformat(body["as_of"])
    split: Counter[tuple[str, str]] = Counter()
    received: Counter[str] = Counter()
    for row in body["by_agency"]:
        for state in STATES:
            if row[state]:
                split[(row["agency"], state)] += row[state]
        if row["received"]:
            received[row["agency"]] += row["received"]
    wanted = expected.open_states(at)
    assert split == wanted, _difference(split, wanted, f"the API's open split at {at}")
    wanted_received = Counter(d.agency for d in expected.dossiers)
    assert received == wanted_received, _difference(received, wanted_received, "the API")


def _assert_metrics(scrape: _Scrape, expected: Expected) -> None:
    split = scrape.counts("dossiers_open", "agency", "state")
    wanted = expected.open_states(scrape.now)
    assert split == wanted, _difference(split, wanted, f"/metrics' open split at {scrape.now}")
    received = scrape.counts("dossiers_received_total", "agency", "channel", "level")
    assert received == expected.received(), _difference(received, expected.received())
    received_in = scrape.counts("dossiers_period_received", "period", "agency")
    ended_in = scrape.counts("dossiers_period_ended", "period", "agency", "outcome")
    for period in PERIODS:
        start, end = _current_period(period, scrape.now)
        got = Counter({(a,): n for (p, a), n in received_in.items() if p == period})
        got.update({(a, o): n for (p, a, o), n in ended_in.items() if p == period})
        wanted_in = expected.in_period(start, end)
        assert got == wanted_in, _difference(got, wanted_in, f"{period} [{start}, {end})")


def _assert_series(worker: Worker, expected: Expected) -> None:
    wanted = expected.daily()
    start = _midnight(date.fromisoformat(min(wanted)))
    end = _midnight(date.fromisoformat(max(wanted)) + timedelta(days=1))
    status, body = worker.get_json(
        f"/api/v1/series?from={quote(start.isoformat())}&to={quote(end.isoformat())}"
    )
    assert status == 200, body
    got = {
        row["date"]: Counter({k: row[k] for k in ("received", *OUTCOMES)}) for row in body["days"]
    }
    wrong = {day: (got.get(day), n) for day, n in wanted.items() if got.get(day) != n}
    assert not wrong and set(got) == set(wanted), f"series (got, wanted) by day: {wrong}"


def _assert_procedures(worker: Worker, expected: Expected) -> None:
    """Every agency's per-procedure outcomes over the stream's days (all time would read
    every month since 2000 of counters that hold every agency's procedures, for each)."""
    days = expected.daily()
    start = _midnight(date.fromisoformat(min(days)))
    end = _midnight(date.fromisoformat(max(days)) + timedelta(days=1))
    stream = f"from={quote(start.isoformat())}&to={quote(end.isoformat())}"

    def ask(agency: str) -> Counter[tuple[str, str, str]]:
        status, body = worker.get_json(
            f"/api/v1/agencies/{quote(agency, safe='')}/procedures?{stream}"
        )
        assert status == 200, body
        return Counter(
            {
                (agency, item["procedure"], outcome): item[outcome]
                for item in body["items"]
                for outcome in OUTCOMES
                if item[outcome]
            }
        )

    got: Counter[tuple[str, str, str]] = Counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for counts in pool.map(ask, sorted({d.agency for d in expected.dossiers})):
            got.update(counts)
    wanted = expected.by_procedure()
    assert got == wanted, _difference(got, wanted, "per procedure")


def _current_period(kind: str, now: datetime) -> tuple[datetime, datetime]:
    """The local calendar period of `kind` that holds `now`, as [start, end)."""
    today = _local_date(now)
    if kind == "today":
        return _midnight(today), _midnight(today + timedelta(days=1))
    months = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}[kind]
    first = (today.month - 1) // months * months + 1
    after = first + months
    end = date(today.year + 1, 1, 1) if after > 12 else date(today.year, after, 1)
    return _midnight(date(today.year, first, 1)), _midnight(end)


# -- the dead-letter topic -------------------------------------------------------------------


def assert_dead_letters_as_designed(
    pipeline: Pipeline,
    expected: Expected,
    *,
    replayed: bool,
    copies: int = 1,
    besides: Iterable[InvalidKey] = (),
    sources_besides: Iterable[str] = (),
) -> None:
    """Every dead letter is a bad record the simulator sent, with the reason it meant, and
    every bad record sent is a dead letter: `copies` of each for a stream sent that many
    times, plus `besides`, the (key, event_id, reason) of bad records the test sent itself.
    `sources_besides` (`topic/partition/offset`) are left out. A record dead-lettered twice
    (a crash between producing the dead letter and committing its batch) counts once.

    `replayed`: the stream went through `iocmon replay`, which keys each record by its
    value's `dossier_id` (producers/replay.py): the truncated and the non-object records
    lose their key, and a `key_mismatch` record is keyed by its own dossier, so it is a valid
    event and no dead letter."""
    by_source: dict[bytes, InvalidKey] = {}
    skip = {s.encode() for s in sources_besides}
    for key, value, headers in pipeline.dead_letters():
        source = headers["iocmon-source"]
        if source not in skip:
            by_source[source] = (_text(key), _event_id(value), headers["iocmon-reason"].decode())
    got = Counter(by_source.values())
    designed = expected.invalid if not replayed else _as_replayed(expected.invalid)
    wanted = Counter({k: n * copies for k, n in designed.items()}) + Counter(besides)
    assert wanted, "the stream has no bad records to compare"
    assert got == wanted, _difference(got, wanted, "the dead-letter topic")


def _as_replayed(invalid: Counter[InvalidKey]) -> Counter[InvalidKey]:
    out: Counter[InvalidKey] = Counter()
    for (key, event_id, reason), n in invalid.items():
        if reason == "key_mismatch":
            continue
        out[(None if reason in ("not_json", "not_an_object") else key, event_id, reason)] += n
    return out


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _event_id(value: bytes | None) -> str | None:
    """The `event_id` a dead letter's value names, read as the simulator's truth reads it."""
    try:
        doc = json.loads(value or b"")
    except ValueError:
        return None
    event_id = doc.get("event_id") if isinstance(doc, dict) else None
    return event_id if isinstance(event_id, str) else None


def _difference(got: Counter[Any], wanted: Counter[Any], where: str = "/metrics") -> str:
    """What the worker says beyond the truth and short of it (a bare Counter comparison of a
    hundred agencies says nothing pytest can show)."""
    more, less = dict(got - wanted), dict(wanted - got)
    return f"{where}: beyond the truth {_some(more)}; short of it {_some(less)}"


def _some(items: Mapping[Any, int], n: int = 10) -> str:
    shown = dict(list(items.items())[:n])
    return f"{shown} and {len(items) - n} more" if len(items) > n else str(shown)


def _instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    assert instant.tzinfo is not None, text
    return instant


def _local_date(instant: datetime) -> date:
    return instant.astimezone(LOCAL).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), LOCAL)
