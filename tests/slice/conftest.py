"""Fixtures for end-to-end tests: the Shopify and EasyPost simulators on loopback, a real
SQLite file, the real runner, all on one scenario clock — the world ``fulfilhub demo``
builds too (:mod:`fulfilhub.scenarios`).

The two first-party plugins are registered explicitly (never whatever is installed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import attrs
import pytest

from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import LocalWarehouse, World, build_world
from fulfilhub.scenarios.world import WAREHOUSES
from fulfilhub.testing import FAST_RETRIES

from ..conftest import FIRST_PARTY_MISSING

# the core suite runs without the first-party plugins: then these tests are skipped, saying why
fulfilhub_shopify = pytest.importorskip("fulfilhub_shopify", reason=FIRST_PARTY_MISSING)
fulfilhub_easypost = pytest.importorskip("fulfilhub_easypost", reason=FIRST_PARTY_MISSING)

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
ENV = {"SHOP_TOKEN": "shpat_slice_secret_42", "EP_KEY": "EZTKslicesecret42"}
#: The simulators' own credential variables, renamed to the short ones the tests set.
ENV_NAMES = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "SHOP_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY": "EP_KEY"}
#: The scenario's warehouses, handling faster.
FAST_WAREHOUSES = tuple(attrs.evolve(wh, pick_minutes=30, pack_minutes=60) for wh in WAREHOUSES)

__all__ = ["ENV", "START", "SliceWorld", "make_plugins"]


@attrs.define
class SliceWorld(World):
    """A scenario world with the two simulators the slice tests drive by name."""

    @property
    def shop(self):
        return self.sandbox.simulators["shopify"]

    @property
    def easypost(self):
        return self.sandbox.simulators["easypost"]


def make_plugins() -> PluginManager:
    return PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator:
    """Build a world: ``world_factory(orders_per_day=0, page_size=50, shopify={...})``.

    A thin wrapper over :func:`fulfilhub.scenarios.build_world`: the shop is the
    instance ``shop``, orders are not updated and parcels neither late nor lost unless
    the options say so, and the intake holds orders with a note.
    """
    opened: list[World] = []

    def build(*, orders_per_day: float = 0, page_size: int = 50, shopify: dict | None = None,
              easypost: dict | None = None, extra_channels: str = "", seed: int = 3,
              store_url: str = "sqlite:///fulfilhub.sqlite",
              warehouses: tuple[LocalWarehouse, ...] = FAST_WAREHOUSES) -> SliceWorld:
        world = build_world(
            make_plugins(),
            tmp_path,
            start=START,
            seed=seed,
            options={
                "shopify": {"orders_per_day": orders_per_day, "update_rate": 0.0, **(shopify or {})},
                "easypost": {"exception_rate": 0.0, "delay_rate": 0.0, **(easypost or {})},
            },
            instances={"shopify": "shop"},
            settings={"shopify": {"page_size": page_size}},
            warehouses=warehouses,
            extra_config=lambda sandbox: "[intake]\nhold_on_note = true\n"
            + extra_channels.format(shopify=sandbox.url_for("shopify")),
            store_url=store_url,
            env=ENV,
            env_names=ENV_NAMES,
            policy=FAST_RETRIES,
        )
        world = SliceWorld(**attrs.asdict(world, recurse=False))
        opened.append(world)
        return world

    yield build
    for world in opened:
        world.close()


@pytest.fixture
def world(world_factory) -> SliceWorld:
    return world_factory()
