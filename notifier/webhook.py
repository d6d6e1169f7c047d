"""A generic JSON webhook as a receiver: every alert record, POSTed as it was read.

The body is the record (known fields only, see `model`); the `Idempotency-Key` header is its
`alert_id`, so a receiver can recognise a record delivered twice (after a notifier restart, a
lost acknowledgement, a worker re-emitting it). Any 2xx acknowledges it, and so does 409
Conflict, which receivers commonly answer for a key they already have.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from iocmon.notifier.lanes import Delivery, Job
from iocmon.notifier.model import AlertRecord
from iocmon.notifier.transport import post_json, target_of


def idempotency_key(alert: AlertRecord) -> str:
    """The alert id; percent-encoded (RFC 3986) if it holds anything an HTTP header cannot."""
    key = alert.alert_id
    if key.isascii() and key.isprintable():
        return key
    return quote(key, safe="!#$&'()*+,/:;=?@[]~")


def body(alert: AlertRecord) -> bytes:
    return json.dumps(alert.to_json(), ensure_ascii=False).encode("utf-8")


class WebhookReceiver:
    """The webhook, as a lane's sink: one record per request; anything but an
    acknowledgement raises DeliveryFailed."""

    kind = "webhook"
    max_batch = 1

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self.url = url
        self.target = target_of(url)
        self.timeout_s = timeout_s

    def needs_sending(self, job: Job) -> bool:
        return isinstance(job, Delivery) and isinstance(job.item, AlertRecord)

    def send(self, jobs: Sequence[Job]) -> int:
        for job in jobs:
            assert isinstance(job, Delivery) and isinstance(job.item, AlertRecord)
            self.post(job.item)
        return len(jobs)

    def post(self, alert: AlertRecord) -> None:
        post_json(
            f"webhook {self.target}",
            self.url,
            body(alert),
            timeout_s=self.timeout_s,
            headers={"Idempotency-Key": idempotency_key(alert)},
            accepted=(409,),
        )
