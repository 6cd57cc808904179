"""``fulfilhub demo``: a few simulated days of a shop, two warehouses and a courier.

Starts every registered simulator on loopback on a scenario clock, writes a workspace
(``fulfilhub.toml`` + SQLite) and drives the real runner through the days with the same
scheduler ``fulfilhub run`` uses, injecting rate limits and server errors on the way.
Nothing is faked between the runner and the simulators: it is all HTTP over loopback.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs

from .. import config as config_mod
from ..clock import SimClock
from ..engines import lifecycle
from ..errors import PluginError
from ..models import OrderStatus
from ..plugins import PluginManager
from ..runner.jobs import JobReport
from ..runner.runtime import Runtime
from ..runner.scheduler import Scheduler
from ..store import Store
from ..store import orders as order_store
from ..store import outbox
from ..store import quarantine as quarantine_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from . import SandboxContext, SandboxServer

START = datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc)
NEEDED = ("shopify", "easypost")
TOKENS = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "shpat_demo_0123456789abcdef", "FULFILHUB_DEMO_EASYPOST_KEY": "EZTKdemo0123456789"}

#: The demo's schedule, in simulated time.
SCHEDULE = {
    "pull_orders": timedelta(hours=1),
    "allocate": timedelta(hours=1),
    "deliver_effects": timedelta(hours=1),
    "poll_warehouses": timedelta(hours=1),
    "buy_labels": timedelta(hours=1),
    "poll_tracking": timedelta(hours=8),
}

CONFIG = """\
# Written by `fulfilhub demo`. The sandbox it points at is gone when the demo ends;
# the store stays for `fulfilhub orders ...`.
[store]
url = "sqlite:///fulfilhub.sqlite"

[channels.demo-shop]
type = "shopify"
shop = "demo-shop"
base_url = "{shopify}"
access_token = "${{FULFILHUB_DEMO_SHOPIFY_TOKEN}}"

[carriers.easypost]
type = "easypost"
base_url = "{easypost}"
api_key = "${{FULFILHUB_DEMO_EASYPOST_KEY}}"

[warehouses.east]
type = "local"
pick_minutes = 90
pack_minutes = 180
[warehouses.east.address]
name = "East DC"
line1 = "200 Harbor Way"
city = "Newark"
province = "NJ"
postal_code = "07114"
country = "US"

[warehouses.west]
type = "local"
pick_minutes = 60
pack_minutes = 150
[warehouses.west.address]
name = "West DC"
line1 = "55 Logistics Pkwy"
city = "Reno"
province = "NV"
postal_code = "89502"
country = "US"
"""


@attrs.define
class DemoResult:
    workspace: Path
    config_path: Path
    counts: dict[str, int]
    pulled: int
    quarantined: int
    split_orders: int
    shipments: int
    scans: int
    effects: dict[str, int]
    faults_injected: int
    errors_survived: int
    sample_order: str | None
    simulated: timedelta
    settle: timedelta


def run_demo(
    *,
    orders: int = 300,
    days: int = 3,
    seed: int = 7,
    settle_days: int = 5,
    workspace: Path | None = None,
    plugins: PluginManager | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Simulate ``days`` days with about ``orders`` orders; returns what happened.

    After the last order arrives the simulation goes on (at most ``settle_days`` more
    days, stopping early once no parcel is still on the way) so that orders can arrive.
    """
    if orders < 1 or days < 1:
        raise ValueError("--orders and --days must be at least 1")
    pm = plugins or PluginManager()
    missing = [name for name in NEEDED if name not in pm.registry.simulators]
    if missing:
        raise PluginError(
            f"the demo needs the {', '.join(missing)} plugin(s) and their simulators; install them with "
            f"`pip install -e plugins/fulfilhub-shopify -e plugins/fulfilhub-easypost`"
        )
    for name, value in TOKENS.items():
        os.environ.setdefault(name, value)
    workspace = Path(workspace or tempfile.mkdtemp(prefix="fulfilhub-demo-")).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    clock = SimClock(START)
    context = SandboxContext(
        clock=clock,
        seed=seed,
        options={
            "shopify": {"orders_per_day": orders / days, "malformed_rate": 0.01, "update_rate": 0.05,
                        "access_token": os.environ["FULFILHUB_DEMO_SHOPIFY_TOKEN"]},
            "easypost": {"api_key": os.environ["FULFILHUB_DEMO_EASYPOST_KEY"], "exception_rate": 0.03, "delay_rate": 0.1},
        },
    )
    sims = {name: pm.registry.simulators[name] for name in NEEDED}
    with SandboxServer(sims, context) as sandbox:
        config_path = workspace / "fulfilhub.toml"
        config_path.write_text(CONFIG.format(shopify=sandbox.url_for("shopify"), easypost=sandbox.url_for("easypost")))
        config = config_mod.load(config_path)
        store = Store.open(config.store_url, migrate=True)
        _seed_stock(store, sandbox.simulators["shopify"].catalog, rng, clock.now(), orders)
        rt = Runtime(config, store, pm, clock=clock)
        reports: list[JobReport] = []
        scheduler = Scheduler(rt, SCHEDULE, on_report=reports.append)
        steps = (days + settle_days) * 24
        settled_at = steps
        try:
            for step in range(steps):
                if step == days * 24:
                    sandbox.simulators["shopify"].stop_arrivals()
                if step % 12 == 5:  # rate limiting and server trouble, twice a day
                    context.faults.add("429", path="/shopify/", times=2, retry_after=2)
                    context.faults.add("503", path="/easypost/", times=1)
                clock.advance(timedelta(hours=1))
                scheduler.tick()
                if on_step:
                    on_step(step + 1, steps)
                if step >= days * 24 and step % 6 == 0 and not _moving(store):
                    settled_at = step + 1
                    break
        finally:
            rt.close()
        with store.read() as conn:
            counts = order_store.count_by_status(conn)
            ships = shipment_store.every(conn)
            scans = shipment_store.count_scans(conn)
            effects = outbox.count_by_status(conn)
            quarantined = quarantine_store.count_open(conn)
        store.close()
    per_order: dict[str, int] = {}
    for s in ships:
        per_order[s.order_id] = per_order.get(s.order_id, 0) + 1
    split = sorted(o for o, n in per_order.items() if n > 1)
    delivered = sorted(s.order_id for s in ships if s.status == "delivered")
    pulled = sum(r.counts.get("orders_new", 0) for r in reports)
    return DemoResult(
        workspace=workspace,
        config_path=config_path,
        counts=counts,
        pulled=pulled,
        quarantined=quarantined,
        split_orders=len(split),
        shipments=len(ships),
        scans=scans,
        effects=effects,
        faults_injected=context.faults.injected,
        errors_survived=sum(len(r.errors) for r in reports),
        sample_order=(split or delivered or [None])[0],
        simulated=timedelta(hours=settled_at),
        settle=timedelta(hours=settled_at - days * 24),
    )


def _moving(store: Store) -> bool:
    """Whether any order can still progress by itself (not on hold, backordered or final)."""
    with store.read() as conn:
        counts = order_store.count_by_status(conn)
    waiting = lifecycle.FINAL | {OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.EXCEPTION}
    return any(n for status, n in counts.items() if status not in waiting)


def _seed_stock(store: Store, catalog: list[dict[str, Any]], rng: random.Random, at: datetime, orders: int) -> None:
    """Each warehouse carries part of the range, some SKUs both: splits happen, and a few
    fast sellers run out (backorders)."""
    per_sku = max(10, 5 * orders // max(1, len(catalog)))
    with store.transaction() as tx:
        for i, item in enumerate(catalog):
            weight = int(item.get("grams") or 400)
            where = ("east",) if i % 3 == 0 else ("west",) if i % 3 == 1 else ("east", "west")
            for warehouse in where:
                on_hand = rng.randint(per_sku // 2, per_sku * 2) if i % 7 else rng.randint(1, 4)
                stock_store.set_level(tx, warehouse, item["sku"], on_hand, at, safety_stock=1, unit_weight_g=weight)
