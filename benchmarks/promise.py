"""Promise quote latency with a large delivery history in the store.

A fresh SQLite store is filled (bulk inserts, no runner) with N delivered shipments
(1,000,000 by default) over 180 days, plus 2 % still in transit: two warehouses, the
50 US states with a few postal prefixes each, three carrier services whose transit
depends on the service and the distance. Then, in this process:

- **build**: ``PromiseEngine.load`` learns every shipment once (what ``Runtime.
  promise_engine()`` does on first use): wall time, and the process's peak RSS before
  and after; ``--trace-memory`` also reports the bytes tracemalloc sees held by the
  engine (slower). Baseline in the same run: the same query streamed without learning.
- **quote**: ``PromiseEngine.quote`` for random destinations and SKUs, each reading
  its stock rows from the store as the runner's quotes do, after a warm-up: p50, p99
  and max in microseconds, for a quote before any carrier is chosen (every service of
  the lane) and for one naming a carrier service. Baseline in the same run: the
  stock read alone (the part of a quote that is not the promise engine's).
- **keeping current** (the server's engine, in another process than the runner):
  quote p50/p99 while the whole store is learned again in a background thread (what
  the server did every 10 minutes: the baseline), against quotes while
  ``PromiseCache.catch_up`` rounds run back to back after half the parcels in flight
  landed; and the time of one round of each.

Usage::

    python benchmarks/promise.py                       # 1,000,000 shipments
    python benchmarks/promise.py --shipments 100000 --json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
          "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
SERVICES = (("USPS", "Priority", 0.9), ("USPS", "GroundAdvantage", 1.6), ("UPS", "Ground", 1.3))
WAREHOUSES = {"east": ("NJ", 0.35), "west": ("NV", 0.65)}  # (state, where it sits, as a share of "distance")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAYS = 180


def _ts(moment: datetime) -> str:
    """How the store keeps a time on SQLite (UTC, fixed width)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def fill(store: Any, shipments: int, seed: int) -> float:
    """Bulk-insert ``shipments`` orders with one shipment each; returns seconds taken."""
    began = time.perf_counter()
    rnd = random.Random(seed)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        in_flight = max(1, shipments // 50)
        batch_o: list[tuple] = []
        batch_s: list[tuple] = []
        span = DAYS * 86400
        # each state has a few postal prefixes; the JSON of each destination is made once
        destinations = [
            (state, (i % 10) / 10, json.dumps({"name": "B", "line1": "1 Main St", "city": "Town", "province": state,
                                               "postal_code": f"{p}{i % 10}01", "country": "US"}))
            for i, state in enumerate(STATES) for p in range(10, 16)
        ]
        for i in range(shipments + in_flight):
            state, position, ship_to = rnd.choice(destinations)
            warehouse = "east" if rnd.random() < 0.5 else "west"
            carrier, service, speed = rnd.choice(SERVICES)
            distance = abs(WAREHOUSES[warehouse][1] - position)
            flying = i >= shipments
            shipped = START + timedelta(seconds=rnd.random() * span) if not flying else (
                START + timedelta(days=DAYS) - timedelta(hours=rnd.random() * 72))
            transit = timedelta(days=max(0.4, rnd.lognormvariate(math.log(speed * (1 + 3 * distance)), 0.35)))
            oid = f"bench:{i}"
            t = _ts(shipped - timedelta(hours=6))
            batch_o.append((oid, "bench", str(i), f"#{i}", "v1", "delivered" if not flying else "in_transit", t, t,
                            "USD", "10.00", "", "", ship_to, "{}", t, t))
            batch_s.append((f"{oid}/1", oid, warehouse, "delivered" if not flying else "in_transit", "easypost",
                            carrier, service, _ts(shipped), None if flying else _ts(shipped + transit), t, t))
            if len(batch_o) >= 50_000:
                _flush(cur, batch_o, batch_s)
        _flush(cur, batch_o, batch_s)
        cur.executemany("INSERT INTO stock (warehouse, sku, on_hand, reserved, safety_stock, updated_at) "
                        "VALUES (?, ?, ?, 0, 0, ?)",
                        [(w, f"SKU-{n}", 0 if (n, w) in ((7, "east"), (8, "west")) else 10_000, _ts(START))
                         for w in WAREHOUSES for n in range(200)])
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def _flush(cur: Any, orders: list[tuple], shipments: list[tuple]) -> None:
    cur.executemany(
        "INSERT INTO orders (id, channel, external_id, number, version, status, placed_at, foreign_updated_at, "
        "currency, total, email, note, ship_to, raw, created_at, modified_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", orders)
    cur.executemany(
        "INSERT INTO shipments (id, order_id, warehouse, status, carrier, carrier_name, service, shipped_at, "
        "delivered_at, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", shipments)
    orders.clear()
    shipments.clear()


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _percentiles(samples: list[float], cpu: list[float]) -> dict[str, float]:
    """Wall-clock p50/p99/max, and the same of the thread's CPU time (what the code costs
    when the machine is shared and the scheduler takes the CPU away mid-quote)."""
    def pick(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6, 1)

    return {"p50_us": pick(samples, 0.5), "p99_us": pick(samples, 0.99), "max_us": pick(samples, 1.0),
            "cpu_p50_us": pick(cpu, 0.5), "cpu_p99_us": pick(cpu, 0.99)}


def keeping_current(store: Any, config: Any, addresses: Any, engine: Any, request: Any, quotes: int) -> dict:
    """The server keeping its engine current while it quotes, before and after catch-up.

    Before: the whole store learned again by a new engine (what the server did every 10
    minutes), in a background thread, with quotes timed while it runs. After: half the
    shipments in flight delivered by "another process" (rows updated in the store), then
    ``PromiseCache.catch_up`` rounds in a background thread, back to back, with quotes
    timed meanwhile. One round of each is timed too.
    """
    import threading

    from fulfilhub.engines.promise import PromiseEngine
    from fulfilhub.engines.promise_cache import PromiseCache
    from fulfilhub.store import shipments as shipment_store

    out: dict[str, Any] = {}

    def quoting_while(work: Any) -> dict:
        done = threading.Event()

        def background() -> None:
            while not done.is_set():
                work()

        thread = threading.Thread(target=background)
        thread.start()
        samples, cpu = [], []
        with store.read() as conn:
            for _ in range(quotes // 4):
                req = request(False)
                c0, t0 = time.thread_time(), time.perf_counter()
                try:
                    engine.quote(req, conn=conn)
                except Exception:
                    pass
                samples.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
        done.set()
        thread.join()
        return _percentiles(samples, cpu)

    def relearn() -> None:
        fresh = PromiseEngine(config.promise, addresses)
        with store.read() as conn:
            fresh.load(conn)

    began = time.perf_counter()
    relearn()
    out["relearn_round_s"] = round(time.perf_counter() - began, 2)
    out["quote_while_relearning"] = quoting_while(relearn)

    loaded_at = START + timedelta(days=DAYS, hours=3)
    clock = [loaded_at]
    cache = PromiseCache(lambda: engine, lambda e: None, now=lambda: clock[0])
    cache.engine()
    landed = START + timedelta(days=DAYS, hours=4)
    raw = store.engine.raw_connection()
    try:  # "the runner" delivers half of the shipments in flight
        cur = raw.cursor()
        cur.execute("UPDATE shipments SET status = 'delivered', delivered_at = ?, modified_at = ? "
                    "WHERE status = 'in_transit' AND rowid % 2 = 0", (_ts(landed), _ts(landed)))
        changed_rows = cur.rowcount
        raw.commit()
    finally:
        raw.close()

    def changed(since: datetime) -> list:
        with store.read() as conn:
            return shipment_store.moved_since(conn, since)

    began = time.perf_counter()
    learned = cache.catch_up(changed)
    out["catch_up_round_s"] = round(time.perf_counter() - began, 3)
    out["catch_up_changes"], out["catch_up_learned"] = changed_rows, learned
    began = time.perf_counter()
    cache.catch_up(changed)
    out["catch_up_idle_round_s"] = round(time.perf_counter() - began, 3)  # nothing new: the query alone
    out["quote_while_catching_up"] = quoting_while(lambda: cache.catch_up(changed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=1_000_000, help="Delivered shipments in the history.")
    parser.add_argument("--quotes", type=int, default=20_000, help="Timed quotes of each kind (after 2,000 warm-up).")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--trace-memory", action="store_true", help="Also measure the engine's bytes with tracemalloc.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from fulfilhub.config import from_mapping
    from fulfilhub.engines.promise import PromiseEngine, QuoteRequest
    from fulfilhub.models import Address
    from fulfilhub.store import Store
    from fulfilhub.store import stock as stock_store
    from fulfilhub.store.schema import orders, shipments

    workdir = Path(tempfile.mkdtemp(prefix="fulfilhub-promise-bench-"))
    store = Store.open(f"sqlite:///{workdir / 'bench.sqlite'}", migrate=True)
    filled = fill(store, args.shipments, args.seed)
    config = from_mapping({
        "warehouses": {w: {"type": "local", "address": {"country": "US", "province": st}} for w, (st, _) in WAREHOUSES.items()},
        "promise": {"warehouses": {"east": {"timezone": "America/New_York", "holidays": "US-NJ"},
                                   "west": {"timezone": "America/Los_Angeles", "holidays": "US-NV"}}},
    }, path=workdir / "fulfilhub.toml", env={})
    addresses = {w: Address(country="US", province=st) for w, (st, _) in WAREHOUSES.items()}

    # baseline: the engine's query streamed, nothing learned
    began = time.perf_counter()
    with store.read() as conn:
        query = (sa.select(shipments.c.id, shipments.c.warehouse, shipments.c.carrier_name, shipments.c.service,
                           shipments.c.status, shipments.c.shipped_at, shipments.c.delivered_at, orders.c.ship_to)
                 .join(orders, orders.c.id == shipments.c.order_id).where(shipments.c.shipped_at.is_not(None)))
        streamed = sum(1 for _ in conn.execution_options(stream_results=True, yield_per=20_000).execute(query))
    baseline_build = time.perf_counter() - began

    rss_before = _rss_mb()
    if args.trace_memory:
        tracemalloc.start()
    began, began_cpu = time.perf_counter(), time.process_time()
    engine = PromiseEngine(config.promise, addresses)
    with store.read() as conn:
        learned = engine.load(conn)
    build, build_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    traced = None
    if args.trace_memory:
        traced = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    rss_after = _rss_mb()

    rnd = random.Random(args.seed + 1)
    at = START + timedelta(days=DAYS, hours=3)
    skus = [f"SKU-{n}" for n in range(200)]

    def request(carrier: bool) -> QuoteRequest:
        state = rnd.choice(STATES)
        to = Address(country="US", province=state, postal_code=f"{rnd.randint(10, 16)}{STATES.index(state) % 10}01")
        lines = [(rnd.choice(skus), rnd.randint(1, 3)) for _ in range(rnd.randint(1, 3))]
        extra = {}
        if carrier:
            name, service, _ = rnd.choice(SERVICES)
            extra = {"carrier": name, "service": service}
        return QuoteRequest(lines=lines, ship_to=to, at=at + timedelta(minutes=rnd.randint(0, 600)), **extra)

    figures: dict[str, Any] = {}
    refused = 0
    with store.read() as conn:
        for kind, carrier in (("quote_any_service", False), ("quote_named_service", True)):
            samples: list[float] = []
            cpu: list[float] = []
            for n in range(2_000 + args.quotes):
                req = request(carrier)
                c0, t0 = time.thread_time(), time.perf_counter()
                try:
                    engine.quote(req, conn=conn)
                except Exception:  # a SKU out of stock everywhere: no promise (counted, timed all the same)
                    refused += 1
                elapsed, used = time.perf_counter() - t0, time.thread_time() - c0
                if n >= 2_000:
                    samples.append(elapsed)
                    cpu.append(used)
            figures[kind] = _percentiles(samples, cpu)
        samples, cpu = [], []
        for n in range(2_000 + args.quotes):
            req = request(False)
            c0, t0 = time.thread_time(), time.perf_counter()
            stock_store.for_promise(conn, {sku for sku, _ in req.lines})
            if n >= 2_000:
                samples.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
        figures["baseline_stock_read"] = _percentiles(samples, cpu)
    figures.update(keeping_current(store, config, addresses, engine, request, args.quotes))
    store.close()

    out = {
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "shipments_delivered": args.shipments, "shipments_in_flight": learned - args.shipments,
        "fill_s": round(filled, 1),
        "build_s": round(build, 2), "build_cpu_s": round(build_cpu, 2), "baseline_stream_s": round(baseline_build, 2),
        "rows_streamed": streamed, "load_average": [round(x, 1) for x in __import__("os").getloadavg()],
        "cpus": __import__("os").cpu_count(),
        "build_rows_per_s": round(learned / build), "rss_before_build_mb": round(rss_before), "rss_after_build_mb": round(rss_after),
        "engine_bytes_traced": traced,
        **figures,
        "quotes_without_promise": refused,
        "target_p99_under_us": 1000,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
