"""The contrib compensation presets, installed out of tree through the ``fulfilhub`` entry
point (as pip would install them), chosen by name in the config and asked by the engine."""

from __future__ import annotations

import importlib
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from fulfilhub.engines import compensation
from fulfilhub.models import Address, DelayAssessment, Money, Order, OrderLine
from fulfilhub.plugins import PluginManager
from fulfilhub.store import Store
from fulfilhub.store import compensation as ledger

PRESETS = Path(__file__).resolve().parents[1] / "contrib" / "compensation-presets" / "src"
T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The presets as an installed distribution: the package on sys.path, a dist-info with its entry point."""
    site = tmp_path / "site"
    info = site / "fulfilhub_compensation_presets-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fulfilhub-compensation-presets\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[fulfilhub]\ncompensation-presets = fulfilhub_compensation_presets\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PRESETS))
    monkeypatch.setenv("FULFILHUB_PLUGINS", "compensation-presets")  # only this one of the installed plugins
    importlib.invalidate_caches()
    yield
    sys.modules.pop("fulfilhub_compensation_presets", None)


def order(total: str, goods: str, currency: str = "CNY") -> Order:
    return Order(channel="shop", external_id="1", version="v1", number="#1", placed_at=T0, updated_at=T0,
                 currency=currency, total=Money(amount=total, currency=currency),
                 lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount=goods, currency=currency))],
                 ship_to=Address(name="Li", line1="1 Rd", city="Shanghai", country="CN"))


def late(reason: str, days: int = 2) -> DelayAssessment:
    return DelayAssessment(order_id="shop:1", assessed_at=T0, state="late", reason=reason, days_late=days)


def test_the_presets_arrive_by_entry_point_and_are_listed_with_their_distribution(installed):
    pm = PluginManager()
    assert {"late-dispatch-5pct", "missed-promise-shipping-refund", "rules"} <= set(pm.registry.policies)
    assert pm.owner("policies", "late-dispatch-5pct") == "compensation-presets"
    assert pm.sources["compensation-presets"] == "fulfilhub-compensation-presets 0.1.0"


def test_late_dispatch_is_five_percent_within_its_minimum_and_maximum(installed):
    propose = PluginManager().registry.policies["late-dispatch-5pct"].propose
    settings: dict = {}
    assert propose(order=order("80", "80"), assessment=late("not_shipped"), given=(), settings=settings).value.amount \
        == Decimal("5.00")  # 4.00 raised to the minimum
    assert propose(order=order("300", "300"), assessment=late("not_shipped"), given=(), settings=settings).value.amount \
        == Decimal("15.00")
    assert propose(order=order("2000", "2000"), assessment=late("stock_out"), given=(), settings=settings).value.amount \
        == Decimal("30.00")  # capped
    assert propose(order=order("300", "300"), assessment=late("carrier_eta"), given=(), settings=settings) is None
    wider = {"options": {"min": "10", "max": "100"}}
    assert propose(order=order("2000", "2000"), assessment=late("not_shipped"), given=(), settings=wider).value.amount \
        == Decimal("100.00")


def test_a_missed_promise_refunds_the_shipping_through_the_engine(installed, tmp_path):
    pm = PluginManager()
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    conf = compensation.settings({"policy": "missed-promise-shipping-refund", "auto_approve_below": "100"})
    o = order("108", "100")
    from fulfilhub.config import IntakeConfig
    from fulfilhub.engines import intake
    from fulfilhub.plugins import Hooks

    with store.transaction() as tx:
        intake.ingest(tx, Hooks(pm), [o], at=T0, known_skus={"A"}, intake=IntakeConfig(check_sku=False), source="t")
        decision = compensation.decide(tx, pm.registry.policies, conf, o, late("carrier_eta"), None, T0)
    assert decision.status == "approved"
    assert decision.amount == Money(amount="8.00", currency="CNY")
    with store.read() as conn:
        [row] = ledger.for_order(conn, o.id)
    assert (row.policy, row.kind, row.amount) == ("missed-promise-shipping-refund", "shipping_refund", Decimal("8.00"))
    store.close()
