"""Hand-written events for the unit tests of the pure core: local wall times in
Asia/Ho_Chi_Minh, and an event id no other event of the session has."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.events import Event, EventType

_ids = count()


def local(text: str) -> datetime:
    """`2025-06-02T08:00` as a local time."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def hand_event(dossier_id: str, kind: EventType, at: str, **fields: object) -> Event:
    return Event(
        event_id=f"e{next(_ids)}", dossier_id=dossier_id, type=kind, at=local(at), **fields
    )  # type: ignore[arg-type]
