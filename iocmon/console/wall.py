"""The status wall, as pure functions: the worker's summaries in, lines of text out.

`status.py` fetches three summaries (today, this month with `by=agency`, the last 24 h) and
the dossiers at risk (`/api/v1/at-risk`, issue #18) and hands them here as a `WallData`; the
frame, the below-target ranking and the JSON document are computed from that alone, so they
are tested without a worker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iocmon.console import labels as L
from iocmon.console.fmt import (
    LOCAL_TZ,
    Palette,
    clip,
    integer,
    late_ratio,
    local_time,
    percent,
    score,
    table,
)
from iocmon.slo import objective

Summary = Mapping[str, Any]
# For callers that pass no target; `iocmon status` reads IOCMON_ON_TIME_OBJECTIVE.
DEFAULT_TARGET = objective.percent(objective.DEFAULT_ON_TIME_OBJECTIVE)
DEFAULT_TOP = 10
TITLE = "IOCMON · Hồ sơ thủ tục hành chính (administrative dossiers)"
AT_RISK_LIMIT = 1000
"""Dossiers asked of /api/v1/at-risk: the API's largest `limit` (as for /api/v1/overdue). The
wall counts the answer's items, so beyond this many it shows a floor ("1 000+")."""
AT_RISK_AGENCIES = 3
"""Agencies named on the at-risk line, most dossiers at risk first."""


@dataclass(frozen=True, slots=True)
class WallData:
    """What one frame shows; the summaries are the worker's JSON, untouched."""

    url: str
    today: Summary
    month: Summary  # fetched with by=agency
    last_24h: Summary
    at_risk: Summary | None = None
    """The /api/v1/at-risk answer; None from a worker that does not serve it (an older one)."""

    @property
    def as_of(self) -> str:
        return str(self.month.get("as_of") or self.today.get("as_of") or "")


def periods_for(as_of: str | None) -> tuple[str, str]:
    """The `period` values for today and this month, in the worker's local calendar (its
    `as_of`; this machine's clock if the worker did not say)."""
    try:
        moment = datetime.fromisoformat(str(as_of)).astimezone(LOCAL_TZ)
    except ValueError:
        moment = datetime.now(LOCAL_TZ)
    return moment.date().isoformat(), f"{moment.year}-{moment.month:02d}"


def meets(ratio: float, target_percent: float) -> bool:
    """ratio ≥ target, with the slack of `iocmon.slo.objective.meets` (the API's rankings
    compare the same way): 9990/10000 meets 99.9 % although 0.999 < 99.9 / 100
    (0.9990000000000001) in floating point."""
    return objective.meets(ratio, target_percent / 100)


def below_target(by_agency: Sequence[Summary], target_percent: float) -> list[Summary]:
    """Agencies whose on-time ratio is below target, worst first.

    Ties go to the agency with more late dossiers, then by code. Agencies with no judged
    dossier (ratio null) are not below target: there is nothing to judge them on.
    """
    chosen = [
        a
        for a in by_agency
        if a.get("on_time_ratio") is not None and not meets(a["on_time_ratio"], target_percent)
    ]
    return sorted(
        chosen,
        key=lambda a: objective.worst_first(
            a["on_time_ratio"], int(a.get("late") or 0), a["agency"]
        ),
    )


def overdue_by_agency(by_agency: Sequence[Summary]) -> list[Summary]:
    """Agencies with overdue dossiers now, most first (ties by code)."""
    chosen = [a for a in by_agency if int(a.get("overdue") or 0) > 0]
    return sorted(chosen, key=lambda a: (-int(a["overdue"]), a["agency"]))


def at_risk_by_agency(data: WallData) -> list[dict[str, Any]]:
    """Dossiers at risk per agency, most first (ties by code), named by the items or else by
    this month's figures (the API's contract names the code only)."""
    items = (data.at_risk or {}).get("items") or []
    counts = Counter(str(item.get("agency") or "") for item in items)
    names = {a["agency"]: a.get("agency_name") for a in data.month.get("by_agency") or []}
    names.update((str(i.get("agency")), i["agency_name"]) for i in items if i.get("agency_name"))
    return [
        {"agency": code, "agency_name": names.get(code), "at_risk": n}
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def at_risk_json(data: WallData) -> dict[str, Any] | None:
    """Total, whether it is complete (the answer was not cut at AT_RISK_LIMIT) and every
    agency; None when the worker does not serve the forecast."""
    if data.at_risk is None:
        return None
    total = len(data.at_risk.get("items") or [])
    return {
        "total": total,
        "complete": total < AT_RISK_LIMIT,
        "by_agency": at_risk_by_agency(data),
    }


def at_risk_line(data: WallData, palette: Palette | None = None) -> str:
    """`Nguy cơ trễ hạn (at risk)  12 — SYT Sở Y tế 5 · LX … 4`, or n/a from a worker that does
    not serve /api/v1/at-risk."""
    c = palette or Palette(False)
    head = f"  {L.AT_RISK}"
    figures = at_risk_json(data)
    if figures is None:
        return f"{head}  n/a " + c.dim("(this worker does not serve /api/v1/at-risk)")
    total = integer(figures["total"]) + ("" if figures["complete"] else "+")
    if not figures["total"]:
        return f"{head}  {c.good(total)}"
    top = [
        f"{agency_cell(a, 24)} {integer(a['at_risk'])}"
        for a in figures["by_agency"][:AT_RISK_AGENCIES]
    ]
    more = len(figures["by_agency"]) - AT_RISK_AGENCIES
    tail = f" · … {more} more" if more > 0 else ""
    return f"{head}  {c.warn(total)} — " + " · ".join(top) + c.dim(tail)


def to_json(data: WallData, target_percent: float) -> dict[str, Any]:
    """The `--json` document: every figure the frame shows, unabridged."""
    by_agency = list(data.month.get("by_agency") or [])
    month = {k: v for k, v in data.month.items() if k != "by_agency"}
    return {
        "url": data.url,
        "as_of": data.as_of,
        "target_percent": target_percent,
        "periods": {
            "today": dict(data.today),
            "this_month": month,
            "last_24h": dict(data.last_24h),
        },
        "now": {k: month.get(k) for k in ("open", "on_track", "due_soon", "overdue", "paused")},
        "agencies_judged": sum(1 for a in by_agency if a.get("on_time_ratio") is not None),
        "below_target": [dict(a) for a in below_target(by_agency, target_percent)],
        "overdue_by_agency": [dict(a) for a in overdue_by_agency(by_agency)],
        "at_risk": at_risk_json(data),
    }


def agency_cell(row: Summary, columns: int = 44) -> str:
    name = row.get("agency_name")
    return clip(f"{row['agency']} {name}" if name else str(row["agency"]), columns)


def render_frame(
    data: WallData,
    *,
    target_percent: float = DEFAULT_TARGET,
    top: int = DEFAULT_TOP,
    palette: Palette | None = None,
    notice: Sequence[str] = (),
    footer: str | None = None,
) -> list[str]:
    """One full frame. `notice` lines go under the title (e.g. the worker stopped answering)."""
    c = palette or Palette(False)
    lines = [
        f"{c.bold(TITLE)}",
        c.dim(f"{data.url} · {L.AS_OF} {local_time(data.as_of, seconds=True)}"),
        *notice,
        "",
    ]

    def ratio_cell(ratio: float | None) -> str:
        if ratio is None:
            return percent(None)
        return c.good(percent(ratio)) if meets(ratio, target_percent) else c.bad(percent(ratio))

    def late_cell(summary: Summary) -> str:
        ratio = late_ratio(summary)
        if ratio is None:
            return percent(None)
        return percent(ratio) if meets(1 - ratio, target_percent) else c.bad(percent(ratio))

    columns = (data.today, data.month, data.last_24h)
    lines += table(
        ["", L.TODAY, L.THIS_MONTH, L.LAST_24H],
        [
            [L.ON_TIME, *(ratio_cell(s.get("on_time_ratio")) for s in columns)],
            [L.LATE, *(late_cell(s) for s in columns)],
            [L.SCORE_766, *(score(s.get("progress_766")) for s in columns)],
            [L.RECEIVED, *(integer(s.get("received")) for s in columns)],
            [L.ENDED, *(integer(s.get("ended")) for s in columns)],
        ],
        ["<", ">", ">", ">"],
    )
    now = data.month
    overdue, due_soon = int(now.get("overdue") or 0), int(now.get("due_soon") or 0)
    lines += ["", c.bold(L.NOW)]
    lines += table(
        ["", "", "", ""],
        [
            [
                L.OPEN,
                integer(now.get("open")),
                L.OVERDUE,
                c.bad(integer(overdue)) if overdue else integer(overdue),
            ],
            [
                L.DUE_SOON,
                c.warn(integer(due_soon)) if due_soon else integer(due_soon),
                L.PAUSED,
                integer(now.get("paused")),
            ],
        ],
        ["<", ">", "<", ">"],
        indent="  ",
    )[1:]
    lines.append(at_risk_line(data, c))

    by_agency = list(data.month.get("by_agency") or [])
    judged = sum(1 for a in by_agency if a.get("on_time_ratio") is not None)
    below = below_target(by_agency, target_percent)
    month_name = str(data.month.get("from", ""))[:7]
    lines += [
        "",
        c.bold(
            f"Đơn vị dưới chỉ tiêu {target_percent:g} % (agencies below target) — "
            f"tháng {month_name} (this month): {len(below)} / {judged}"
        ),
    ]
    if not below:
        lines.append(
            c.good("  Tất cả đơn vị đạt chỉ tiêu (every agency meets the target)")
            if judged
            else c.dim("  Chưa có hồ sơ nào kết thúc trong tháng (no dossier ended this month)")
        )
    elif top > 0:
        rows = [
            [
                str(i),
                agency_cell(a),
                ratio_cell(a["on_time_ratio"]),
                integer(a.get("late")),
                integer(judged_count(a)),
                integer(a.get("overdue")),
            ]
            for i, a in enumerate(below[:top], start=1)
        ]
        lines += table(
            ["#", L.AGENCY, L.ON_TIME, L.LATE, L.JUDGED, L.OVERDUE],
            rows,
            [">", "<", ">", ">", ">", ">"],
            indent="  ",
        )
        if len(below) > top:
            lines.append(c.dim(f"  … {len(below) - top} more (--top, or --json for all)"))

    ranked = overdue_by_agency(by_agency)
    title = f"Quá hạn theo đơn vị (overdue by agency) — {len(ranked)} đơn vị (agencies)"
    lines += ["", c.bold(title)]
    if not ranked:
        lines.append(c.good("  Không có hồ sơ quá hạn (no overdue dossier)"))
    elif top > 0:
        rows = [
            [
                str(i),
                agency_cell(a),
                c.bad(integer(a.get("overdue"))),
                integer(a.get("due_soon")),
                integer(a.get("open")),
            ]
            for i, a in enumerate(ranked[:top], start=1)
        ]
        lines += table(
            ["#", L.AGENCY, L.OVERDUE, L.DUE_SOON, L.OPEN],
            rows,
            [">", "<", ">", ">", ">"],
            indent="  ",
        )
        if len(ranked) > top:
            lines.append(c.dim(f"  … {len(ranked) - top} more (--top, or --json for all)"))
    if footer:
        lines += ["", c.dim(footer)]
    return lines


def judged_count(figures: Summary) -> int:
    return sum(int(figures.get(k) or 0) for k in ("early", "on_time", "late"))


def render_unreachable(
    url: str, headline: str, detail: str, palette: Palette | None = None
) -> list[str]:
    """The frame when there is nothing to show yet: what is wrong and what to do."""
    c = palette or Palette(False)
    return [c.bold(TITLE), c.dim(url), "", c.bad(f"✗ {headline}"), c.dim(f"  {detail}")]


def fitted_top(data: WallData, requested: int, rows: int, **kwargs: Any) -> int:
    """The most list rows (≤ requested) that keep the frame within `rows` terminal lines."""
    # + two table headers of two lines each, and two "… more" lines
    fixed = len(render_frame(data, top=0, **kwargs)) + 6
    return max(1, min(requested, (rows - fixed) // 2))
