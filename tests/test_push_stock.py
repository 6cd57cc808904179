"""The ``push_stock`` job and the inventory functions it uses: sellable quantities, told once each."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from fulfilhub import ChannelType, ConfigError, OrderPage, StockLevel, StockPusher, TransientError, capabilities, hookimpl
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.engines import inventory
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import stock as stock_store

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)


def test_sellable_is_on_hand_less_reserved_and_safety_summed_over_warehouses_never_negative():
    levels = [StockLevel(warehouse="east", sku="TEA", on_hand=10, reserved=3, safety_stock=2),
              StockLevel(warehouse="west", sku="TEA", on_hand=4, reserved=0, safety_stock=0),
              StockLevel(warehouse="west", sku="MUG", on_hand=1, reserved=2, safety_stock=0)]
    assert inventory.sellable(levels) == {"TEA": 9, "MUG": 0}


def test_only_changed_new_and_vanished_skus_are_told():
    assert inventory.stock_changes({"TEA": 9, "MUG": 0, "CUP": 4}, {"TEA": 9, "MUG": 2, "POT": 3}) == {
        "CUP": 4, "MUG": 0, "POT": 0}
    assert inventory.stock_changes({"TEA": 9}, {"TEA": 9}) == {}


class StockShop:
    """A channel that takes stock and remembers each push (the plugins push over HTTP in their own tests)."""

    pushes: list[dict[str, int]] = []
    fail = False
    listed = {"TEA", "MUG"}

    def __init__(self, context):
        self.name = context.name

    def fetch_orders(self, cursor):
        return OrderPage(payloads=(), next_cursor=cursor, has_more=False)  # a shop with no orders

    def parse_order(self, payload):  # pragma: no cover
        raise NotImplementedError

    def push_fulfillment(self, order, shipment, key, *, attempt=None):  # pragma: no cover
        return "f1"

    def push_tracking(self, order, shipment, status, key, *, attempt=None):  # pragma: no cover
        pass

    def push_stock(self, levels, key, *, attempt=None):
        if StockShop.fail:
            raise TransientError("HTTP 503 from the shop", service=self.name)
        StockShop.pushes.append(dict(levels))
        return [sku for sku in levels if sku not in StockShop.listed]

    def close(self):
        pass


class NoStockShop(StockShop):
    push_stock = None  # type: ignore[assignment]  # a channel without the capability


class ShopPlugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="stockshop", factory=StockShop))
        register(ChannelType(name="plainshop", factory=NoStockShop))


CONFIG = """
[store]
url = "sqlite:///{db}"

[channels.shop]
type = "stockshop"

[channels.other]
type = "plainshop"

[warehouses.east]
type = "local"

[warehouses.west]
type = "local"
"""


@pytest.fixture
def rt(tmp_path):
    StockShop.pushes, StockShop.fail = [], False
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite"), encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    runtime = Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[ShopPlugin()]),
                      clock=SimClock(T0))
    yield runtime
    runtime.close()
    store.close()


def stock(rt, warehouse, sku, on_hand, safety=0):
    with rt.store.transaction() as tx:
        stock_store.set_level(tx, warehouse, sku, on_hand, rt.clock.now(), safety_stock=safety)


def test_the_job_tells_each_stock_channel_what_changed_once_and_retries_a_failed_push(rt):
    assert "push_stock" in capabilities(rt.channel("shop"))
    assert isinstance(rt.channel("shop"), StockPusher)
    assert "push_stock" not in capabilities(rt.channel("other"))
    assert jobs.JOBS["push_stock"] is jobs.push_stock
    stock(rt, "east", "TEA", 10, safety=2)
    stock(rt, "west", "TEA", 5)
    stock(rt, "west", "MUG", 3)
    stock(rt, "west", "CUP", 1)
    first = jobs.push_stock(rt)
    assert StockShop.pushes == [{"CUP": 1, "MUG": 3, "TEA": 13}]
    assert first.counts == {"skus_pushed": 2, "not_listed": 1}
    assert first.errors == []
    again = jobs.push_stock(rt)
    assert StockShop.pushes == [{"CUP": 1, "MUG": 3, "TEA": 13}]
    assert again.counts == {"unchanged": 1}
    stock(rt, "west", "MUG", 0)  # sold out
    StockShop.fail = True
    failed = jobs.push_stock(rt)
    assert failed.errors
    assert "will try again" in failed.errors[0]
    assert "503" in failed.errors[0]
    StockShop.fail = False
    jobs.push_stock(rt)
    assert StockShop.pushes[-1] == {"MUG": 0}  # what failed is sent on the next run, and only that
    assert len(StockShop.pushes) == 2


def test_sync_runs_push_stock_once_the_pass_has_reserved_and_shipped(rt):
    stock(rt, "east", "TEA", 4)
    passed = [report.job for report in jobs.sync_once(rt)]
    assert passed.index("push_stock") > passed.index("poll_tracking") > passed.index("allocate")
    assert StockShop.pushes == [{"TEA": 4}]


def runtime_with(tmp_path, extra: str) -> Runtime:
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite") + extra, encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    return Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[ShopPlugin()]),
                   clock=SimClock(T0))


def test_a_channel_is_told_what_the_warehouses_that_serve_it_hold(tmp_path):
    StockShop.pushes, StockShop.fail = [], False
    rt = runtime_with(tmp_path, '\n[stock.channels]\nshop = ["west"]\n')
    try:
        stock(rt, "east", "TEA", 10)
        stock(rt, "west", "TEA", 5, safety=1)
        stock(rt, "east", "MUG", 3)
        jobs.push_stock(rt)
        assert StockShop.pushes == [{"TEA": 4}]  # east does not serve the shop: its TEA and MUG are not sold there
        assert inventory.sellable(stock_store_levels(rt), ["west"]) == {"TEA": 4}
    finally:
        rt.close()
        rt.store.close()


def stock_store_levels(rt):
    with rt.store.read() as conn:
        return stock_store.levels(conn)


@pytest.mark.parametrize(("table", "words"), [
    ('[stock.channels]\nshoop = ["west"]', "did you mean 'shop'"),
    ('[stock.channels]\nshop = ["north"]', "no warehouse 'north'"),
    ('[stock.channels]\nshop = "west"', "expected a list of the warehouses"),
    ('[stock.reorder_points]\nTEA = -1', "expected a whole number of units"),
    ('[stock]\nlocale = "fr"', "expected one of en, zh_Hant, zh_Hans"),
    ('[stock]\nreorder = 3', "reorder"),
])
def test_a_wrong_stock_table_is_refused_naming_the_key(tmp_path, table, words):
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite") + "\n" + table + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=words) as caught:
        load(path, env={})
    assert "stock" in str(caught.value)


LOW = """
[stock]
locale = "zh_Hant"

[stock.reorder_points]
TEA = 5
MUG = 0

[notifiers.ops]
type = "jsonl"
path = "{ops}"
events = ["low_stock"]

[notifiers.customers]
type = "jsonl"
path = "{customers}"
"""


def test_a_sku_falling_to_its_reorder_point_is_one_notice_to_the_operator_per_crossing(tmp_path):
    StockShop.pushes, StockShop.fail = [], False
    rt = runtime_with(tmp_path, LOW.format(ops=tmp_path / "ops.jsonl", customers=tmp_path / "customers.jsonl"))
    try:
        stock(rt, "east", "TEA", 6)
        stock(rt, "west", "MUG", 2)
        assert jobs.push_stock(rt).counts.get("low_stock", 0) == 0  # 6 > 5
        stock(rt, "east", "TEA", 3)
        stock(rt, "west", "TEA", 2)
        first = jobs.push_stock(rt)
        assert first.counts["low_stock"] == 1  # 5 <= 5: TEA crossed; MUG (2 > 0) did not
        assert jobs.push_stock(rt).counts.get("low_stock", 0) == 0  # still low: not told again
        stock(rt, "east", "TEA", 1)
        assert jobs.push_stock(rt).counts.get("low_stock", 0) == 0  # lower still, the same crossing
        stock(rt, "east", "TEA", 20)
        jobs.push_stock(rt)  # restocked: above the point again
        stock(rt, "east", "TEA", 0)
        stock(rt, "west", "TEA", 0)
        assert jobs.push_stock(rt).counts["low_stock"] == 1  # a new crossing, a new notice
        jobs.deliver_effects(rt)
        told = [json.loads(line) for line in (tmp_path / "ops.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [t["key"] for t in told] == ["notice:low_stock:stock:TEA:1", "notice:low_stock:stock:TEA:2"]
        assert told[0]["subject"] == "庫存偏低：TEA僅剩5件可售"
        assert "補貨點5件" in told[0]["text"]
        assert "east 3、west 2" in told[0]["text"]
        assert not (tmp_path / "customers.jsonl").exists()  # an operator's notice never goes to a customer route
    finally:
        rt.close()
        rt.store.close()


def test_doctor_lists_the_skus_at_or_below_their_reorder_point(tmp_path):
    from click.testing import CliRunner

    from fulfilhub.cli import main

    path = tmp_path / "fulfilhub.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "d.sqlite"}"\n\n[warehouses.east]\ntype = "local"\n\n'
                    '[stock.reorder_points]\nTEA = 5\nMUG = 1\n', encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 'd.sqlite'}", migrate=True)
    with store.transaction() as tx:
        stock_store.set_level(tx, "east", "TEA", 4, T0)
        stock_store.set_level(tx, "east", "MUG", 9, T0)
    store.close()
    result = CliRunner().invoke(main, ["-c", str(path), "doctor", "--json"])
    rows = {row["check"]: row for row in json.loads(result.output)}
    assert rows["low stock"]["detail"] == "1 SKU(s) at or below the reorder point: TEA 4 <= 5"


def test_an_order_is_allocated_only_from_the_warehouses_that_serve_its_channel(tmp_path, make_order):
    from fulfilhub.models import OrderStatus
    from fulfilhub.store import orders as order_store

    rt = runtime_with(tmp_path, '\n[stock.channels]\nshop = ["west"]\n')
    try:
        stock(rt, "east", "TEA", 10)
        stock(rt, "west", "TEA", 1)
        with rt.store.transaction() as tx:
            order_store.insert(tx, [(make_order("7001", ("TEA", 2)), OrderStatus.ACCEPTED, None),
                                    (make_order("7002", ("TEA", 2), channel="other"), OrderStatus.ACCEPTED, None)],
                               T0)
        jobs.allocate(rt)
        with rt.store.read() as conn:
            assert order_store.row(conn, "shop:7001").status == "backordered"  # west has 1; east does not serve shop
            assert order_store.row(conn, "other:7002").status == "allocated"  # served by every warehouse
    finally:
        rt.close()
        rt.store.close()


def test_a_low_stock_notice_no_notifier_takes_is_kept_and_counted_not_an_error(tmp_path):
    StockShop.pushes, StockShop.fail = [], False
    rt = runtime_with(tmp_path, "\n[stock.reorder_points]\nTEA = 5\n")
    try:
        stock(rt, "east", "TEA", 2)
        report = jobs.push_stock(rt)
        assert report.errors == []
        assert report.counts["low_stock"] == 1
        assert report.counts["low_stock_unrouted"] == 1
        with rt.store.read() as conn:
            from fulfilhub.store import notices as notice_store

            assert notice_store.exists(conn, "notice:low_stock:stock:TEA:1")
    finally:
        rt.close()
        rt.store.close()
