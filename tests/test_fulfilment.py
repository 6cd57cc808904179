"""The fulfilment engine on a real SQLite store: what each answer from a warehouse or a
carrier does to a shipment, its order, its stock and the outbox."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import attrs
import pytest
import sqlalchemy as sa

from fulfilhub.engines import fulfilment
from fulfilhub.hookspecs import hookimpl
from fulfilhub.models import (
    ExceptionReason,
    FulfillmentStatus,
    FulfillmentUpdate,
    Label,
    Money,
    OrderStatus,
    Parcel,
    Rate,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
)
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.store import orders as order_store
from fulfilhub.store import outbox
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store
from fulfilhub.store.outbox import EffectKind

from .conftest import T0

S = ShipmentStatus


class Seen:
    """A plugin that records the lifecycle hooks it is called with."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, object]] = []
        self.changes: list[tuple[object, object]] = []

    @hookimpl
    def shipment_delivered(self, order_id, shipment_id, delivered_at):
        self.delivered.append((shipment_id, delivered_at))

    @hookimpl
    def order_status_changed(self, order_id, old, new, reason, source):
        self.changes.append((old, new))


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def hooks(seen) -> Hooks:
    return Hooks(PluginManager(load_installed=False, extra=[seen]))


@pytest.fixture
def allocated(store, make_order, hooks):
    """An accepted order for 2 x SKU-A allocated to warehouse ``main`` (stock 5): its one shipment."""
    order = make_order("1001", ("SKU-A", 2))
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "SKU-A", 5, T0)
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
    with store.transaction() as tx:
        (shipment,) = fulfilment.allocate(tx, hooks, order, OrderStatus.ACCEPTED,
                                          {"main": [ShipmentLine(sku="SKU-A", quantity=2, order_line_id="L0")]}, T0)
    return order, shipment


def status_of(store, order_id) -> OrderStatus:
    with store.read() as conn:
        return OrderStatus(order_store.row(conn, order_id).status)


def effects(store) -> dict[str, str]:
    with store.read() as conn:
        return {row.key: row.kind for row in outbox.listing(conn)}


def rate(carrier="ep") -> Rate:
    return Rate(carrier=carrier, carrier_name="USPS", service="Priority", amount=Money(amount="7.90", currency="USD"),
                rate_id="rate_1", shipment_ref="shp_1", transit_days=2)


def label() -> Label:
    return Label(carrier="ep", carrier_name="USPS", service="Priority", tracking_code="9400TEST",
                 cost=Money(amount="7.90", currency="USD"), shipment_ref="shp_1", tracker_ref="trk_1")


def packed_with_label(store, hooks, shipment):
    at = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "LF-1", at)
        shipment = fulfilment.apply_warehouse_update(
            tx, hooks, shipment, FulfillmentUpdate(ref="LF-1", status="packed", at=at, parcel=Parcel(weight_g=900)), at,
            source="warehouse:main")
        shipment = fulfilment.choose(tx, shipment, rate(), at)
        return fulfilment.record_label(tx, hooks, shipment, label(), "shop", at)


# ------------------------------------------------------------------ allocation


def test_allocation_reserves_stock_queues_the_submission_and_moves_the_order(store, allocated):
    order, shipment = allocated
    assert (shipment.id, shipment.status, shipment.warehouse) == (f"{order.id}/1", S.PENDING, "main")
    with store.read() as conn:
        (level,) = stock_store.levels(conn)
        assert shipment_store.load(conn, shipment.id) == shipment
    assert (level.on_hand, level.reserved, level.available) == (5, 2, 3)
    assert effects(store) == {f"warehouse.submit:{shipment.id}": EffectKind.WAREHOUSE_SUBMIT}
    assert status_of(store, order.id) is OrderStatus.ALLOCATED


def test_allocation_that_no_longer_fits_returns_none_for_the_caller_to_roll_back(store, make_order, hooks):
    order = make_order("1002", ("SKU-A", 9))
    with store.transaction() as tx:
        stock_store.set_level(tx, "main", "SKU-A", 5, T0)
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        made = fulfilment.allocate(tx, hooks, order, OrderStatus.ACCEPTED,
                                   {"main": [ShipmentLine(sku="SKU-A", quantity=9)]}, T0)
        assert made is None
        raise RuntimeError("roll back")
    with store.read() as conn:
        assert shipment_store.of_order(conn, order.id) == []
        assert stock_store.levels(conn)[0].reserved == 0
    assert status_of(store, order.id) is OrderStatus.ACCEPTED


def test_cancelling_releases_stock_and_tells_only_warehouses_that_had_the_request(store, allocated, hooks):
    order, shipment = allocated
    with store.transaction() as tx:
        fulfilment.record_submission(tx, shipment, "LF-1", T0)
        (cancelled,) = fulfilment.cancel_open(tx, order.id, T0)
    assert cancelled.status is S.CANCELLED
    with store.read() as conn:
        assert stock_store.levels(conn)[0].reserved == 0
    assert effects(store)[f"warehouse.cancel:{shipment.id}"] == EffectKind.WAREHOUSE_CANCEL


# ------------------------------------------------------------------ warehouse


def test_a_warehouse_answer_with_no_news_writes_only_its_hint(store, allocated, hooks):
    _, shipment = allocated
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "LF-1", T0)
    hint = T0 + timedelta(minutes=90)
    update = FulfillmentUpdate(ref="LF-1", status="submitted", at=T0, next_check_at=hint)
    with store.transaction() as tx:
        assert fulfilment.apply_warehouse_update(tx, hooks, shipment, update, T0, source="warehouse:main") is None
    with store.read() as conn:
        assert shipment_store.load(conn, shipment.id).next_poll_at == hint
        assert shipment_store.due(conn, fulfilment.AT_WAREHOUSE, T0 + timedelta(minutes=89)) == []
        assert [s.id for s in shipment_store.due(conn, fulfilment.AT_WAREHOUSE, hint)] == [shipment.id]


def test_packed_keeps_the_parcel_and_the_order_follows(store, allocated, hooks, seen):
    order, shipment = allocated
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "LF-1", T0)
        saved = fulfilment.apply_warehouse_update(
            tx, hooks, shipment, FulfillmentUpdate(ref="LF-1", status="packed", at=T0, parcel=Parcel(weight_g=900)),
            T0, source="warehouse:main")
    assert (saved.status, saved.parcel) == (S.PACKED, Parcel(weight_g=900))
    assert status_of(store, order.id) is OrderStatus.PACKED
    assert (OrderStatus.ALLOCATED, OrderStatus.PACKED) in seen.changes


@pytest.mark.parametrize("status, expected", [("rejected", S.EXCEPTION), ("cancelled", S.CANCELLED)])
def test_rejected_and_cancelled_requests(store, allocated, hooks, status, expected):
    _, shipment = allocated
    with store.transaction() as tx:
        saved = fulfilment.apply_warehouse_update(tx, hooks, shipment, FulfillmentUpdate(ref="x", status=status, at=T0),
                                                  T0, source="warehouse:main")
    assert saved.status is expected
    with store.read() as conn:
        reserved = stock_store.levels(conn)[0].reserved
    assert reserved == (0 if expected is S.CANCELLED else 2)


def test_a_warehouse_that_shipped_with_its_own_label_records_that_label_and_tells_the_channel(
        store, allocated, hooks, seen):
    order, shipment = allocated
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "7001", T0)
    left = T0 + timedelta(hours=5)
    update = FulfillmentUpdate(ref="7001", status="shipped", at=left + timedelta(minutes=5), carrier="USPS",
                               service="Ground Advantage", tracking_code="9400111206213456789012",
                               tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111206213456789012",
                               shipped_at=left, more_tracking_codes=("9400111206219876543210",))
    with store.transaction() as tx:
        saved = fulfilment.apply_warehouse_update(tx, hooks, shipment, update, left, source="warehouse:main",
                                                  tracked_by="")
    assert saved.status is S.LABEL_PURCHASED
    assert saved.carrier == "main"  # no carrier of ours follows USPS: the warehouse itself does
    assert (saved.label.carrier_name, saved.tracking_code, saved.label.shipment_ref) == (
        "USPS", "9400111206213456789012", "7001")
    assert saved.label.cost == Money(amount=0, currency="USD")  # the 3PL bills it; fulfilhub bought nothing
    assert saved.shipped_at == left
    assert saved.next_poll_at == left + fulfilhub_poll(S.LABEL_PURCHASED)
    with store.read() as conn:
        (level,) = stock_store.levels(conn)
        assert shipment_store.load(conn, shipment.id) == saved
        (event,) = [e for e in order_store.events_of(conn, order.id) if e.to_status == "shipped"]
    assert (level.on_hand, level.reserved) == (3, 0)  # the stock left with it
    assert status_of(store, order.id) is OrderStatus.SHIPPED
    assert "2 packages" in event.reason
    assert set(effects(store)) == {f"warehouse.submit:{shipment.id}", f"channel.push_fulfillment:{shipment.id}"}


def fulfilhub_poll(status):
    return fulfilment.POLL_AFTER[status]


def test_a_shipped_answer_seen_twice_changes_nothing_the_second_time(store, allocated, hooks):
    _, shipment = allocated
    update = FulfillmentUpdate(ref="7001", status="shipped", at=T0, carrier="UPS", tracking_code="1Z999AA10123456784")
    with store.transaction() as tx:
        saved = fulfilment.apply_warehouse_update(tx, hooks, shipment, update, T0, source="webhook:main",
                                                  tracked_by="ups")
    assert saved.carrier == "ups"
    with store.transaction() as tx:  # the same news by poll
        assert fulfilment.apply_warehouse_update(tx, hooks, saved, update, T0, source="warehouse:main") is None
    with store.read() as conn:
        shipped = [e for e in order_store.events_of(conn, shipment.order_id) if e.to_status == "shipped"]
        assert shipment_store.load(conn, shipment.id) == saved
    assert len(shipped) == 1


def test_shipped_needs_the_carrier_and_the_tracking_code():
    with pytest.raises(ValueError, match="carrier and the tracking code"):
        FulfillmentUpdate(ref="x", status="shipped", at=T0, carrier="USPS")
    with pytest.raises(ValueError, match="carrier and the tracking code"):
        FulfillmentUpdate(ref="x", status="shipped", at=T0, tracking_code="9400")


@pytest.mark.parametrize(("courier", "carriers", "expected"), [
    ("USPS", ["easypost", "usps"], "usps"),
    ("DHL Express", ["dhl_express"], "dhl_express"),
    ("FedEx", ["easypost", "shippo"], ""),
    ("", ["usps"], ""),
])
def test_which_carrier_follows_a_parcel_a_warehouse_shipped(courier, carriers, expected):
    assert fulfilment.tracking_carrier(courier, carriers) == expected


def test_every_warehouse_status_has_a_meaning():
    assert set(fulfilment.FULFILLMENT_TO_SHIPMENT) == set(FulfillmentStatus)


# ------------------------------------------------------------------ labels


def test_a_bought_label_consumes_stock_ships_the_order_and_queues_the_channel_push(store, allocated, hooks):
    order, shipment = allocated
    shipped = packed_with_label(store, hooks, shipment)
    assert shipped.status is S.LABEL_PURCHASED
    assert shipped.tracking_code == "9400TEST"
    assert shipped.next_poll_at == shipped.shipped_at + fulfilment.POLL_AFTER[S.LABEL_PURCHASED]
    with store.read() as conn:
        (level,) = stock_store.levels(conn)
        assert shipment_store.load(conn, shipment.id) == shipped
    assert (level.on_hand, level.reserved) == (3, 0)
    assert status_of(store, order.id) is OrderStatus.SHIPPED
    assert set(effects(store)) == {f"warehouse.submit:{shipment.id}", f"carrier.buy_label:{shipment.id}",
                                   f"channel.push_fulfillment:{shipment.id}"}


def test_an_outside_label_is_taken_only_at_the_warehouse_and_then_followed_at_once(store, allocated, hooks):
    order, shipment = allocated
    outside = Label(carrier="kd", carrier_name="中通快递", service="", tracking_code="781000000001",
                    cost=Money(amount="0", currency="CNY"), shipment_ref="")
    with store.transaction() as tx, pytest.raises(fulfilment.NoOutsideLabel, match="is pending"):
        fulfilment.record_outside_label(tx, hooks, shipment, outside, "shop", T0)  # not at the warehouse yet
    at = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        picking = fulfilment.record_submission(tx, shipment, "LF-1", at)
        picking = fulfilment.apply_warehouse_update(
            tx, hooks, picking, FulfillmentUpdate(ref="LF-1", status="picking", at=at), at, source="warehouse:main")
        followed = fulfilment.record_outside_label(tx, hooks, picking, outside, "shop", at)
    assert followed.status is S.LABEL_PURCHASED
    assert followed.carrier == "kd"
    assert followed.next_poll_at == at  # asked at once: the parcel may be moving already
    with store.read() as conn:
        (level,) = stock_store.levels(conn)
    assert (level.on_hand, level.reserved) == (3, 0)
    assert status_of(store, order.id) is OrderStatus.SHIPPED
    assert f"channel.push_fulfillment:{shipment.id}" in effects(store)
    with store.transaction() as tx, pytest.raises(fulfilment.NoOutsideLabel, match="has label 781000000001"):
        fulfilment.record_outside_label(tx, hooks, followed, outside, "shop", at)


def test_a_label_the_marketplace_issued_consumes_stock_ships_the_order_and_tells_the_channel_nothing(store, allocated,
                                                                                                   hooks):
    order, shipment = allocated
    at = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "LF-1", at)
        shipment = fulfilment.apply_warehouse_update(
            tx, hooks, shipment, FulfillmentUpdate(ref="LF-1", status="packed", at=at, parcel=Parcel(weight_g=900)), at,
            source="warehouse:main")
        marketplace = Label(carrier="tw-shopee", carrier_name="蝦皮店到店", service="Shopee logistics (dropoff)",
                            tracking_code="TW0001", cost=Money(amount="0", currency="TWD"), shipment_ref="2603220XKQ8T3A")
        shipped = fulfilment.record_marketplace_label(tx, hooks, shipment, marketplace, at)
    assert shipped.status is S.LABEL_PURCHASED
    assert shipped.carrier == "tw-shopee"  # its tracking is asked of the channel
    assert shipped.channel_ref == "2603220XKQ8T3A"
    assert shipped.rate is None  # nothing was quoted or bought
    with store.read() as conn:
        (level,) = stock_store.levels(conn)
        events = order_store.events_of(conn, order.id)
    assert (level.on_hand, level.reserved) == (3, 0)
    assert status_of(store, order.id) is OrderStatus.SHIPPED
    assert events[-1].source == "channel:tw-shopee"
    assert set(effects(store)) == {f"warehouse.submit:{shipment.id}"}  # no label to buy, no push: arranging told it


# ------------------------------------------------------------------ tracking


def update(status, *scans, est=None, reason=None) -> TrackingUpdate:
    return TrackingUpdate(tracking_code="9400TEST", status=status, est_delivery=est, reason=reason,
                          events=[TrackingEvent(at=at, status=s, source=s) for s, at in scans])


def test_tracking_moves_the_shipment_once_and_pushes_each_milestone_once(store, allocated, hooks, seen):
    order, shipment = allocated
    shipment = packed_with_label(store, hooks, shipment)
    t1, eta = T0 + timedelta(hours=14), T0 + timedelta(days=2)
    answer = update("in_transit", ("pre_transit", T0 + timedelta(hours=2)), ("in_transit", T0 + timedelta(hours=9)), est=eta)
    with store.transaction() as tx:
        outcome = fulfilment.apply_tracking(tx, hooks, shipment, answer, "shop", t1)
    assert (outcome.moved_to, outcome.new_scans) == (S.IN_TRANSIT, 2)
    assert outcome.shipment.next_poll_at == eta + fulfilment.ETA_DAY_END  # asked again at the end of the ETA day
    assert status_of(store, order.id) is OrderStatus.IN_TRANSIT
    with store.transaction() as tx:  # the same answer again, later: nothing to write
        again = fulfilment.apply_tracking(tx, hooks, outcome.shipment, answer, "shop", t1)
    assert again.moved_to is None
    assert again.shipment == outcome.shipment
    delivered_at = T0 + timedelta(days=2, hours=13)
    done = update("delivered", ("in_transit", T0 + timedelta(hours=9)), ("delivered", delivered_at), est=eta)
    with store.transaction() as tx:
        final = fulfilment.apply_tracking(tx, hooks, outcome.shipment, done, "shop", delivered_at + timedelta(hours=3))
    assert final.shipment.delivered_at == delivered_at  # the scan's time, not the poll's
    assert final.shipment.next_poll_at is None  # never asked again
    assert seen.delivered == [(shipment.id, delivered_at)]
    with store.transaction() as tx:  # a late, out-of-order answer does not move it back
        late = fulfilment.apply_tracking(tx, hooks, final.shipment, answer, "shop", delivered_at + timedelta(hours=4))
    assert late.moved_to is None
    assert late.shipment.status is S.DELIVERED
    pushes = sorted(k for k, kind in effects(store).items() if kind == EffectKind.CHANNEL_PUSH_TRACKING)
    assert pushes == [f"channel.push_tracking:{shipment.id}:delivered", f"channel.push_tracking:{shipment.id}:in_transit"]
    assert seen.delivered == [(shipment.id, delivered_at)]
    assert status_of(store, order.id) is OrderStatus.DELIVERED


def test_a_carrier_exception_is_kept_with_its_reason_and_polled_daily(store, allocated, hooks):
    order, shipment = allocated
    shipment = packed_with_label(store, hooks, shipment)
    at = T0 + timedelta(days=1)
    with store.transaction() as tx:
        outcome = fulfilment.apply_tracking(tx, hooks, shipment, update("exception", ("exception", at),
                                                                        reason=ExceptionReason.WEATHER), "shop", at)
    assert (outcome.shipment.status, outcome.shipment.exception_reason) == (S.EXCEPTION, ExceptionReason.WEATHER)
    assert outcome.shipment.next_poll_at == at + timedelta(hours=24)
    assert status_of(store, order.id) is OrderStatus.EXCEPTION


@pytest.mark.parametrize("status", list(S))
def test_next_poll_backs_off_by_status_and_stops_when_final(status):
    now = T0
    due = fulfilment.next_poll(status, None, now)
    if status in fulfilment.TRACKED:
        assert due == now + fulfilment.POLL_AFTER[status]
    else:
        assert due is None


def test_an_eta_far_away_is_still_checked_within_four_days():
    assert fulfilment.next_poll(S.IN_TRANSIT, T0 + timedelta(days=30), T0) == T0 + fulfilment.MAX_POLL_GAP
    assert fulfilment.next_poll(S.IN_TRANSIT, T0 - timedelta(days=1), T0) == T0 + fulfilment.POLL_AFTER[S.IN_TRANSIT]


def test_every_tracking_status_has_a_meaning():
    assert set(fulfilment.TRACKING_TO_SHIPMENT) == set(TrackingStatus)


# ------------------------------------------------------------------ the store under the engine


def test_reads_do_not_wait_for_a_writer(store):
    """A read gets a snapshot while another connection holds SQLite's write lock."""
    holding, release = threading.Event(), threading.Event()

    def writer():
        with store.transaction() as tx:
            stock_store.set_level(tx, "main", "SKU-A", 1, T0)
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with store.read() as conn:
            assert stock_store.levels(conn) == []  # the uncommitted write is not seen
        assert time.monotonic() - started < 2
    finally:
        release.set()
        thread.join()


def test_claiming_counts_the_attempt_before_the_work(store, allocated):
    _, shipment = allocated
    with store.transaction() as tx:
        (claimed,) = outbox.claim_due(tx, T0)
    assert (claimed.key, claimed.attempts) == (f"warehouse.submit:{shipment.id}", 1)
    with store.transaction() as tx:  # not finished (the process died): claimed again, as a second attempt
        (again,) = outbox.claim_due(tx, T0)
        assert again.attempts == 2
        outbox.finish(tx, again.id, T0, {"ref": "LF-1"})
    with store.transaction() as tx:
        assert outbox.claim_due(tx, T0 + timedelta(days=1)) == []
    with store.transaction() as tx:
        assert outbox.claim_due(tx, T0 - timedelta(seconds=1)) == []  # nothing is due before it was written


def test_the_shipment_model_round_trips_through_the_store(store, allocated, hooks):
    _, shipment = allocated
    shipped = packed_with_label(store, hooks, shipment)
    changed = attrs.evolve(shipped, channel_ref="F-1", exception_reason=ExceptionReason.ADDRESS,
                           est_delivery=T0 + timedelta(days=3))
    with store.transaction() as tx:
        shipment_store.save(tx, changed)
    with store.read() as conn:
        assert shipment_store.load(conn, shipment.id) == changed
        assert shipment_store.load_many(conn, [shipment.id, "nope"]) == {shipment.id: changed}
        raw = conn.execute(sa.text("SELECT rate_amount, tracking_code FROM shipments")).one()
    assert tuple(raw) == ("7.90", "9400TEST")


def test_a_hint_sooner_than_the_next_pass_is_not_worth_a_write(store, allocated, hooks):
    _, shipment = allocated
    with store.transaction() as tx:
        shipment = fulfilment.record_submission(tx, shipment, "LF-1", T0)
    soon = FulfillmentUpdate(ref="LF-1", status="submitted", at=T0, next_check_at=T0 + timedelta(minutes=30))
    with store.transaction() as tx:
        fulfilment.apply_warehouse_update(tx, hooks, shipment, soon, T0, source="warehouse:main",
                                          next_pass=T0 + timedelta(hours=1))
    with store.read() as conn:
        assert shipment_store.load(conn, shipment.id) == shipment  # nothing written
