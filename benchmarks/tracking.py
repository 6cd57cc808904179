"""Tracking normalization benchmark: EasyPost Tracker bytes -> ``TrackingUpdate``.

The corpus is made by the EasyPost simulator itself: parcels are bought through its API
(with exceptions and delays switched on, so failed attempts, weather delays and lost
parcels are in it) and each parcel's Tracker is read, as bytes, at every scan of its
scripted timeline, so the corpus holds every stage from "label created" to the end.

Measured, best of several rounds over the whole corpus:

- **bare**: ``json.loads(payload)``;
- **mapping**: ``parse_tracker(json.loads(payload))`` — the same parse, then the
  normalized update with its aware-time events.

``ratio`` is bare time / mapping time (1.0 would mean normalization is free), from the best
round of each side; the rounds alternate, and the ratio of each pair is also reported as
min / median / max, so that a noisy shared machine shows as spread rather than as one
misleading figure. Usage::

    python benchmarks/tracking.py                  # 200 parcels
    python benchmarks/tracking.py --trackers 100 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from typing import Any

KEY = "EZTKbenchmark42"


def corpus(trackers: int, seed: int = 5) -> list[bytes]:
    """Tracker payloads as EasyPost's API answers them, at every stage of each parcel."""
    from fulfilhub_easypost.simulator import EasyPostSimulator

    with warnings.catch_warnings():  # starlette's note about its test client's transport
        warnings.simplefilter("ignore", DeprecationWarning)
        from starlette.testclient import TestClient

    from fulfilhub.clock import SimClock
    from fulfilhub.sandbox import SandboxContext

    start = datetime(2026, 2, 2, 9, tzinfo=timezone.utc)
    clock = SimClock(start)
    context = SandboxContext(clock=clock, seed=seed, base_url="http://sandbox.local/easypost", options={
        "easypost": {"api_key": KEY, "exception_rate": 0.2, "delay_rate": 0.2}})
    sim = EasyPostSimulator(context)
    cities = [("Austin", "TX", "78701"), ("Seattle", "WA", "98101"), ("Denver", "CO", "80202"), ("Miami", "FL", "33101")]
    payloads: list[bytes] = []
    with TestClient(sim.app) as client:
        client.auth = (KEY, "")
        for i in range(trackers):
            city, state, postal = cities[i % len(cities)]
            created = client.post("/v2/shipments", json={"shipment": {
                "reference": f"bench-{i}",
                "to_address": {"name": f"Buyer {i}", "street1": f"{i} Main St", "city": city, "state": state,
                               "zip": postal, "country": "US"},
                "from_address": {"name": "East DC", "street1": "200 Harbor Way", "city": "Newark", "state": "NJ",
                                 "zip": "07114", "country": "US"},
                "parcel": {"length": 10, "width": 8, "height": 4, "weight": 12 + i % 40},
            }}).json()
            rates = created["rates"]
            bought = client.post(f"/v2/shipments/{created['id']}/buy",
                                 json={"rate": {"id": rates[i % len(rates)]["id"]}}).json()
            tracker_id = bought["tracker"]["id"]
            for step in sim.timeline(tracker_id):
                at = datetime.fromisoformat(step["datetime"].replace("Z", "+00:00"))
                if at > clock.now():
                    clock.advance(at - clock.now())
                answer = client.get(f"/v2/trackers/{tracker_id}")
                answer.raise_for_status()
                payloads.append(answer.content)
    return payloads


def best_of(rounds: int, work: Any, payloads: list[bytes]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for payload in payloads:
            work(payload)
        times.append(time.perf_counter() - started)
    return min(times)


def measure(trackers: int, rounds: int = 15) -> dict[str, Any]:
    from fulfilhub_easypost.mapping import parse_tracker

    payloads = corpus(trackers)
    loads = json.loads

    def bare(payload: bytes) -> Any:
        return loads(payload)

    def mapped(payload: bytes) -> Any:
        return parse_tracker(loads(payload))

    mapped(payloads[-1])  # warm up (and fail early on a broken mapping)
    # rounds alternate so that a busy neighbour slows both alike; each pair gives a ratio
    bare_s = mapped_s = float("inf")
    ratios = []
    for _ in range(rounds):
        bare_round = best_of(1, bare, payloads)
        mapped_round = best_of(1, mapped, payloads)
        ratios.append(bare_round / mapped_round)
        bare_s, mapped_s = min(bare_s, bare_round), min(mapped_s, mapped_round)
    ratios.sort()
    events = sum(len(parse_tracker(loads(p)).events) for p in payloads)
    return {
        "payloads": len(payloads),
        "events": events,
        "mean_bytes": round(sum(map(len, payloads)) / len(payloads)),
        "bare_us_per_payload": round(bare_s / len(payloads) * 1e6, 2),
        "mapping_us_per_payload": round(mapped_s / len(payloads) * 1e6, 2),
        "ratio": round(bare_s / mapped_s, 3),
        "pairs": len(ratios),
        "ratio_min": round(ratios[0], 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(ratios[-1], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", type=int, default=200, help="parcels in the corpus (default 200)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.trackers)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"tracking normalization, Python {platform.python_version()}: {result['payloads']} Tracker payloads "
          f"({result['events']} scans, {result['mean_bytes']} bytes on average) from {args.trackers} simulated parcels")
    print(f"  bare json.loads           {result['bare_us_per_payload']:8.1f} us/payload")
    print(f"  json.loads + parse_tracker {result['mapping_us_per_payload']:7.1f} us/payload")
    print(f"  ratio (bare / mapping)    {result['ratio']:8.3f}   (best of each side; target >= 0.5)")
    print(f"  ratio per alternating pair over {result['pairs']} pairs: min {result['ratio_min']:.3f}, "
          f"median {result['ratio_median']:.3f}, max {result['ratio_max']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
