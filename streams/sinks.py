"""Where a batch's dead letters and alerts go: Kafka topics, sent together, awaited once.

Both are sent before the batch that causes them is applied (see `streams.intake`), so a
crash in between repeats one (same source offset, same alert id) and never loses one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

import faust

from iocmon.config import Settings
from iocmon.domain.alerts import Alert
from iocmon.domain.batch import DeadLetter
from iocmon.streams import metrics


class KafkaSinks:
    def __init__(self, app: faust.App, settings: Settings, agency_names: Mapping[str, str]) -> None:
        self._app = app
        self._settings = settings
        self._names = agency_names

    async def dead_letters(self, partition: int, letters: Sequence[DeadLetter]) -> None:
        """The original key and value bytes; the reason, a detail without values and the
        source offset as headers."""
        settings = self._settings
        sent = []
        for dead in letters:
            source = f"{settings.events_topic}/{partition}/{dead.record.offset}"
            sent.append(
                await self._app.producer.send(
                    settings.dlq_topic,
                    dead.record.key,
                    dead.record.value,
                    partition=None,
                    timestamp=None,
                    headers=[
                        ("iocmon-reason", dead.reason.encode()),
                        ("iocmon-detail", dead.detail.encode()),
                        ("iocmon-source", source.encode()),
                    ],
                )
            )
        await asyncio.gather(*sent)
        metrics.DEAD_LETTERS.inc(len(letters))

    async def alerts(self, alerts: Sequence[Alert]) -> None:
        sent = []
        for alert in alerts:
            value = alert.to_json(self._settings.now(), self._names.get(alert.agency))
            sent.append(
                await self._app.producer.send(
                    self._settings.alerts_topic,
                    alert.dossier_id.encode("utf-8"),
                    json.dumps(value, ensure_ascii=False).encode("utf-8"),
                    partition=None,
                    timestamp=None,
                    headers=None,
                )
            )
        await asyncio.gather(*sent)
