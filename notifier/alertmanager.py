"""Alertmanager as a receiver: per-dossier alerts through its v2 API (`POST /api/v2/alerts`).

An alert is identified by its labels: `alertname` (DossierAtRisk / DossierDueSoon /
DossierOverdue), `severity` (info / warning / critical), `agency`, `dossier_id`, `procedure`.
An at-risk alert is a forecast, days ahead, that is often wrong (issue #18 asks a precision of
3× the base late rate: 15 % where 5 % end late): `info`, below the due-soon `warning`, so that
routes send it in office hours only and the dossier's due-soon or overdue alert inhibits it.

A firing alert is sent with `endsAt` a few resend intervals ahead and sent again every interval
while it is active (Alertmanager resolves an alert whose endsAt passes); a resolved one is sent
with endsAt = now. Sending the same alert twice is harmless: Alertmanager merges alerts with
equal labels.
"""

# No `from __future__ import annotations`: this module's function `annotations` (the alert's
# annotations) would shadow the feature's name.
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from iocmon.notifier.book import Change, Resolve
from iocmon.notifier.lanes import Delivery, Job, Refresh
from iocmon.notifier.model import AlertRecord
from iocmon.notifier.transport import post_json, target_of

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ALERTNAMES = {"at_risk": "DossierAtRisk", "due_soon": "DossierDueSoon", "overdue": "DossierOverdue"}
SEVERITIES = {"at_risk": "info", "due_soon": "warning", "overdue": "critical"}
MAX_BATCH = 500  # alerts per POST

SETTLE_IT = (
    "Giải quyết hồ sơ, hoặc gửi phiếu xin lỗi và hẹn lại ngày trả kết quả cho công dân"
    " / Settle the dossier, or send the applicant an apology slip with a new appointment."
)
HELP_IT_ALONG = (
    "Dự báo theo thời gian giải quyết thực tế của thủ tục: hồ sơ còn trong hạn, còn thời gian"
    " đôn đốc, hỗ trợ giải quyết / A forecast from how long this procedure really takes: the"
    " dossier is still on track, and there is time to help it along."
)


def labels(alert: AlertRecord) -> dict[str, str]:
    return {
        "alertname": ALERTNAMES[alert.kind],
        "severity": SEVERITIES[alert.kind],
        "agency": alert.agency,
        "dossier_id": alert.dossier_id,
        "procedure": alert.procedure,
    }


def annotations(alert: AlertRecord) -> dict[str, str]:
    where = f"{alert.agency_name} ({alert.agency})" if alert.agency_name else alert.agency
    what = f"{alert.dossier_id} ({alert.procedure})"
    due = alert.due_at.astimezone(LOCAL_TZ)
    due_vi = due.strftime("%H:%M ngày %d/%m/%Y")
    due_en = due.strftime("%Y-%m-%d %H:%M") + " UTC+7"
    if alert.kind == "at_risk":
        vi = f"Hồ sơ {what} tại {where} có nguy cơ trễ hạn (hạn trả {due_vi})"
        en = f"Dossier {what} at {where} is likely to end late (due {due_en})"
    elif alert.kind == "due_soon":
        vi = f"Hồ sơ {what} tại {where} sắp đến hạn trả kết quả: {due_vi}"
        en = f"Dossier {what} at {where} is due soon: {due_en}"
    else:
        days = alert.overdue_days
        vi = f"Hồ sơ {what} tại {where} đã quá hạn" + (f" {days} ngày" if days else "")
        vi += f" (hạn trả {due_vi})"
        en = f"Dossier {what} at {where} is " + (
            f"{days} day{'s' if days != 1 else ''} overdue" if days else "overdue"
        )
        en += f" (was due {due_en})"
    out = {
        "summary": f"{vi} / {en}",
        "summary_vi": vi,
        "summary_en": en,
        "description": HELP_IT_ALONG if alert.kind == "at_risk" else SETTLE_IT,
        "due_at": due.isoformat(),
        "overdue_days": str(alert.overdue_days),
        "state_at": alert.state_at.astimezone(LOCAL_TZ).isoformat(),
        "alert_id": alert.alert_id,
    }
    if alert.agency_name:
        out["agency_name"] = alert.agency_name
    return out


def payload(alert: AlertRecord, *, now: datetime, resolved: bool, ttl_s: float) -> dict[str, Any]:
    """One alert of the POST body. `startsAt` is when the dossier reached the state, but
    never in the future (a worker whose clock is shifted for a drill may say so), so that
    startsAt <= endsAt holds, which Alertmanager requires."""
    starts = min(alert.state_at, now)
    ends = now if resolved else now + timedelta(seconds=ttl_s)
    return {
        "labels": labels(alert),
        "annotations": annotations(alert),
        "startsAt": _rfc3339(starts),
        "endsAt": _rfc3339(ends),
    }


def changes_payload(
    changes: Iterable[Change], *, now: datetime, ttl_s: float
) -> list[dict[str, Any]]:
    """The POST body for a run of changes, in order; of several changes to the same
    Alertmanager alert only the last is sent, since it is the state that counts."""
    latest: dict[tuple[tuple[str, str], ...], Change] = {}
    for change in changes:
        key = tuple(sorted(labels(change.alert).items()))
        latest.pop(key, None)
        latest[key] = change
    return [
        payload(c.alert, now=now, resolved=isinstance(c, Resolve), ttl_s=ttl_s)
        for c in latest.values()
    ]


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertmanagerReceiver:
    """One Alertmanager, as a lane's sink: runs of changes, or a resend of every active alert,
    POSTed in batches; anything but a 2xx answer raises DeliveryFailed."""

    kind = "alertmanager"
    max_batch = MAX_BATCH

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        ttl_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self.target = target_of(base_url)
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.clock = clock

    def needs_sending(self, job: Job) -> bool:
        return bool(job.alerts if isinstance(job, Refresh) else job.item)

    def send(self, jobs: Sequence[Job]) -> int:
        now = self.clock()
        if len(jobs) == 1 and isinstance(jobs[0], Refresh):
            alerts = [payload(a, now=now, resolved=False, ttl_s=self.ttl_s) for a in jobs[0].alerts]
        else:
            changes = (c for job in jobs if isinstance(job, Delivery) for c in job.item or ())
            alerts = changes_payload(changes, now=now, ttl_s=self.ttl_s)
        for start in range(0, len(alerts), MAX_BATCH):
            self.post(alerts[start : start + MAX_BATCH])
        return len(alerts)

    def post(self, alerts: list[dict[str, Any]]) -> None:
        body = json.dumps(alerts, ensure_ascii=False).encode("utf-8")
        post_json(f"alertmanager {self.target}", self.url, body, timeout_s=self.timeout_s)
