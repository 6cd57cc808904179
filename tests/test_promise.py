"""The promise engine: the calendar's edges, the fallback levels, stored revisions, carrier
choice against the promise, the adjust hook and the [promise] config.

Real SQLite store, the real TransitModel (fed shipments directly), no network.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
import sqlalchemy as sa

from fulfilhub import hookimpl
from fulfilhub.config import from_mapping
from fulfilhub.engines import promise as promise_engine
from fulfilhub.engines.promise import CannotPromise, PromiseEngine, QuoteRequest, describe_range
from fulfilhub.errors import ConfigError
from fulfilhub.models import Address, ChannelPromise, Money, OrderStatus, Promise, Rate
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store
from fulfilhub.store import stock as stock_store

LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")
TO_SF = Address(name="Ada", line1="1 Main St", city="San Francisco", province="CA", postal_code="94105", country="US")
TO_LA = Address(name="Bo", line1="2 Main St", city="Los Angeles", province="CA", postal_code="90012", country="US")
TO_TX = Address(name="Cy", line1="3 Main St", city="Austin", province="TX", postal_code="73301", country="US")
TO_HI = Address(name="Di", line1="4 Main St", city="Honolulu", province="HI", postal_code="96813", country="US")
WAREHOUSES = {
    "west": {"type": "local", "address": {"name": "West", "line1": "1 Dock", "city": "Reno", "province": "NV",
                                          "postal_code": "89502", "country": "US"}},
    "east": {"type": "local", "address": {"name": "East", "line1": "2 Dock", "city": "Newark", "province": "NJ",
                                          "postal_code": "07114", "country": "US"}},
}
CALENDARS = {"west": {"timezone": "America/Los_Angeles", "cutoff": "14:00", "handling_days": 0, "holidays": "US-NV"},
             "east": {"timezone": "America/New_York", "cutoff": "14:00", "handling_days": 0, "holidays": "US-NJ"}}


def config(promise: dict | None = None, tmp: Path = Path("fulfilhub.toml")):
    return from_mapping({"warehouses": WAREHOUSES, "promise": {"warehouses": CALENDARS, **(promise or {})}},
                        path=tmp, env={})


def engine(hooks: Hooks | None = None, **promise) -> PromiseEngine:
    cfg = config(promise)
    return PromiseEngine(cfg.promise, {name: Address(**wh["address"]) for name, wh in WAREHOUSES.items()}, hooks=hooks)


@pytest.fixture
def stocked(store):
    with store.transaction() as tx:
        for warehouse in ("west", "east"):
            stock_store.set_level(tx, warehouse, "TEE", 50, datetime(2026, 1, 1, tzinfo=timezone.utc))
    return store


def quote(store, eng: PromiseEngine, at: datetime, to: Address = TO_SF, **kw) -> Promise:
    with store.read() as conn:
        return eng.quote(QuoteRequest(lines=[("TEE", 1)], ship_to=to, at=at, **kw), conn=conn)


def teach(eng: PromiseEngine, warehouse: str, to: Address, days: tuple[float, float], n: int, *, carrier: str = "USPS",
          service: str = "Priority", end: datetime = datetime(2026, 5, 1, tzinfo=timezone.utc), seed: int = 1,
          prefix: str = "") -> None:
    """``n`` deliveries from ``warehouse`` to ``to``, each ``days`` (uniform) in transit, before ``end``."""
    rnd = random.Random(seed)
    for i in range(n):
        shipped = end - timedelta(days=40) + timedelta(hours=i * 6)
        eng.observe(f"{prefix}{warehouse}-{to.postal_code}-{carrier}-{service}-{i}", warehouse, to, carrier, service,
                    shipped, shipped + timedelta(days=rnd.uniform(*days)))


# --------------------------------------------------------------------------- the calendar's edges


def test_an_order_at_13_59_ships_today_one_at_14_01_the_next_working_day(stocked):
    eng = engine()
    before = quote(stocked, eng, datetime(2026, 5, 12, 13, 59, tzinfo=LA), warehouse="west")
    after = quote(stocked, eng, datetime(2026, 5, 12, 14, 1, tzinfo=LA), warehouse="west")
    assert before.ship_by == datetime(2026, 5, 12, 14, 0, tzinfo=LA)
    assert after.ship_by == datetime(2026, 5, 13, 14, 0, tzinfo=LA)
    assert "after the 14:00 cut-off" in after.basis and "cut-off" not in before.basis


def test_friday_after_the_cut_off_ships_on_monday_and_says_weekend(stocked):
    p = quote(stocked, engine(), datetime(2026, 5, 15, 16, 30, tzinfo=LA), warehouse="west")  # a Friday
    assert p.ship_by == datetime(2026, 5, 18, 14, 0, tzinfo=LA)
    assert p.ship_by.strftime("%a") == "Mon"
    assert "after the 14:00 cut-off" in p.basis and "weekend" in p.basis


def test_a_monday_holiday_moves_ship_by_to_tuesday_and_names_it(stocked):
    # Memorial Day, Monday 25 May 2026, from the holidays library (US-NV)
    p = quote(stocked, engine(), datetime(2026, 5, 22, 15, 0, tzinfo=LA), warehouse="west")
    assert p.ship_by == datetime(2026, 5, 26, 14, 0, tzinfo=LA)
    assert "Memorial Day closure" in p.basis


def test_a_configured_closure_and_handling_days_count_working_days_only(stocked):
    eng = engine(warehouses={**CALENDARS, "west": {**CALENDARS["west"], "handling_days": 2,
                                                   "closures": ["2026-12-24"]}})
    # Wed 23 Dec 10:00: day 0 Wed; +1 working day skips Thu 24 (closure) and Fri 25 (Christmas): Mon 28; +1: Tue 29
    p = quote(stocked, eng, datetime(2026, 12, 23, 10, 0, tzinfo=LA), warehouse="west")
    assert p.ship_by == datetime(2026, 12, 29, 14, 0, tzinfo=LA)
    assert "warehouse closure" in p.basis and "Christmas Day closure" in p.basis


def test_a_week_with_a_dst_change_keeps_the_cut_off_at_14_00_wall_clock(stocked):
    eng = engine(warehouses={**CALENDARS, "west": {**CALENDARS["west"], "handling_days": 1}})
    # DST starts Sun 8 Mar 2026 in Los Angeles: Fri 6 Mar is PST (-8), Mon 9 Mar PDT (-7)
    fri = quote(stocked, eng, datetime(2026, 3, 5, 10, 0, tzinfo=LA), warehouse="west")  # Thu -> ships Fri
    mon = quote(stocked, eng, datetime(2026, 3, 6, 10, 0, tzinfo=LA), warehouse="west")  # Fri -> ships Mon
    assert fri.ship_by.astimezone(timezone.utc) == datetime(2026, 3, 6, 22, 0, tzinfo=timezone.utc)
    assert mon.ship_by.astimezone(timezone.utc) == datetime(2026, 3, 9, 21, 0, tzinfo=timezone.utc)
    assert mon.ship_by.astimezone(LA).hour == 14 and fri.ship_by.astimezone(LA).hour == 14


def test_warehouse_and_customer_in_different_time_zones(stocked):
    eng = engine()
    teach(eng, "east", TO_HI, (1.0, 1.2), 40)  # a day in transit, New York -> Honolulu
    # 13:30 in Los Angeles is 16:30 in New York: past east's cut-off
    p = quote(stocked, eng, datetime(2026, 5, 12, 13, 30, tzinfo=LA), to=TO_HI, warehouse="east")
    assert p.ship_by == datetime(2026, 5, 13, 14, 0, tzinfo=NY)  # Wed 14:00 New York = Wed 08:00 Honolulu
    assert p.timezone == "Pacific/Honolulu"
    hi = ZoneInfo("Pacific/Honolulu")
    assert p.deliver_by.astimezone(hi).date() == date(2026, 5, 14)  # ~1.2 days after Wed 08:00 HST
    assert (p.deliver_by.astimezone(hi).hour, p.deliver_by.astimezone(hi).minute) == (23, 59)
    assert p.deliver_from.astimezone(hi).hour == 0
    assert describe_range(p) == "arrives Thu 14 May"


# --------------------------------------------------------------------------- the range and fallback levels


def test_no_history_falls_back_to_the_default_then_the_carriers_stated_transit(stocked):
    eng = engine(default_transit_days=6)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    default = quote(stocked, eng, at, warehouse="west")
    assert default.level == "default" and "default of 6 day(s)" in default.basis
    assert default.deliver_by.date() == date(2026, 5, 18) and (default.confidence_from, default.confidence_by) == (0, 0)
    rate = Rate(carrier="easypost", carrier_name="USPS", service="Priority", amount=Money(amount="7", currency="USD"),
                rate_id="r1", shipment_ref="s", transit_days=2)
    stated = quote(stocked, eng, at, warehouse="west", rate=rate)
    assert stated.level == "stated" and "the carrier's stated 2 day(s) in transit" in stated.basis
    assert stated.deliver_by.date() == date(2026, 5, 14)
    assert (stated.carrier, stated.service) == ("easypost", "Priority")


def test_thin_history_falls_back_lane_region_service_all_and_says_which(stocked):
    eng = engine()
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    teach(eng, "west", TO_SF, (1.0, 3.0), 25)  # USPS Priority west -> 941: enough for the postal level
    teach(eng, "west", TO_SF, (5.0, 6.0), 10, carrier="UPS", service="Ground")  # too few for anything but all
    usps = {"carrier": "USPS", "service": "Priority"}
    assert quote(stocked, eng, at, to=TO_SF, warehouse="west", **usps).level == "postal"
    assert quote(stocked, eng, at, to=TO_LA, warehouse="west", **usps).level == "lane"  # 900: same lane, other prefix
    assert quote(stocked, eng, at, to=TO_LA, warehouse="east", **usps).level == "region"  # other origin, same region
    assert quote(stocked, eng, at, to=TO_TX, warehouse="west", **usps).level == "service"  # other region
    ups = quote(stocked, eng, at, to=TO_SF, warehouse="west", carrier="UPS", service="Ground")
    assert ups.level == "all" and "35 deliveries" in ups.basis
    learned = quote(stocked, eng, at, to=TO_SF, warehouse="west", **usps)
    assert "25 deliveries" in learned.basis and "(postal level)" in learned.basis
    assert learned.basis.startswith("USPS Priority, west → US-CA: ")
    # 1-3 days in transit, shipped Tue 14:00: the median parcel arrives Thu, 95 % by Fri
    assert (learned.deliver_from.date(), learned.deliver_by.date()) == (date(2026, 5, 14), date(2026, 5, 15))
    assert 0 < learned.confidence_from < learned.confidence_by <= 1
    assert learned.confidence_by >= 0.95


def test_when_only_a_lower_bound_is_learned_a_longer_default_counts(stocked):
    eng = engine(default_transit_days=9)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    teach(eng, "west", TO_SF, (1.0, 1.5), 20, end=at - timedelta(days=8))
    for i in range(40):  # a slowdown: everything shipped in the last 6 days is still on its way
        eng.observe(f"slow-{i}", "west", TO_SF, "USPS", "Priority", at - timedelta(days=6, hours=i), None)
    p = quote(stocked, eng, at, warehouse="west")
    assert "take at least" in p.basis and "so the configured default of 9 day(s) counts" in p.basis
    assert p.deliver_by.date() == (p.ship_by + timedelta(days=9)).date()


def test_without_a_carrier_the_promise_rests_on_every_service_the_lane_was_shipped_with(stocked):
    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 1.5), 30, carrier="USPS", service="Express")
    teach(eng, "west", TO_SF, (4.0, 5.0), 30, carrier="USPS", service="Ground", seed=2)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    mixed = quote(stocked, eng, at, warehouse="west")
    fast = quote(stocked, eng, at, warehouse="west", carrier="USPS", service="Express")
    assert mixed.basis.startswith("all services, west → US-CA: 60 deliveries")
    assert fast.deliver_by < mixed.deliver_by


def test_the_quote_picks_the_warehouse_with_the_earliest_promise(stocked):
    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 2.0), 30)
    teach(eng, "east", TO_SF, (4.0, 6.0), 30)
    p = quote(stocked, eng, datetime(2026, 5, 12, 9, 0, tzinfo=LA))
    assert "west → US-CA" in p.basis


def test_a_backordered_line_moves_ship_by_to_its_restock_date_else_no_promise(store):
    eng = engine()
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    with store.transaction() as tx:
        stock_store.set_level(tx, "west", "TEE", 0, at)
    with pytest.raises(CannotPromise, match="TEE: not enough in stock .* no restock date known"):
        quote(store, eng, at)
    with store.transaction() as tx:
        stock_store.set_level(tx, "west", "TEE", 0, at, restock_on=date(2026, 5, 20))
    p = quote(store, eng, at)
    assert p.ship_by == datetime(2026, 5, 20, 14, 0, tzinfo=LA)  # handling 0: ships the day it arrives
    assert "TEE backordered until Wed 20 May" in p.basis


def test_a_quote_reads_only_the_stock_never_the_shipment_history(stocked):
    eng = engine()
    teach(eng, "west", TO_SF, (2.0, 3.0), 30)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(stocked.engine, "before_cursor_execute", seen)
    try:
        quote(stocked, eng, datetime(2026, 5, 12, 9, 0, tzinfo=LA))
    finally:
        sa.event.remove(stocked.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "FROM stock" in reads[0] and "shipments" not in reads[0]


# --------------------------------------------------------------------------- stored promises


def test_the_promise_is_stored_once_and_revised_only_later_with_a_reason(stocked, make_order):
    eng = engine()
    order = make_order("2001", ("TEE", 1))
    order = attrs.evolve(order, ship_to=TO_SF)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    with stocked.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], at)
        first = promise_engine.promise_order(tx, eng, order, OrderStatus.ACCEPTED, at=at)
    assert first.revision == 1 and first.reason == "accepted"
    with stocked.transaction() as tx:  # the same facts later: nothing new, nothing changed
        same = promise_engine.revise_later(tx, eng, order, OrderStatus.ACCEPTED, at=at, reason="looked again")
    assert same == first
    # the stock went and comes back on the 20th: ship-by moves, a second revision with its reason
    with stocked.transaction() as tx:
        stock_store.set_level(tx, "west", "TEE", 0, at, restock_on=date(2026, 5, 20))
        stock_store.set_level(tx, "east", "TEE", 0, at, restock_on=date(2026, 5, 21))
        revised = promise_engine.revise_later(tx, eng, order, OrderStatus.BACKORDERED, at=at,
                                              reason="backordered: not enough stock across warehouses")
    assert revised.revision == 2 and revised.ship_by == datetime(2026, 5, 20, 14, 0, tzinfo=LA)
    assert revised.reason == "backordered: not enough stock across warehouses"
    with stocked.read() as conn:
        history = promise_store.history(conn, order.id)
        events = [e for e in order_store.events_of(conn, order.id) if e.kind == "promise"]
    assert [p.revision for p in history] == [1, 2]
    assert history[0] == first  # revision 1 untouched
    assert [e.data["revision"] for e in events] == [1, 2]
    assert events[0].reason.startswith("promised: ship by Tue 12 May 14:00 EDT, arrives")  # east ships earliest
    assert events[1].reason.startswith("revision 2: ship by Wed 20 May") and "backordered" in events[1].reason


def test_an_order_that_cannot_be_promised_gets_a_note_and_no_promise(store, make_order):
    eng = engine()
    order = attrs.evolve(make_order("2002", ("GONE", 1)), ship_to=TO_SF)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    with store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], at)
        assert promise_engine.promise_order(tx, eng, order, OrderStatus.ACCEPTED, at=at) is None
    with store.read() as conn:
        assert promise_store.current(conn, order.id) is None
        (note,) = [e for e in order_store.events_of(conn, order.id) if e.kind == "note"]
    assert note.reason.startswith("no promise yet: GONE: not enough in stock")


# --------------------------------------------------------------------------- carrier choice


def rate(rate_id: str, amount: str, service: str) -> Rate:
    return Rate(carrier="easypost", carrier_name="USPS", service=service, amount=Money(amount=amount, currency="USD"),
                rate_id=rate_id, shipment_ref="shp")


def test_choose_rate_takes_the_cheapest_that_meets_the_promise_else_the_fastest(make_order):
    hooks = Hooks(PluginManager(load_installed=False))
    by = datetime(2026, 5, 15, 23, 59, tzinfo=LA)
    promised = Promise(created_at=by - timedelta(days=5), ship_by=by - timedelta(days=4), deliver_from=by - timedelta(days=1),
                       deliver_by=by)
    rates = [rate("ground", "5.00", "Ground"), rate("priority", "8.00", "Priority"), rate("express", "25.00", "Express")]
    arrive = {"ground": by + timedelta(days=2), "priority": by - timedelta(days=1), "express": by - timedelta(days=2)}
    order = make_order()
    chosen = hooks.choose_rate(order=order, shipment_id="s/1", rates=rates, promise=promised, arrive_by=arrive)
    assert chosen.rate_id == "priority"  # ground is cheaper but late
    late = {"ground": by + timedelta(days=4), "priority": by + timedelta(days=2), "express": by + timedelta(days=1)}
    assert hooks.choose_rate(order=order, shipment_id="s/1", rates=rates, promise=promised, arrive_by=late).rate_id == "express"
    # no promise: the cheapest, as before
    assert hooks.choose_rate(order=order, shipment_id="s/1", rates=rates, promise=None, arrive_by={}).rate_id == "ground"


def test_a_chosen_rate_later_than_promised_is_noted_and_revises_the_promise(stocked, make_order):
    eng = engine()
    teach(eng, "west", TO_SF, (5.0, 6.0), 30, carrier="USPS", service="Ground")
    order = attrs.evolve(make_order("2003", ("TEE", 1)), ship_to=TO_SF)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    with stocked.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], at)
        first = promise_engine.store_promise(tx, Promise(
            order_id=order.id, created_at=at, ship_by=datetime(2026, 5, 12, 14, 0, tzinfo=LA),
            deliver_from=datetime(2026, 5, 13, 0, 0, tzinfo=LA), deliver_by=datetime(2026, 5, 14, 23, 59, tzinfo=LA),
            timezone="America/Los_Angeles", reason="accepted"), OrderStatus.ACCEPTED)[0]
    from fulfilhub.models import Shipment, ShipmentLine, ShipmentStatus

    shipment = Shipment(id=f"{order.id}/1", order_id=order.id, warehouse="west", status=ShipmentStatus.PACKED,
                        lines=[ShipmentLine(sku="TEE", quantity=1)], created_at=at, modified_at=at)
    ground = rate("ground", "5.00", "Ground")
    arrival = eng.arrival(shipment, TO_SF, ground, now=at, promise=first)
    assert arrival.date() == date(2026, 5, 18)  # 6 days learned
    with stocked.transaction() as tx:
        now = promise_engine.record_choice(tx, eng, order, shipment, ground, [ground], {"ground": arrival}, first, at=at)
    assert now.revision == 2 and now.deliver_by == arrival and (now.carrier, now.service) == ("easypost", "Ground")
    assert now.reason == "carrier chosen: USPS Ground is slower than promised (no quoted rate meets the promise; the fastest)"
    with stocked.read() as conn:
        notes = [e.reason for e in order_store.events_of(conn, order.id) if e.kind == "note"]
    assert notes == [f"chose USPS Ground (5.00 USD) for {shipment.id}, expected by Mon 18 May: later than promised "
                     "(arrives Wed 13 – Thu 14 May); no quoted rate meets the promise; the fastest"]
    # an order whose marketplace promised the 15th: the revision never promises later than that
    marketplace = attrs.evolve(order, external_id="2009", channel_promise=ChannelPromise(
        deliver_by=datetime(2026, 5, 15, 23, 59, tzinfo=LA)))
    with stocked.transaction() as tx:
        order_store.insert(tx, [(marketplace, OrderStatus.ACCEPTED, None)], at)
        held = promise_engine.store_promise(tx, attrs.evolve(first, order_id=marketplace.id), OrderStatus.ACCEPTED)[0]
        capped = promise_engine.record_choice(tx, eng, marketplace, attrs.evolve(shipment, order_id=marketplace.id),
                                              ground, [ground], {"ground": arrival}, held, at=at)
    assert capped.deliver_by == datetime(2026, 5, 15, 23, 59, tzinfo=LA)
    assert capped.reason.endswith("the channel's own deliver-by (Fri 15 May) stands")
    assert "deliver-by held to the channel's own (Fri 15 May, expected Mon 18 May)" in capped.basis


# --------------------------------------------------------------------------- the adjust hook


class Engraving:
    @hookimpl
    def adjust_promise(self, order, promise):
        if order is None:
            return None
        if any(line.sku == "VETO" for line in order.lines):
            return False
        two = timedelta(days=2)
        return attrs.evolve(promise, ship_by=promise.ship_by + two, deliver_from=promise.deliver_from + two,
                            deliver_by=promise.deliver_by + two, reason="two extra days for engraving")


def test_a_plugin_adjusts_or_vetoes_a_promise(stocked, make_order):
    hooks = Hooks(PluginManager(load_installed=False, extra=[Engraving()]))
    plain, eng = engine(), engine(hooks)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    order = attrs.evolve(make_order("2004", ("TEE", 1)), ship_to=TO_SF)
    with stocked.read() as conn:
        before = plain.for_order(order, conn=conn, at=at)
        after = eng.for_order(order, conn=conn, at=at)
        quoted = eng.quote(QuoteRequest(lines=[("TEE", 1)], ship_to=TO_SF, at=at), conn=conn)  # order None: as is
    assert after.ship_by == before.ship_by + timedelta(days=2)
    assert after.reason == "accepted; two extra days for engraving" and after.order_id == order.id
    assert quoted.deliver_by == before.deliver_by
    vetoed = attrs.evolve(order, external_id="2005", lines=[attrs.evolve(order.lines[0], sku="VETO")])
    with stocked.transaction() as tx:
        stock_store.set_level(tx, "west", "VETO", 5, at)
    with stocked.read() as conn, pytest.raises(CannotPromise, match="a plugin vetoed the promise"):
        eng.for_order(vetoed, conn=conn, at=at)
    # stored: what the engine computed is revision 1, the plugin's adjustment revision 2 with its reason
    with stocked.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None), (vetoed, OrderStatus.ACCEPTED, None)], at)
        in_force = promise_engine.promise_order(tx, eng, order, OrderStatus.ACCEPTED, at=at)
        assert promise_engine.promise_order(tx, eng, vetoed, OrderStatus.ACCEPTED, at=at) is None
    with stocked.read() as conn:
        history = promise_store.history(conn, order.id)
        sources = [e.source for e in order_store.events_of(conn, order.id) if e.kind == "promise"]
        assert promise_store.current(conn, vetoed.id) is None
        notes = [e.reason for e in order_store.events_of(conn, vetoed.id) if e.kind == "note"]
    assert [(p.revision, p.reason) for p in history] == [(1, "accepted"), (2, "two extra days for engraving")]
    assert history[1].same_terms(after) and history[0].same_terms(before) and in_force == history[1]
    assert sources == ["promise", "plugin"]
    assert notes and notes[0].startswith("no promise yet: a plugin vetoed the promise")


def test_a_marketplaces_own_promise_is_never_promised_later_and_the_basis_says_so(stocked, make_order):
    eng = engine(default_transit_days=6)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    order = attrs.evolve(make_order("2006", ("TEE", 1)), ship_to=TO_SF)
    with stocked.read() as conn:
        ours = eng.for_order(order, conn=conn, at=at)
    # the marketplace promised the customer a day earlier than we would, and ship-by an hour earlier
    held = ChannelPromise(ship_from=at, ship_by=ours.ship_by - timedelta(hours=1),
                          deliver_from=ours.deliver_from - timedelta(days=3), deliver_by=ours.deliver_by - timedelta(days=1))
    promised = attrs.evolve(order, external_id="2007", channel_promise=held)
    with stocked.transaction() as tx:
        order_store.insert(tx, [(promised, OrderStatus.ACCEPTED, None)], at)
    with stocked.read() as conn:
        stored = order_store.load(conn, promised.id)[0]
    assert stored.channel_promise == held  # kept in the store, times exact
    with stocked.transaction() as tx:
        made = promise_engine.promise_order(tx, eng, stored, OrderStatus.ACCEPTED, at=at)
    assert made.deliver_by == held.deliver_by
    assert made.ship_by == held.ship_by
    assert made.deliver_from <= made.deliver_by
    assert "deliver-by held to the channel's own" in made.basis
    assert "ship-by held to the channel's own" in made.basis
    applied = eng.explain(made)[-1]
    assert applied.startswith("applied: ") and "deliver-by held to the channel's own" in applied
    # a channel promise later than ours changes nothing: ours is the earlier
    generous = attrs.evolve(order, external_id="2008", channel_promise=ChannelPromise(
        ship_by=ours.ship_by + timedelta(days=2), deliver_by=ours.deliver_by + timedelta(days=5)))
    with stocked.read() as conn:
        same = eng.for_order(generous, conn=conn, at=at)
    assert same.same_terms(ours)
    assert same.basis == ours.basis


def test_a_channel_promise_must_be_aware_and_in_order():
    start = datetime(2026, 5, 12, 9, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="timezone"):
        ChannelPromise(ship_by=datetime(2026, 5, 12, 9, 0))
    with pytest.raises(ValueError, match="deliver_by .* is before deliver_from"):
        ChannelPromise(deliver_from=start, deliver_by=start - timedelta(days=1))


# --------------------------------------------------------------------------- config


def test_promise_config_defaults_when_absent():
    cfg = from_mapping({"warehouses": WAREHOUSES}, path=Path("f.toml"), env={})
    assert (cfg.promise.target, cfg.promise.default_transit_days, cfg.promise.half_life) == (0.95, 5, timedelta(days=30))
    cal = cfg.promise.calendar("west")
    assert (cal.timezone, f"{cal.cutoff:%H:%M}", cal.handling_days, sorted(cal.working_days), cal.holidays) == (
        "UTC", "14:00", 1, [0, 1, 2, 3, 4], "")


@pytest.mark.parametrize("promise, key, message", [
    ({"target": 1.5}, "promise.target", "expected a share from 0.5 to below 1"),
    ({"half_life": "a month"}, "promise.half_life", "expected a positive duration"),
    ({"default_transit_days": 0}, "promise.default_transit_days", "from 1 to 365"),
    ({"targets": 0.9}, "promise.targets", "unknown setting 'targets'; did you mean 'target'?"),
    ({"warehouses": {"wset": {}}}, "promise.warehouses.wset", "no warehouse 'wset' is configured; did you mean 'west'?"),
    ({"warehouses": {"west": {"cutoff": "2pm"}}}, "promise.warehouses.west.cutoff", 'like "14:00"'),
    ({"warehouses": {"west": {"timezone": "Pacific/Atlantis"}}}, "promise.warehouses.west.timezone", "IANA time zone"),
    ({"warehouses": {"west": {"working_days": "Fri-Mon"}}}, "promise.warehouses.west.working_days", "runs backwards"),
    ({"warehouses": {"west": {"holidays": "XX"}}}, "promise.warehouses.west.holidays", "knows no country 'XX'"),
    ({"warehouses": {"west": {"holidays": "US-ZZ"}}}, "promise.warehouses.west.holidays", "US has no subdivision 'ZZ'"),
    ({"warehouses": {"west": {"closures": ["24/12/2026"]}}}, "promise.warehouses.west.closures[0]", 'like "2026-12-24"'),
    ({"warehouses": {"west": {"handling_days": -1}}}, "promise.warehouses.west.handling_days", "from 0 to 365"),
])
def test_promise_config_errors_name_the_file_and_key(promise, key, message):
    with pytest.raises(ConfigError) as info:
        from_mapping({"warehouses": WAREHOUSES, "promise": promise}, path=Path("shop.toml"), env={})
    text = str(info.value)
    assert text.startswith(f"shop.toml: [{key}] ") and message in text, text


def test_working_days_accept_ranges_and_lists():
    cfg = config({"warehouses": {"west": {"working_days": ["Mon", "Wed-Fri", "Sun"]}, "east": {"working_days": "Mon-Sat"}}})
    assert sorted(cfg.promise.calendar("west").working_days) == [0, 2, 3, 4, 6]
    assert sorted(cfg.promise.calendar("east").working_days) == [0, 1, 2, 3, 4, 5]


def test_the_engines_one_curve_answers_are_the_transit_models_own():
    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 4.0), 60)
    for i in range(15):  # some still on their way
        eng.observe(f"flying-{i}", "west", TO_SF, "USPS", "Priority", datetime(2026, 4, 29, i, tzinfo=timezone.utc), None)
    now = datetime(2026, 5, 2, tzinfo=timezone.utc)
    for model, lane in zip((eng.by_service, eng.any_service), eng.lanes("west", TO_SF, "USPS", "Priority")):
        answer = model.answer(lane, now=now)
        assert answer.quantiles([0.5, 0.95]) == model.quantiles(lane, [0.5, 0.95], now=now)
        for days in (0.0, 1.5, 2.75, 3.9, 10.0):
            assert answer.share_within(days) == model.share_within(lane, days, now=now)[0]


def test_the_engine_forgets_delivered_refs_and_keeps_those_in_flight():
    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 4.0), 30)
    eng.observe("flying", "west", TO_SF, "USPS", "Priority", datetime(2026, 4, 29, tzinfo=timezone.utc), None)
    assert len(eng.by_service) == len(eng.any_service) == 1  # only the parcel on its way is held by ref
    now = datetime(2026, 5, 2, tzinfo=timezone.utc)
    lane = eng.lanes("west", TO_SF, "USPS", "Priority")[0]
    assert eng.by_service.answer(lane, now=now).quantiles([0.5])[0].delivered == 30


def test_reading_holds_the_models_still_while_another_thread_would_change_them():
    import threading

    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 4.0), 30)
    lane = eng.lanes("west", TO_SF, "USPS", "Priority")[0]
    now = datetime(2026, 5, 2, tzinfo=timezone.utc)
    late = datetime(2026, 4, 20, tzinfo=timezone.utc)
    writer = threading.Thread(target=lambda: eng.observe("late", "west", TO_SF, "USPS", "Priority", late,
                                                         late + timedelta(days=9)))
    with eng.reading():
        before = eng.by_service.quantile(lane, 0.5, now=now)
        writer.start()
        writer.join(timeout=0.2)
        assert writer.is_alive()  # the delivery waits for the reader
        assert eng.by_service.quantile(lane, 0.5, now=now) == before
    writer.join(timeout=5)
    assert eng.by_service.quantile(lane, 0.5, now=now).delivered == before.delivered + 1


def test_the_configuration_page_states_the_real_promise_defaults():
    from fulfilhub.config import CALENDAR_KEYS, PROMISE_KEYS, CalendarConfig, PromiseConfig

    text = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    promise_part = text[text.index("## [promise]"):text.index("### [promise.warehouses.NAME]")]
    calendar_part = text[text.index("### [promise.warehouses.NAME]"):text.index("## Instances")]

    def rows(part: str) -> dict[str, str]:
        return {line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
                for line in part.splitlines() if line.startswith("| `")}

    documented = rows(promise_part)
    assert set(documented) == set(PROMISE_KEYS) - {"warehouses"}
    defaults = PromiseConfig()
    assert float(documented["target"].strip("`")) == defaults.target
    assert int(documented["default_transit_days"].strip("`")) == defaults.default_transit_days
    assert documented["half_life"] == '`"30d"`' and defaults.half_life == timedelta(days=30)
    calendar = rows(calendar_part)
    assert set(calendar) == set(CALENDAR_KEYS)
    cal = CalendarConfig()
    assert calendar["timezone"] == f'`"{cal.timezone}"`' and calendar["cutoff"] == f'`"{cal.cutoff:%H:%M}"`'
    assert calendar["handling_days"] == f"`{cal.handling_days}`" and calendar["working_days"] == '`"Mon-Fri"`'
    assert sorted(cal.working_days) == [0, 1, 2, 3, 4] and calendar["holidays"] == "none" and not cal.holidays


def test_the_engine_learns_a_parcel_in_flight_then_delivered_once_and_forgets_a_cancelled_one():
    from fulfilhub.models import Label, Shipment, ShipmentLine, ShipmentStatus

    eng = engine()
    at = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
    label = Label(carrier="easypost", carrier_name="USPS", service="Priority", tracking_code="T1",
                  cost=Money(amount="5", currency="USD"), shipment_ref="shp")

    def shipment(n: int, status: ShipmentStatus, **kw) -> Shipment:
        return Shipment(id=f"shop:1/{n}", order_id="shop:1", warehouse="west", status=status,
                        lines=[ShipmentLine(sku="TEE", quantity=1)], created_at=at, modified_at=at, label=label,
                        shipped_at=at, **kw)

    eng.shipped(shipment(1, ShipmentStatus.LABEL_PURCHASED), TO_SF)
    eng.shipped(shipment(2, ShipmentStatus.LABEL_PURCHASED), TO_SF)
    assert (eng.delivered, eng.in_flight) == (0, 2)
    delivered = shipment(1, ShipmentStatus.DELIVERED, delivered_at=at + timedelta(days=2))
    eng.tracked(delivered)
    eng.tracked(delivered)  # told twice (a retried poll): learned once
    eng.tracked(shipment(2, ShipmentStatus.CANCELLED))
    assert (eng.delivered, eng.in_flight) == (1, 0)
    lane, anyway = eng.lanes("west", TO_SF, "USPS", "Priority")
    assert eng.by_service.min_delivered == 20  # one delivery is too thin to answer, but it is held once:
    eng.by_service.min_delivered = eng.any_service.min_delivered = 1
    for model, key in ((eng.by_service, lane), (eng.any_service, anyway)):
        estimate = model.quantile(key, 0.95, now=at + timedelta(days=3))
        assert (estimate.delivered, estimate.in_flight, round(estimate.days)) == (1, 0, 2)


class Broken:
    @hookimpl
    def adjust_promise(self, order, promise):
        raise RuntimeError("plugin bug")


def test_a_failure_while_promising_notes_the_order_and_does_not_stop_its_intake(stocked, make_order, caplog):
    eng = engine(Hooks(PluginManager(load_installed=False, extra=[Broken()])))
    order = attrs.evolve(make_order("2010", ("TEE", 1)), ship_to=TO_SF)
    at = datetime(2026, 5, 12, 9, 0, tzinfo=LA)
    with stocked.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], at)
        assert promise_engine.promise_order(tx, eng, order, OrderStatus.ACCEPTED, at=at) is None
    with stocked.read() as conn:
        assert order_store.row(conn, order.id).status == OrderStatus.ACCEPTED
        (note,) = [e.reason for e in order_store.events_of(conn, order.id) if e.kind == "note"]
    assert note == "no promise yet: computing it failed (RuntimeError: plugin bug); allocation tries again"
    assert "the promise could not be computed" in caplog.text


def test_explain_names_the_history_the_quantiles_the_calendar_and_what_was_applied(stocked):
    eng = engine()
    teach(eng, "west", TO_SF, (1.0, 3.0), 25)
    after = quote(stocked, eng, datetime(2026, 5, 12, 15, 0, tzinfo=LA), warehouse="west", carrier="USPS",
                  service="Priority")
    lines = eng.explain(after)
    assert lines[0].startswith("history: USPS Priority, west → US-CA: 25 deliveries") and "(postal level)" in lines[0]
    assert lines[1] == ("quantile: deliver-from at the 50% share, deliver-by at the 95% share of transit, "
                        "in calendar days counted from ship-by")
    assert lines[2] == ("calendar: west ships Mon, Tue, Wed, Thu, Fri (America/Los_Angeles); public holidays: "
                        "US-NV; cut-off 14:00, 0 handling day(s)")
    assert lines[3] == "applied: after the 14:00 cut-off"
    before = quote(stocked, engine(), datetime(2026, 5, 12, 9, 0, tzinfo=LA), warehouse="east")
    why = engine().explain(before)
    assert why[1].startswith("quantile: none (no history to learn from: default transit)")
    assert why[2].startswith("calendar: east ships") and why[3].startswith("applied: nothing")
