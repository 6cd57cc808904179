"""The order lifecycle: the transition table, derived status and shipment progress."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from fulfilhub.engines import lifecycle
from fulfilhub.engines.lifecycle import TRANSITIONS, check_transition, derive_order_status, shipment_advances
from fulfilhub.errors import IllegalTransition, StoreError
from fulfilhub.models import OrderStatus as O
from fulfilhub.models import Shipment, ShipmentLine
from fulfilhub.models import ShipmentStatus as S
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.hookspecs import hookimpl
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)

# ------------------------------------------------------------------ the specification
#
# The lifecycle as the seeds and the vendors imply it, written out by hand and never
# generated from TRANSITIONS: the table in engines/lifecycle.py must be exactly this.
# Each group says where its moves come from.

#: The main line, in order: the warehouse and the carrier report stages, and a poll may
#: skip any number of them (a warehouse answers "shipped" to the first poll after
#: "submitted"; an EasyPost tracker goes from pre_transit straight to delivered).
MAIN_LINE = [O.ALLOCATED, O.PICKING, O.PACKED, O.PARTIALLY_SHIPPED, O.SHIPPED, O.IN_TRANSIT, O.OUT_FOR_DELIVERY,
             O.PARTIALLY_DELIVERED, O.DELIVERED]

SPECIFICATION: dict[O, set[O]] = {
    # intake: checks pass, a hold for a person (unknown SKU, address, customer note), or
    # the channel already cancelled it (Shopify's cancelled_at on the first read)
    O.RECEIVED: {O.ACCEPTED, O.ON_HOLD, O.CANCELLED},
    # allocation: into shipments, or not enough stock; a person holds or the channel
    # cancels; an order with nothing to ship (gift card, digital goods) completes at once
    O.ACCEPTED: {O.ALLOCATED, O.BACKORDERED, O.ON_HOLD, O.CANCELLED, O.DELIVERED},
    # a person releases the hold, or the channel cancels
    O.ON_HOLD: {O.ACCEPTED, O.CANCELLED},
    # stock came back; a person holds; the channel cancels
    O.BACKORDERED: {O.ALLOCATED, O.ON_HOLD, O.CANCELLED},
    # forward along the main line (steps skipped), a parcel's exception, a person's hold
    # before it is picked, the channel's cancel (open requests cancelled at the warehouse)
    O.ALLOCATED: {*MAIN_LINE[1:], O.EXCEPTION, O.ON_HOLD, O.CANCELLED},
    O.PICKING: {*MAIN_LINE[2:], O.EXCEPTION, O.CANCELLED},
    O.PACKED: {*MAIN_LINE[3:], O.EXCEPTION, O.CANCELLED},
    # labels not scanned yet can still be voided, so a cancel is still possible
    O.PARTIALLY_SHIPPED: {*MAIN_LINE[4:], O.EXCEPTION, O.CANCELLED},
    O.SHIPPED: {*MAIN_LINE[5:], O.EXCEPTION, O.RETURNED, O.CANCELLED},
    # on its way: only forward, an exception, or back to the sender (return_to_sender)
    O.IN_TRANSIT: {*MAIN_LINE[6:], O.EXCEPTION, O.RETURNED},
    # a failed attempt re-routes a parcel out for delivery back into transit
    O.OUT_FOR_DELIVERY: {O.IN_TRANSIT, *MAIN_LINE[7:], O.EXCEPTION, O.RETURNED},
    O.PARTIALLY_DELIVERED: {O.DELIVERED, O.EXCEPTION, O.RETURNED},
    # after delivery: a return, or a refund
    O.DELIVERED: {O.RETURNED, O.REFUNDED},
    # an exception clears to wherever the parcels are now (a damaged parcel re-shipped
    # from allocation on), or ends in a return, a cancel or a refund
    O.EXCEPTION: {*MAIN_LINE, O.RETURNED, O.CANCELLED, O.REFUNDED},
    O.RETURNED: {O.REFUNDED},
    O.CANCELLED: {O.REFUNDED},
    O.REFUNDED: set(),
}

ALLOWED = [(a, b) for a in O for b in O if b in SPECIFICATION[a]]
FORBIDDEN = [(a, b) for a in O for b in O if b not in SPECIFICATION[a]]


# ------------------------------------------------------------------ the table


def test_table_covers_every_status():
    assert set(TRANSITIONS) == set(O)


def test_the_specification_covers_every_status():
    assert set(SPECIFICATION) == set(O)


@pytest.mark.parametrize("current", list(O), ids=str)
def test_the_table_allows_exactly_what_the_specification_says(current):
    allowed = set(TRANSITIONS[current])
    assert sorted(SPECIFICATION[current] - allowed) == [], f"{current}: the table forbids what the lifecycle needs"
    assert sorted(allowed - SPECIFICATION[current]) == [], f"{current}: the table allows what no source implies"


def test_every_status_can_be_reached_from_received():
    reached, frontier = {O.RECEIVED}, [O.RECEIVED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(O)


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed_transition_passes(current, target):
    check_transition("shop:1", current, target)  # does not raise


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_forbidden_transition_raises_naming_both_statuses(current, target):
    with pytest.raises(IllegalTransition) as info:
        check_transition("shop:1", current, target)
    message = str(info.value)
    assert f"from {current} to {target}" in message
    assert "shop:1" in message
    assert info.value.current is current
    assert info.value.target is target


def test_no_status_may_stay_where_it_is():
    # A "change" to the same status would append a meaningless event.
    assert not any(status in TRANSITIONS[status] for status in O)


def test_refunded_is_terminal_and_says_so():
    with pytest.raises(IllegalTransition, match=r"nothing \(final\)"):
        check_transition("shop:1", O.REFUNDED, O.DELIVERED)


def test_new_order_starts_at_received():
    check_transition("shop:1", None, O.RECEIVED)


@pytest.mark.parametrize("target", [s for s in O if s is not O.RECEIVED])
def test_new_order_cannot_start_elsewhere(target):
    with pytest.raises(IllegalTransition) as info:
        check_transition("shop:1", None, target)
    assert f"from new to {target}" in str(info.value)
    assert "received" in str(info.value)


# ------------------------------------------------------------------ derived status


@pytest.mark.parametrize(
    ("shipment", "order"),
    [
        (S.PENDING, O.ALLOCATED),
        (S.SUBMITTED, O.ALLOCATED),
        (S.PICKING, O.PICKING),
        (S.PACKED, O.PACKED),
        (S.LABEL_PURCHASED, O.SHIPPED),
        (S.IN_TRANSIT, O.IN_TRANSIT),
        (S.OUT_FOR_DELIVERY, O.OUT_FOR_DELIVERY),
        (S.DELIVERED, O.DELIVERED),
        (S.EXCEPTION, O.EXCEPTION),
        (S.RETURNED, O.RETURNED),
    ],
)
def test_single_shipment_sets_order_status(shipment, order):
    assert derive_order_status([shipment]) is order


def test_no_shipments_derive_nothing():
    assert derive_order_status([]) is None


def test_split_order_is_partially_shipped_when_one_parcel_left():
    assert derive_order_status([S.IN_TRANSIT, S.PACKED]) is O.PARTIALLY_SHIPPED
    assert derive_order_status([S.LABEL_PURCHASED, S.PENDING]) is O.PARTIALLY_SHIPPED


def test_split_order_is_partially_delivered_when_one_parcel_arrived():
    assert derive_order_status([S.DELIVERED, S.IN_TRANSIT]) is O.PARTIALLY_DELIVERED
    assert derive_order_status([S.PICKING, S.DELIVERED]) is O.PARTIALLY_DELIVERED


def test_split_order_follows_its_least_advanced_parcel():
    assert derive_order_status([S.OUT_FOR_DELIVERY, S.IN_TRANSIT]) is O.IN_TRANSIT
    assert derive_order_status([S.PACKED, S.PICKING]) is O.PICKING


def test_split_order_delivered_when_every_parcel_arrived():
    assert derive_order_status([S.DELIVERED, S.DELIVERED]) is O.DELIVERED


@pytest.mark.parametrize("other", [S.DELIVERED, S.IN_TRANSIT, S.PENDING, S.RETURNED])
def test_exception_on_any_parcel_wins(other):
    assert derive_order_status([other, S.EXCEPTION]) is O.EXCEPTION


def test_cancelled_shipments_are_ignored():
    assert derive_order_status([S.CANCELLED, S.IN_TRANSIT]) is O.IN_TRANSIT
    assert derive_order_status([S.DELIVERED, S.CANCELLED]) is O.DELIVERED
    assert derive_order_status([S.CANCELLED, S.CANCELLED]) is None


def test_order_returned_only_when_every_parcel_returned():
    assert derive_order_status([S.RETURNED, S.RETURNED]) is O.RETURNED
    assert derive_order_status([S.RETURNED, S.DELIVERED]) is O.DELIVERED


_FORWARD = [S.PENDING, S.SUBMITTED, S.PICKING, S.PACKED, S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED]


def test_two_parcels_moving_forward_only_make_allowed_order_changes():
    """Any interleaving of two parcels' forward progress is a legal path for the order."""
    for a, b in itertools.product(_FORWARD, repeat=2):
        current = derive_order_status([a, b])
        for i, nxt in itertools.product((0, 1), _FORWARD):
            pair = [a, b]
            if not shipment_advances(pair[i], nxt):
                continue
            pair[i] = nxt
            derived = derive_order_status(pair)
            assert derived is current or derived in TRANSITIONS[current], (a, b, pair, current, derived)


# ------------------------------------------------------------------ shipment progress


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.PENDING, S.SUBMITTED), (S.PENDING, S.IN_TRANSIT), (S.PACKED, S.DELIVERED), (S.LABEL_PURCHASED, S.OUT_FOR_DELIVERY)],
)
def test_shipment_moves_forward_and_may_skip_steps(current, target):
    assert shipment_advances(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.IN_TRANSIT, S.PACKED), (S.OUT_FOR_DELIVERY, S.LABEL_PURCHASED), (S.SUBMITTED, S.PENDING), (S.IN_TRANSIT, S.IN_TRANSIT)],
)
def test_shipment_never_moves_backward_or_sideways(current, target):
    assert not shipment_advances(current, target)


def test_redelivery_after_attempt_goes_back_in_transit():
    assert shipment_advances(S.OUT_FOR_DELIVERY, S.IN_TRANSIT)


@pytest.mark.parametrize("final", [S.DELIVERED, S.RETURNED, S.CANCELLED])
@pytest.mark.parametrize("target", list(S))
def test_final_shipment_never_leaves(final, target):
    assert not shipment_advances(final, target)


@pytest.mark.parametrize("current", [S.PENDING, S.PACKED, S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY])
def test_shipment_may_enter_exception_from_any_live_status(current):
    assert shipment_advances(current, S.EXCEPTION)


@pytest.mark.parametrize("target", [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED, S.CANCELLED])
def test_shipment_may_leave_exception(target):
    assert shipment_advances(S.EXCEPTION, target)


# ------------------------------------------------------------------ through the store


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def order_status_changed(self, order_id, old, new, reason, source):
        self.calls.append((order_id, old, new))


@pytest.fixture
def stored(store, make_order):
    order = make_order("1001")
    with store.transaction() as tx:
        order_store.insert(tx, [(order, O.RECEIVED, None)], T0)
    return order.id


def _status_and_events(store, order_id):
    with store.read() as conn:
        status = order_store.row(conn, order_id).status
        events = [(e.from_status, e.to_status, e.source) for e in order_store.events_of(conn, order_id)]
    return status, events


def test_transition_updates_status_and_appends_event(store, stored):
    at = T0 + timedelta(minutes=1)
    with store.transaction() as tx:
        lifecycle.transition(tx, None, stored, O.RECEIVED, O.ACCEPTED, at=at, source="test", reason="checks passed")
    status, events = _status_and_events(store, stored)
    assert status == O.ACCEPTED
    assert events == [("received", "accepted", "test")]
    with store.read() as conn:
        (event,) = order_store.events_of(conn, stored)
    assert event.kind == "status"
    assert event.reason == "checks passed"
    assert event.at == at


def test_successive_transitions_keep_the_whole_history(store, stored):
    with store.transaction() as tx:
        lifecycle.transition(tx, None, stored, O.RECEIVED, O.ON_HOLD, at=T0, source="test", hold_reason="note")
    with store.transaction() as tx:
        lifecycle.transition(tx, None, stored, O.ON_HOLD, O.ACCEPTED, at=T0, source="person")
    status, events = _status_and_events(store, stored)
    assert status == O.ACCEPTED
    assert events == [("received", "on_hold", "test"), ("on_hold", "accepted", "person")]


def test_illegal_transition_changes_nothing(store, stored):
    before = _status_and_events(store, stored)
    with pytest.raises(IllegalTransition, match="from received to shipped"):
        with store.transaction() as tx:
            lifecycle.transition(tx, None, stored, O.RECEIVED, O.SHIPPED, at=T0, source="test")
    assert _status_and_events(store, stored) == before == (O.RECEIVED, [])


def test_stale_current_status_is_refused(store, stored):
    with pytest.raises(StoreError, match="changed concurrently"):
        with store.transaction() as tx:
            lifecycle.transition(tx, None, stored, O.ACCEPTED, O.ALLOCATED, at=T0, source="test")
    assert _status_and_events(store, stored) == (O.RECEIVED, [])


def test_status_hook_runs_after_commit_only(store, stored):
    recorder = Recorder()
    hooks = Hooks(PluginManager(load_installed=False, extra=[recorder]))
    with store.transaction() as tx:
        lifecycle.transition(tx, hooks, stored, O.RECEIVED, O.ACCEPTED, at=T0, source="test")
        assert recorder.calls == []  # not before the commit
    assert recorder.calls == [(stored, O.RECEIVED, O.ACCEPTED)]

    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            lifecycle.transition(tx, hooks, stored, O.ACCEPTED, O.ALLOCATED, at=T0, source="test")
            raise RuntimeError("rolled back")
    assert len(recorder.calls) == 1  # a rolled-back change is never announced
    assert _status_and_events(store, stored)[0] == O.ACCEPTED


def test_follow_shipments_derives_and_records(store, stored):
    with store.transaction() as tx:
        for current, target in [(O.RECEIVED, O.ACCEPTED), (O.ACCEPTED, O.ALLOCATED)]:
            lifecycle.transition(tx, None, stored, current, target, at=T0, source="test")
        for n, status in [(1, S.IN_TRANSIT), (2, S.PACKED)]:
            shipment_store.insert(tx, Shipment(id=f"{stored}/{n}", order_id=stored, warehouse="main", lines=[ShipmentLine(sku="SKU-A", quantity=1)], status=status, created_at=T0, modified_at=T0))
    with store.transaction() as tx:
        assert lifecycle.follow_shipments(tx, None, stored, at=T0, source="carrier") is O.PARTIALLY_SHIPPED
    with store.transaction() as tx:
        assert lifecycle.follow_shipments(tx, None, stored, at=T0, source="carrier") is None  # nothing new
    status, events = _status_and_events(store, stored)
    assert status == O.PARTIALLY_SHIPPED
    assert events[-1] == ("allocated", "partially_shipped", "carrier")
    assert sum(1 for e in events if e[1] == "partially_shipped") == 1


def test_follow_shipments_notes_but_does_not_apply_a_forbidden_status(store, stored):
    with store.transaction() as tx:
        lifecycle.transition(tx, None, stored, O.RECEIVED, O.CANCELLED, at=T0, source="shop")
        shipment_store.insert(tx, Shipment(id=f"{stored}/1", order_id=stored, warehouse="main", lines=[ShipmentLine(sku="SKU-A", quantity=1)], status=S.IN_TRANSIT, created_at=T0, modified_at=T0))
    with store.transaction() as tx:
        assert lifecycle.follow_shipments(tx, None, stored, at=T0, source="carrier") is None
    with store.read() as conn:
        assert order_store.row(conn, stored).status == O.CANCELLED
        last = order_store.events_of(conn, stored)[-1]
    assert last.kind == "note"
    assert "in_transit" in last.reason
    assert "cancelled" in last.reason
