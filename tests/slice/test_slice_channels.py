"""``fulfilhub demo`` with every channel plugin at once (issue 16): WooCommerce, Shopee, Shopify (and
Amazon where installed) on one stock. Each channel's orders reach delivered (or, for an order Shopee's
own logistics carry, shipped and delivered by the marketplace's tracking), each channel is told its
stock, and the one SKU every channel sells, seeded short, is never oversold."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios.demo import shared_sku
from fulfilhub.store import Store

REQUIRED = ("woocommerce", "shopee", "shopify")


def channel_simulators() -> list[str]:
    registered = PluginManager().registry.simulators
    missing = [name for name in REQUIRED if name not in registered]
    if missing:
        pytest.skip(f"the channel plugins {', '.join(missing)} are not installed")
    return [*REQUIRED, *(["amazon"] if "amazon" in registered else [])]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    names = channel_simulators()
    workspace = tmp_path_factory.mktemp("four") / "ws"
    args = ["demo", "--orders", str(20 * len(names)), "--days", "1", "--settle-days", "6", "--seed", "3",
            "--workspace", str(workspace), "--json"]
    for name in names:
        args += ["--channel", name]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output[-3000:]
    return json.loads(result.output[result.output.index("{"):])


def test_every_channels_orders_reach_delivered_or_marketplace_shipped(demo):
    channels = demo["channels"]
    assert len(channels) == len(channel_simulators())
    for name, figures in channels.items():
        assert figures["orders"] > 0, (name, figures)
        assert figures["delivered"] + figures["marketplace_shipped"] > 0, (name, figures)
    [shopee] = [f for f in channels.values() if f["type"] == "shopee"]
    assert shopee["marketplace_orders"] > 0, shopee  # carried by Shopee's own logistics ...
    assert shopee["marketplace_delivered"] > 0, shopee  # ... and delivered by Shopee's tracking


def test_every_channel_is_told_its_stock_and_the_shared_sku_is_never_oversold(demo):
    for name, figures in demo["channels"].items():
        assert figures["stock_pushed"] > 0, (name, figures)
    one = demo["shared_sku"]
    assert one["sold_on_every_channel"], one  # every channel's customers bought it ...
    assert one["contended"], one  # ... more of it than could be sold ...
    assert not one["oversold"], one  # ... and no more was allocated than there was
    assert sum(one["sold_by_channel"].values()) <= one["seeded"]
    told = {name: figures["stock_told"].get(one["sku"]) for name, figures in demo["channels"].items()}
    assert set(told.values()) <= set(range(one["seeded"] + 1)), told  # never told more than there was


def test_the_oversold_check_fails_when_more_was_allocated_than_there_was(demo, tmp_path):
    one = demo["shared_sku"]
    copy = tmp_path / "copy.sqlite"
    source = sqlite3.connect(Path(demo["workspace"]) / "fulfilhub.sqlite")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("update shipment_lines set quantity = quantity + ? where sku = ? and rowid = "
                   "(select min(rowid) from shipment_lines where sku = ?)", (one["seeded"], one["sku"], one["sku"]))
    target.commit()
    target.close()
    store = Store.open(f"sqlite:///{copy}")
    try:
        with store.read() as conn:
            again = shared_sku(conn, one["sku"], (one["seeded"], one["sellable_at_start"]), demo["channels"])
    finally:
        store.close()
    assert again["oversold"]
