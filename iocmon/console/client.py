"""The worker's JSON API over HTTP (urllib; one request per call, no session state)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from iocmon.console.errors import ApiError, NotFound, WorkerUnreachable
from iocmon.console.net import network_reason

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ApiClient:
    """`url` is the worker's base URL (http://host:port); `token` a bearer token or None."""

    url: str
    token: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def get(self, path: str, **params: str | int | None) -> dict[str, Any]:
        """GET `path` with the non-None `params`; the decoded JSON object.

        Raises WorkerUnreachable when nothing answers, NotFound on a JSON 404, ApiError on any
        other answer that is not a JSON object with HTTP 200.
        """
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items() if v is not None})
        target = f"{self.url.rstrip('/')}{path}" + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(target, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return _object(target, response.status, response.read())
        except urllib.error.HTTPError as err:
            raise _http_error(self.url, path, err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as err:
            raise WorkerUnreachable(self.url, network_reason(err)) from None


def quote(segment: str) -> str:
    """One path segment (a dossier id may hold '/', '?', '#')."""
    return urllib.parse.quote(segment, safe="")


def _object(target: str, status: int, body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise ApiError(status, f"{target} did not answer JSON (HTTP {status})") from None
    if not isinstance(value, dict):
        raise ApiError(status, f"{target} answered JSON that is not an object")
    return value


def _http_error(url: str, path: str, status: int, body: bytes) -> ApiError:
    try:
        value = json.loads(body)
        message = value.get("error") if isinstance(value, dict) else None
    except ValueError:
        message = None
    if status in (401, 403):
        return ApiError(
            status,
            f"worker at {url} refused the request (HTTP {status}): set IOCMON_API_TOKEN "
            "(or --token) to the worker's API token",
        )
    if message is None:
        if status == 404:
            return ApiError(
                status, f"worker at {url} does not serve {path} (HTTP 404) — an older version?"
            )
        return ApiError(status, f"worker at {url} answered HTTP {status} to {path}")
    if status == 404:
        return NotFound(status, str(message))
    return ApiError(status, f"worker at {url} answered HTTP {status}: {message}")
