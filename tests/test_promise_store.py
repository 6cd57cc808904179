"""Promises are stored by revision and never changed; delay assessments only when they change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest

from fulfilhub.models import DelayAssessment, DelayReason, DelayState, ExceptionReason, OrderStatus, Promise
from fulfilhub.store import delays as delay_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store

T0 = datetime(2026, 5, 8, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def order_id(store, make_order):
    order = make_order("1042")
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
    return order.id


def promise(order_id: str, days: int = 4, **changes) -> Promise:
    values = dict(order_id=order_id, created_at=T0, ship_by=T0 + timedelta(hours=8),
                  deliver_from=T0 + timedelta(days=days - 2), deliver_by=T0 + timedelta(days=days),
                  timezone="America/Los_Angeles", confidence_from=0.4, confidence_by=0.95, carrier="easypost",
                  service="Priority", level="lane", basis="412 deliveries", reason="accepted")
    values.update(changes)
    return Promise(**values)


def test_first_promise_is_revision_one_and_the_same_terms_add_nothing(store, order_id):
    with store.transaction() as tx:
        first, added = promise_store.record(tx, promise(order_id))
        again, added_again = promise_store.record(tx, promise(order_id, basis="other words", reason="rerun"))
    assert (first.revision, added) == (1, True)
    assert (again, added_again) == (first, False)
    with store.read() as conn:
        assert promise_store.current(conn, order_id) == first


def test_a_revision_is_a_new_row_and_the_old_one_is_kept(store, order_id):
    with store.transaction() as tx:
        promise_store.record(tx, promise(order_id))
        revised, added = promise_store.record(tx, promise(order_id, days=6, reason="backordered until 14 May"))
    assert (revised.revision, added) == (2, True)
    with store.read() as conn:
        history = promise_store.history(conn, order_id)
        assert [p.revision for p in history] == [1, 2]
        assert history[0].deliver_by == T0 + timedelta(days=4)
        assert promise_store.current(conn, order_id).reason == "backordered until 14 May"
        assert promise_store.current_many(conn, [order_id, "shop:none"]) == {order_id: revised}


def test_a_quote_is_not_stored(store):
    with store.transaction() as tx, pytest.raises(ValueError, match="quote"):
        promise_store.record(tx, promise(""))


def test_a_promise_range_must_not_end_before_it_starts():
    with pytest.raises(ValueError, match="before deliver_from"):
        promise("x", deliver_from=T0 + timedelta(days=5), deliver_by=T0 + timedelta(days=4))
    with pytest.raises(ValueError, match="share"):
        promise("x", confidence_by=1.5)


def test_assessments_are_stored_only_when_the_finding_changes(store, order_id):
    at_risk = DelayAssessment(order_id=order_id, assessed_at=T0, state=DelayState.AT_RISK,
                              reason=DelayReason.CARRIER_EXCEPTION, exception=ExceptionReason.WEATHER, days_late=2,
                              revised_eta=T0 + timedelta(days=6), confidence=0.8, promise_revision=1,
                              detail="typhoon closed the hub")
    with store.transaction() as tx:
        first = delay_store.record(tx, at_risk)
        same = delay_store.record(tx, attrs.evolve(at_risk, assessed_at=T0 + timedelta(hours=1),
                                                   revised_eta=T0 + timedelta(days=6, hours=2), detail="reworded"))
        worse = delay_store.record(tx, attrs.evolve(at_risk, state="late", days_late=3))
    assert first is not None
    assert same is None
    assert worse is not None
    assert worse > first
    with store.read() as conn:
        assert delay_store.current(conn, order_id).days_late == 3
        assert [a.days_late for a in delay_store.history(conn, order_id)] == [2, 3]
        assert [i for i, _ in delay_store.since(conn, first)] == [worse]
        assert [a.state for a in delay_store.current_all(conn)] == [DelayState.LATE]


def test_an_on_track_assessment_is_left_out_of_the_open_list(store, order_id):
    with store.transaction() as tx:
        delay_store.record(tx, DelayAssessment(order_id=order_id, assessed_at=T0, state="on_track"))
    with store.read() as conn:
        assert delay_store.current_all(conn) == []
        assert len(delay_store.current_all(conn, exclude_on_track=False)) == 1


def test_many_assessments_are_recorded_at_once_only_where_the_finding_changed(store, order_id, make_order):
    other = make_order("1043")
    with store.transaction() as tx:
        order_store.insert(tx, [(other, OrderStatus.ACCEPTED, None)], T0)
    late = DelayAssessment(order_id=order_id, assessed_at=T0, state="late", reason="carrier_eta", days_late=1)
    with store.transaction() as tx:
        delay_store.record(tx, late)
        stored = delay_store.record_many(tx, [attrs.evolve(late, detail="same finding"),
                                              attrs.evolve(late, order_id=other.id)])
    assert [a.order_id for a in stored] == [other.id]
    with store.read() as conn:
        assert set(delay_store.current_many(conn, [order_id, other.id, "shop:none"])) == {order_id, other.id}
