"""What can go wrong between a console command and the services it asks."""

from __future__ import annotations

from iocmon.errors import IocmonError


class ConsoleError(IocmonError):
    """A console command cannot get its answer; the message says what to do."""


class WorkerUnreachable(ConsoleError):
    """Nothing answers HTTP at the worker's URL."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        self.headline = (
            f"worker at {url} not answering — is `iocmon worker` running? (make run starts it)"
        )
        super().__init__(f"{self.headline} [{reason}]")


class ApiError(ConsoleError):
    """The worker answered, but not with what was asked for."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class NotFound(ApiError):
    """The worker knows no such thing (HTTP 404 with a JSON error)."""


class MalformedAnswer(ConsoleError):
    """The worker answered JSON, but without what the command reads (another version?)."""
