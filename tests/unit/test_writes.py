"""What a plan writes (`streams.writes`) for the at-risk forecast (issue #18): the duration
histograms beside the other counters, and the at-risk list of a risk check."""

from __future__ import annotations

import json
from datetime import datetime

from iocmon.domain.alerts import AlertPolicy
from iocmon.domain.batch import Record, decode_batch, plan_batch
from iocmon.domain.calendar import LOCAL_TZ, load_calendar
from iocmon.domain.risk import Scope
from iocmon.domain.risk_check import AtRiskItem, plan_risk_check
from iocmon.streams.keys import PartitionKeys
from iocmon.streams.writes import bulk_commands, plan_writes, script_args

CAL = load_calendar()
K = PartitionKeys("iocmon", "dossier-events", 3)
AT = datetime(2024, 3, 6, 8, tzinfo=LOCAL_TZ)


def _record(offset: int, kind: str, at: str, **fields: object) -> Record:
    doc = {"v": 1, "event_id": f"D-{offset}", "dossier_id": "D", "type": kind,
           "at": f"{at}+07:00", **fields}  # fmt: skip
    return Record(offset, b"D", json.dumps(doc).encode())


def test_an_end_increments_four_fields_of_its_partitions_month_hash() -> None:
    records = [
        _record(
            0,
            "received",
            "2024-02-28T10:00:00",
            agency="STP",
            procedure="P|1",
            channel="online",
            level="full",
            processing_days=5,
        ),
        _record(1, "resolved", "2024-03-08T16:00:00"),
    ]
    plan = plan_batch(
        decode_batch(records, datetime(2031, 1, 1, tzinfo=LOCAL_TZ)), {"D": None}, CAL
    )
    w = plan_writes(K, plan)
    key = "iocmon:{dossier-events/3}:durations:m:202403"
    # The procedure "P|1" is escaped where a field holds two codes, and only there.
    assert w.counts[key] == {"ap|STP|P%7C1|7": 1, "p|P|1|7": 1, "a|STP|7": 1, "r||7": 1}
    assert w.zadd[K.duration_months] == {
        "202403": datetime(2024, 4, 1, tzinfo=LOCAL_TZ).timestamp()
    }
    assert "m:202403" in w.zadd[K.counter_buckets]  # the other counters' month, rolled up
    keys, _ = script_args(w, K.offset, K.version)
    assert all("{dossier-events/3}" in k for k in keys)  # one hash slot: one atomic script


def test_a_risk_check_sets_and_drops_entries_of_the_list() -> None:
    item = AtRiskItem("STP", "P", AT, 0.75, None, Scope.PROVINCE, AT.replace(day=8))
    check = plan_risk_check(9, {"D": (None, None)}, {"D": item, "F": item}, AT, CAL, AlertPolicy())
    check.at_risk_set["E"] = item
    commands = list(bulk_commands(plan_writes(K, check), fresh=False))
    entry = json.dumps(item.to_json(), separators=(",", ":"))
    assert commands == [("HDEL", K.at_risk, "D"), ("HSET", K.at_risk, "E", entry)]
