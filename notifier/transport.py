"""One HTTP POST of a JSON body, and what counts as a receiver's acknowledgement."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from iocmon.notifier.errors import DeliveryFailed


def post_json(
    receiver: str,
    url: str,
    body: bytes,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    accepted: Collection[int] = (),
) -> int:
    """POST `body` to `url`. Any 2xx status, or one of `accepted`, is an acknowledgement and
    is returned; anything else raises DeliveryFailed, to be retried."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as err:
        if err.code in accepted:
            return err.code
        detail = err.read(300).decode("utf-8", "replace").strip()
        raise DeliveryFailed(receiver, f"HTTP {err.code} from {url}: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DeliveryFailed(receiver, f"cannot reach {url}: {reason}") from None


def target_of(url: str) -> str:
    """host:port of a URL, for logs and metric labels (never its path or credentials)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"
