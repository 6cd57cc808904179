"""Kuaidi100 in a scenario world beside a carrier that sells labels: the runner never
quotes nor buys from a tracks-only carrier, and every order still ships."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import build_world

import fulfilhub_kuaidi100

shopify = pytest.importorskip("fulfilhub_shopify", reason="the world needs a channel simulator: fulfilhub-shopify")
easypost = pytest.importorskip("fulfilhub_easypost", reason="the world needs a carrier that sells labels: "
                                                           "fulfilhub-easypost")

def test_the_runner_never_quotes_nor_buys_from_a_tracks_only_carrier(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[shopify, easypost, fulfilhub_kuaidi100])
    world = build_world(plugins, tmp_path / "world", start=datetime(2026, 12, 7, 1, tzinfo=timezone.utc), seed=3,
                        options={"shopify": {"orders_per_day": 24}})  # Kuaidi100 as its simulator's demo part says
    try:
        assert set(world.config.carriers) == {"kuaidi100", "easypost"}
        for shop in world.simulators("channels").values():
            for item in shop.catalog:
                for warehouse in world.config.warehouses:
                    world.stock(warehouse, item["sku"], 500)
        errors = []
        for _ in range(12):
            errors += world.sync(hours=4).errors
        assert world.sandbox.simulators["easypost"].purchases_count() > 3  # orders ship through the other carrier
        assert world.sandbox.simulators["kuaidi100"].calls == {"query": 0, "subscribe": 0, "autonumber": 0}
        assert not [error for error in errors if "kuaidi100" in error], errors
    finally:
        world.close()
