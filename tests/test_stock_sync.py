"""The ``sync_stock`` job: a 3PL's stock in the table allocation reads, with the
reservations the 3PL has not seen kept, idle when nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fulfilhub import FulfillmentUpdate, StockLevel, TransientError, WarehouseType, hookimpl
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.engines import fulfilment
from fulfilhub.models import OrderStatus, ShipmentLine
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import orders as order_store
from fulfilhub.store import stock as stock_store

from .conftest import T0


class ThirdParty:
    """A 3PL that reports on hand, and as reserved what it holds committed (the plugins do it over HTTP)."""

    held: dict[str, tuple[int, int]] = {}  # sku -> (on hand, committed)
    asked: list[list[str]] = []
    down = False

    def __init__(self, context):
        self.name = context.name

    def stock_levels(self, skus):
        ThirdParty.asked.append(list(skus))
        if ThirdParty.down:
            raise TransientError("HTTP 503 from the 3PL", service=self.name)
        return [StockLevel(warehouse=self.name, sku=sku, on_hand=on_hand, reserved=committed)
                for sku, (on_hand, committed) in ThirdParty.held.items() if sku in skus]

    def submit(self, request):  # pragma: no cover
        return "R1"

    def status(self, ref):  # pragma: no cover
        return FulfillmentUpdate(ref=ref, status="submitted", at=T0)

    def cancel(self, ref):  # pragma: no cover
        pass

    def close(self):
        pass


class Plugin:
    @hookimpl
    def register_warehouse_types(self, register):
        register(WarehouseType(name="threepl", factory=ThirdParty, keeps_stock=True, ships_own_labels=True))


CONFIG = """
[store]
url = "sqlite:///{db}"

[warehouses.tpl]
type = "threepl"
[warehouses.tpl.address]
name = "3PL"
line1 = "1 Dock Rd"
city = "Cicero"
country = "US"
"""


@pytest.fixture
def rt(tmp_path):
    ThirdParty.held, ThirdParty.asked, ThirdParty.down = {}, [], False
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite"), encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    runtime = Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[Plugin()]),
                      clock=SimClock(T0))
    yield runtime
    runtime.close()
    store.close()


def level(rt, sku="TEA"):
    with rt.store.read() as conn:
        (found,) = stock_store.levels(conn, warehouses=["tpl"], skus=[sku])
    return found


def listed(rt, sku, safety=0):
    """The SKU is listed for the 3PL (``fulfilhub stock set``), with its safety stock."""
    with rt.store.transaction() as tx:
        stock_store.set_level(tx, "tpl", sku, 0, rt.clock.now(), safety_stock=safety)


def test_the_job_is_registered_and_pulls_what_the_3pl_can_still_send(rt):
    assert jobs.JOBS["sync_stock"] is jobs.sync_stock
    assert rt.warehouses_that("keeps_stock") == ["tpl"]
    listed(rt, "TEA", safety=2)
    ThirdParty.held = {"TEA": (10, 3)}  # 3 committed to orders fulfilhub never saw
    report = jobs.sync_stock(rt)
    assert report.counts == {"skus_changed": 1}
    assert report.errors == []
    tea = level(rt)
    assert (tea.on_hand, tea.reserved, tea.safety_stock, tea.available) == (7, 0, 2, 5)  # safety stock kept


def test_nothing_changed_nothing_written(rt):
    listed(rt, "TEA")
    ThirdParty.held = {"TEA": (10, 0)}
    jobs.sync_stock(rt)
    with rt.store.read() as conn:
        before = stock_store.changed_at(conn)
    rt.clock.advance(timedelta(hours=1))
    assert jobs.sync_stock(rt).counts == {"unchanged": 1}
    with rt.store.read() as conn:
        assert stock_store.changed_at(conn) == before  # backorders are not woken for nothing


def test_a_reservation_the_3pl_has_not_seen_stays_reserved_and_one_it_has_is_not_counted_twice(rt, make_order):
    listed(rt, "TEA")
    ThirdParty.held = {"TEA": (10, 0)}
    jobs.sync_stock(rt)
    order = make_order("1001", ("TEA", 3))
    with rt.store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
    with rt.store.transaction() as tx:  # allocated by fulfilhub, not yet sent to the 3PL
        (shipment,) = fulfilment.allocate(tx, None, order, OrderStatus.ACCEPTED,
                                          {"tpl": [ShipmentLine(sku="TEA", quantity=3, order_line_id="L0")]}, T0)
    jobs.sync_stock(rt)  # the 3PL still says 10 free: the 3 fulfilhub promised stay reserved
    assert (level(rt).on_hand, level(rt).reserved, level(rt).available) == (10, 3, 7)
    with rt.store.transaction() as tx:  # sent: the 3PL commits the 3 units
        fulfilment.record_submission(tx, shipment, "R1", T0)
    ThirdParty.held = {"TEA": (10, 3)}
    jobs.sync_stock(rt)
    assert (level(rt).on_hand, level(rt).reserved, level(rt).available) == (10, 3, 7)  # not counted twice
    ThirdParty.held = {"TEA": (10, 5)}  # another channel of the 3PL's took 2 more
    jobs.sync_stock(rt)
    assert level(rt).available == 5


def test_a_3pl_that_cannot_be_asked_keeps_the_last_levels(rt):
    listed(rt, "TEA")
    ThirdParty.held = {"TEA": (10, 0)}
    jobs.sync_stock(rt)
    ThirdParty.down = True
    report = jobs.sync_stock(rt)
    assert report.errors
    assert "the table keeps its last levels" in report.errors[0]
    assert level(rt).on_hand == 10


def test_a_sku_the_3pl_no_longer_carries_has_nothing_to_send(rt):
    listed(rt, "TEA")
    listed(rt, "MUG")
    ThirdParty.held = {"TEA": (10, 0), "MUG": (4, 0)}
    jobs.sync_stock(rt)
    ThirdParty.held = {"TEA": (10, 0)}
    jobs.sync_stock(rt)
    assert level(rt, "MUG").on_hand == 0


def test_skus_of_held_orders_are_asked_for_so_an_order_for_a_3pl_only_sku_is_released(rt, make_order):
    order = make_order("1002", ("BAG", 1))
    with rt.store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ON_HOLD, "unknown SKU BAG")], T0)
    ThirdParty.held = {"BAG": (6, 0)}
    jobs.sync_stock(rt)
    assert ThirdParty.asked == [["BAG"]]
    assert level(rt, "BAG").on_hand == 6


def test_allocation_reads_the_synced_table_not_the_live_3pl(rt, make_order):
    listed(rt, "TEA")
    ThirdParty.held = {"TEA": (10, 0)}
    order = make_order("1003", ("TEA", 2))
    with rt.store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
    jobs.allocate(rt)  # before any sync the table holds nothing for the 3PL: backordered, not oversold
    with rt.store.read() as conn:
        assert order_store.row(conn, order.id).status == "backordered"
    rt.clock.advance(timedelta(minutes=10))
    jobs.sync_stock(rt)
    rt.clock.advance(timedelta(minutes=1))
    jobs.allocate(rt)
    with rt.store.read() as conn:
        assert order_store.row(conn, order.id).status == "allocated"
    assert (level(rt).on_hand, level(rt).reserved) == (10, 2)
