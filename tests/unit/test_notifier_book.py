"""The active set: one alert per dossier, replaced by newer ones, resolved by `cleared`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from iocmon.notifier.book import ActiveBook, Change, Fire, Resolve
from iocmon.notifier.model import AlertRecord

ICT = timezone(timedelta(hours=7))
DUE = datetime(2026, 12, 1, 17, tzinfo=ICT)


def alert(dossier: str, kind: str, due: datetime = DUE, clears: str | None = None) -> AlertRecord:
    alert_id = f"{clears}:cleared" if kind == "cleared" else f"{dossier}:{kind}:{due.isoformat()}"
    return AlertRecord(
        alert_id=alert_id,
        kind=kind,  # type: ignore[arg-type]
        dossier_id=dossier,
        agency="STP",
        agency_name=None,
        procedure="1.001",
        due_at=due,
        overdue_days=1 if kind == "overdue" else 0,
        state_at=due,
        emitted_at=due,
        clears=clears,
    )


def cleared(fired: AlertRecord) -> AlertRecord:
    return alert(fired.dossier_id, "cleared", fired.due_at, clears=fired.alert_id)


def ids(changes: list[Change]) -> list[tuple[str, str]]:
    return [(type(c).__name__, c.alert.alert_id) for c in changes]


def test_an_alert_fires_and_its_cleared_record_resolves_it() -> None:
    book = ActiveBook()
    soon = alert("D1", "due_soon")
    assert book.apply(soon, 0) == [Fire(soon)]
    assert book.active() == [soon]
    assert book.apply(cleared(soon), 0) == [Resolve(soon)]
    assert book.active() == []


def test_overdue_replaces_due_soon_and_resolves_it_in_alertmanager() -> None:
    book = ActiveBook()
    soon, late = alert("D1", "due_soon"), alert("D1", "overdue")
    book.apply(soon, 0)
    assert book.apply(late, 0) == [Resolve(soon), Fire(late)]
    assert book.active() == [late]
    # the worker clears what it thinks is active: the due_soon is gone already
    assert book.apply(cleared(soon), 0) == []
    assert book.apply(cleared(late), 0) == [Resolve(late)]
    assert len(book) == 0


def test_due_soon_replaces_the_at_risk_forecast_and_resolves_it_in_alertmanager() -> None:
    book = ActiveBook()
    risk, soon = alert("D1", "at_risk"), alert("D1", "due_soon")
    assert book.apply(risk, 0) == [Fire(risk)]
    assert book.apply(soon, 0) == [Resolve(risk), Fire(soon)]
    assert book.active() == [soon]
    assert book.apply(risk, 0) == []  # read again (a restart, a worker re-emitting it): retired
    assert book.apply(cleared(soon), 0) == [Resolve(soon)]
    assert len(book) == 0


def test_overdue_replaces_the_at_risk_forecast_when_no_due_soon_came_between() -> None:
    """A dossier can skip due soon (a check interval longer than its last day, a pause)."""
    book = ActiveBook()
    risk, late = alert("D1", "at_risk"), alert("D1", "overdue")
    book.apply(risk, 0)
    assert book.apply(late, 0) == [Resolve(risk), Fire(late)]
    assert book.active() == [late]
    assert book.apply(cleared(risk), 0) == []  # no longer the active one


def test_the_end_of_the_dossier_clears_the_at_risk_alert() -> None:
    book = ActiveBook()
    risk = alert("D1", "at_risk")
    book.apply(risk, 0)
    assert book.apply(cleared(risk), 0) == [Resolve(risk)]
    assert book.active() == []
    assert book.apply(risk, 0) == []


def test_a_forecast_never_replaces_the_due_soon_or_overdue_alert_of_its_appointment() -> None:
    """Were the worker to forecast a dossier already due soon or overdue, on-call staff would
    see it step back to a mere forecast: the late at_risk is retired, the alert stays."""
    for kind in ("due_soon", "overdue"):
        book = ActiveBook()
        further, risk = alert("D1", kind), alert("D1", "at_risk")
        book.apply(further, 0)
        assert book.apply(risk, 0) == []
        assert book.active() == [further]
        assert book.apply(cleared(further), 0) == [Resolve(further)]
        assert book.apply(risk, 0) == []  # and it does not come back once the dossier ends


def test_after_a_reschedule_a_forecast_about_the_new_appointment_replaces_the_old_alert() -> None:
    book = ActiveBook()
    late, risk = alert("D1", "overdue"), alert("D1", "at_risk", DUE + timedelta(days=5))
    book.apply(late, 0)
    assert book.apply(risk, 0) == [Resolve(late), Fire(risk)]
    assert book.active() == [risk]


def test_a_reschedule_moves_the_alert_to_the_new_appointment() -> None:
    """Same kind, new appointment: the same alert in Alertmanager, updated, not resolved."""
    book = ActiveBook()
    old, new = alert("D1", "overdue"), alert("D1", "overdue", DUE + timedelta(days=5))
    book.apply(old, 0)
    assert book.apply(new, 0) == [Fire(new)]
    assert book.apply(cleared(old), 0) == []  # clears the old appointment's alert only
    assert book.active() == [new]


def test_the_same_record_twice_changes_nothing_but_is_sent_again() -> None:
    book = ActiveBook()
    late = alert("D1", "overdue")
    assert book.apply(late, 0) == book.apply(late, 0) == [Fire(late)]
    assert book.active() == [late]
    assert book.apply(cleared(late), 0) == [Resolve(late)]
    assert book.apply(cleared(late), 0) == []


def test_a_cleared_alert_emitted_again_does_not_fire_again() -> None:
    book = ActiveBook()
    late = alert("D1", "overdue")
    book.apply(late, 0)
    book.apply(cleared(late), 0)
    assert book.apply(late, 0) == []
    assert book.active() == []


def test_a_replaced_alert_read_again_does_not_fire_again() -> None:
    book = ActiveBook()
    soon, late = alert("D1", "due_soon"), alert("D1", "overdue")
    book.apply(soon, 0)
    book.apply(late, 0)
    assert book.apply(soon, 0) == []
    assert book.active() == [late]


def test_the_memory_of_retired_ids_is_bounded() -> None:
    book = ActiveBook(retired_memory=2)
    first = alert("D1", "overdue")
    for fired in (first, alert("D2", "overdue"), alert("D3", "overdue")):
        book.apply(fired, 0)
        book.apply(cleared(fired), 0)
    assert book.apply(first, 0) == [Fire(first)]  # forgotten: the oldest of three


def test_dropping_a_partition_forgets_its_alerts_only() -> None:
    book = ActiveBook()
    a, b = alert("D1", "overdue"), alert("D2", "due_soon")
    book.apply(a, 0)
    book.apply(b, 1)
    book.drop_partition(0)
    assert book.active() == [b]


# -- properties over random streams of records -------------------------------------------

DOSSIERS = ["D1", "D2", "D3"]
DUES = [DUE, DUE + timedelta(days=3)]


@st.composite
def streams(draw: st.DrawFn) -> list[AlertRecord]:
    """Per dossier: at_risk/due_soon/overdue alerts for one of two appointments, and cleared records
    for alerts emitted before (as the worker does), in any interleaving."""
    out: list[AlertRecord] = []
    emitted: list[AlertRecord] = []
    for _ in range(draw(st.integers(0, 25))):
        if emitted and draw(st.booleans()) and draw(st.booleans()):
            out.append(cleared(draw(st.sampled_from(emitted))))
        else:
            fired = alert(
                draw(st.sampled_from(DOSSIERS)),
                draw(st.sampled_from(["at_risk", "due_soon", "overdue"])),
                draw(st.sampled_from(DUES)),
            )
            emitted.append(fired)
            out.append(fired)
    return out


def replay(records: list[AlertRecord], book: ActiveBook | None = None) -> ActiveBook:
    book = book if book is not None else ActiveBook()  # an empty book is falsy (__len__)
    for record in records:
        book.apply(record, 0)
    return book


@settings(max_examples=300)
@given(streams())
def test_at_most_one_active_alert_per_dossier_and_never_a_cleared_one(
    records: list[AlertRecord],
) -> None:
    book = replay(records)
    active = book.active()
    assert len({a.dossier_id for a in active}) == len(active)
    cleared_ids = {r.clears for r in records if r.clears}
    assert not {a.alert_id for a in active} & cleared_ids


@settings(max_examples=300)
@given(streams(), st.data())
def test_replaying_any_suffix_again_changes_nothing(
    records: list[AlertRecord], data: st.DataObject
) -> None:
    """A restart re-reads records after the committed offset: the active set must not move."""
    book = replay(records)
    start = data.draw(st.integers(0, len(records)))
    again = replay(records[start:], replay(records))
    assert again.active() == book.active()


@settings(max_examples=300)
@given(streams())
def test_what_alertmanager_is_told_adds_up_to_the_active_set(records: list[AlertRecord]) -> None:
    """Playing the changes against a model of Alertmanager (one alert per label set) leaves
    firing exactly the active alerts."""
    book = ActiveBook()
    firing: dict[tuple[str, ...], str] = {}
    for record in records:
        for change in book.apply(record, 0):
            key = change.alert.identity
            if isinstance(change, Fire):
                firing[key] = change.alert.alert_id
            else:
                assert firing.pop(key) == change.alert.alert_id
    assert sorted(firing.values()) == sorted(a.alert_id for a in book.active())
