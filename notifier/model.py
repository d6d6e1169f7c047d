"""The alert record of the alerts topic (contract version 1), decoded and checked.

Key: the dossier id. Value: a JSON object with `v`, `alert_id`, `kind` (`at_risk` — the
forecast of issue #18 —, `due_soon`, `overdue`, `cleared`), `dossier_id`, `agency`,
`agency_name` (may be null), `procedure`, `due_at` (the appointment the alert is about),
`overdue_days`, `state_at`, `emitted_at`, and `clears` (the alert_id a `cleared` record
resolves). Only these fields are kept; anything else a record carries is dropped here and
never reaches a receiver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from iocmon.notifier.errors import InvalidAlert

Kind = Literal["at_risk", "due_soon", "overdue", "cleared"]
KINDS: frozenset[str] = frozenset({"at_risk", "due_soon", "overdue", "cleared"})
MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert_id: str
    kind: Kind
    dossier_id: str
    agency: str
    agency_name: str | None
    procedure: str
    due_at: datetime
    overdue_days: int
    state_at: datetime
    emitted_at: datetime
    clears: str | None = None

    @property
    def fires(self) -> bool:
        """An at_risk, due_soon or overdue alert (as opposed to the `cleared` that ends one)."""
        return self.kind != "cleared"

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What Alertmanager tells alerts apart by (their labels): two records with the same
        identity are the same alert there, whatever their appointment."""
        return (self.kind, self.dossier_id, self.agency, self.procedure)

    def to_json(self) -> dict[str, Any]:
        """The record as the contract spells it, known fields only."""
        out: dict[str, Any] = {
            "v": 1,
            "alert_id": self.alert_id,
            "kind": self.kind,
            "dossier_id": self.dossier_id,
            "agency": self.agency,
            "agency_name": self.agency_name,
            "procedure": self.procedure,
            "due_at": self.due_at.isoformat(),
            "overdue_days": self.overdue_days,
            "state_at": self.state_at.isoformat(),
            "emitted_at": self.emitted_at.isoformat(),
        }
        if self.clears is not None:
            out["clears"] = self.clears
        return out


def decode(value: bytes) -> AlertRecord:
    """The alert in a record value; InvalidAlert says what is wrong with it."""
    try:
        obj = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidAlert(f"not UTF-8 JSON ({exc.__class__.__name__})") from None
    if not isinstance(obj, dict):
        raise InvalidAlert("not a JSON object")
    if obj.get("v") != 1 or isinstance(obj.get("v"), bool):
        raise InvalidAlert(f"contract version {obj.get('v')!r}, expected 1")
    kind = _text(obj, "kind")
    if kind not in KINDS:
        raise InvalidAlert(f"unknown kind {kind!r}")
    overdue_days = obj.get("overdue_days", 0)
    if not isinstance(overdue_days, int) or isinstance(overdue_days, bool) or overdue_days < 0:
        raise InvalidAlert(f"overdue_days {overdue_days!r} is not a whole number >= 0")
    agency_name = obj.get("agency_name")
    if agency_name is not None and not isinstance(agency_name, str):
        raise InvalidAlert("agency_name is neither a string nor null")
    return AlertRecord(
        alert_id=_text(obj, "alert_id"),
        kind=cast(Kind, kind),
        dossier_id=_text(obj, "dossier_id"),
        agency=_text(obj, "agency"),
        agency_name=agency_name[:MAX_TEXT] if agency_name else None,
        procedure=_text(obj, "procedure"),
        due_at=_instant(obj, "due_at"),
        overdue_days=overdue_days,
        state_at=_instant(obj, "state_at"),
        emitted_at=_instant(obj, "emitted_at"),
        clears=_text(obj, "clears") if kind == "cleared" else None,
    )


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidAlert(f"{name} is missing or not a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidAlert(f"{name} is longer than {MAX_TEXT} characters")
    return value


def _instant(obj: dict[str, Any], name: str) -> datetime:
    raw = _text(obj, name)
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidAlert(f"{name} {raw!r} is not an RFC 3339 timestamp") from None
    if instant.utcoffset() is None:
        raise InvalidAlert(f"{name} {raw!r} has no UTC offset")
    return instant
