"""How a dossier's state is stored: a compact JSON array, not a self-describing object.

Redis holds one state per dossier for the whole retention horizon (CONTRACT §3a), so the
bytes of a state are the bytes of the store: a province keeps close to a million of them.
The array is positional (no field names), instants are Unix seconds, enums are small
integers, event ids that extend the dossier id (`<dossier>-3`, as one-stop systems number
them) keep only their suffix, the alerts sent are three bits, and the dossier id itself is
left out (it is in the key). Trailing defaults are dropped. States written by earlier
versions (a JSON object) are still read.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from iocmon.domain.alerts import AlertKind, alert_id
from iocmon.domain.calendar import LOCAL_TZ
from iocmon.domain.events import EventType
from iocmon.domain.judge import Outcome, overdue_instant
from iocmon.domain.lifecycle import EFFECT_LABELS, DossierState, Status, evolve

FORMAT = 3
"""3 put the field (lĩnh vực) at 16, before the slots usually empty; 2 had none."""
_SLOTS = 20
_STATUSES: tuple[Status, ...] = ("submitted", "rejected_at_intake", "open", "ended")
_STATUS_CODE = {s: i for i, s in enumerate(_STATUSES)}
_CHANNELS = ("counter", "online", "postal")
_LEVELS = ("full", "partial", "none")
_TYPES = tuple(t.value for t in EventType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_OUTCOMES = tuple(Outcome)
_OUTCOME_CODE = {o: i + 1 for i, o in enumerate(_OUTCOMES)}
_EFFECT_CODE = {label: i for i, label in enumerate(EFFECT_LABELS)}
_ALERT_BITS = ((AlertKind.AT_RISK, 4), (AlertKind.DUE_SOON, 1), (AlertKind.OVERDUE, 2))
"""In the order a dossier's alerts are emitted (at risk comes before any threshold), which is
the order decoding gives them back in."""
_SUFFIX = "+"


class StateDecodeError(ValueError):
    """A stored state this version cannot read (corrupt, or written by a newer version)."""


def encode_state(state: DossierState) -> bytes:
    d = state.dossier_id
    slots: list[Any] = [
        FORMAT,
        _STATUS_CODE[state.status],
        [
            [_short_id(d, e), _TYPE_CODE[t], int(at) if at.is_integer() else at, _EFFECT_CODE[x]]
            for e, t, at, x in state.history
        ],
        state.agency,
        state.procedure,
        _code(_CHANNELS, state.channel),
        _code(_LEVELS, state.level),
        _epoch(state.received_at),
        _epoch(state.due_at),
        None if state.alert_due_at == state.due_at else _epoch(state.alert_due_at),
        state.paused_s or 0,
        _epoch(state.pause_started_at),
        state.supplement_requests,
        _epoch(state.ended_at),
        _OUTCOME_CODE[state.outcome] if state.outcome else 0,
        _alerted(state),
        state.field,
        state.handler,
        base64.b64encode(state.older_ids).decode() if state.older_ids else None,
        None if state.overdue_from == _usual(state) else _epoch(state.overdue_from),
    ]
    while slots[-1] is None or slots[-1] == 0:
        slots.pop()
    return orjson.dumps(slots)


def decode_state(dossier_id: str, blob: bytes | str) -> DossierState:
    try:
        doc = orjson.loads(blob)
        if isinstance(doc, dict):
            return _legacy(doc)
        if isinstance(doc, list) and doc and doc[0] == 2:
            doc = [*doc[:16], None, *doc[16:18]]  # no field; the rest in place
        elif not isinstance(doc, list) or not doc or doc[0] != FORMAT:
            raise StateDecodeError(f"unknown state format {doc[0] if doc else None!r}")
        return _decode(dossier_id, doc + [None] * (_SLOTS - len(doc)))
    except (orjson.JSONDecodeError, TypeError, IndexError, KeyError, ValueError) as exc:
        if isinstance(exc, StateDecodeError):
            raise
        raise StateDecodeError(f"stored state does not decode ({type(exc).__name__})") from None


def _decode(d: str, s: list[Any]) -> DossierState:
    status = _STATUSES[s[1]]
    due_at = _time(s[8])
    alert_due_at = due_at if s[9] is None else _time(s[9])
    paused_s = float(s[10] or 0)
    pause_started_at = _time(s[11])
    return DossierState(
        dossier_id=d,
        status=status,
        history=tuple(
            (_long_id(d, e), _TYPES[t], float(at), EFFECT_LABELS[x]) for e, t, at, x in s[2]
        ),
        agency=s[3],
        procedure=s[4],
        channel=None if s[5] is None else _CHANNELS[s[5]],
        level=None if s[6] is None else _LEVELS[s[6]],
        received_at=_time(s[7]),
        due_at=due_at,
        alert_due_at=alert_due_at,
        paused_s=paused_s,
        pause_started_at=pause_started_at,
        supplement_requests=s[12] or 0,
        ended_at=_time(s[13]),
        outcome=_OUTCOMES[s[14] - 1] if s[14] else None,
        alerted=_alert_ids(d, alert_due_at, s[15]),
        field=s[16],
        handler=s[17],
        older_ids=base64.b64decode(s[18]) if s[18] else b"",
        overdue_from=(
            _usual_overdue_from(status, due_at, paused_s, pause_started_at)
            if s[19] is None
            else _time(s[19])
        ),
    )


def _usual_overdue_from(
    status: Status, due_at: datetime | None, paused_s: float, pause_started_at: datetime | None
) -> datetime | None:
    """`overdue_from` as the rest of an open, unpaused dossier's state says (its due date
    and pauses). It is that but after a pause that began once the dossier was overdue, and
    is stored only then, so most states spend no bytes on it; states written before it
    existed read as this too."""
    if status != "open" or pause_started_at is not None or due_at is None:
        return None
    return overdue_instant(due_at, paused_s)


def _legacy(doc: dict[str, Any]) -> DossierState:
    """A state stored as a JSON object (before the compact format)."""
    values: dict[str, Any] = dict(doc)
    for name in ("received_at", "due_at", "alert_due_at", "pause_started_at", "ended_at"):
        if name in values:
            values[name] = datetime.fromisoformat(values[name])
    values["history"] = tuple(
        (e, t, datetime.fromisoformat(at).timestamp(), x)
        for e, t, at, x in values.get("history", ())
    )
    values["alerted"] = tuple(values.get("alerted", ()))
    if "outcome" in values:
        values["outcome"] = Outcome(values["outcome"])
    state = DossierState(**values)
    return evolve(state, overdue_from=_usual(state))


def _usual(state: DossierState) -> datetime | None:
    return _usual_overdue_from(state.status, state.due_at, state.paused_s, state.pause_started_at)


def _short_id(dossier_id: str, event_id: str) -> str:
    if event_id.startswith(dossier_id) or event_id.startswith(_SUFFIX):
        return _SUFFIX + event_id.removeprefix(dossier_id)
    return event_id


def _long_id(dossier_id: str, stored: str) -> str:
    return dossier_id + stored[1:] if stored.startswith(_SUFFIX) else stored


def _alerted(state: DossierState) -> int | list[Any] | None:
    """Bits of the current appointment's alerts; the ids themselves if any is another's."""
    if not state.alerted:
        return None
    assert state.alert_due_at is not None
    bits = 0
    for kind, bit in _ALERT_BITS:
        if alert_id(state.dossier_id, kind, state.alert_due_at) in state.alerted:
            bits |= bit
    if len(state.alerted) == bin(bits).count("1"):
        return bits
    return list(state.alerted)


def _alert_ids(d: str, due: datetime | None, stored: int | list[str] | None) -> tuple[str, ...]:
    if not stored:
        return ()
    if isinstance(stored, list):
        return tuple(stored)
    assert due is not None
    return tuple(alert_id(d, kind, due) for kind, bit in _ALERT_BITS if stored & bit)


def _code(values: tuple[str, ...], value: str | None) -> int | None:
    return None if value is None else values.index(value)


def _epoch(value: datetime | None) -> int | float | None:
    if value is None:
        return None
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, LOCAL_TZ)
