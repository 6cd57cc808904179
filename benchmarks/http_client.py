"""HttpClient micro-benchmark: CPU per request through ``fulfilhub.HttpClient`` vs bare httpx.

Both send the same GET and POST requests to the same ``httpx.MockTransport`` (no
sockets, so only client-side CPU is measured: building the request, the retry
machinery, logging, redaction, reading the response). The difference is what the
helper costs per call on top of httpx. Usage::

    python benchmarks/http_client.py              # 20,000 calls of each kind
    python benchmarks/http_client.py --calls 5000
    python benchmarks/http_client.py --json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable

import httpx

from fulfilhub.http import HttpClient

BASE = "https://shop.example.com"
BODY = {"event": {"status": "in_transit"}}


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201 if request.method == "POST" else 200, json={"ok": True, "id": 42})


def cpu_per_call_us(calls: dict[str, Callable[[], object]], n: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` process CPU time per call, in microseconds, for each named call.

    The calls take turns within each repeat, so a noisy neighbour on the machine slows
    all of them alike rather than whichever happened to run at the time.
    """
    for call in calls.values():  # warm up
        for _ in range(min(n, 500)):
            call()
    best: dict[str, float] = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.process_time()
            for _ in range(n):
                call()
            best[name] = min(best[name], (time.process_time() - started) / n * 1e6)
    return best


def measure(calls: int, repeats: int = 5) -> dict[str, float]:
    headers = {"X-Shopify-Access-Token": "shpat_benchmark_secret", "Accept": "application/json"}
    bare = httpx.Client(base_url=BASE, headers=headers, transport=httpx.MockTransport(_answer), timeout=15)
    ours = HttpClient(BASE, service="bench", headers=headers, secrets=["shpat_benchmark_secret"],
                      transport=httpx.MockTransport(_answer))
    try:
        result = cpu_per_call_us({
            "bare_get_us": lambda: bare.get("/orders/1.json", params={"limit": 5}),
            "client_get_us": lambda: ours.get("/orders/1.json", params={"limit": 5}),
            "bare_post_us": lambda: bare.post("/events.json", json=BODY),
            "client_post_us": lambda: ours.post("/events.json", json=BODY),
        }, max(1, calls // repeats), repeats)
    finally:
        bare.close()
        ours.close()
    result["overhead_get_us"] = result["client_get_us"] - result["bare_get_us"]
    result["overhead_post_us"] = result["client_post_us"] - result["bare_post_us"]
    result["ratio_get"] = result["bare_get_us"] / result["client_get_us"]
    return {k: round(v, 3) for k, v in result.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.calls)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"HttpClient vs bare httpx, {args.calls:,} calls each, MockTransport, Python {platform.python_version()}")
    print(f"  GET   bare {result['bare_get_us']:8.1f} us   HttpClient {result['client_get_us']:8.1f} us   "
          f"overhead {result['overhead_get_us']:7.1f} us/call")
    print(f"  POST  bare {result['bare_post_us']:8.1f} us   HttpClient {result['client_post_us']:8.1f} us   "
          f"overhead {result['overhead_post_us']:7.1f} us/call")
    print(f"  throughput vs bare (GET): {result['ratio_get']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
