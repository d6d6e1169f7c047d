"""`iocmon notify` against real Kafka and real Alertmanagers (Debian package), with a small
webhook receiver of the test's own.

Each test gets a fresh alerts topic and consumer group, and dossier ids no other test uses.
The notifier runs as a subprocess (`python -m iocmon.notifier`, what `iocmon notify` runs),
resending active alerts every second so that Alertmanager's 4-second expiry is exercised. Receiver
outages are real: the test's own Alertmanager and webhook start late, stop and start again.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.integration.harness import Stack, http_get, wait_for
from tests.integration.notifying import (
    Alertmanager,
    Notifier,
    Webhook,
    active_alerts,
    ends_at,
    firing,
    resent_since,
)

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))
DUE = (datetime.now(ICT) - timedelta(days=6)).replace(hour=17, minute=0, second=0, microsecond=0)
"""A recent appointment: the notifier drops alerts older than the retention horizon."""
PARTITIONS = 3


# -- alert records, as the worker emits them ------------------------------------------------


def record(dossier: str, kind: str, clears: str | None = None) -> dict[str, Any]:
    alert_id = f"{clears}:cleared" if clears else f"{dossier}:{kind}:{DUE.isoformat()}"
    out: dict[str, Any] = {
        "v": 1,
        "alert_id": alert_id,
        "kind": kind,
        "dossier_id": dossier,
        "agency": "000.00.31.H01",
        "agency_name": "Sở Tư pháp",
        "procedure": "1.004227",
        "due_at": DUE.isoformat(),
        "overdue_days": 1 if kind == "overdue" else 0,
        "state_at": (DUE + timedelta(hours=7)).isoformat(),
        "emitted_at": (DUE + timedelta(hours=7, seconds=1)).isoformat(),
    }
    if clears:
        out["clears"] = clears
    return out


def cleared(fired: dict[str, Any]) -> dict[str, Any]:
    return record(fired["dossier_id"], "cleared", clears=fired["alert_id"])


# -- Kafka ----------------------------------------------------------------------------------


@dataclass
class Alerts:
    """A fresh alerts topic and consumer group on the stack's Kafka."""

    stack: Stack
    name: str = field(default_factory=lambda: f"n{uuid.uuid4().hex[:10]}")

    @property
    def topic(self) -> str:
        return f"{self.name}-alerts"

    def create(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.stack.kafka)
        try:
            admin.create_topics([NewTopic(self.topic, PARTITIONS, 1)])
        finally:
            admin.close()

    def dossier(self, n: int) -> str:
        return f"{self.name}-HS{n:03}"

    def produce(self, *records: dict[str, Any] | tuple[bytes, bytes | None]) -> None:
        """Alert records, or raw (key, value) pairs."""
        producer = KafkaProducer(bootstrap_servers=self.stack.kafka, acks="all")
        try:
            for r in records:
                key, value = (
                    r
                    if isinstance(r, tuple)
                    else (r["dossier_id"].encode(), json.dumps(r, ensure_ascii=False).encode())
                )
                producer.send(self.topic, key=key, value=value)
            producer.flush()
        finally:
            producer.close()

    def end_offsets(self) -> dict[int, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.stack.kafka)
        try:
            tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
            return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
        finally:
            consumer.close()

    def committed(self) -> dict[int, int]:
        admin = KafkaAdminClient(bootstrap_servers=self.stack.kafka)
        try:
            offsets = admin.list_group_offsets(self.name).get(self.name, {})
        finally:
            admin.close()
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if tp.topic == self.topic and meta.offset >= 0
        }

    def notifier(self, alertmanager_url: str, webhook_url: str | None) -> Notifier:
        return Notifier(self.stack, self.topic, self.name, alertmanager_url, webhook_url)

    def all_committed(self) -> bool:
        ends = self.end_offsets()
        return self.committed() == {p: end for p, end in ends.items() if end > 0}


@pytest.fixture
def alerts(stack: Stack) -> Alerts:
    a = Alerts(stack)
    a.create()
    return a


# -- receivers ------------------------------------------------------------------------------


# -- the notifier ---------------------------------------------------------------------------


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    started: list[Notifier] = []
    yield started
    for n in started:
        n.close()


# -- tests ----------------------------------------------------------------------------------


def test_the_notifier_is_ready_once_it_reads_its_topic_and_serves_its_metrics(
    alerts: Alerts, stack: Stack, webhook: Webhook, notifiers: list[Notifier]
) -> None:
    webhook.start()
    notifier = alerts.notifier(stack.alertmanager_url, webhook.url).start()
    notifiers.append(notifier)
    base = notifier.metrics_url.removesuffix("/metrics")
    assert json.loads(http_get(f"{base}/healthz")[1]) == {"status": "serving"}
    wait_for(lambda: http_get(f"{base}/readyz")[0] == 200, 60, "the notifier's /readyz")
    ready = json.loads(http_get(f"{base}/readyz")[1])
    assert ready["checks"]["kafka"]["detail"].startswith("reads partitions [0")
    assert b"iocmon_notify_active_alerts" in http_get(notifier.metrics_url)[1]  # as before
    notifier.stop()
    with pytest.raises(OSError):
        http_get(f"{base}/healthz", timeout=2)


def test_alerts_fire_stay_active_and_resolve_on_cleared(
    alerts: Alerts, stack: Stack, webhook: Webhook, notifiers: list[Notifier]
) -> None:
    webhook.start()
    soon1, soon2 = record(alerts.dossier(1), "due_soon"), record(alerts.dossier(2), "due_soon")
    over2, over3 = record(alerts.dossier(2), "overdue"), record(alerts.dossier(3), "overdue")
    # between them, a record that is no alert and a compaction tombstone: skipped, not stuck
    alerts.produce(soon1, soon2, (b"x", b"{not json"), (b"y", None), over2, over3)
    notifier = alerts.notifier(stack.alertmanager_url, webhook.url).start()
    notifiers.append(notifier)

    expected = {
        ("DossierDueSoon", alerts.dossier(1)),
        ("DossierOverdue", alerts.dossier(2)),  # its due_soon was resolved by the overdue
        ("DossierOverdue", alerts.dossier(3)),
    }
    wait_for(lambda: firing(stack.alertmanager_url, alerts.name) == expected, 60, "3 alerts")
    by_dossier = {
        a["labels"]["dossier_id"]: a for a in active_alerts(stack.alertmanager_url, alerts.name)
    }
    late = by_dossier[alerts.dossier(3)]
    assert late["labels"] == {
        "alertname": "DossierOverdue",
        "severity": "critical",
        "agency": "000.00.31.H01",
        "dossier_id": alerts.dossier(3),
        "procedure": "1.004227",
    }
    assert "đã quá hạn 1 ngày" in late["annotations"]["summary"]
    assert "is 1 day overdue" in late["annotations"]["summary"]
    assert late["annotations"]["due_at"] == f"{DUE.date().isoformat()}T17:00:00+07:00"
    assert late["annotations"]["overdue_days"] == "1"
    assert by_dossier[alerts.dossier(1)]["labels"]["severity"] == "warning"

    # Alertmanager drops an alert 4 s (4 resend intervals) after it was last sent: these stay
    # active only because the notifier keeps sending them.
    sent_once = ends_at(stack.alertmanager_url, alerts.name)
    wait_for(lambda: resent_since(stack.alertmanager_url, alerts.name, sent_once), 30, "a resend")
    assert firing(stack.alertmanager_url, alerts.name) == expected

    alerts.produce(cleared(over2))
    expected.remove(("DossierOverdue", alerts.dossier(2)))
    wait_for(lambda: firing(stack.alertmanager_url, alerts.name) == expected, 30, "the clear")

    wait_for(alerts.all_committed, 30, "every record committed")
    sent = [soon1, soon2, over2, over3, cleared(over2)]
    assert webhook.received() == Counter(r["alert_id"] for r in sent)
    assert sorted(webhook.bodies, key=lambda b: b["alert_id"]) == sorted(
        sent, key=lambda r: r["alert_id"]
    )
    assert notifier.metric("iocmon_notify_active_alerts") == 2
    assert notifier.metric("iocmon_notify_records_invalid_total") == 1
    assert notifier.stop() == 0


def test_an_at_risk_forecast_fires_until_due_soon_replaces_it_or_the_dossier_ends(
    alerts: Alerts, stack: Stack, webhook: Webhook, notifiers: list[Notifier]
) -> None:
    """Issue #18: the forecast is an alert of its own (DossierAtRisk, info); the dossier's
    due_soon replaces it, its end clears it, and a forecast emitted again (a worker's crash)
    does not come back."""
    webhook.start()
    risk1, risk2 = record(alerts.dossier(1), "at_risk"), record(alerts.dossier(2), "at_risk")
    alerts.produce(risk1, risk2)
    notifier = alerts.notifier(stack.alertmanager_url, webhook.url).start()
    notifiers.append(notifier)
    expected = {("DossierAtRisk", alerts.dossier(1)), ("DossierAtRisk", alerts.dossier(2))}
    wait_for(lambda: firing(stack.alertmanager_url, alerts.name) == expected, 60, "2 forecasts")
    [first, *_] = sorted(
        active_alerts(stack.alertmanager_url, alerts.name), key=lambda a: a["labels"]["dossier_id"]
    )
    assert first["labels"] == {
        "alertname": "DossierAtRisk",
        "severity": "info",
        "agency": "000.00.31.H01",
        "dossier_id": alerts.dossier(1),
        "procedure": "1.004227",
    }
    assert "có nguy cơ trễ hạn" in first["annotations"]["summary"]
    assert "is likely to end late" in first["annotations"]["summary"]

    soon1 = record(alerts.dossier(1), "due_soon")
    alerts.produce(soon1, cleared(risk2))
    expected = {("DossierDueSoon", alerts.dossier(1))}
    wait_for(lambda: firing(stack.alertmanager_url, alerts.name) == expected, 30, "the changes")

    alerts.produce(risk1)  # emitted again after a worker's crash: retired, it stays resolved
    wait_for(alerts.all_committed, 30, "every record committed")
    assert firing(stack.alertmanager_url, alerts.name) == expected
    # the webhook hears every record, the forecasts too; receivers deduplicate by alert_id
    sent = [risk1, risk2, soon1, cleared(risk2), risk1]
    assert webhook.received() == Counter(r["alert_id"] for r in sent)
    assert notifier.metric("iocmon_notify_active_alerts") == 1
    assert notifier.stop() == 0


def test_receivers_down_for_a_while_then_up_get_every_alert_once(
    alerts: Alerts,
    own_alertmanager: Alertmanager,
    webhook: Webhook,
    notifiers: list[Notifier],
) -> None:
    """Both receivers are down when the alerts arrive. Nothing is committed while either is
    down; once they are up, every record reaches the webhook exactly once and Alertmanager
    holds exactly the alerts still active."""
    soon = [record(alerts.dossier(n), "due_soon") for n in range(20)]
    over = [record(alerts.dossier(n), "overdue") for n in range(10)]
    ends = [cleared(r) for r in over[:5]]
    alerts.produce(*soon, *over, *ends)
    notifier = alerts.notifier(own_alertmanager.url, webhook.url).start()
    notifiers.append(notifier)

    wait_for(lambda: notifier.metric("iocmon_notify_delivery_failures_total") >= 6, 30, "failures")
    assert alerts.committed() == {}

    webhook.start()  # Alertmanager still down: the webhook is not held back by it
    wait_for(lambda: len(webhook.keys) == 35, 30, "35 records at the webhook")
    threading.Event().wait(2)
    assert alerts.committed() == {}

    own_alertmanager.start()
    expected = {("DossierDueSoon", alerts.dossier(n)) for n in range(10, 20)} | {
        ("DossierOverdue", alerts.dossier(n)) for n in range(5, 10)
    }
    wait_for(lambda: firing(own_alertmanager.url, alerts.name) == expected, 60, "15 alerts")
    wait_for(alerts.all_committed, 30, "every record committed")

    assert len(active_alerts(own_alertmanager.url, alerts.name)) == 15
    received = webhook.received()
    assert received == Counter(r["alert_id"] for r in [*soon, *over, *ends])
    assert set(received.values()) == {1}
    assert notifier.stop() == 0


def test_a_crash_during_an_outage_and_restarts_lose_nothing(
    alerts: Alerts, own_alertmanager: Alertmanager, notifiers: list[Notifier]
) -> None:
    """kill -9 while Alertmanager is down; then Alertmanager restarts (forgetting every
    alert) under a running notifier, and again while no notifier runs: the alerts come back
    each time, from the resends and then from the rebuild of the active set."""
    a, b, c = (record(alerts.dossier(n), "overdue") for n in (1, 2, 3))
    alerts.produce(a, b, c, cleared(c))
    expected = {("DossierOverdue", alerts.dossier(1)), ("DossierOverdue", alerts.dossier(2))}

    first = alerts.notifier(own_alertmanager.url, None).start()
    notifiers.append(first)
    wait_for(lambda: first.metric("iocmon_notify_delivery_failures_total") >= 2, 30, "failures")
    first.kill9()
    assert alerts.committed() == {}

    second = alerts.notifier(own_alertmanager.url, None).start()
    notifiers.append(second)
    own_alertmanager.start()
    wait_for(lambda: firing(own_alertmanager.url, alerts.name) == expected, 60, "2 alerts")
    wait_for(alerts.all_committed, 30, "every record committed")

    own_alertmanager.stop()
    own_alertmanager.start()
    wait_for(lambda: firing(own_alertmanager.url, alerts.name) == expected, 30, "resent alerts")

    assert second.stop() == 0
    own_alertmanager.stop()
    own_alertmanager.start()
    assert firing(own_alertmanager.url, alerts.name) == set()
    third = alerts.notifier(own_alertmanager.url, None).start()
    notifiers.append(third)
    wait_for(lambda: firing(own_alertmanager.url, alerts.name) == expected, 30, "rebuilt alerts")

    d = record(alerts.dossier(4), "due_soon")  # and it goes on from the committed offset
    alerts.produce(d, cleared(a))
    expected = {("DossierOverdue", alerts.dossier(2)), ("DossierDueSoon", alerts.dossier(4))}
    wait_for(lambda: firing(own_alertmanager.url, alerts.name) == expected, 30, "new records")


def test_two_notifiers_share_the_partitions_and_one_takes_over_from_the_other(
    alerts: Alerts, stack: Stack, webhook: Webhook, notifiers: list[Notifier]
) -> None:
    """With two notifiers in the group each owns some partitions; when one stops, the other
    rebuilds the alerts of the partitions it takes over and keeps them active."""
    webhook.start()
    first = alerts.notifier(stack.alertmanager_url, webhook.url).start()
    second = alerts.notifier(stack.alertmanager_url, webhook.url).start()
    notifiers.extend([first, second])
    fired = [record(alerts.dossier(n), "overdue") for n in range(12)]
    alerts.produce(*fired)
    expected = {("DossierOverdue", alerts.dossier(n)) for n in range(12)}
    wait_for(lambda: firing(stack.alertmanager_url, alerts.name) == expected, 60, "12 alerts")
    wait_for(
        lambda: (
            first.metric("iocmon_notify_active_alerts") > 0
            and second.metric("iocmon_notify_active_alerts") > 0
        ),
        30,
        "both notifiers to own some of the alerts",
    )

    assert first.stop() == 0
    wait_for(lambda: second.metric("iocmon_notify_active_alerts") == 12, 30, "the take-over")
    # What the first one sent expires 4 s after its last send: the second sends it all again.
    sent_by_first = ends_at(stack.alertmanager_url, alerts.name)
    wait_for(
        lambda: resent_since(stack.alertmanager_url, alerts.name, sent_by_first),
        30,
        "the second notifier to send every alert",
    )
    assert firing(stack.alertmanager_url, alerts.name) == expected
    alerts.produce(cleared(fired[0]))
    wait_for(lambda: len(firing(stack.alertmanager_url, alerts.name)) == 11, 30, "the clear")
    wait_for(alerts.all_committed, 30, "every record committed")
    assert set(webhook.received()) == {r["alert_id"] for r in [*fired, cleared(fired[0])]}


def test_the_example_configuration_inhibits_tickets_under_pages_and_forecasts_under_alerts(
    own_alertmanager: Alertmanager,
) -> None:
    own_alertmanager.start()
    tag = uuid.uuid4().hex[:8]

    def alert(**labels: str) -> dict[str, Any]:
        return {"labels": {"test": tag, **labels}, "annotations": {"summary": "test"}}

    burn = {"alertname": "DossierLateBudgetBurn", "scope": "agency"}
    body = [
        alert(**burn, severity="page", window="1h", agency="A"),
        alert(**burn, severity="ticket", window="3d", agency="A"),
        alert(**burn, severity="ticket", window="3d", agency="B"),
        alert(alertname="DossierOverdue", severity="critical", agency="A", dossier_id="D1"),
        alert(alertname="DossierDueSoon", severity="warning", agency="A", dossier_id="D1"),
        alert(alertname="DossierDueSoon", severity="warning", agency="A", dossier_id="D2"),
        alert(alertname="DossierAtRisk", severity="info", agency="A", dossier_id="D1"),
        alert(alertname="DossierAtRisk", severity="info", agency="A", dossier_id="D2"),
        alert(alertname="DossierAtRisk", severity="info", agency="A", dossier_id="D3"),
    ]
    request = urllib.request.Request(
        f"{own_alertmanager.url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    def states() -> dict[tuple[str, ...], bool]:
        query = urllib.parse.urlencode({"filter": f'test="{tag}"'})
        _, raw = http_get(f"{own_alertmanager.url}/api/v2/alerts?{query}")
        return {
            (
                a["labels"]["alertname"],
                a["labels"]["severity"],
                a["labels"].get("agency", ""),
                a["labels"].get("dossier_id", ""),
            ): bool(a["status"]["inhibitedBy"])
            for a in json.loads(raw)
        }

    assert states() == {
        ("DossierLateBudgetBurn", "page", "A", ""): False,
        ("DossierLateBudgetBurn", "ticket", "A", ""): True,
        ("DossierLateBudgetBurn", "ticket", "B", ""): False,
        ("DossierOverdue", "critical", "A", "D1"): False,
        ("DossierDueSoon", "warning", "A", "D1"): True,
        ("DossierDueSoon", "warning", "A", "D2"): False,
        ("DossierAtRisk", "info", "A", "D1"): True,  # under the overdue alert
        ("DossierAtRisk", "info", "A", "D2"): True,  # under the due-soon alert
        ("DossierAtRisk", "info", "A", "D3"): False,
    }
