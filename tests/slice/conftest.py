"""Fixtures for end-to-end tests: the Shopify and EasyPost simulators on loopback, a real
SQLite file, the real runner, all on one scenario clock.

The two first-party plugins are registered explicitly (never whatever is installed).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import fulfilhub_easypost
import fulfilhub_shopify
import pytest
import sqlalchemy as sa

from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.store import Store, safe_url
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store
from fulfilhub.testing import FAST_RETRIES

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
ENV = {"SHOP_TOKEN": "shpat_slice_secret_42", "EP_KEY": "EZTKslicesecret42"}

CONFIG = """\
[store]
url = "{store_url}"

[intake]
hold_on_note = true

[channels.shop]
type = "shopify"
base_url = "{shopify}"
access_token = "${{SHOP_TOKEN}}"
page_size = {page_size}
{extra_channels}
[carriers.easypost]
type = "easypost"
base_url = "{easypost}"
api_key = "${{EP_KEY}}"

[warehouses.east]
type = "local"
pick_minutes = 30
pack_minutes = 60
[warehouses.east.address]
name = "East DC"
line1 = "200 Harbor Way"
city = "Newark"
province = "NJ"
postal_code = "07114"
country = "US"

[warehouses.west]
type = "local"
pick_minutes = 30
pack_minutes = 60
[warehouses.west.address]
name = "West DC"
line1 = "55 Logistics Pkwy"
city = "Reno"
province = "NV"
postal_code = "89502"
country = "US"
"""


@attrs.define
class World:
    clock: SimClock
    sandbox: SandboxServer
    context: SandboxContext
    plugins: PluginManager
    rt: Runtime
    store: Store
    config_path: Path

    @property
    def shop(self):
        return self.sandbox.simulators["shopify"]

    @property
    def easypost(self):
        return self.sandbox.simulators["easypost"]

    def stock(self, warehouse: str, sku: str, on_hand: int, *, safety: int = 0) -> None:
        with self.store.transaction() as tx:
            stock_store.set_level(tx, warehouse, sku, on_hand, self.clock.now(), safety_stock=safety, unit_weight_g=300)

    def sync(self, hours: float = 0) -> jobs.JobReport:
        if hours:
            self.clock.advance(timedelta(hours=hours))
        return jobs.summarize(jobs.sync_once(self.rt))

    def order(self, order_id: str):
        with self.store.read() as conn:
            return order_store.load(conn, order_id)

    def shipments(self, order_id: str):
        with self.store.read() as conn:
            return shipment_store.of_order(conn, order_id)

    def events(self, order_id: str):
        with self.store.read() as conn:
            return order_store.events_of(conn, order_id)


def make_plugins() -> PluginManager:
    return PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator:
    """Build a world: ``world_factory(orders_per_day=0, page_size=50, shopify={...})``."""
    opened: list[tuple[SandboxServer, Runtime, Store]] = []

    def build(*, orders_per_day: float = 0, page_size: int = 50, shopify: dict | None = None,
              easypost: dict | None = None, extra_channels: str = "", seed: int = 3,
              store_url: str = "sqlite:///fulfilhub.sqlite") -> World:
        clock = SimClock(START)
        plugins = make_plugins()
        options = {
            "shopify": {"orders_per_day": orders_per_day, "update_rate": 0.0, "access_token": ENV["SHOP_TOKEN"],
                        **(shopify or {})},
            "easypost": {"api_key": ENV["EP_KEY"], "exception_rate": 0.0, "delay_rate": 0.0, **(easypost or {})},
        }
        context = SandboxContext(clock=clock, seed=seed, options=options)
        sandbox = SandboxServer(plugins.registry.simulators, context).start()
        config_path = tmp_path / "fulfilhub.toml"
        config_path.write_text(CONFIG.format(
            shopify=sandbox.url_for("shopify"), easypost=sandbox.url_for("easypost"), page_size=page_size,
            store_url=store_url,
            extra_channels=extra_channels.format(shopify=sandbox.url_for("shopify")),
        ))
        config = load(config_path, env=ENV)
        store = Store.open(config.store_url, migrate=True)
        rt = Runtime(config, store, plugins, clock=clock, policy=FAST_RETRIES)
        opened.append((sandbox, rt, store))
        return World(clock, sandbox, context, plugins, rt, store, config_path)

    yield build
    for sandbox, rt, store in opened:
        rt.close()
        store.close()
        sandbox.stop()


@pytest.fixture
def world(world_factory) -> World:
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
