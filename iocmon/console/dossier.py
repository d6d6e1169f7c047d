"""`iocmon dossier ID`: one dossier's state now and the history of its judged events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from iocmon.console import labels as L
from iocmon.console.client import ApiClient, quote
from iocmon.console.errors import ConsoleError, NotFound
from iocmon.console.fmt import NONE, Palette, duration, integer, local_time, pad, table, width
from iocmon.console.options import (
    ColorMode,
    color_option,
    echo_json,
    fail,
    json_option,
    use_color,
    worker_options,
)


def render_dossier(body: Mapping[str, Any], palette: Palette | None = None) -> list[str]:
    """The text for an /api/v1/dossiers/{id} answer."""
    c = palette or Palette(False)
    state = body.get("state")
    status = L.label(L.STATUS, body.get("status"))
    if state:
        state_text = L.label(L.STATE, state)
        if state == "overdue":
            days = body.get("overdue_days")
            state_text = c.bad(
                f"{state_text}, {integer(days)} ngày (days)" if days is not None else state_text
            )
        elif state == "due_soon":
            state_text = c.warn(state_text)
        status = f"{status} · {state_text}"
    outcome = body.get("outcome")
    outcome_text = L.label(L.OUTCOME, outcome) if outcome else NONE
    if outcome == "late":
        outcome_text = c.bad(outcome_text)
    elif outcome in ("early", "on_time"):
        outcome_text = c.good(outcome_text)
    agency = body.get("agency")
    name = body.get("agency_name")
    channel = L.label(L.CHANNEL, body.get("channel")) if body.get("channel") else NONE
    if body.get("level"):
        channel += f" · {L.label(L.LEVEL, body.get('level'))}"
    paused = duration(body.get("paused_s"))
    if body.get("paused"):
        paused += " · " + c.warn("đang tạm dừng (paused now)")
    fields: list[tuple[str, str]] = [
        ("Trạng thái (status)", status),
        (L.AGENCY, f"{agency} {name}" if agency and name else str(agency or NONE)),
        (L.PROCEDURE, str(body.get("procedure") or NONE)),
        ("Kênh (channel)", channel),
        ("Đơn vị xử lý (handler)", str(body.get("handler") or NONE)),
        (L.RECEIVED, local_time(body.get("received_at"))),
        (L.DUE, local_time(body.get("due_at"))),
    ]
    if body.get("alert_due_at") and body.get("alert_due_at") != body.get("due_at"):
        fields.append(("Hẹn trả mới (rescheduled to)", local_time(body.get("alert_due_at"))))
    fields += [
        ("Thời gian tạm dừng (paused for)", paused),
        ("Yêu cầu bổ sung (supplement requests)", integer(body.get("supplement_requests"))),
        (L.ENDED, local_time(body.get("ended_at"))),
        ("Kết quả (outcome)", outcome_text),
    ]
    label_width = max(width(k) for k, _ in fields)
    lines = [c.bold(f"{L.DOSSIER} {body.get('dossier_id')}"), ""]
    lines += [f"  {pad(k, label_width)}  {v}" for k, v in fields]
    history = list(body.get("history") or [])
    lines += ["", c.bold(f"Lịch sử (history): {len(history)}")]
    if history:
        rows = [
            [
                local_time(h.get("at"), seconds=True),
                L.label(L.EVENT, h.get("type")),
                str(h.get("effect") or NONE),
            ]
            for h in history
        ]
        lines += table(
            ["Thời điểm (at)", "Sự kiện (event)", "Tác động (effect)"],
            rows,
            ["<", "<", "<"],
            indent="  ",
        )
    return lines


@click.command("dossier")
@click.argument("dossier_id", metavar="ID")
@worker_options
@json_option
@color_option
def dossier_command(
    dossier_id: str, url: str, token: str | None, as_json: bool, color_mode: ColorMode
) -> None:
    """One dossier's state (status, open state, due date, pauses, outcome) and its history.

    With --json, prints the worker's /api/v1/dossiers/ID answer unchanged. Exit code 1 if
    the worker knows no such dossier.
    """
    client = ApiClient(url, token)
    try:
        body = client.get(f"/api/v1/dossiers/{quote(dossier_id)}")
    except NotFound as exc:
        fail(f"{exc} (worker at {url})", as_json, dossier_id=dossier_id)
        return
    except ConsoleError as exc:
        fail(str(exc), as_json, url=url)
        return
    if as_json:
        echo_json(body)
        return
    palette = Palette(use_color(color_mode))
    click.echo("\n".join(render_dossier(body, palette)), color=palette.enabled)
