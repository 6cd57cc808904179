"""The package plugs into fulfilhub the way a third-party plugin does."""

from __future__ import annotations

import importlib.metadata

import pytest

import fulfilhub_shopify
from fulfilhub.plugins import ENTRY_POINT_GROUP, PluginManager
from fulfilhub_shopify import ShopifyChannel, ShopifySimulator


@pytest.fixture
def manager():
    """Only this plugin registered (whatever else is installed stays out)."""
    pm = PluginManager(load_installed=False, load_defaults=False, extra=[fulfilhub_shopify])
    yield pm
    pm.unregister("fulfilhub_shopify")


def test_registers_the_shopify_channel_type_and_simulator(manager):
    channel = manager.registry.channels["shopify"]
    simulator = manager.registry.simulators["shopify"]
    assert channel.factory is ShopifyChannel
    assert simulator.load() is ShopifySimulator
    assert "Shopify" in channel.description
    assert "Shopify" in simulator.description
    info = {p["name"]: p["hooks"] for p in manager.plugin_info()}
    assert info["fulfilhub_shopify"] == ["register_channel_types", "register_simulators"]


def test_the_installed_distribution_names_the_module_in_the_entry_point_group():
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert points.get("shopify") == "fulfilhub_shopify"
    assert importlib.metadata.version("fulfilhub-shopify") == fulfilhub_shopify.__version__
