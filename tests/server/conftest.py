"""Fixtures for the server's tests: a scenario world (Shopify and EasyPost simulators on
loopback, a SQLite store, the runner) with webhook secrets, and the server over its
runtime, on loopback too. Webhooks are built from the simulators' own state and signed
with the plugins' own signing functions, as the vendors would send them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import World, build_world
from fulfilhub.scenarios.world import WAREHOUSES
from fulfilhub.server import ServerThread
from fulfilhub.testing import FAST_RETRIES

from ..conftest import FIRST_PARTY_MISSING

# the core suite runs without the first-party plugins: then these tests are skipped, saying why
fulfilhub_shopify = pytest.importorskip("fulfilhub_shopify", reason=FIRST_PARTY_MISSING)
fulfilhub_easypost = pytest.importorskip("fulfilhub_easypost", reason=FIRST_PARTY_MISSING)
from fulfilhub_easypost import webhooks as ep_hooks
from fulfilhub_shopify import webhooks as shop_hooks

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
SHOP_SECRET = "shpss_webhook_secret_1"
EP_SECRET = "ep_webhook_sécret"
METRICS_TOKEN = "metrics_token_server_tests_7f3a"
ENV = {"SHOP_TOKEN": "shpat_server_secret_42", "EP_KEY": "EZTKserversecret42", "SHOP_HOOK": SHOP_SECRET,
       "EP_HOOK": EP_SECRET, "METRICS_TOKEN": METRICS_TOKEN}
ENV_NAMES = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "SHOP_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY": "EP_KEY"}
FAST_WAREHOUSES = tuple(attrs.evolve(wh, pick_minutes=30, pack_minutes=60) for wh in WAREHOUSES)


def make_plugins() -> PluginManager:
    return PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])


@attrs.define
class Served:
    world: World
    server: ServerThread
    client: httpx.Client

    @property
    def shop(self) -> Any:
        return self.world.sandbox.simulators["shopify"]

    @property
    def easypost(self) -> Any:
        return self.world.sandbox.simulators["easypost"]

    def order_webhook(self, order: dict[str, Any], *, topic: str = "orders/create", secret: str = SHOP_SECRET,
                      sent_at: datetime | None = None, webhook_id: str | None = None) -> tuple[dict[str, str], bytes]:
        body = json.dumps(order).encode()
        sent = sent_at or self.world.clock.now()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shop_hooks.sign(body, secret),
            "X-Shopify-Webhook-Id": webhook_id or hashlib.sha256(body + topic.encode()).hexdigest()[:32],
            "X-Shopify-Triggered-At": sent.isoformat(),
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
        }
        return headers, body

    def tracker_webhook(self, tracker: dict[str, Any], *, secret: str = EP_SECRET, sent_at: datetime | None = None,
                        event_id: str | None = None) -> tuple[dict[str, str], bytes]:
        sent = (sent_at or self.world.clock.now()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ident = event_id or "evt_" + hashlib.sha256(
            f"{tracker['id']}|{tracker['status']}|{len(tracker['tracking_details'])}".encode()).hexdigest()[:24]
        event = {"object": "Event", "id": ident, "description": "tracker.updated", "mode": "test",
                 "created_at": sent, "updated_at": sent, "status": "pending", "previous_attributes": {},
                 "result": tracker}
        body = json.dumps(event).encode()
        return {"Content-Type": "application/json", "X-Hmac-Signature": ep_hooks.sign(body, secret)}, body

    def ship_order(self, **order: Any) -> tuple[str, Any, dict[str, Any]]:
        """An order pulled, allocated and shipped by polling: (order id, shipment, its EasyPost tracker)."""
        for warehouse in ("east", "west"):
            self.world.stock(warehouse, "TEE-ORG-M", 50)
        placed = self.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}], **order)
        order_id = f"shop:{placed['id']}"
        for _ in range(8):
            self.world.sync(hours=2)
            ships = self.world.shipments(order_id)
            if ships and all(s.tracking_code for s in ships):
                break
        (ship,) = self.world.shipments(order_id)
        tracker = next(t for t in self.easypost.trackers.values() if t["tracking_code"] == ship.tracking_code)
        return order_id, ship, tracker

    def metrics(self) -> str:
        """``/metrics`` as a scraper with the configured bearer token reads it."""
        answer = self.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200, answer.text
        return answer.text

    def post(self, instance: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        return self.client.post(f"/webhooks/{instance}", headers=headers, content=body)


@contextlib.contextmanager
def serving(path: Path, server_extra: str = "rate_limit_per_minute = 100000\n") -> Iterator[Served]:
    world = build_world(
        make_plugins(), path, start=START, seed=5,
        options={"shopify": {"orders_per_day": 0, "update_rate": 0.0},
                 "easypost": {"exception_rate": 0.0, "delay_rate": 0.0}},
        instances={"shopify": "shop", "easypost": "easypost"},
        settings={"shopify": {"webhook_secret": "${SHOP_HOOK}"}, "easypost": {"webhook_secret": "${EP_HOOK}"}},
        warehouses=FAST_WAREHOUSES,
        extra_config="[intake]\nhold_on_note = true\n[server]\npublic_url = \"https://track.example.test/\"\n"
                     "max_body_bytes = 65536\ncors_origins = [\"https://shop.example.test\"]\n"
                     "metrics_token = \"${METRICS_TOKEN}\"\n" + server_extra,
        env=ENV, env_names=ENV_NAMES, policy=FAST_RETRIES,
    )
    try:
        world.rt.build_all()
        server = ServerThread(world.rt).start()
    except BaseException:
        world.close()
        raise
    client = httpx.Client(base_url=server.url, timeout=10)
    try:
        yield Served(world, server, client)
    finally:
        client.close()
        server.stop()
        world.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path) as s:
        yield s


@pytest.fixture(scope="module")
def served_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One world for a whole module (its tests only read, or add orders of their own)."""
    with serving(tmp_path_factory.mktemp("served")) as s:
        yield s
