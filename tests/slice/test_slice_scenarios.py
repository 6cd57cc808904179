"""The scenario layer composes whatever simulators are registered, and names none itself."""

from __future__ import annotations

import tomllib

import fulfilhub_easypost
import fulfilhub_shopify
import pytest

from fulfilhub import PluginError, Simulator, hookimpl
from fulfilhub.plugins import PluginManager
from fulfilhub.sandbox import DemoPart, DemoSecret
from fulfilhub.scenarios import build_world, run_demo

from .conftest import START


class SecondCourier:
    """A test plugin: one more EasyPost simulator, under another name and instance."""

    @hookimpl
    def register_simulators(self, register):
        register(Simulator(
            name="courier2",
            factory="fulfilhub_easypost.simulator:EasyPostSimulator",
            demo=DemoPart(kind="carriers", type="easypost", instance="backup",
                          secrets={"api_key": DemoSecret(env="SECOND_COURIER_KEY", value="k2", option="api_key")}),
        ))


def test_the_demo_says_which_kinds_of_simulator_are_missing(tmp_path):
    only_shop = PluginManager(load_installed=False, extra=[fulfilhub_shopify])
    with pytest.raises(PluginError, match=r"missing: carriers \(registered simulators with a demo part: shopify"):
        run_demo(orders=5, days=1, workspace=tmp_path, plugins=only_shop)
    nothing = PluginManager(load_installed=False)
    with pytest.raises(PluginError, match="missing: channels, carriers"):
        run_demo(orders=5, days=1, workspace=tmp_path, plugins=nothing)


def test_a_world_takes_every_described_simulator_into_its_config(tmp_path):
    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    pm.register(SecondCourier(), name="second-courier")
    env = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "t1", "FULFILHUB_DEMO_EASYPOST_KEY": "k1", "SECOND_COURIER_KEY": "k2"}
    with build_world(pm, tmp_path, start=START, env=env, options={"shopify": {"orders_per_day": 0}}) as world:
        written = tomllib.loads(world.config_path.read_text())
        assert written["channels"]["demo-shop"] == {
            "type": "shopify", "shop": "demo-shop", "base_url": world.sandbox.url_for("shopify"),
            "access_token": "${FULFILHUB_DEMO_SHOPIFY_TOKEN}",
        }
        assert set(written["carriers"]) == {"easypost", "backup"}
        assert written["carriers"]["backup"]["base_url"] == world.sandbox.url_for("courier2")
        assert set(written["warehouses"]) == {"east", "west"}
        # The simulators check the very credentials the config sends...
        assert world.sandbox.simulators["courier2"].api_key == "k2"
        assert world.sandbox.simulators["shopify"].access_token == "t1"
        assert sorted(world.simulators("carriers")) == ["courier2", "easypost"]
        # ...so the real runner gets through to every one of them.
        sku = world.simulators("channels")["shopify"].catalog[0]["sku"]
        world.stock("east", sku, 3)
        world.simulators("channels")["shopify"].add_order([{"sku": sku, "quantity": 1}])
        report = world.sync(hours=1)
        assert report.counts.get("orders_new") == 1
        assert not report.errors
