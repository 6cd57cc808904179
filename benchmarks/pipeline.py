"""Pipeline benchmark: N orders pulled, allocated, labelled and tracked to delivered.

Everything runs through the real runner (``Scheduler`` on a ``SimClock``, the same jobs
``fulfilhub run`` schedules) against the Shopify and EasyPost simulators over loopback,
into a real SQLite file. Every SKU is stocked generously in both warehouses (nothing
backorders), no faults are injected, no order is malformed and no order is edited
after it is placed, so the figures measure the pipeline and nothing else.

It prints, per order: end-to-end orders/s (wall time from the first pull until the
last order is delivered), HTTP requests (counted at the sandbox's ASGI app, by
simulator and by method + route), SQL statements (``before_cursor_execute`` on the
store's engine; the ``BEGIN`` the store issues itself is not counted as a statement)
and transactions (SQLAlchemy ``begin`` events, reads included), in all and by job
(``per_job``: what each job did, its gate read included; ``scheduler`` is the rest). Then the cost of one
``sync_once`` pass with nothing to do, over the run's own history (1x) and after 9x as
much synthetic finished history has been written straight into the store (10x).

In the same run it measures the least HTTP work the same N orders need: a bare
``httpx.Client`` reading the order pages, then per order creating the EasyPost
shipment, buying its cheapest rate, reading the Shopify fulfillment orders, creating
the fulfillment and posting its three events (about 7 requests), against fresh copies
of the same simulators. That gives ``baseline_orders_per_s`` and ``vs_baseline``.

Usage::

    python benchmarks/pipeline.py                 # N = 300
    python benchmarks/pipeline.py --orders 1000   # the issue's size
    python benchmarks/pipeline.py --json          # one JSON object on stdout

Requires fulfilhub, fulfilhub-shopify and fulfilhub-easypost installed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any


import sqlalchemy as sa

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
API = "/admin/api/2024-10"
SEED = 11
#: What ``fulfilhub demo`` schedules, in simulated time; one scheduler tick per hour.
from fulfilhub.scenarios.demo import SCHEDULE  # noqa: E402
STEP = timedelta(hours=1)
MAX_SIM_DAYS = 30

# --------------------------------------------------------------------------- the world


def build_world(workdir: Path, orders: int, *, wrap_app: Callable[[Any], Any] | None = None) -> Any:
    """The scenario world (``fulfilhub.scenarios``, as the demo and the slice tests build
    it) with ``orders`` preloaded, no faults, nothing malformed or edited, every SKU
    stocked in both warehouses. ``wrap_app`` wraps the sandbox's ASGI app."""
    import fulfilhub_easypost
    import fulfilhub_shopify

    from fulfilhub.plugins import PluginManager
    from fulfilhub.scenarios import LocalWarehouse, build_world as scenario_world
    from fulfilhub.scenarios.world import WAREHOUSES

    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    world = scenario_world(
        plugins, workdir, start=START, seed=SEED, wrap_app=wrap_app,
        options={
            "shopify": {"preload": orders, "orders_per_day": 0, "update_rate": 0.0, "malformed_rate": 0.0,
                        "rate_limit": False},
            "easypost": {"exception_rate": 0.0, "delay_rate": 0.0},
        },
        warehouses=[LocalWarehouse(name=w.name, address=w.address, pick_minutes=30, pack_minutes=60) for w in WAREHOUSES],
        store_url="sqlite:///pipeline.sqlite",
    )
    shop = next(iter(world.simulators("channels").values()))
    for item in shop.catalog:
        for warehouse in WAREHOUSES:
            world.stock(warehouse.name, item["sku"], 10 * orders + 100, unit_weight_g=int(item.get("grams") or 400))
    return world


# --------------------------------------------------------------------------- counters


_ID_SEGMENT = re.compile(r"(?<=/)(?!\d{4}-\d{2}/)([A-Za-z]+_)?[0-9a-f]*\d[0-9a-f]*(?=\.json|/|$)")


def route_of(path: str) -> str:
    """``/shopify/admin/api/2024-10/orders/123/fulfillments.json`` -> ``.../orders/{id}/...``."""
    return _ID_SEGMENT.sub("{id}", path)


class CountingApp:
    """ASGI middleware counting requests by simulator and by method + route template."""

    def __init__(self, app: Any):
        self.app = app
        self.by_route: Counter[str] = Counter()
        self.by_simulator: Counter[str] = Counter()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            self.by_simulator[path.split("/", 2)[1]] += 1
            self.by_route[f"{scope['method']} {route_of(path)}"] += 1
        await self.app(scope, receive, send)

    def total(self) -> int:
        return sum(self.by_simulator.values())

    def reset(self) -> None:
        self.by_route.clear()
        self.by_simulator.clear()


class SqlCounter:
    """Statements and transactions on one engine, while ``on``; also by the job running
    (``job``, set around each job by :func:`attributing`; outside a job: ``scheduler``)."""

    def __init__(self, engine: sa.Engine):
        self.statements = 0
        self.transactions = 0
        self.on = False
        self.job = "scheduler"
        self.by_job: dict[str, Counter[str]] = {}
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "begin", self._begin)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.on and not statement.startswith("BEGIN"):
            self.statements += 1
            self.by_job.setdefault(self.job, Counter())["sql"] += 1

    def _begin(self, _conn: Any) -> None:
        if self.on:
            self.transactions += 1
            self.by_job.setdefault(self.job, Counter())["transactions"] += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def reset(self) -> None:
        self.statements = self.transactions = 0
        self.by_job = {}

    def per_job(self, n: int = 1) -> dict[str, dict[str, float]]:
        """``{job: {"sql": .., "transactions": .., "ms": ..}}`` divided by ``n`` (``ms``: wall
        time in the job, of a loaded machine's), the costliest in SQL first."""
        ranked = sorted(self.by_job.items(), key=lambda item: -item[1]["sql"])
        return {job: {"sql": round(c["sql"] / n, 2), "transactions": round(c["transactions"] / n, 2),
                      "ms": round(c["ms"] / n, 2)} for job, c in ranked}


@contextlib.contextmanager
def attributing(sql: SqlCounter) -> Iterator[None]:
    """Count what each job does under its name: every job of a pass (the scheduler's and
    ``sync_once``'s) runs through ``Gate.run``, its gate read included."""
    from fulfilhub.runner import jobs

    original = jobs.Gate.run

    def run(gate: Any, job: Any, name: str, **kwargs: Any) -> Any:
        sql.job = name
        started = time.perf_counter()
        try:
            return original(gate, job, name, **kwargs)
        finally:
            if sql.on:
                sql.by_job.setdefault(name, Counter())["ms"] += (time.perf_counter() - started) * 1000
            sql.job = "scheduler"

    jobs.Gate.run = run  # type: ignore[method-assign]
    try:
        yield
    finally:
        jobs.Gate.run = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- the run


def delivered_count(store: Any) -> int:
    from fulfilhub.store import schema

    with store.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(schema.orders).where(schema.orders.c.status == "delivered")
        ).scalar_one()


def updated_events(store: Any) -> int:
    """``updated`` order events: new order versions stored after the first (echoes included)."""
    from fulfilhub.store import schema

    with store.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(schema.order_events).where(schema.order_events.c.kind == "updated")
        ).scalar_one()


def run_pipeline(world: Any, orders: int, http: CountingApp, sql: SqlCounter) -> dict[str, Any]:
    from fulfilhub.runner.scheduler import Scheduler

    errors: list[str] = []
    scheduler = Scheduler(world.rt, SCHEDULE, on_report=lambda r: errors.extend(r.errors))
    http.reset()
    sql.reset()
    ticks = 0
    delivered = 0
    busy = 0.0
    started = time.perf_counter()
    while ticks < MAX_SIM_DAYS * 24:
        world.clock.advance(STEP)
        tick_start = time.perf_counter()
        with sql.counting():
            scheduler.tick()
        busy += time.perf_counter() - tick_start
        ticks += 1
        if ticks % 4 == 0:
            delivered = delivered_count(world.store)
            if delivered >= orders:
                break
    elapsed = time.perf_counter() - started
    if delivered < orders:
        delivered = delivered_count(world.store)
    return {
        "orders": orders,
        "delivered": delivered,
        "seconds": elapsed,
        "busy_seconds": busy,
        "simulated_hours": ticks,
        "http": http.total(),
        "http_by_simulator": dict(http.by_simulator),
        "http_by_route": dict(http.by_route.most_common()),
        "sql": sql.statements,
        "transactions": sql.transactions,
        "updated_events": updated_events(world.store),
        "errors": errors[:10],
        "error_count": len(errors),
    }


def idle_pass(world: Any, http: CountingApp, sql: SqlCounter, repeats: int = 15) -> dict[str, Any]:
    """Median wall time of ``sync_once`` with nothing due (and what one such pass does)."""
    from fulfilhub.runner import jobs

    times = []
    for _ in range(repeats):
        http.reset()
        sql.reset()
        started = time.perf_counter()
        with sql.counting():
            jobs.sync_once(world.rt)
        times.append(time.perf_counter() - started)
    return {"ms": statistics.median(times) * 1000, "http": http.total(), "sql": sql.statements,
            "transactions": sql.transactions, "per_job": sql.per_job()}


#: String columns that identify a row (or point at one) and so change in each copy.
_HISTORY_IDS = {
    "orders": ("id", "external_id", "number"),
    "order_lines": ("order_id",),
    "order_events": ("order_id",),
    "shipments": ("id", "order_id", "tracking_code", "tracker_ref", "carrier_shipment_ref"),
    "shipment_lines": ("shipment_id",),
    "tracking_events": ("shipment_id",),
    "reservations": ("shipment_id",),
    "plugin_state": ("key",),
    "outbox": ("key",),
}


def add_history(store: Any, copies: int) -> dict[str, int]:
    """Write ``copies`` copies of every finished order (with its lines, events, shipments,
    scans, reservations, warehouse submissions and done effects) straight into the store."""
    from fulfilhub.store import schema

    added: dict[str, int] = {}
    with store.transaction() as tx:
        for name, id_columns in _HISTORY_IDS.items():
            table = schema.metadata.tables[name]
            rows = [dict(r._mapping) for r in tx.conn.execute(sa.select(table))]
            auto = [c.name for c in table.primary_key.columns if c.autoincrement is True]
            batch = []
            for k in range(1, copies + 1):
                for row in rows:
                    copy = {c: v for c, v in row.items() if c not in auto}
                    for column in id_columns:
                        if copy.get(column) is not None:
                            copy[column] = f"{copy[column]}~h{k}"
                    batch.append(copy)
            if batch:
                tx.conn.execute(table.insert(), batch)
            added[name] = len(batch)
    return added


# --------------------------------------------------------------------------- the baseline


def run_baseline(workdir: Path, orders: int) -> dict[str, Any]:
    """The API calls N orders need, made with a bare httpx.Client against fresh simulators."""
    import httpx

    world = build_world(workdir, orders)
    shop = world.sandbox.url_for("shopify")
    easypost = world.sandbox.url_for("easypost")
    SHOP_TOKEN = world.context.options_for("shopify")["access_token"]
    EP_KEY = world.context.options_for("easypost")["api_key"]
    sent = 0
    try:
        started = time.perf_counter()
        with httpx.Client(timeout=30) as client:
            shop_headers = {"X-Shopify-Access-Token": SHOP_TOKEN}
            payloads: list[dict[str, Any]] = []
            url: str | None = f"{shop}{API}/orders.json?status=any&limit=250"
            while url:
                page = client.get(url, headers=shop_headers)
                sent += 1
                page.raise_for_status()
                payloads.extend(page.json()["orders"])
                url = page.links.get("next", {}).get("url")
            for order in payloads:
                to = order.get("shipping_address") or {}
                created = client.post(f"{easypost}/v2/shipments", auth=(EP_KEY, ""), json={"shipment": {
                    "reference": str(order["id"]),
                    "to_address": {"name": to.get("name"), "street1": to.get("address1"), "city": to.get("city"),
                                   "state": to.get("province_code"), "zip": to.get("zip"),
                                   "country": to.get("country_code")},
                    "from_address": {"name": "East DC", "street1": "200 Harbor Way", "city": "Newark",
                                     "state": "NJ", "zip": "07114", "country": "US"},
                    "parcel": {"length": 12, "width": 9, "height": 4, "weight": 16},
                }})
                created.raise_for_status()
                shipment = created.json()
                rate = min(shipment["rates"], key=lambda r: Decimal(r["rate"]))
                bought = client.post(f"{easypost}/v2/shipments/{shipment['id']}/buy", auth=(EP_KEY, ""),
                                     json={"rate": {"id": rate["id"]}})
                bought.raise_for_status()
                tracker = bought.json()["tracker"]
                fos = client.get(f"{shop}{API}/orders/{order['id']}/fulfillment_orders.json", headers=shop_headers)
                fos.raise_for_status()
                groups = [{"fulfillment_order_id": fo["id"]} for fo in fos.json()["fulfillment_orders"]]
                made = client.post(f"{shop}{API}/fulfillments.json", headers=shop_headers, json={"fulfillment": {
                    "line_items_by_fulfillment_order": groups,
                    "tracking_info": {"number": tracker["tracking_code"], "company": rate["carrier"]},
                    "notify_customer": True,
                }})
                made.raise_for_status()
                fulfillment_id = made.json()["fulfillment"]["id"]
                for status in ("in_transit", "out_for_delivery", "delivered"):
                    event = client.post(f"{shop}{API}/orders/{order['id']}/fulfillments/{fulfillment_id}/events.json",
                                        headers=shop_headers, json={"event": {"status": status}})
                    event.raise_for_status()
                sent += 7
        elapsed = time.perf_counter() - started
    finally:
        world.close()
    return {"orders": len(payloads), "seconds": elapsed, "http": sent}


# --------------------------------------------------------------------------- main


def measure(orders: int, *, history_copies: int = 9) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fulfilhub-pipeline-") as tmp:
        workdir = Path(tmp)
        (workdir / "run").mkdir()
        (workdir / "baseline").mkdir()
        counters: list[CountingApp] = []

        def wrap(app: Any) -> CountingApp:
            counters.append(CountingApp(app))
            return counters[-1]

        world = build_world(workdir / "run", orders, wrap_app=wrap)
        http = counters[0]
        sql = SqlCounter(world.store.engine)
        try:
            with attributing(sql):
                run = run_pipeline(world, orders, http, sql)
                per_job = sql.per_job(max(run["delivered"], 1))
                idle_1x = idle_pass(world, http, sql)
                added = add_history(world.store, history_copies)
                idle_10x = idle_pass(world, http, sql)
        finally:
            world.close()
        baseline = run_baseline(workdir / "baseline", orders)
    n = max(run["delivered"], 1)
    orders_per_s = run["delivered"] / run["seconds"]
    baseline_per_s = baseline["orders"] / baseline["seconds"]
    return {
        "orders_per_s": round(orders_per_s, 2),
        "http_per_order": round(run["http"] / n, 2),
        "sql_per_order": round(run["sql"] / n, 2),
        "idle_pass_ms_1x": round(idle_1x["ms"], 2),
        "idle_pass_ms_10x": round(idle_10x["ms"], 2),
        "transactions_per_order": round(run["transactions"] / n, 2),
        "per_job": per_job,
        "updated_versions_per_order": round(run["updated_events"] / n, 2),
        "baseline_orders_per_s": round(baseline_per_s, 2),
        "baseline_http_per_order": round(baseline["http"] / max(baseline["orders"], 1), 2),
        "vs_baseline": round(orders_per_s / baseline_per_s, 3),
        "orders": orders,
        "delivered": run["delivered"],
        "seconds": round(run["seconds"], 2),
        "simulated_hours": run["simulated_hours"],
        "http_by_simulator": {k: round(v / n, 2) for k, v in sorted(run["http_by_simulator"].items())},
        "http_by_route": {k: round(v / n, 2) for k, v in run["http_by_route"].items()},
        "idle_pass_1x": idle_1x,
        "idle_pass_10x": idle_10x,
        "history_rows_added": added,
        "errors": run["errors"],
        "error_count": run["error_count"],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="orders to take to delivered (default 300)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    result = measure(args.orders)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["delivered"] == args.orders else 1
    r = result
    print(f"pipeline: {r['delivered']}/{r['orders']} orders delivered in {r['seconds']:.1f}s "
          f"({r['simulated_hours']} simulated hours), Python {r['python']}, {r['cpus']} CPUs")
    print(f"  orders/s end to end     {r['orders_per_s']:9.2f}   (bare httpx baseline {r['baseline_orders_per_s']:.2f}, "
          f"ratio {r['vs_baseline']:.3f})")
    print(f"  HTTP requests / order   {r['http_per_order']:9.2f}   (baseline {r['baseline_http_per_order']:.2f})")
    print(f"  SQL statements / order  {r['sql_per_order']:9.2f}")
    print(f"  transactions / order    {r['transactions_per_order']:9.2f}")
    print(f"  new versions / order    {r['updated_versions_per_order']:9.2f}   (none is edited: all echoes)")
    print(f"  idle pass, 1x history   {r['idle_pass_ms_1x']:9.2f} ms   "
          f"({r['idle_pass_1x']['http']} HTTP, {r['idle_pass_1x']['sql']} SQL)")
    print(f"  idle pass, 10x history  {r['idle_pass_ms_10x']:9.2f} ms   "
          f"({r['idle_pass_10x']['http']} HTTP, {r['idle_pass_10x']['sql']} SQL)")
    print("  SQL statements / transactions / wall ms per order by job:")
    for job, c in r["per_job"].items():
        print(f"    {c['sql']:7.2f} / {c['transactions']:5.2f} / {c['ms']:6.2f}  {job}")
    print("  HTTP per order by simulator: " + ", ".join(f"{k} {v}" for k, v in r["http_by_simulator"].items()))
    print("  HTTP per order by route:")
    for route, per in r["http_by_route"].items():
        print(f"    {per:7.2f}  {route}")
    if r["error_count"]:
        print(f"  {r['error_count']} job errors, first: {r['errors'][:3]}")
    return 0 if r["delivered"] == r["orders"] else 1


if __name__ == "__main__":
    sys.exit(main())
