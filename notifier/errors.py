"""Errors of the notifier; all are IocmonError, so `iocmon` prints them without a traceback."""

from __future__ import annotations

from iocmon.errors import IocmonError


class InvalidAlert(IocmonError):
    """A record of the alerts topic that is not an alert record of contract version 1."""


class DeliveryFailed(IocmonError):
    """A receiver did not acknowledge a delivery; it is retried with backoff."""

    def __init__(self, receiver: str, reason: str) -> None:
        super().__init__(f"{receiver}: {reason}")
        self.receiver = receiver
        self.reason = reason


class NotifierError(IocmonError):
    """The notifier cannot go on; the message says what to check."""
