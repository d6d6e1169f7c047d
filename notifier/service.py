"""The notifier's loop: read alert records, keep the active set, feed the lanes, commit.

Recovery after a restart (or when a rebalance hands this notifier a partition): the active
alerts of a partition are rebuilt by reading it from the start of its retention up to the
offset the group consumer resumes from, without delivering anything; from that offset on,
records are delivered as usual, and the rebuilt alerts are sent to Alertmanager at once. The
alerts topic should therefore keep each dossier's latest record for as long as the dossier can
stay overdue: `cleanup.policy=compact` (records are keyed by dossier) does exactly that.

Per record, every lane gets one job; the record's offset is committed once every lane has
acknowledged it. A receiver that is down holds back commits, not the other receivers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import count

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from iocmon.logs import fields
from iocmon.notifier.alertmanager import AlertmanagerReceiver
from iocmon.notifier.book import ActiveBook
from iocmon.notifier.config import NotifierSettings
from iocmon.notifier.consume import AlertSource, read_from_start
from iocmon.notifier.errors import DeliveryFailed, InvalidAlert, NotifierError
from iocmon.notifier.lanes import Delivery, Lane, Refresh
from iocmon.notifier.metrics import NotifierMetrics
from iocmon.notifier.model import AlertRecord, decode
from iocmon.notifier.progress import Progress
from iocmon.notifier.retry import Backoff
from iocmon.notifier.webhook import WebhookReceiver

log = logging.getLogger(__name__)
POLL_S = 0.5
READY_POLL_AGE_S = 30.0
"""/readyz fails when the loop has not polled for this long (many missed polls)."""


class _Rebalances(ConsumerRebalanceListener):
    """Runs on the consumer's IO thread: only notes what changed, for the loop to act on."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.joined = False
        """Whether the group gave this consumer its share (maybe none) since the last
        rebalance began: a flag only the IO thread sets, read by /readyz."""

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.joined = False
        for tp in revoked:
            self.progress.revoke(tp.partition)
            self.events.put(("revoked", tp.partition))

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        for tp in assigned:
            self.progress.assign(tp.partition)
            self.events.put(("assigned", tp.partition))
        self.joined = True


class Notifier:
    def __init__(
        self,
        settings: NotifierSettings,
        *,
        metrics: NotifierMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.metrics = metrics or NotifierMetrics()
        self.book = ActiveBook()
        sinks: list[AlertmanagerReceiver | WebhookReceiver] = [
            AlertmanagerReceiver(
                url, timeout_s=settings.http_timeout_s, ttl_s=settings.alert_ttl_s, clock=clock
            )
            for url in settings.alertmanager_urls
        ]
        if settings.webhook_url:
            sinks.append(WebhookReceiver(settings.webhook_url, timeout_s=settings.http_timeout_s))
        self.progress = Progress(f"{s.kind} {s.target}" for s in sinks)
        backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        self.lanes = [Lane(sink, self.progress, backoff, self) for sink in sinks]
        self.metrics.watch(self.lanes, lambda: len(self.book))
        self._rebalances = _Rebalances(self.progress)
        self._refresh_seq = count(1)
        self._next_refresh = 0.0
        self.stopping = threading.Event()
        self._clock = clock
        self._polled: tuple[float, frozenset[int]] | None = None
        """When the loop last polled, and the partitions it was assigned then."""

    def readiness(self) -> tuple[bool, str]:
        """For /readyz (`notifier.health`): the loop polls, and the group gave it its share
        of the alerts topic (none, for a notifier standing by)."""
        if self._polled is None:
            return False, "has not polled the alerts topic yet"
        at, partitions = self._polled
        age = time.monotonic() - at
        if age > READY_POLL_AGE_S:
            return False, f"the loop last polled {age:.0f} s ago"
        if not self._rebalances.joined:
            return False, "joining the consumer group (or Kafka is gone)"
        return True, f"reads partitions {sorted(partitions)}" if partitions else "stands by"

    # -- LaneEvents -------------------------------------------------------------------------

    def delivered(self, lane: Lane, alerts: int) -> None:
        self.metrics.delivered_to(lane, alerts)

    def failed(self, lane: Lane, exc: DeliveryFailed, attempt: int) -> None:
        self.metrics.failed_at(lane, exc)
        log.warning("delivery failed (attempt %d), retrying: %s", attempt + 1, exc)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until `stopping` is set."""
        s = self.settings
        try:
            source = AlertSource(
                s.kafka_bootstrap_servers,
                s.alerts_topic,
                s.consumer_group,
                self._rebalances,
                s.kafka_security,
            )
        except KafkaError as exc:
            raise NotifierError(
                f"cannot reach Kafka at {s.kafka_bootstrap_servers} ({exc}); check "
                "KAFKA_BOOTSTRAP_SERVERS and that the brokers run, then start again"
            ) from None
        for lane in self.lanes:
            lane.start()
        log.info(
            "notifier: %s (group %s) -> %s",
            s.alerts_topic,
            s.consumer_group,
            ", ".join(lane.id for lane in self.lanes),
        )
        try:
            while not self.stopping.is_set():
                self._step(source)
        finally:
            for lane in self.lanes:
                lane.stop()
            for lane in self.lanes:
                lane.join(timeout=s.http_timeout_s + 1)
            self._commit(source)
            source.close()
            log.info("notifier stopped")

    def _step(self, source: AlertSource) -> None:
        full = max((lane.pending() for lane in self.lanes), default=0) >= self.settings.max_pending
        source.set_paused(source.assignment() if full else ())
        records = source.poll(POLL_S)
        self._polled = (time.monotonic(), frozenset(source.assignment()))
        self._follow_rebalances(source, records)
        for record in records:
            epoch = self.progress.epoch(record.partition)
            if epoch is not None:
                self._handle(record, epoch)
        self._commit(source)
        if time.monotonic() >= self._next_refresh:
            self._refresh()

    def _handle(self, record: ConsumerRecord, epoch: int) -> None:
        self.metrics.records.inc()
        alert = self._decode(record)
        changes = self.book.apply(alert, record.partition) if alert else []
        now = time.monotonic()
        for lane in self.lanes:
            item = changes if lane.sink.kind == "alertmanager" else alert
            lane.put(Delivery(record.partition, record.offset, epoch, item, now))

    def _decode(self, record: ConsumerRecord) -> AlertRecord | None:
        if record.value is None:  # a compaction tombstone
            return None
        try:
            return decode(record.value)
        except InvalidAlert as exc:
            self.metrics.invalid.inc()
            log.error(
                "skipping record %s/%d/%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
                extra=fields(partition=record.partition, offset=record.offset),
            )
            return None

    def _follow_rebalances(self, source: AlertSource, records: list[ConsumerRecord]) -> None:
        """Forget revoked partitions; rebuild the active alerts of assigned ones up to where
        this poll's records (or the consumer's position) start."""
        assigned: set[int] = set()
        while True:
            try:
                event, partition = self._rebalances.events.get_nowait()
            except queue.Empty:
                break
            if event == "revoked":
                self.book.drop_partition(partition)
                assigned.discard(partition)
            else:
                self.book.drop_partition(partition)
                assigned.add(partition)
        if not assigned:
            return
        first: dict[int, int] = {}
        for record in records:
            first.setdefault(record.partition, record.offset)
        until = {p: first[p] if p in first else source.position(p) for p in assigned}
        before = len(self.book)
        read = 0
        for record in read_from_start(
            self.settings.kafka_bootstrap_servers,
            source.topic,
            until,
            security=self.settings.kafka_security,
        ):
            read += 1
            alert = self._decode(record)
            if alert is not None:
                self.book.apply(alert, record.partition)
        log.info(
            "partitions %s assigned: rebuilt %d active alerts from %d records",
            sorted(assigned),
            len(self.book) - before,
            read,
        )
        self._next_refresh = 0.0  # tell Alertmanager at once

    def _refresh(self) -> None:
        self._expire()
        alerts = tuple(self.book.active())
        now = time.monotonic()
        if alerts:
            seq = next(self._refresh_seq)
            for lane in self.lanes:
                if lane.sink.kind == "alertmanager":
                    lane.put(Refresh(seq, alerts, now))
        self._next_refresh = now + self.settings.resend_interval_s

    def _expire(self) -> None:
        """Stop re-sending alerts about appointments beyond the retention horizon, so the
        resend stays bounded however many dossiers never close."""
        horizon = self.settings.alert_horizon
        expired = self.book.expire(before=self._clock() - horizon)
        if expired:
            self.metrics.expired.inc(len(expired))
            log.info(
                "%d alerts about appointments more than %d days ago are no longer re-sent "
                "(Alertmanager resolves them when their endsAt passes), e.g. dossier %s",
                len(expired),
                horizon.days,
                expired[0].dossier_id,
            )

    def _commit(self, source: AlertSource) -> None:
        offsets = self.progress.committable()
        if not offsets:
            return
        try:
            source.commit(offsets)
        except KafkaError as exc:
            log.warning("commit of %s failed (%s); retrying with the next one", offsets, exc)
            return
        self.progress.committed(offsets)
