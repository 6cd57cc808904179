"""Compensations issued in the simulated shop over real HTTP: a discount code (price rule +
code), a refund of shipping, both once per key however often they are retried."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fulfilhub import CompensationKind, CompensationProposal, Money, PermanentError, Simulator, capabilities
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.testing import instance_context
from fulfilhub_shopify import ShopifyChannel, ShopifySimulator
from fulfilhub_shopify.channel import SETTINGS
from fulfilhub_shopify.compensation import code_for

TOKEN = "shpat_test"


@pytest.fixture
def shop(clock):
    context = SandboxContext(clock=clock, seed=3, options={"shopify": {"access_token": TOKEN, "update_rate": 0.0,
                                                                       "orders_per_day": 0}})
    server = SandboxServer({"shopify": Simulator(name="shopify", factory=ShopifySimulator)}, context)
    server.start()
    settings = {"base_url": server.url_for("shopify"), "access_token": TOKEN}
    channel = ShopifyChannel(instance_context("shop", settings, clock=clock, secrets=[TOKEN], schema=SETTINGS))
    sim = server.simulators["shopify"]
    payload = sim.add_order([{"sku": "TEE-ORG-M", "quantity": 2}])  # 48.00: shipping 6.90 is paid
    order = channel.parse_order(payload)
    yield sim, channel, order
    channel.close()
    server.stop()


def grant(kind: CompensationKind, amount: str) -> CompensationProposal:
    return CompensationProposal(kind=kind, value=Money(amount=amount, currency="USD"), tier="t")


def test_the_channel_has_the_capability(shop):
    _, channel, _ = shop
    assert "issue_compensation" in capabilities(channel)


def test_a_discount_is_a_price_rule_with_one_code_for_that_customer_once_per_key(shop):
    sim, channel, order = shop
    key = "channel.issue_compensation:compensation:shop:1:late-3d"
    code, ref = channel.issue_compensation(order, grant(CompensationKind.DISCOUNT, "4.80"), key, attempt=1)
    assert code == code_for(key)
    again = channel.issue_compensation(order, grant(CompensationKind.DISCOUNT, "4.80"), key, attempt=2)
    assert again == (code, ref)  # a retry after a crash finds it
    [rule] = sim.price_rules()
    assert str(rule["id"]) == ref
    assert key in rule["title"]
    assert (rule["value_type"], rule["value"], rule["target_type"], rule["usage_limit"]) == (
        "fixed_amount", "-4.80", "line_item", 1)
    assert rule["customer_selection"] == "prerequisite"
    assert rule["prerequisite_customer_ids"] == [order.raw["customer"]["id"]]
    assert [c["code"] for c in sim.discount_codes()] == [code]


def test_a_free_upgrade_is_a_code_for_free_shipping(shop):
    sim, channel, order = shop
    channel.issue_compensation(order, grant(CompensationKind.FREE_UPGRADE, "6.90"), "k-up", attempt=1)
    [rule] = sim.price_rules()
    assert (rule["target_type"], rule["value_type"], rule["value"]) == ("shipping_line", "percentage", "-100.0")


def test_a_shipping_refund_is_one_refund_of_the_shipping_paid_back_to_the_sale(shop):
    sim, channel, order = shop
    key = "channel.issue_compensation:compensation:shop:1:late-1d"
    code, ref = channel.issue_compensation(order, grant(CompensationKind.SHIPPING_REFUND, "6.90"), key, attempt=1)
    assert code == ""
    assert channel.issue_compensation(order, grant(CompensationKind.SHIPPING_REFUND, "6.90"), key,
                                      attempt=3) == ("", ref)
    [refund] = sim.refunds_for(int(order.external_id))
    assert str(refund["id"]) == ref
    assert refund["note"] == key
    assert refund["shipping"] == {"amount": "6.90"}
    assert [(t["kind"], t["amount"]) for t in refund["transactions"]] == [("refund", "6.90")]
    with pytest.raises(PermanentError, match="refundable shipping"):  # never more shipping than was paid
        channel.issue_compensation(order, grant(CompensationKind.SHIPPING_REFUND, "1.00"), "another", attempt=1)


def test_a_partial_refund_moves_money_without_shipping_and_points_are_not_shopifys(shop):
    sim, channel, order = shop
    channel.issue_compensation(order, grant(CompensationKind.PARTIAL_REFUND, "10.00"), "k-part", attempt=1)
    [refund] = sim.refunds_for(int(order.external_id))
    assert refund["shipping"] == {"amount": "0.00"}
    assert refund["transactions"][0]["amount"] == "10.00"
    assert channel.issue_compensation(order, grant(CompensationKind.POINTS, "1.00"), "k-pts", attempt=1) is None
    assert Decimal(refund["transactions"][0]["amount"]) == Decimal("10")


def test_the_simulated_shop_speaks_its_customers_language():
    from fulfilhub_shopify.sim.render import customer_locale

    assert customer_locale({"place": ("Taipei City", None, None, "110", "Taiwan", "TW"), "last": "Smith",
                            "number": 1}) == "zh-TW"
    assert customer_locale({"place": ("Austin", "Texas", "TX", "78701", "United States", "US"), "last": "Chen",
                            "number": 2}) == "zh-CN"
    assert customer_locale({"place": ("Austin", "Texas", "TX", "78701", "United States", "US"), "last": "Chen",
                            "number": 3}) == "en"
