"""The at-risk forecast (issue #18) on the real stack: workers, Kafka, Redis.

A history of 40 dossiers of one procedure (`P7`), each resolved 7 working days after its
receipt with 5 allowed, then open dossiers of the same procedure received a few working days
before the workers' (shifted) clock: every dossier of their kind took longer than allowed,
so they are at risk while still on track.

- One worker raises exactly one `at_risk` alert per such dossier, lists them on
  `/api/v1/at-risk` (highest risk first, with procedure, due date, risk and expected end) and
  counts them in `dossiers_at_risk{agency}`. It is killed (-9); the next one, its clock past
  midnight, takes the partitions: the dossier that turned due soon gets its `due_soon`
  alert, which replaces the `at_risk` one in the notifier's book, and leaves the list; the
  other is not alerted again. When that one ends, its alert is cleared.
- Kill between sending and recording (README, Alerts): a worker sends the `at_risk` alert
  while Redis refuses writes and is killed; the next one sends it again with the same id and
  records it, and never again; the end clears it once.
- Rebalances: partitions move to a worker that joins and back when the first leaves; no
  alert is sent again, and dossiers that turn at risk meanwhile are alerted once.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.notifier.book import ActiveBook
from iocmon.notifier.model import decode
from iocmon.redis_connection import sync_redis
from tests.integration.harness import Pipeline, Worker, sum_samples, wait_for

pytestmark = pytest.mark.integration

CALENDAR = load_calendar(None)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=LOCAL_TZ)
"""Tuesday 10 March 2026, the first worker's clock."""
AFTER_MIDNIGHT = datetime(2026, 3, 11, 0, 0, 30, tzinfo=LOCAL_TZ)
"""The next worker's clock: Wednesday, 30 s into the day."""
Y_RECEIVED = datetime(2026, 3, 5, 10, 0, tzinfo=LOCAL_TZ)
"""Thursday: 5 working days allowed, due Thursday 12 March, due soon from Wednesday 00:00."""
Z_RECEIVED = datetime(2026, 3, 6, 10, 0, tzinfo=LOCAL_TZ)
"""Friday: due Friday 13 March, due soon from Thursday 00:00."""


def event(dossier: str, kind: str, at: datetime, **fields: object) -> dict[str, object]:
    return {"v": 1, "event_id": f"{dossier}-{kind}", "dossier_id": dossier, "type": kind,
            "at": at.isoformat(), **fields}  # fmt: skip


def received(dossier: str, at: datetime, procedure: str = "P7", days: int = 5) -> dict[str, Any]:
    return event(dossier, "received", at, agency="STP", procedure=procedure, channel="online",
                 level="full", processing_days=days, citizen_id="079203001234")  # fmt: skip


def history() -> list[dict[str, object]]:
    """40 dossiers of P7 received on the working days from 5 January 2026 (two a day), each
    resolved 7 working days later: all late, all ended weeks before NOW."""
    events: list[dict[str, object]] = []
    day = date(2026, 1, 5)
    for i in range(40):
        while not CALENDAR.is_working_day(day):
            day += timedelta(days=1)
        at = datetime.combine(day, datetime.min.time(), LOCAL_TZ).replace(hour=9)
        end = datetime.combine(CALENDAR.add_working_days(day, 7), at.timetz()).replace(hour=15)
        events += [received(f"H{i}", at), event(f"H{i}", "resolved", end)]
        day += timedelta(days=i % 2)
    assert max(e["at"] for e in events) < Y_RECEIVED.isoformat()  # type: ignore[operator]
    return events


def offset_to(instant: datetime) -> str:
    return str(instant.timestamp() - time.time())


def of(pipeline: Pipeline, dossier: str) -> list[dict[str, Any]]:
    return [a for a in pipeline.alerts() if a["dossier_id"] == dossier]


def kinds(pipeline: Pipeline, dossier: str) -> list[str]:
    return [a["kind"] for a in of(pipeline, dossier)]


def at_risk_shown(worker: Worker) -> dict[str, int]:
    """`dossiers_at_risk` by agency on the worker's /metrics, read after this call (every
    agency label with open dossiers has a sample, `other` included)."""
    samples = worker.metrics(fresh=True)
    return {dict(k)["agency"]: v for k, v in sum_samples(samples, "dossiers_at_risk").items()}


def test_an_at_risk_dossier_is_alerted_once_listed_counted_and_replaced_or_cleared(
    pipeline: Pipeline,
) -> None:
    calm = received("W", Z_RECEIVED, procedure="P30", days=30)  # its agency's history: no risk
    pipeline.send(*history(), received("Y", Y_RECEIVED), received("Z", Z_RECEIVED), calm)
    checks = {"IOCMON_ALERT_CHECK_INTERVAL_S": "1"}
    first = pipeline.start_worker(IOCMON_CLOCK_OFFSET_S=offset_to(NOW), **checks)
    pipeline.wait_caught_up()
    wait_for(lambda: kinds(pipeline, "Y") and kinds(pipeline, "Z"), 90, "the at_risk alerts")

    def listed(worker: Worker, query: str = "") -> list[dict[str, Any]]:
        status, body = worker.get_json(f"/api/v1/at-risk{query}")
        assert status == 200, body
        items: list[dict[str, Any]] = body["items"]
        return items

    # Listed by the same write that recorded the alert, which was sent just before it.
    wait_for(lambda: len(listed(first)) == 2, 30, "the at-risk list")
    items = listed(first)
    assert [i["dossier_id"] for i in items] == ["Y", "Z"]  # same risk: the earlier due first
    assert items[0] == {
        "dossier_id": "Y",
        "agency": "STP",
        "agency_name": "Sở Tư pháp",
        "procedure": "P7",
        "due_at": "2026-03-12T17:00:00+07:00",
        "risk": 1.0,
        "expected_end": "2026-03-16",  # every dossier of P7 ended on its day 7
        "basis": "agency_procedure",  # P7's 40 at STP
    }
    assert items[1]["expected_end"] == "2026-03-17"
    assert listed(first, "?limit=1") == items[:1]
    assert listed(first, "?agency=STP&limit=5") == items
    assert listed(first, "?agency=LX") == []
    wait_for(
        lambda: at_risk_shown(first) == {"STP": 2, "other": 0}, 60, "dossiers_at_risk 2 on /metrics"
    )
    time.sleep(3)  # three more checks
    assert kinds(pipeline, "Y") == kinds(pipeline, "Z") == ["at_risk"]
    assert kinds(pipeline, "W") == []

    # The owner dies; the next worker, past midnight, takes every partition.
    first.kill9()
    second = pipeline.start_worker(IOCMON_CLOCK_OFFSET_S=offset_to(AFTER_MIDNIGHT), **checks)
    wait_for(lambda: "due_soon" in kinds(pipeline, "Y"), 120, "Y's due_soon alert")
    wait_for(
        lambda: [i["dossier_id"] for i in second.get_json("/api/v1/at-risk")[1]["items"]] == ["Z"],
        60,
        "Y off the at-risk list",
    )
    wait_for(lambda: at_risk_shown(second) == {"STP": 1, "other": 0}, 60, "dossiers_at_risk 1")

    pipeline.send(event("Z", "resolved", NOW + timedelta(hours=3)))
    wait_for(lambda: "cleared" in kinds(pipeline, "Z"), 60, "Z's at_risk cleared")
    wait_for(lambda: listed(second) == [], 60, "an empty list")
    wait_for(lambda: at_risk_shown(second) == {"STP": 0, "other": 0}, 60, "dossiers_at_risk 0")
    time.sleep(3)

    alerts = [a for a in pipeline.alerts() if a["dossier_id"] in ("Y", "Z", "W")]
    assert Counter((a["dossier_id"], a["kind"]) for a in alerts) == {
        ("Y", "at_risk"): 1,
        ("Y", "due_soon"): 1,
        ("Z", "at_risk"): 1,
        ("Z", "cleared"): 1,
    }
    by = {(a["dossier_id"], a["kind"]): a for a in alerts}
    assert by[("Z", "cleared")]["clears"] == by[("Z", "at_risk")]["alert_id"]
    assert by[("Y", "at_risk")]["alert_id"] == "Y:at_risk:2026-03-12T17:00:00+07:00"
    assert by[("Y", "at_risk")]["state_at"] == "2026-03-10T00:00:00+07:00"
    assert "079203001234" not in json.dumps(alerts)
    # The notifier keeps the latest alert of each dossier: Y's due soon, nothing for Z.
    book = ActiveBook()
    for a in alerts:
        book.apply(decode(json.dumps(a).encode()), 0)
    assert [(a.dossier_id, a.kind) for a in book.active()] == [("Y", "due_soon")]


def test_an_at_risk_alert_sent_before_a_kill_is_sent_again_once_with_its_id_and_recorded(
    pipeline: Pipeline,
) -> None:
    """README: "an alert produced just before a crash may be produced again with the same
    alert_id" — and only then: the replacement records it, so it is never sent a third time,
    and the dossier's end clears it once."""
    clock = {"IOCMON_CLOCK_OFFSET_S": offset_to(NOW)}
    pipeline.send(*history(), received("Y", Y_RECEIVED))
    # A worker that forecasts nothing (no history is ever enough) applies every record.
    blind = pipeline.start_worker(IOCMON_AT_RISK_MIN_SAMPLES="1000000", **clock)
    pipeline.wait_caught_up()
    blind.stop()
    assert kinds(pipeline, "Y") == []

    # Its first check comes 30 s after it starts: by then Redis refuses writes.
    slow = pipeline.start_worker(IOCMON_ALERT_CHECK_INTERVAL_S="30", **clock)
    redis = sync_redis(pipeline.settings())
    try:
        redis.execute_command("CLIENT", "PAUSE", "120000", "WRITE")
        wait_for(lambda: kinds(pipeline, "Y") == ["at_risk"], 90, "the at_risk alert sent ahead")
        slow.kill9()  # before it could record it
    finally:
        redis.execute_command("CLIENT", "UNPAUSE")
        redis.close()

    again = pipeline.start_worker(IOCMON_ALERT_CHECK_INTERVAL_S="1", **clock)
    wait_for(lambda: kinds(pipeline, "Y") == ["at_risk", "at_risk"], 120, "it sent again")
    time.sleep(5)  # five more checks: recorded, so not sent a third time
    sent = of(pipeline, "Y")
    assert [a["kind"] for a in sent] == ["at_risk", "at_risk"]
    first, second = ({k: v for k, v in a.items() if k != "emitted_at"} for a in sent)
    assert first == second  # the same alert, id and all

    pipeline.send(event("Y", "resolved", NOW + timedelta(hours=1)))
    wait_for(lambda: "cleared" in kinds(pipeline, "Y"), 60, "the clear")
    time.sleep(3)
    cleared = [a for a in of(pipeline, "Y") if a["kind"] == "cleared"]
    assert [a["clears"] for a in cleared] == [sent[0]["alert_id"]]
    assert again.process is not None and again.process.poll() is None


def test_rebalances_neither_repeat_nor_lose_an_at_risk_alert(pipeline: Pipeline) -> None:
    """Partitions move to a worker that joins and back when the first one leaves: a dossier's
    `at_risk` alert is recorded in its state, so the new owner does not send it again, and a
    dossier that turns at risk after the moves is alerted by its new owner, once."""
    clock = {"IOCMON_CLOCK_OFFSET_S": offset_to(NOW), "IOCMON_ALERT_CHECK_INTERVAL_S": "1"}
    before = [f"B{n}" for n in range(8)]
    after = [f"A{n}" for n in range(8)]

    def alerted(dossiers: list[str]) -> bool:
        return all(kinds(pipeline, d) for d in dossiers)

    pipeline.send(*history(), *(received(d, Y_RECEIVED) for d in before))
    first = pipeline.start_worker(**clock)
    pipeline.wait_caught_up()
    wait_for(lambda: alerted(before), 90, "the at_risk alerts of the first dossiers")

    second = pipeline.start_worker(**clock)
    pipeline.wait_group_settled([first, second])  # some partitions moved to the second
    pipeline.send(*(received(d, Y_RECEIVED) for d in after[:4]))
    first.stop()
    pipeline.wait_group_settled([second])  # and all of them to it
    pipeline.send(*(received(d, Y_RECEIVED) for d in after[4:]))
    pipeline.wait_caught_up()
    wait_for(lambda: alerted(after), 90, "the at_risk alerts of the later dossiers")
    time.sleep(5)  # five more checks by the one owner left

    sent = Counter((a["dossier_id"], a["kind"]) for d in before + after for a in of(pipeline, d))
    assert sent == {(d, "at_risk"): 1 for d in before + after}
    status, body = second.get_json("/api/v1/at-risk?limit=100")
    assert status == 200, body
    assert sorted(i["dossier_id"] for i in body["items"]) == sorted(before + after)
