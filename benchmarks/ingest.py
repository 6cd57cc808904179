"""Ingest benchmark: N orders from the Shopify simulator over loopback into SQLite.

Measures, in one run and on the same simulator:

- **framework**: fulfilhub's real runner (``pull_channel``: Link-header pagination,
  mapping every payload to the model, intake checks, dedupe by id + version, order
  lines, events, raw payloads, cursor saved per page) into a fresh SQLite store;
- **baseline**: the least a program can do for the same data: httpx fetching the same
  pages with the same headers, ``json`` parsing, and ``executemany`` of (id, updated_at,
  raw JSON) rows into SQLite, one commit per page.

Each side runs in its own child process so that its peak RSS is its own; the simulator
runs in a third process. Baseline and framework rounds alternate (``--pairs``, five by default) so that
a busy neighbour on a shared machine slows both sides of a pair alike; the throughput ratio is
printed per pair and as min / median / max. The framework is also run at N/10 to show whether
memory grows with N. Usage::

    python benchmarks/ingest.py                  # N = 100,000, 250 per page
    python benchmarks/ingest.py --orders 20000   # quicker
    python benchmarks/ingest.py --trace-memory   # and the Python heap page by page

Requires the fulfilhub and fulfilhub-shopify packages installed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

TOKEN = "shpat_benchmark_token"
API = "/admin/api/2024-10/orders.json"


def serve(orders: int) -> None:
    """Child: serve the Shopify simulator with ``orders`` preloaded; print its URL."""
    from datetime import datetime, timezone

    import fulfilhub_shopify

    from fulfilhub.clock import SimClock
    from fulfilhub.plugins import PluginManager
    from fulfilhub.sandbox import SandboxContext, SandboxServer

    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify])
    clock = SimClock(datetime(2026, 1, 5, 8, tzinfo=timezone.utc))
    context = SandboxContext(clock=clock, seed=1, options={
        "shopify": {"preload": orders, "orders_per_day": 0, "update_rate": 0.0, "rate_limit": False, "access_token": TOKEN}
    })
    server = SandboxServer({"shopify": pm.registry.simulators["shopify"]}, context).start()
    print(server.url_for("shopify"), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_framework(url: str, page_size: int, workdir: str, queue: mp.Queue, trace: bool = False) -> None:
    from fulfilhub.config import load
    from fulfilhub.plugins import PluginManager
    from fulfilhub.runner import jobs
    from fulfilhub.runner.runtime import Runtime
    from fulfilhub.store import Store

    import fulfilhub_shopify

    path = Path(workdir) / "fulfilhub.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///framework.sqlite"\n'
        f'[channels.shop]\ntype = "shopify"\nbase_url = "{url}"\naccess_token = "${{BENCH_TOKEN}}"\npage_size = {page_size}\n'
        f'[warehouses.main]\ntype = "local"\n'
    )
    config = load(path, env={"BENCH_TOKEN": TOKEN})
    store = Store.open(config.store_url, migrate=True)
    rt = Runtime(config, store, PluginManager(load_installed=False, extra=[fulfilhub_shopify]))
    heap: list[float] = []  # Python heap (tracemalloc) after each page, in MB
    rss: list[float] = []  # resident memory after each page, in MB

    def progress(_name: str, _count: int) -> None:
        rss.append(current_rss_mb())
        if trace:
            heap.append(tracemalloc.get_traced_memory()[0] / 2**20)

    if trace:
        tracemalloc.start()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    report = jobs.pull_channel(rt, "shop", progress=progress)
    elapsed = time.perf_counter() - started
    rt.close()
    store.close()
    queue.put({"orders": report.counts["orders_new"], "pages": report.counts["pages"], "seconds": elapsed,
               "errors": report.errors, "rss_mb": peak_rss_mb(), "rss_before_mb": rss_before, "heap_mb": heap,
               "rss_by_page": rss})


def run_baseline(url: str, page_size: int, workdir: str, queue: mp.Queue) -> None:
    import httpx

    db = sqlite3.connect(Path(workdir) / "baseline.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, updated_at TEXT, raw TEXT)")
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    count = pages = 0
    with httpx.Client(headers={"X-Shopify-Access-Token": TOKEN}, timeout=30) as client:
        next_url: str | None = f"{url}{API}?status=any&limit={page_size}"
        while next_url:
            response = client.get(next_url)
            response.raise_for_status()
            orders = response.json()["orders"]
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?)",
                [(str(o["id"]), o.get("updated_at"), json.dumps(o)) for o in orders],
            )
            db.commit()
            count += len(orders)
            pages += 1
            next_url = response.links.get("next", {}).get("url")
    elapsed = time.perf_counter() - started
    db.close()
    queue.put({"orders": count, "pages": pages, "seconds": elapsed, "errors": [], "rss_mb": peak_rss_mb(),
               "rss_before_mb": rss_before})


def measure(target, url: str, page_size: int, *extra) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="fulfilhub-bench-") as workdir:
        proc = ctx.Process(target=target, args=(url, page_size, workdir, queue, *extra))
        proc.start()
        result = queue.get(timeout=3600)
        proc.join()
    return result


def with_server(orders: int):
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(orders)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the simulator did not start (got {url!r})")
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--pairs", type=int, default=5,
                        help="Alternating baseline/framework rounds; the ratio's min/median/max is reported.")
    parser.add_argument("--trace-memory", action="store_true",
                        help="Also run the framework once under tracemalloc and print its Python heap per page.")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    print(f"fulfilhub ingest benchmark: {args.orders:,} orders, {args.page_size} a page, over loopback, "
          f"{args.pairs} pairs of rounds")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # The shared machine's load changes from minute to minute, so one framework run against one
    # baseline run says little. Rounds alternate baseline and framework against the same
    # (read-only) simulator, so a busy neighbour slows both sides of a pair alike, and the
    # ratio is reported per pair: min / median / max over the pairs.
    server, url = with_server(args.orders)
    pairs = []
    try:
        for number in range(1, args.pairs + 1):
            pair = {}
            for label, target in (("baseline", run_baseline), ("framework", run_framework)):
                result = measure(target, url, args.page_size)
                if result["orders"] != args.orders or result["errors"]:
                    raise SystemExit(f"{label}: stored {result['orders']} of {args.orders} orders; "
                                     f"errors: {result['errors'][:3]}")
                pair[label] = result
            ratio = pair["baseline"]["seconds"] / pair["framework"]["seconds"]
            pairs.append((pair, ratio))
            print(f"  pair {number}: baseline {args.orders / pair['baseline']['seconds']:8,.0f} orders/s, "
                  f"framework {args.orders / pair['framework']['seconds']:8,.0f} orders/s "
                  f"(peak RSS {pair['framework']['rss_mb']:6.1f} MB), ratio {ratio:.2f}x", flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    ratios = sorted(r for _, r in pairs)
    print(f"framework / baseline throughput over {len(ratios)} pairs: min {ratios[0]:.2f}x, "
          f"median {statistics.median(ratios):.2f}x, max {ratios[-1]:.2f}x  (target >= 0.8x)")
    frame = pairs[-1][0]["framework"]
    small_n = max(1, args.orders // 10)
    server, url = with_server(small_n)
    try:
        small = measure(run_framework, url, args.page_size)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    print(f"framework peak RSS: {small['rss_mb']:.1f} MB at {small_n:,} orders, {frame['rss_mb']:.1f} MB at "
          f"{args.orders:,} (growth {frame['rss_mb'] - small['rss_mb']:+.1f} MB for {args.orders - small_n:,} more orders)")
    by_page = frame["rss_by_page"]
    marks = [len(by_page) * k // 10 for k in (1, 5, 10)]
    print("framework RSS during the N run: " + ", ".join(
        f"{by_page[m - 1]:.1f} MB after {m} pages" for m in marks if m))
    if args.trace_memory:
        server, url = with_server(args.orders)
        try:
            traced = measure(run_framework, url, args.page_size, True)
        finally:
            server.stdin.close()
            server.wait(timeout=30)
        heap = traced["heap_mb"]
        tenth = heap[len(heap) // 10]
        print(f"framework Python heap (tracemalloc, a separate slower run): {tenth:.1f} MB after {len(heap) // 10} pages, "
              f"{heap[-1]:.1f} MB after {len(heap)} pages, peak page-to-page {max(heap):.1f} MB")


if __name__ == "__main__":
    main()
