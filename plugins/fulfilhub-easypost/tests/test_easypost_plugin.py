"""The package as fulfilhub sees it: entry point, hook implementations, registered types."""

from __future__ import annotations

import importlib.metadata

from fulfilhub.plugins import PluginManager
from fulfilhub.sandbox import SandboxContext
from fulfilhub.testing import instance_context

import fulfilhub_easypost
from fulfilhub_easypost import EasyPostCarrier, EasyPostSimulator


def test_the_entry_point_names_the_package():
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="fulfilhub")}
    assert points.get("easypost") == "fulfilhub_easypost"


def test_registering_the_plugin_provides_the_easypost_carrier_and_simulator():
    manager = PluginManager(load_installed=False, extra=[fulfilhub_easypost])

    carrier_type = manager.registry.carriers["easypost"]
    simulator_type = manager.registry.simulators["easypost"]

    assert carrier_type.factory is EasyPostCarrier
    assert carrier_type.description
    assert simulator_type.load() is EasyPostSimulator
    assert simulator_type.description
    adapter = carrier_type.factory(instance_context("ep", {"api_key": "EZTK_x"}, schema=carrier_type.settings))
    adapter.close()
    assert simulator_type.load()(SandboxContext(clock=adapter.context.clock)).app is not None
