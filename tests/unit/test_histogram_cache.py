"""The applier's copy of the merged duration histograms (`streams.histograms`): read again
every few minutes, every few seconds while too few dossiers ended to forecast any, and kept
when a read fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from iocmon.domain.buckets import Bucket
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.histogram import DurationHistogram
from iocmon.domain.risk_check import Histories
from iocmon.streams.histograms import HistogramCache
from iocmon.streams.queries import FigureReader

NOW = datetime(2024, 3, 6, 8, tzinfo=LOCAL_TZ)


class Reader:
    """Stands for the figure reader: gives `answers` in turn (an exception is raised)."""

    def __init__(self, *answers: Histories | Exception) -> None:
        self.answers = list(answers)
        self.months: list[Sequence[Bucket]] = []

    async def histories(self, months: Sequence[Bucket]) -> Histories:
        self.months.append(months)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def warm(n: int = 30) -> Histories:
    return Histories(province=DurationHistogram.of([5] * n))


def test_read_every_few_minutes_once_warm_and_every_few_seconds_while_cold() -> None:
    clock = [0.0]
    reader = Reader(Histories(), warm(), warm(40))
    cache = HistogramCache(cast(FigureReader, reader), timedelta(days=400), 30, 300, 10,
                           lambda: clock[0])  # fmt: skip

    async def scenario() -> list[int]:
        totals = []
        for at in (0, 5, 10, 100, 300, 310):
            clock[0] = at
            totals.append((await cache.get(NOW)).province.total)
        return totals

    assert asyncio.run(scenario()) == [0, 0, 30, 30, 30, 40]
    assert len(reader.months) == 3
    assert reader.months[0][0] == Bucket("m", "202301") and len(reader.months[0]) == 15  # 400 d


def test_a_failed_read_keeps_the_last_histograms_and_the_first_must_succeed() -> None:
    clock = [0.0]
    reader = Reader(RedisConnectionError(), warm(), RedisConnectionError())
    cache = HistogramCache(cast(FigureReader, reader), timedelta(days=400), 30, 300, 10,
                           lambda: clock[0])  # fmt: skip

    async def scenario() -> None:
        with pytest.raises(RedisConnectionError):
            await cache.get(NOW)
        assert (await cache.get(NOW)).province.total == 30
        clock[0] = 301
        assert (await cache.get(NOW)).province.total == 30  # Redis did not answer: the last

    asyncio.run(scenario())
