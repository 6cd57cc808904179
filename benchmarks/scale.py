"""Scale-out benchmark: procrastinate workers on PostgreSQL against the single-process runner.

The latency-bound workload of issue 19: ``--channels`` Shopify shops (copies of the
Shopify simulator, 8 by default), each with ``--orders`` orders preloaded (2,000 by
default), one EasyPost carrier and two ``local`` warehouses that pack at once, all on
the sandbox over loopback with ``--latency`` seconds (0.05) added to every HTTP call
(an ASGI middleware sleeping before each answer). Each order is taken through to its
label bought and its fulfilment pushed to its shop.

Measured, in one run, each on a fresh PostgreSQL database and fresh simulators:

- the single-process runner (``sync_once`` passes in this process, as ``fulfilhub
  run`` does, its per-instance threads included);
- 1, 2 and 4 ``fulfilhub worker`` processes (``--concurrency`` jobs each);

one line each: orders/s and the ratio to one worker (and one worker to the runner).
Then the kill test: ``--workers-for-kill`` workers run the workload while a random one
is killed with SIGKILL ``--kills`` times (and replaced); afterwards the simulators'
own state is checked: every order pulled, one label bought per shipment (EasyPost's
purchase count), one fulfilment per shipment on each shop, and no notice sent twice.

Usage::

    python benchmarks/scale.py                            # the issue's size (long)
    python benchmarks/scale.py --orders 100 --channels 4  # what fits a shared 2-core machine
    python benchmarks/scale.py --json

Requires fulfilhub[postgres], fulfilhub-shopify, fulfilhub-easypost and a PostgreSQL
server whose user may create databases (``FULFILHUB_TEST_POSTGRES_URL``, by default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

SERVER_URL = os.environ.get("FULFILHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CARRIER = "easypost"
#: The workers keep the config's schedule for pulls and passes: the orders are preloaded
#: (one pull each), allocation runs every second, the rest at their defaults.
SCHEDULE = '[schedule]\nallocate = "1s"\nprocess_inbox = "1s"\n'


# --------------------------------------------------------------------------- the world


class Latency:
    """ASGI middleware: every HTTP request waits ``seconds`` before it is answered."""

    def __init__(self, app: Any, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.seconds > 0:
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class Shops:
    """A plugin registering ``count`` copies of the Shopify simulator, ``shop1``... (one per channel)."""

    def __init__(self, count: int):
        self.count = count

    def register_simulators(self, register: Any) -> None:
        import fulfilhub_shopify

        from fulfilhub import hookimpl  # noqa: F401  (the marker below)

        found: list[Any] = []
        fulfilhub_shopify.register_simulators(found.append)
        shopify = found[0]
        for i in range(1, self.count + 1):
            register(attrs.evolve(shopify, name=f"shop{i}", demo=attrs.evolve(shopify.demo, instance=f"shop{i}")))


def _shops_plugin(count: int) -> Any:
    from fulfilhub import hookimpl

    shops = Shops(count)

    class Plugin:
        @hookimpl
        def register_simulators(self, register: Any) -> None:
            shops.register_simulators(register)

    return Plugin()


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; its SQLAlchemy URL."""
    server = sa.create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"fulfilhub_scale_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def build(workdir: Path, *, channels: int, orders: int, latency: float, store_url: str,
          wrap: Any = None) -> Any:
    """The world: ``channels`` shops with ``orders`` each, EasyPost, two local warehouses
    packing at once, ``latency`` on every call (or ``wrap`` around the sandbox's app); its
    runtime on the world's clock, set to now."""
    import fulfilhub_easypost
    import fulfilhub_shopify

    from fulfilhub.plugins import PluginManager
    from fulfilhub.scenarios import LocalWarehouse, build_world
    from fulfilhub.scenarios.world import WAREHOUSES

    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, _shops_plugin(channels)])
    names = [f"shop{i}" for i in range(1, channels + 1)]
    shop_options = {"preload": orders, "orders_per_day": 0, "update_rate": 0.0, "malformed_rate": 0.0,
                    "rate_limit": False}
    world = build_world(
        plugins, workdir, start=datetime.now(timezone.utc).replace(microsecond=0), seed=19,
        channels=names, carriers=[CARRIER],
        options={**{name: shop_options for name in names}, CARRIER: {"exception_rate": 0.0, "delay_rate": 0.0}},
        warehouses=[LocalWarehouse(name=w.name, address=w.address, pick_minutes=0, pack_minutes=0) for w in WAREHOUSES],
        store_url=store_url, wrap_app=wrap or (lambda app: Latency(app, latency)),
        extra_config=SCHEDULE,
    )
    for shop in world.simulators("channels").values():
        for item in shop.catalog:
            for warehouse in WAREHOUSES:
                world.stock(warehouse.name, item["sku"], 10 * orders + 100, unit_weight_g=int(item.get("grams") or 400))
    return world


# --------------------------------------------------------------------------- progress and checks


def progress(store: Any) -> tuple[int, int, int]:
    """``(orders, shipments, shipments whose fulfilment push is done)`` in the store."""
    from fulfilhub.store import schema

    with store.read() as conn:
        orders = conn.execute(sa.select(sa.func.count()).select_from(schema.orders)).scalar_one()
        ships = conn.execute(sa.select(sa.func.count()).select_from(schema.shipments)).scalar_one()
        pushed = conn.execute(sa.select(sa.func.count()).select_from(schema.outbox).where(
            schema.outbox.c.kind == "channel.push_fulfillment", schema.outbox.c.status == "done")).scalar_one()
    return orders, ships, pushed


def finished(store: Any, expected: int) -> bool:
    orders, ships, pushed = progress(store)
    return orders == expected and ships >= orders and pushed == ships


def check(world: Any, expected: int) -> dict[str, Any]:
    """Against the simulators' own state: orders lost, labels and fulfilments and notices doubled."""
    from fulfilhub.store import schema

    with world.store.read() as conn:
        orders = conn.execute(sa.select(schema.orders.c.id, schema.orders.c.channel, schema.orders.c.external_id)).all()
        ships = conn.execute(sa.select(schema.shipments.c.id, schema.shipments.c.order_id)).all()
        notices = conn.execute(sa.select(schema.outbox.c.key, schema.outbox.c.status).where(
            schema.outbox.c.kind == "notice.send")).all()
    per_order: dict[str, int] = {}
    for s in ships:
        per_order[s.order_id] = per_order.get(s.order_id, 0) + 1
    easypost = world.simulators("carriers")[CARRIER]
    references: dict[str, int] = {}
    for shipment in easypost.shipments.values():
        if shipment.get("selected_rate") is not None:
            references[shipment.get("reference")] = references.get(shipment.get("reference"), 0) + 1
    shops = world.simulators("channels")
    instance_of = {instance: name for name, (kind, instance) in world.parts.items() if kind == "channels"}
    fulfilments_doubled = 0
    for o in orders:
        made = len(shops[instance_of[o.channel]].fulfillments_for(int(o.external_id)))
        fulfilments_doubled += max(0, made - per_order.get(o.id, 0))
    return {
        "orders_expected": expected,
        "orders_lost": expected - len(orders),
        "labels_bought": easypost.purchases_count(),
        "labels_doubled": sum(n - 1 for n in references.values() if n > 1) + max(0, easypost.purchases_count() - len(ships)),
        "fulfilments_doubled": fulfilments_doubled,
        "notices_doubled": len(notices) - len({n.key for n in notices}),
    }


# --------------------------------------------------------------------------- the runs


def run_single(world: Any, expected: int, timeout: float) -> float:
    from fulfilhub.runner.jobs import sync_once

    started = time.perf_counter()
    while not finished(world.store, expected):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"single-process runner: not done after {timeout:.0f}s: {progress(world.store)}")
        sync_once(world.rt)
    return time.perf_counter() - started


def spawn_worker(config: Path, concurrency: int, log: Path, parts: int = 16) -> subprocess.Popen:
    env = {**os.environ, "FULFILHUB_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "fulfilhub", "-v", "worker", "--concurrency", str(concurrency), "--every", "1",
         "--stalled-after", "3", "--shutdown-timeout", "5", "--parts", str(parts)],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def prepare_schema(world: Any) -> None:
    """procrastinate's schema, as the first worker would apply it (kept out of the timing)."""
    from fulfilhub.runner.distributed import Distributed

    dist = Distributed(world.config.store_url, lambda: world.rt)
    dist.apply_schema()


def run_workers(world: Any, expected: int, workers: int, concurrency: int, timeout: float, workdir: Path, *,
                kills: int = 0, rng: random.Random | None = None, parts: int = 16) -> float:
    prepare_schema(world)
    log = workdir / "workers.log"
    cpu_before = _children_cpu()
    commits_before = commits(world.store)
    procs = [spawn_worker(world.config_path, concurrency, log, parts) for _ in range(workers)]
    started = time.perf_counter()
    killed = 0
    try:
        while not finished(world.store, expected):
            elapsed = time.perf_counter() - started
            if elapsed > timeout:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
                raise TimeoutError(f"{workers} workers: not done after {timeout:.0f}s: {progress(world.store)}; "
                                   f"the workers' log ends:\n{tail}")
            if kills and killed < kills and rng is not None and rng.random() < 0.5:
                victim = rng.randrange(len(procs))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                procs[victim] = spawn_worker(world.config_path, concurrency, log, parts)
                killed += 1
            time.sleep(0.5 if not kills else 1.0)
        return time.perf_counter() - started
    finally:
        stop(procs)
        COSTS["worker_cpu_s"] = _children_cpu() - cpu_before
        COSTS["pg_commits"] = commits(world.store) - commits_before


#: The last worker run's costs: CPU seconds of the worker processes, PostgreSQL commits.
COSTS: dict[str, float] = {}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def commits(store: Any) -> int:
    """Transactions committed in the store's database so far (``pg_stat_database``)."""
    with store.read() as conn:
        return int(conn.exec_driver_sql(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").scalar())


def one(label: str, args: argparse.Namespace, workdir: Path, **kw: Any) -> dict[str, Any]:
    expected = args.channels * args.orders
    with scratch_database() as url:
        world = build(workdir / label, channels=args.channels, orders=args.orders, latency=args.latency, store_url=url)
        try:
            if kw.get("workers"):
                seconds = run_workers(world, expected, kw["workers"], args.concurrency, args.timeout, workdir / label,
                                      kills=kw.get("kills", 0), rng=kw.get("rng"), parts=args.parts)
            else:
                seconds = run_single(world, expected, args.timeout)
            result = {"run": label, "seconds": round(seconds, 2), "orders_per_s": round(expected / seconds, 2),
                      **check(world, expected)}
            if kw.get("workers"):
                result["worker_cpu_ms_per_order"] = round(1000 * COSTS["worker_cpu_s"] / expected, 1)
                result["pg_commits_per_order"] = round(COSTS["pg_commits"] / expected, 1)
        finally:
            world.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--orders", type=int, default=2000, help="orders per channel")
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every HTTP call")
    ap.add_argument("--concurrency", type=int, default=8, help="jobs at once in each worker")
    ap.add_argument("--workers", default="1,2,4", help="worker process counts to measure")
    ap.add_argument("--parts", type=int, default=16, help="slices per instance (fulfilhub worker --parts)")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--workers-for-kill", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="fulfilhub-scale-") as tmp:
        workdir = Path(tmp)
        if not args.skip_single:
            results.append(one("single-process runner", args, workdir))
        for n in (int(x) for x in args.workers.split(",") if x):
            results.append(one(f"{n} worker{'s' if n > 1 else ''}", args, workdir, workers=n))
            if not args.json:
                print(json.dumps(results[-1]), file=sys.stderr)
        if args.kills:
            results.append(one(f"{args.workers_for_kill} workers, {args.kills} kill -9", args, workdir,
                               workers=args.workers_for_kill, kills=args.kills, rng=rng))
    if args.json:
        print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "args": vars(args),
                          "results": results}, indent=2))
        return
    print(f"# {args.channels} channels x {args.orders} orders, {args.latency * 1000:.0f} ms per call, "
          f"concurrency {args.concurrency}, {args.parts} parts; {os.cpu_count()} CPUs ({platform.platform()})")
    by = {r["run"]: r for r in results}
    one_worker = by.get("1 worker")
    single = by.get("single-process runner")
    for r in results:
        line = f"{r['run']}: {r['orders_per_s']} orders/s ({r['seconds']} s)"
        if one_worker and r["run"].endswith("workers") and "kill" not in r["run"]:
            line += f", {r['orders_per_s'] / one_worker['orders_per_s']:.2f}x one worker"
        if single and r is one_worker:
            line += f", {r['orders_per_s'] / single['orders_per_s']:.2f}x the single-process runner"
        if "kill" in r["run"] or r["orders_lost"] or r["labels_doubled"] or r["fulfilments_doubled"]:
            line += (f"; lost orders {r['orders_lost']}, doubled labels {r['labels_doubled']}, "
                     f"doubled fulfilments {r['fulfilments_doubled']}, doubled notices {r['notices_doubled']}")
        print(line)


if __name__ == "__main__":
    main()
