"""Webhooks under load, then a kill -9 mid-load: accepted/s, latency, and exactly-once.

``fulfilhub serve`` runs as a subprocess over a fresh SQLite store (one Shopify
channel with a webhook secret; nothing is fetched from Shopify). A load generator on
loopback (one asyncio process with a minimal HTTP/1.1 client over 64 keep-alive
connections, open loop: each request leaves at its scheduled time
whether or not the earlier ones were answered) sends signed ``orders/create`` webhooks
at rising rates, each step bounded in count and time. For each rate it reports what
was answered 2xx per second, the p50 and p99 latency (send to answer), and the first
rate at which p99 passes 100 ms.

Baseline, same run, same generator: a bare Starlette app on uvicorn that answers 202
to every POST without verifying or storing anything. The difference is what
verification, the delivery id and the inbox write cost.

After the crash below, the promise API (where the promise engine exists): ``GET /api/v1/promise`` for a
stocked SKU to a mix of destinations and languages at rising rates, with requests/s,
p50/p99 from the client and from the server's own ``Server-Timing`` (the time spent
in the handler), against a bare Starlette app answering a fixed promise.

Then the crash: the server is started again and sent ``--crash-count`` new webhooks;
half-way it is killed with SIGKILL. It is restarted and everything that was not
answered 2xx is sent again (as a vendor retries), plus every accepted one once more (a
vendor's duplicate). The inbox is then processed by ``process_inbox`` in a subprocess
that is itself killed with SIGKILL part-way, and run again to the end. The check: every
delivery answered 2xx is in the inbox once and processed; every order sent exists
once, with exactly one ``received`` event. Usage::

    python benchmarks/webhooks.py                       # rates 100..1600/s, 3 s or 2000 requests a step
    python benchmarks/webhooks.py --rates 50,100,200 --step-seconds 2 --json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from fulfilhub.clock import SimClock
from fulfilhub.sandbox import SandboxContext

SECRET = "bench_webhook_secret"
ENV = {"BENCH_SHOP_TOKEN": "shpat_bench_0123456789", "BENCH_SHOP_HOOK": SECRET}

CONFIG = """\
[store]
url = "sqlite:///fulfilhub.sqlite"

[server]
max_body_bytes = 262144
webhook_tolerance_seconds = 3600
rate_limit_per_minute = 10000000   # one load generator is one client address

[intake]
check_sku = false

[channels.bench]
type = "shopify"
shop = "bench"
base_url = "http://127.0.0.1:9"
access_token = "${BENCH_SHOP_TOKEN}"
webhook_secret = "${BENCH_SHOP_HOOK}"

[warehouses.main]
type = "local"
[warehouses.main.address]
name = "Main"
line1 = "1 Dock Road"
city = "Reno"
province = "NV"
postal_code = "89501"
country = "US"
"""

BASELINE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def hook(request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)

app = Starlette(routes=[Route("/webhooks/{instance}", hook, methods=["POST"]),
                        Route("/healthz", lambda r: JSONResponse({"status": "ok"}))])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

PROCESS = """
import sys
from fulfilhub.config import load
from fulfilhub.plugins import PluginManager
from fulfilhub.runner.inbox import process_inbox
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
config = load(sys.argv[1])
rt = Runtime(config, Store.open(config.store_url), PluginManager())
while True:
    report = process_inbox(rt)
    if not sum(report.counts.values()):
        break
rt.close()
"""


def template_order() -> dict[str, Any]:
    """One order as Shopify renders it (the simulator's rendering, in process)."""
    from fulfilhub_shopify.sim.routes import ShopifySimulator

    sim = ShopifySimulator(SandboxContext(clock=SimClock(datetime(2026, 1, 5, 8, tzinfo=timezone.utc)), seed=1,
                                          options={"shopify": {"orders_per_day": 0}}, name="shopify"))
    return sim.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])


class Webhooks:
    """Signed ``orders/create`` deliveries, each a new order (n is the order and the delivery)."""

    def __init__(self) -> None:
        from fulfilhub_shopify import webhooks

        self.sign = webhooks.sign
        self.template = template_order()

    def make(self, n: int) -> tuple[dict[str, str], bytes]:
        order = copy.copy(self.template)
        order.update(id=7_000_000_000_000 + n, order_number=100_000 + n, name=f"#{100_000 + n}")
        body = json.dumps(order).encode()
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": self.sign(body, SECRET),
            "X-Shopify-Webhook-Id": f"bench-{n}",
            "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
        }, body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], cwd: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start in 30 s")


def serve(workspace: Path, port: int) -> subprocess.Popen:
    return start([sys.executable, "-m", "fulfilhub", "-q", "-c", "fulfilhub.toml", "serve", "--port", str(port)],
                 workspace, port)


def _request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """POST ``body`` to ``path``; a GET when ``headers`` name a ``:path`` (its query) instead."""
    if ":path" in headers:
        head = [f"GET {headers[':path']} HTTP/1.1", f"Host: {host}:{port}"]
        head += [f"{k}: {v}" for k, v in headers.items() if k != ":path"]
        return ("\r\n".join(head) + "\r\n\r\n").encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


#: ``Server-Timing`` of each answer that carried one, by request number: ``app`` (the
#: handler's wall time) and ``quote-cpu`` (the quote's CPU time), in ms.
SERVER_MS: dict[int, float] = {}
SERVER_CPU_MS: dict[int, float] = {}


def _timings(value: str) -> dict[str, float]:
    out = {}
    for entry in value.split(","):
        name, _, rest = entry.strip().partition(";")
        if "dur=" in rest:
            out[name] = float(rest.split("dur=", 1)[1].split(";")[0])
    return out


async def _answer(reader: asyncio.StreamReader, n: int) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "server-timing":
            found = _timings(value)
            if "app" in found:
                SERVER_MS[n] = found["app"]
            if "quote-cpu" in found:
                SERVER_CPU_MS[n] = found["quote-cpu"]
    if length:
        await reader.readexactly(length)
    return status


async def send(url: str, items: list[tuple[int, dict[str, str], bytes]], rate: float,
               seconds: float, connections: int = 64) -> list[tuple[int, int | None, float]]:
    """Open loop over ``connections`` keep-alive HTTP/1.1 connections (a minimal client, so
    the generator costs little): item i is due at start + i/rate and its latency counts
    from then, waiting for a free connection included. Returns (n, status or None, s)."""
    parsed = httpx.URL(url)
    host, port, path = parsed.host, parsed.port, parsed.raw_path.decode()
    queue: asyncio.Queue = asyncio.Queue()
    results: list[tuple[int, int | None, float]] = []

    async def worker() -> None:
        reader = writer = None
        while True:
            job = await queue.get()
            if job is None:
                break
            due, (n, headers, body) = job
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(_request(host, port, path, headers, body))
                status = await asyncio.wait_for(_answer(reader, n), timeout=10)
                results.append((n, status, time.perf_counter() - due))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError):
                results.append((n, None, time.perf_counter() - due))
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.ensure_future(worker()) for _ in range(connections)]
    started = time.perf_counter()
    for i, item in enumerate(items):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, item))
    for _ in workers:
        queue.put_nowait(None)
    done, pending = await asyncio.wait(workers, timeout=seconds + 30)
    for task in pending:
        task.cancel()
    return results


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ramp(url: str, hooks: Webhooks, rates: list[float], step_seconds: float, step_max: int, first: int) -> list[dict]:
    steps = []
    n = first
    for rate in rates:
        count = min(step_max, int(rate * step_seconds))
        items = [(n + i, *hooks.make(n + i)) for i in range(count)]
        n += count

        async def run() -> tuple[list, float]:
            began = time.perf_counter()
            out = await send(url, items, rate, step_seconds)
            return out, time.perf_counter() - began

        results, wall = asyncio.run(run())
        ok = [lat for _, status, lat in results if status is not None and 200 <= status < 300]
        steps.append({
            "rate": rate, "sent": count, "accepted": len(ok),
            "accepted_per_s": round(len(ok) / wall, 1) if wall else 0.0,
            "p50_ms": round(quantile(ok, 0.50) * 1000, 2), "p99_ms": round(quantile(ok, 0.99) * 1000, 2),
            "errors": count - len(ok),
        })
    return steps


def crash_and_check(workspace: Path, hooks: Webhooks, count: int, rate: float) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/bench"
    proc = serve(workspace, port)
    first = 1_000_000
    items = [(first + i, *hooks.make(first + i)) for i in range(count)]

    async def load_and_kill() -> list:
        sender = asyncio.ensure_future(send(url, items, rate, count / rate))
        await asyncio.sleep(count / rate / 2)
        proc.send_signal(signal.SIGKILL)
        return await sender

    results = asyncio.run(load_and_kill())
    proc.wait()
    accepted = {n for n, status, _ in results if status is not None and 200 <= status < 300}
    answered_before_kill = len(accepted)
    proc = serve(workspace, port)
    try:
        retry = [item for item in items if item[0] not in accepted] + [item for item in items if item[0] in accepted]

        async def resend() -> list:
            return await send(url, retry, rate, len(retry) / rate)

        second = asyncio.run(resend())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    statuses = [status for _, status, _ in second]
    duplicates = sum(1 for _, status, _ in second if status == 200)
    accepted |= {n for n, status, _ in second if status is not None and 200 <= status < 300}
    # process the inbox, killing the processor part-way once, then to the end
    processor = subprocess.Popen([sys.executable, "-c", PROCESS, "fulfilhub.toml"], cwd=workspace,
                                 env={**os.environ, **ENV}, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    killed_processor = processor.poll() is None
    processor.send_signal(signal.SIGKILL)
    processor.wait()
    finished = subprocess.run([sys.executable, "-c", PROCESS, "fulfilhub.toml"], cwd=workspace,
                              env={**os.environ, **ENV}, capture_output=True, text=True, timeout=600)
    if finished.returncode != 0:
        raise SystemExit(finished.stderr[-2000:])
    engine = sa.create_engine(f"sqlite:///{workspace / 'fulfilhub.sqlite'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT delivery_id, status FROM webhook_inbox WHERE delivery_id >= 'bench-1000000'"
                                    " AND length(delivery_id) = 13")).all()
        orders = conn.execute(sa.text("SELECT count(*) FROM orders WHERE external_id >= '7000001000000'")).scalar()
        received = conn.execute(sa.text(
            "SELECT order_id, count(*) FROM order_events WHERE to_status = 'received' AND order_id >= "
            "'bench:7000001000000' GROUP BY order_id")).all()
    engine.dispose()
    stored = {d for d, _ in rows}
    expected = {f"bench-{n}" for n in accepted}
    return {
        "sent": count,
        "answered_2xx_before_kill": answered_before_kill,
        "resent_after_restart": len(retry),
        "answered_duplicate_after_restart": duplicates,
        "refused_after_restart": sum(1 for s in statuses if s is None or s >= 400),
        "accepted_deliveries": len(accepted),
        "inbox_rows": len(rows),
        "inbox_processed": sum(1 for _, s in rows if s == "processed"),
        "processor_killed_mid_run": killed_processor,
        "orders_stored": orders,
        "orders_with_more_than_one_received_event": sum(1 for _, c in received if c != 1),
        "every_accepted_processed_exactly_once": stored == expected and len(rows) == len(expected)
        and all(s == "processed" for _, s in rows) and orders == len(expected) and all(c == 1 for _, c in received),
    }


BASELINE_PROMISE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = {"sku": "X", "qty": 1, "ship_by": "2026-01-06T17:00:00+00:00", "deliver_from": "2026-01-08T00:00:00-08:00",
        "deliver_by": "2026-01-10T23:59:59-08:00", "timezone": "America/Los_Angeles",
        "confidence": {"from": 0.5, "by": 0.95}, "basis": "fixed", "sentence": "Order now", "locale": "en"}

async def promise(request):
    return JSONResponse(BODY)

app = Starlette(routes=[Route("/api/v1/promise", promise), Route("/healthz", lambda r: JSONResponse({"status": "ok"}))])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""

DESTINATIONS = [("US", "CA", "94107"), ("US", "NY", "10001"), ("US", "TX", "73301"), ("TW", "", "100"),
                ("US", "WA", "98101"), ("US", "FL", "33101"), ("CN", "", "200000"), ("US", "IL", "60601")]


def promise_items(count: int) -> list[tuple[int, dict[str, str], bytes]]:
    out = []
    for i in range(count):
        country, region, postal = DESTINATIONS[i % len(DESTINATIONS)]
        query = f"/api/v1/promise?sku=TEE-ORG-M&qty={1 + i % 3}&country={country}&region={region}&postal_code={postal}"
        out.append((i, {":path": query, "Accept-Language": ("en", "zh-TW", "zh-CN")[i % 3]}, b""))
    return out


def promise_ramp(port: int, rates: list[float], step_seconds: float, step_max: int) -> list[dict]:
    steps = []
    for rate in rates:
        count = min(step_max, int(rate * step_seconds))
        SERVER_MS.clear()
        SERVER_CPU_MS.clear()

        async def run() -> tuple[list, float]:
            began = time.perf_counter()
            out = await send(f"http://127.0.0.1:{port}/api/v1/promise", promise_items(count), rate, step_seconds)
            return out, time.perf_counter() - began

        results, wall = asyncio.run(run())
        ok = [lat for _, status, lat in results if status == 200]
        server, cpu = list(SERVER_MS.values()), list(SERVER_CPU_MS.values())
        steps.append({"rate": rate, "sent": count, "ok": len(ok), "ok_per_s": round(len(ok) / wall, 1),
                      "p50_ms": round(quantile(ok, 0.5) * 1000, 2), "p99_ms": round(quantile(ok, 0.99) * 1000, 2),
                      "server_p50_ms": round(quantile(server, 0.5), 3) if server else None,
                      "server_p99_ms": round(quantile(server, 0.99), 3) if server else None,
                      "quote_cpu_p50_ms": round(quantile(cpu, 0.5), 3) if cpu else None,
                      "quote_cpu_p99_ms": round(quantile(cpu, 0.99), 3) if cpu else None,
                      "errors": count - len(ok)})
    return steps


def promise_phase(workspace: Path, rates: list[float], step_seconds: float, step_max: int) -> dict[str, Any]:
    """The promise API under load, against a bare Starlette app answering a fixed promise."""
    subprocess.run([sys.executable, "-m", "fulfilhub", "-q", "-c", "fulfilhub.toml", "stock", "set", "main",
                    "TEE-ORG-M", "100000"], cwd=workspace, env={**os.environ, **ENV}, check=True, capture_output=True)
    port = free_port()
    server = serve(workspace, port)
    try:
        if "/api/v1/promise" not in httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]:
            return {"skipped": "this fulfilhub serves no promise API (no promise engine)"}
        ours = promise_ramp(port, rates, step_seconds, step_max)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    port = free_port()
    base = start([sys.executable, "-c", BASELINE_PROMISE_APP, str(port)], workspace, port)
    try:
        baseline = promise_ramp(port, rates, step_seconds, step_max)
    finally:
        base.send_signal(signal.SIGTERM)
        base.wait(timeout=30)
    return {"server": ours, "baseline_fixed_answer": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,400,800,1600", help="requests per second, rising (comma-separated)")
    parser.add_argument("--step-seconds", type=float, default=3.0, help="seconds per rate (bounded by --step-max)")
    parser.add_argument("--step-max", type=int, default=2000, help="at most this many requests per rate")
    parser.add_argument("--crash-count", type=int, default=1500, help="webhooks sent in the kill -9 phase")
    parser.add_argument("--crash-rate", type=float, default=300, help="their rate, per second")
    parser.add_argument("--promise-rates", default="100,200,400,800",
                        help="promise API requests per second, rising (empty: skip the promise API)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    hooks = Webhooks()
    with tempfile.TemporaryDirectory(prefix="fulfilhub-bench-webhooks-") as tmp:
        workspace = Path(tmp)
        (workspace / "fulfilhub.toml").write_text(CONFIG, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "fulfilhub", "-q", "-c", "fulfilhub.toml", "db", "upgrade"], cwd=workspace,
                       env={**os.environ, **ENV}, check=True, capture_output=True)
        port = free_port()
        base = start([sys.executable, "-c", BASELINE_APP, str(port)], workspace, port)
        try:
            baseline = ramp(f"http://127.0.0.1:{port}/webhooks/bench", hooks, rates, args.step_seconds, args.step_max, 0)
        finally:
            base.send_signal(signal.SIGTERM)
            base.wait(timeout=30)
        port = free_port()
        server = serve(workspace, port)
        try:
            ours = ramp(f"http://127.0.0.1:{port}/webhooks/bench", hooks, rates, args.step_seconds, args.step_max, 0)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        crash = crash_and_check(workspace, hooks, args.crash_count, args.crash_rate)
        promise_rates = [float(r) for r in args.promise_rates.split(",") if r.strip()]
        promise = (promise_phase(workspace, promise_rates, args.step_seconds, args.step_max) if promise_rates
                   else {"skipped": "--promise-rates is empty"})

    def knee(steps: list[dict]) -> float | None:
        return next((s["rate"] for s in steps if s["p99_ms"] > 100 or s["errors"]), None)

    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}",
        "server": ours, "baseline_bare_starlette": baseline,
        "p99_passes_100ms_at_rate": knee(ours), "baseline_p99_passes_100ms_at_rate": knee(baseline),
        "crash": crash,
        "promise_api": promise,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"machine: {result['machine']}")
    print(f"{'rate/s':>8} | {'fulfilhub serve: accepted/s':>27} {'p50 ms':>8} {'p99 ms':>8} {'err':>5} | "
          f"{'bare starlette: ok/s':>20} {'p50 ms':>8} {'p99 ms':>8}")
    for a, b in zip(ours, baseline):
        print(f"{a['rate']:>8.0f} | {a['accepted_per_s']:>27} {a['p50_ms']:>8} {a['p99_ms']:>8} {a['errors']:>5} | "
              f"{b['accepted_per_s']:>20} {b['p50_ms']:>8} {b['p99_ms']:>8}")
    print(f"p99 passes 100 ms (or errors start) at: {result['p99_passes_100ms_at_rate'] or 'not within these rates'}"
          f" (baseline: {result['baseline_p99_passes_100ms_at_rate'] or 'not within these rates'})")
    print("kill -9 mid-load:")
    for key, value in crash.items():
        print(f"  {key}: {value}")
    if "skipped" in promise:
        print(f"promise API: skipped ({promise['skipped']})")
        return
    print("promise API (GET /api/v1/promise; server = its own Server-Timing):")
    print(f"{'rate/s':>8} | {'ok/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'server p50':>11} {'server p99':>11} "
          f"{'cpu p50':>8} {'cpu p99':>8} {'err':>5} | {'fixed answer: ok/s':>18} {'p50 ms':>8} {'p99 ms':>8}")
    for a, b in zip(promise["server"], promise["baseline_fixed_answer"]):
        print(f"{a['rate']:>8.0f} | {a['ok_per_s']:>7} {a['p50_ms']:>8} {a['p99_ms']:>8} {a['server_p50_ms']!s:>11} "
              f"{a['server_p99_ms']!s:>11} {a['quote_cpu_p50_ms']!s:>8} {a['quote_cpu_p99_ms']!s:>8} {a['errors']:>5} | "
              f"{b['ok_per_s']:>18} {b['p50_ms']:>8} {b['p99_ms']:>8}")


if __name__ == "__main__":
    main()
