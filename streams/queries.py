"""Reads figures back out of Redis: period counts, open dossiers now, the overdue list.

Every figure is the sum over the topic's partitions, so it does not matter which worker (or
how many) applied the batches, nor which worker answers the query.

Each partition is read from its own generation (`streams.generations`): before every query
the reader reads the partitions' offset keys in one round trip and follows those that say
`moved:`, so a query made while `iocmon rebuild` switches partitions one by one still adds
up every partition exactly once. Days and months closed beyond the horizon are read from the
hashes summed over the partitions (`streams.rollup`), in a round trip after the partitions'.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from iocmon.config import Settings
from iocmon.domain.buckets import ALL_TIME, ROLLED_RESOLUTIONS, Bucket, Cover, SignedCover
from iocmon.domain.figures import Figures
from iocmon.domain.histogram import BUCKET_COUNT, DurationHistogram, index_of_label
from iocmon.domain.judge import OpenState, overdue_days
from iocmon.domain.lifecycle import DossierState
from iocmon.domain.risk import Scope, Subject
from iocmon.domain.risk_check import AtRiskItem, Histories
from iocmon.domain.state_codec import StateDecodeError, decode_state
from iocmon.redis_connection import AsyncRedis
from iocmon.streams.generations import MAX_HOPS, Generations
from iocmon.streams.keys import (
    PartitionKeys,
    RolledKeys,
    parse_duration_field,
    parse_procedure_field,
    rolled_member,
)
from iocmon.streams.rollup import DAY_KINDS, PROCEDURE_KIND, REPORT_KIND, Kind


@dataclass(frozen=True, slots=True)
class Totals:
    """All-time counters and open dossiers now, per agency: what `/metrics` reports."""

    ended: Counter[tuple[str, str]]
    received: Counter[tuple[str, str, str]]
    open: Counter[tuple[str, str]]
    events: Counter[str]
    ignored: Counter[str]
    rejected: Counter[str]


class FigureReader:
    def __init__(self, redis: AsyncRedis, prefix: str, topic: str, partitions: int) -> None:
        self._redis = redis
        self._topic = topic
        self._partitions = partitions
        self._generations = Generations(redis, prefix)
        self._rolled = RolledKeys(prefix, topic)

    @classmethod
    def of(cls, redis: AsyncRedis, settings: Settings) -> FigureReader:
        """The reader of the figures the settings name (prefix, topic, partitions)."""
        return cls(redis, settings.redis_prefix, settings.events_topic, settings.event_partitions)

    async def _keys(self) -> list[PartitionKeys]:
        """Every partition's keys in its live generation."""
        pending = list(range(self._partitions))
        for _ in range(MAX_HOPS):
            if not pending:
                break
            # A pipeline of GETs, not MGET: the partitions' keys are in different hash slots.
            pipe = self._redis.pipeline(transaction=False)
            for p in pending:
                pipe.get(self._at(p).offset)
            raw = await pipe.execute()
            pending = [
                p for p, v in zip(pending, raw, strict=True) if await self._generations.follow(p, v)
            ]
        return [self._at(p) for p in range(self._partitions)]

    def _at(self, partition: int) -> PartitionKeys:
        return PartitionKeys(self._generations.prefix(partition), self._topic, partition)

    async def period_counts(
        self, cover: Cover
    ) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str, str]]]:
        """Ended (agency, outcome) and received (agency, channel, level) in the cover."""
        return (await self.period_counts_many([cover]))[0]

    async def period_counts_many(
        self, covers: Sequence[Cover]
    ) -> list[tuple[Counter[tuple[str, str]], Counter[tuple[str, str, str]]]]:
        """`period_counts` of each cover, every bucket read once: the calendar periods of a
        `/metrics` refresh (today, this month, quarter, half-year, year) share most of theirs."""
        buckets = list(dict.fromkeys(b for c in covers for b in c.buckets))
        counted = await self._counters(await self._keys(), buckets, DAY_KINDS)
        by_bucket = dict(zip(buckets, counted, strict=True))
        out = []
        for cover in covers:
            ended: Counter[str] = Counter()
            received: Counter[str] = Counter()
            for bucket in cover.buckets:
                ended_in, received_in = by_bucket[bucket]
                ended.update(ended_in)
                received.update(received_in)
            out.append((_split(ended, 1), _split(received, 2)))
        return out

    async def _counters(
        self, parts: list[PartitionKeys], buckets: Sequence[Bucket], kinds: Sequence[Kind]
    ) -> list[list[Counter[str]]]:
        """Per bucket, per kind: counter field -> count over every partition, each taken
        from its own hash or, once rolled up, from the rolled hash (`streams.rollup` says
        why the partitions are read first)."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket in buckets:
            for keys in parts:
                for own, _ in kinds:
                    pipe.hgetall(own(keys, bucket))
        own_replies = iter(await pipe.execute())
        closable = [b for b in buckets if b.resolution in ROLLED_RESOLUTIONS]
        rolled_replies: dict[Bucket, list[Counter[str]]] = {}
        if closable:
            pipe = self._redis.pipeline(transaction=False)
            for bucket in closable:
                for _, rolled in kinds:
                    pipe.hgetall(rolled(self._rolled, bucket))
            replies = iter(await pipe.execute())
            for bucket in closable:
                rolled_replies[bucket] = [_counter(next(replies)) for _ in kinds]
        out = []
        for bucket in buckets:
            rolled_in = rolled_replies.get(bucket, [Counter() for _ in kinds])
            sums = [Counter({f: n for f, n in r.items() if "|" in f}) for r in rolled_in]
            for keys in parts:
                member = rolled_member(keys.partition)
                own_in = [next(own_replies) for _ in kinds]
                for sum_, rolled_counts, reply in zip(sums, rolled_in, own_in, strict=True):
                    if member not in rolled_counts:
                        sum_.update(_counter(reply))
            out.append(sums)
        return out

    async def agencies(self) -> set[str]:
        parts = await self._keys()
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            pipe.smembers(keys.agencies)
        return {_text(a) for members in await pipe.execute() for a in members}

    async def open_now(self, now: datetime, agency: str | None) -> Counter[str]:
        """Open dossiers by state at `now`, in one agency or (None) in all."""
        by_agency = await self._open_by_agency(now, [agency])
        return Counter({state: n for (_, state), n in by_agency.items()})

    async def open_all_agencies(self, now: datetime) -> Counter[tuple[str, str]]:
        agencies = sorted(await self.agencies())
        return await self._open_by_agency(now, agencies)

    async def _open_by_agency(
        self, now: datetime, agencies: Sequence[str | None]
    ) -> Counter[tuple[str, str]]:
        parts = await self._keys()
        score = now.timestamp()
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            for agency in agencies:
                suffix = "" if agency is None else f"|{agency}"
                pipe.hmget(keys.open_counts, f"open{suffix}", f"paused{suffix}")
                pipe.zcount(keys.due_soon_from(agency), "-inf", score)
                pipe.zcount(keys.overdue_from(agency), "-inf", score)
        replies = await pipe.execute()
        out: Counter[tuple[str, str]] = Counter()
        i = 0
        for _ in parts:
            for agency in agencies:
                (open_raw, paused_raw), reached_soon, overdue = replies[i : i + 3]
                i += 3
                name = agency or ""
                opened, paused = int(open_raw or 0), int(paused_raw or 0)
                out[(name, OpenState.PAUSED)] += paused
                out[(name, OpenState.OVERDUE)] += overdue
                out[(name, OpenState.DUE_SOON)] += reached_soon - overdue
                out[(name, OpenState.ON_TRACK)] += opened - paused - reached_soon
        return out

    async def _open_folded(
        self, now: datetime, agencies: list[str], rest: str
    ) -> Counter[tuple[str, str]]:
        """Open dossiers by state of `agencies`, and of all the others under `rest`."""
        read = await self._open_by_agency(now, [None, *agencies])
        out: Counter[tuple[str, str]] = Counter()
        for (agency, state), n in read.items():
            if agency == "":  # the province
                out[(rest, state)] += n
        for (agency, state), n in read.items():
            if agency != "":
                out[(agency, state)] += n
                out[(rest, state)] -= n
        return out

    async def figures(self, cover: Cover, now: datetime, agency: str | None) -> Figures:
        ended, received = await self.period_counts(cover)
        open_states = await self.open_now(now, agency)
        return _figures(ended, received, open_states, agency)

    async def figures_by_agency(
        self,
        cover: Cover,
        now: datetime,
        open_states: Counter[tuple[str, str]] | None = None,
        fold: Callable[[str], str] | None = None,
    ) -> dict[str, Figures]:
        """Figures per agency; pass `open_states` to reuse one read of the open dossiers,
        and `fold` to sum agencies into groups (the `agency` label values) as they are read."""
        return (await self.figures_by_agency_many([cover], now, open_states, fold))[0]

    async def figures_of(
        self, cover: Cover, now: datetime, agencies: Collection[str], rest: str
    ) -> dict[str, Figures]:
        """Figures of each of `agencies`, and of all the others summed under `rest`: the
        open dossiers are read for these agencies only, so the cost of a request does not
        grow with the agency codes ever sent."""
        chosen = frozenset(agencies)
        open_states = await self._open_folded(now, sorted(chosen), rest)
        return await self.figures_by_agency(
            cover, now, open_states, lambda a: a if a in chosen else rest
        )

    async def figures_by_agency_many(
        self,
        covers: Sequence[Cover],
        now: datetime,
        open_states: Counter[tuple[str, str]] | None = None,
        fold: Callable[[str], str] | None = None,
    ) -> list[dict[str, Figures]]:
        """`figures_by_agency` of each cover, every bucket read once."""
        counts = await self.period_counts_many(covers)
        if open_states is None:
            open_states = await self.open_all_agencies(now)
        return [_by_group(ended, received, open_states, fold) for ended, received in counts]

    async def overdue(self, now: datetime, agency: str | None, limit: int) -> list[dict[str, Any]]:
        """The most overdue open dossiers first (smallest overdue-from score)."""
        parts = await self._keys()
        score = now.timestamp()
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            pipe.zrangebyscore(
                keys.overdue_from(agency), "-inf", score, start=0, num=limit, withscores=True
            )
        candidates: list[tuple[float, int, str]] = []
        for p, rows in enumerate(await pipe.execute()):
            candidates.extend((s, p, _text(m)) for m, s in rows)
        candidates.sort()
        chosen = candidates[:limit]
        if not chosen:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for _, p, dossier_id in chosen:
            pipe.get(parts[p].dossier(dossier_id))
        items = []
        for (overdue_from, _, dossier_id), blob in zip(chosen, await pipe.execute(), strict=True):
            if blob is None:
                continue
            try:
                state = decode_state(dossier_id, blob)
            except StateDecodeError:  # set aside by the worker (`unreadable_state`)
                continue
            assert state.due_at is not None
            items.append(
                {
                    "dossier_id": state.dossier_id,
                    "agency": state.agency,
                    "procedure": state.procedure,
                    "due_at": state.due_at.isoformat(),
                    "overdue_days": overdue_days(datetime.fromtimestamp(overdue_from, UTC), now),
                }
            )
        return items

    async def histories(self, months: Sequence[Bucket]) -> Histories:
        """The duration histograms of dossiers that ended in `months` (issue #18), merged
        over every partition: one HGETALL per partition and month."""
        parts = await self._keys()
        pipe = self._redis.pipeline(transaction=False)
        for month in months:
            for keys in parts:
                pipe.hgetall(keys.durations(month))
        counts: dict[tuple[Scope, Subject], list[int]] = {}
        for reply in await pipe.execute():
            for raw_field, n in reply.items():
                scope, subject, label = parse_duration_field(_text(raw_field))
                summed = counts.get((scope, subject))
                if summed is None:
                    summed = counts[(scope, subject)] = [0] * BUCKET_COUNT
                summed[index_of_label(label)] += int(n)
        pairs: dict[tuple[str, str], DurationHistogram] = {}
        codes: dict[Scope, dict[str, DurationHistogram]] = {s: {} for s in Scope}
        for (scope, subject), summed in counts.items():
            histogram = DurationHistogram(tuple(summed))
            if isinstance(subject, tuple):
                pairs[subject] = histogram
            else:
                codes[scope][subject] = histogram
        return Histories(
            agency_procedures=pairs,
            procedures=codes[Scope.PROCEDURE],
            agencies=codes[Scope.AGENCY],
            province=codes[Scope.PROVINCE].get("", DurationHistogram.empty()),
        )

    async def at_risk(self, now: datetime) -> list[tuple[str, AtRiskItem]]:
        """The open dossiers found at risk (dossier id, entry), from every partition's list,
        less those that turned due soon since their owner wrote them; highest risk first."""
        parts = await self._keys()
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            pipe.hgetall(keys.at_risk)
        found: list[tuple[str, AtRiskItem]] = []
        for reply in await pipe.execute():
            for dossier_id, raw in reply.items():
                try:
                    item = AtRiskItem.from_json(orjson.loads(raw))
                except (ValueError, KeyError, TypeError):
                    continue  # another version's: its owner's next sweep drops it
                if item.until > now:
                    found.append((_text(dossier_id), item))
        found.sort(key=lambda e: (-e[1].risk, e[1].due_at, e[0]))
        return found

    async def dossier(self, dossier_id: str) -> DossierState | None:
        """A dossier lives in the partition Kafka chose for its key; ask them all at once
        rather than re-implement the producer's partitioner here."""
        parts = await self._keys()
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            pipe.get(keys.dossier(dossier_id))
        for blob in await pipe.execute():
            if blob is not None:
                return decode_state(dossier_id, blob)
        return None

    async def procedures(self, cover: Cover, agency: str) -> dict[str, Counter[str]]:
        """Outcomes per procedure of one agency's dossiers that ended in the cover."""
        out: dict[str, Counter[str]] = {}
        for (counts,) in await self._counters(await self._keys(), cover.buckets, (PROCEDURE_KIND,)):
            for field, n in counts.items():
                owner, procedure, outcome = parse_procedure_field(field)
                if owner == agency:
                    out.setdefault(procedure, Counter())[outcome] += n
        return out

    async def report_counts(
        self, sums: Sequence[SignedCover]
    ) -> list[Counter[tuple[str, str, str]]]:
        """The report's counters (`iocmon.domain.report`), (agency, field, column) -> count,
        summed over each signed cover, every bucket read once."""
        buckets = list(dict.fromkeys(b for signed in sums for b, _ in signed))
        counted = await self._counters(await self._keys(), buckets, (REPORT_KIND,))
        by_bucket = {bucket: counts for bucket, (counts,) in zip(buckets, counted, strict=True)}
        out = []
        for signed in sums:
            summed: Counter[str] = Counter()
            for bucket, sign in signed:
                if sign > 0:
                    summed.update(by_bucket[bucket])
                else:
                    summed.subtract(by_bucket[bucket])
            out.append(Counter({parse_procedure_field(f): n for f, n in summed.items() if n}))
        return out

    async def daily(self, days: Sequence[Bucket], agency: str | None) -> list[tuple[str, Figures]]:
        """Ended and received dossiers per local day bucket, in one round trip."""
        per_day = await self._counters(await self._keys(), days, DAY_KINDS)
        return [
            (bucket.id, _figures(_split(ended, 1), _split(received, 2), Counter(), agency))
            for bucket, (ended, received) in zip(days, per_day, strict=True)
        ]

    async def totals(
        self, now: datetime, open_for: Collection[str] | None = None, rest: str = ""
    ) -> Totals:
        """All-time figures. Open dossiers are read per agency, for every agency, or with
        `open_for` only for those (the `agency` label values), the others summed under
        `rest`: then a scrape costs the same however many agency codes Redis holds."""
        parts = await self._keys()
        ended, received = await self.period_counts(Cover(now, now, (ALL_TIME,)))
        pipe = self._redis.pipeline(transaction=False)
        for keys in parts:
            pipe.hgetall(keys.stats)
        stats: dict[str, Counter[str]] = {
            "events": Counter(),
            "ignored": Counter(),
            "rejected": Counter(),
        }
        for reply in await pipe.execute():
            for field, n in reply.items():
                kind, _, name = _text(field).partition("|")
                stats[kind][name] += int(n)
        return Totals(
            ended=ended,
            received=received,
            open=await (
                self.open_all_agencies(now)
                if open_for is None
                else self._open_folded(now, sorted(open_for), rest)
            ),
            events=stats["events"],
            ignored=stats["ignored"],
            rejected=stats["rejected"],
        )


def _by_group(
    ended: Counter[tuple[str, str]],
    received: Counter[tuple[str, str, str]],
    open_states: Counter[tuple[str, str]],
    fold: Callable[[str], str] | None,
) -> dict[str, Figures]:
    # Grouped in one pass each: filtering per agency was quadratic in the number of
    # agencies, and hostile agency codes made one refresh of /metrics take minutes.
    group = fold or (lambda a: a)
    groups: dict[str, str] = {}  # memo: `fold` once per code
    ended_by: dict[str, Counter[tuple[str, str]]] = {}
    for (a, outcome), n in ended.items():
        g = groups.get(a) or groups.setdefault(a, group(a))
        ended_by.setdefault(g, Counter())[(g, outcome)] += n
    received_by: dict[str, Counter[tuple[str, str, str]]] = {}
    for (a, channel, level), n in received.items():
        g = groups.get(a) or groups.setdefault(a, group(a))
        received_by.setdefault(g, Counter())[(g, channel, level)] += n
    open_by: dict[str, Counter[str]] = {}
    for (a, state), n in open_states.items():
        g = groups.get(a) or groups.setdefault(a, group(a))
        open_by.setdefault(g, Counter())[state] += n
    return {
        g: _figures(
            ended_by.get(g, Counter()),
            received_by.get(g, Counter()),
            open_by.get(g, Counter()),
            None,  # each group's counters hold that group only
        )
        for g in sorted(ended_by.keys() | received_by.keys() | open_by.keys())
    }


def _figures(
    ended: Counter[tuple[str, str]],
    received: Counter[tuple[str, str, str]],
    open_states: Counter[str],
    agency: str | None,
) -> Figures:
    outcomes: Counter[str] = Counter()
    for (a, outcome), n in ended.items():
        if agency is None or a == agency:
            outcomes[outcome] += n
    return Figures(
        early=outcomes["early"],
        on_time=outcomes["on_time"],
        late=outcomes["late"],
        withdrawn=outcomes["withdrawn"],
        received=sum(n for (a, *_), n in received.items() if agency is None or a == agency),
        on_track=open_states[OpenState.ON_TRACK],
        due_soon=open_states[OpenState.DUE_SOON],
        overdue=open_states[OpenState.OVERDUE],
        paused=open_states[OpenState.PAUSED],
    )


def _split(counts: Counter[str], splits: int) -> Counter[Any]:
    """Agency codes may contain '|'; the fields after them never do, so split from the right."""
    out: Counter[Any] = Counter()
    for field, n in counts.items():
        out[tuple(field.rsplit("|", splits))] += n
    return out


def _counter(reply: dict[Any, Any]) -> Counter[str]:
    return Counter({_text(field): int(n) for field, n in reply.items()})


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw
