"""Fixtures for end-to-end tests: the Shopify and EasyPost simulators on loopback, a real
SQLite file, the real runner, all on one scenario clock — the world ``fulfilhub demo``
builds too (:mod:`fulfilhub.scenarios`).

The two first-party plugins are registered explicitly (never whatever is installed).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import attrs
import fulfilhub_easypost
import fulfilhub_shopify
import pytest
import sqlalchemy as sa

from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import LocalWarehouse, World, build_world
from fulfilhub.scenarios.world import WAREHOUSES
from fulfilhub.store import safe_url
from fulfilhub.testing import FAST_RETRIES

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


POSTGRES_URL = os.environ.get("FULFILHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Uses FULFILHUB_TEST_POSTGRES_URL (a server URL whose user may create databases);
    skips, saying why, when the driver or the server is not there.
    """
    pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (pip install 'psycopg[binary]')")
    server = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"fulfilhub_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.skip(f"no PostgreSQL at {safe_url(POSTGRES_URL)} ({exc.orig}); set FULFILHUB_TEST_POSTGRES_URL")
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
