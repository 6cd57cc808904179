"""Notices and compensation on PostgreSQL (marked `postgres`): the budget and the
once-only keys hold with many writers at once, where no BEGIN IMMEDIATE serializes them."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fulfilhub import ChannelType, hookimpl
from fulfilhub.clock import SimClock
from fulfilhub.config import IntakeConfig, load
from fulfilhub.engines import compensation, intake
from fulfilhub.models import Address, DelayAssessment, Money, Order, OrderLine, Promise
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store, delays, promises
from fulfilhub.store import compensation as ledger
from fulfilhub.store import notices as notice_store

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)


def make_order(n: int) -> Order:
    return Order(channel="shop", external_id=str(n), version="v1", number=f"#{n}", placed_at=T0, updated_at=T0,
                 currency="TWD", total=Money(amount="1280", currency="TWD"),
                 lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="1200", currency="TWD"))],
                 ship_to=Address(name="Ming", line1="1 Rd", city="Taipei", country="TW"), email="m@example.tw",
                 locale="zh-TW")


def test_the_budget_holds_with_sixteen_writers_at_once_on_postgres(postgres_url):
    store = Store.open(postgres_url, migrate=True)
    pm = PluginManager(load_installed=False)
    conf = compensation.settings({"auto_approve_below": "1000", "budget": {"amount": "500", "currency": "TWD"},
                                  "tiers": [{"name": "late-1d", "kind": "shipping_refund"}]})
    late = DelayAssessment(order_id="x", assessed_at=T0, state="late", days_late=2)
    outcomes: list[str] = []
    barrier = threading.Barrier(16)

    def decide(n: int) -> None:
        order = make_order(n)
        barrier.wait()
        with store.transaction() as tx:
            decision = compensation.decide(tx, pm.registry.policies, conf, order, late, None, T0)
            outcomes.append(decision.status if decision.status != "none" else decision.why)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as conn:
        spent, limit = ledger.spent(conn, "2026-05", "TWD")
    store.close()
    assert sorted(outcomes).count("approved") == 6 and outcomes.count("over_budget") == 10  # 6 x 80 <= 500
    assert spent == Decimal("480") and limit == Decimal("500")


class Shop:
    def __init__(self, context):
        pass

    def issue_compensation(self, order, grant, key, *, attempt=None):
        return "", key

    def close(self):
        pass


class ShopPlugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="pgshop", factory=Shop))


def test_two_notices_jobs_at_once_write_each_notice_and_compensation_once_on_postgres(postgres_url, tmp_path):
    config = tmp_path / "fulfilhub.toml"
    config.write_text(f'''
[store]
url = "{postgres_url}"
[channels.shop]
type = "pgshop"
[warehouses.main]
type = "local"
[notifiers.file]
type = "jsonl"
path = "{tmp_path}/notices.jsonl"
[compensation]
auto_approve_below = "1000"
[[compensation.tiers]]
name = "late-1d"
kind = "shipping_refund"
''')
    store = Store.open(postgres_url, migrate=True)
    pm = PluginManager(load_installed=False, extra=[ShopPlugin()])
    orders = [make_order(n) for n in range(30)]
    with store.transaction() as tx:
        intake.ingest(tx, Hooks(pm), orders, at=T0, known_skus={"TEA"}, intake=IntakeConfig(check_sku=False), source="t")
        for o in orders:
            promises.record(tx, Promise(order_id=o.id, revision=1, created_at=T0, ship_by=T0,
                                        deliver_from=T0 + timedelta(days=1), deliver_by=T0 + timedelta(days=2),
                                        timezone="Asia/Taipei"))
            delays.record(tx, DelayAssessment(order_id=o.id, assessed_at=T0, state="late", days_late=2,
                                              revised_eta=T0 + timedelta(days=4)))
    runtimes = [Runtime(load(config, env={}), store, pm, clock=SimClock(T0)) for _ in range(2)]
    errors: list[str] = []
    barrier = threading.Barrier(2)

    def run(rt: Runtime) -> None:
        barrier.wait()
        errors.extend(jobs.JOBS["notices"](rt).errors)

    threads = [threading.Thread(target=run, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as conn:
        rows = ledger.listing(conn, limit=100)
        delayed = notice_store.listing(conn, event="delayed", limit=100)
        confirmed = notice_store.listing(conn, event="confirmed", limit=100)
    for rt in runtimes:
        rt.close()
    store.close()
    assert errors == []
    assert len(rows) == 30 and len({r.order_id for r in rows}) == 30
    assert len(delayed) == 30 and len({r.order_id for r in delayed}) == 30
    assert len(confirmed) == 30
