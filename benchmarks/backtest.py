"""Transit model and promise backtest benchmark.

Two measurements, each against a baseline in the same run:

- **quote latency**: a :class:`TransitModel` holding ``--shipments`` shipments
  (1,000,000 by default: 97% delivered, 3% in flight) over two years, on 3 carrier
  services × 8 origins × 27 destinations × 10 postal prefixes. Prints the build time,
  the memory the model holds (growth of the process's resident set while it is built),
  and ``quantile`` p50/p99 over 20,000 random lanes after a warm-up (target p99 < 1 ms),
  in wall-clock time and in this thread's CPU time (on a shared machine the wall-clock
  tail is the scheduler's, not the model's). The baseline is the
  least a quantile can cost: ``numpy.quantile`` over the lane's raw delivered durations,
  pre-sorted and kept in memory, no censoring and no recency.
- **backtest throughput**: ``--rows`` generated orders (1,000,000 by default) written to
  a CSV, then ``fulfilhub.engines.backtest.backtest`` (read + replay at the 8 default
  targets) timed; rows/s and peak RSS. The baseline reads the same file with the
  ``csv`` module and parses both times of each row (the least any replay must do).

Usage::

    python benchmarks/backtest.py                        # both, 1,000,000 each (a few minutes)
    python benchmarks/backtest.py --shipments 100000 --rows 100000 --json
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from fulfilhub.engines.backtest import backtest, parse_time
from fulfilhub.engines.transit import Lane, TransitModel

PARTS = ("quotes", "backtest", "synthetic")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SPAN = timedelta(days=730)
SERVICES = [("usps", "Priority"), ("ups", "Ground"), ("dhl", "Express")]
ORIGINS = [f"US-{s}" for s in ("NV", "NJ", "TX", "IL", "GA", "WA", "PA", "OH")]
DESTS = [f"US-{s}" for s in ("CA", "NY", "FL", "TX", "WA", "MA", "CO", "AZ", "OR", "MN", "MI", "NC", "VA", "TN",
                             "MO", "WI", "IN", "MD", "SC", "AL", "LA", "KY", "UT", "IA", "NV", "KS", "NM")]


def lanes(rng: random.Random, n: int) -> list[Lane]:
    out = []
    for _ in range(n):
        carrier, service = rng.choice(SERVICES)
        dest = rng.choice(DESTS)
        out.append(Lane(carrier=carrier, service=service, origin=rng.choice(ORIGINS), destination=dest,
                        postal_prefix=f"{dest[-2:]}{rng.randrange(10)}"))
    return out


def transit_days(rng: random.Random, lane: Lane, when: datetime) -> float:
    base = {"Priority": 2.0, "Ground": 4.0, "Express": 1.2}[lane.service]
    base *= 1.0 + (ORIGINS.index(lane.origin) + DESTS.index(lane.destination)) / 40
    if when.month in (11, 12):  # peak season
        base *= 1.4
    return min(base * rng.lognormvariate(0, 0.35), 300.0)


def quote_latency(shipments: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    lane_pool = lanes(rng, 3 * 8 * 27 * 10)
    events = []
    for i in range(shipments):
        lane = rng.choice(lane_pool)
        start = T0 + SPAN * (i / shipments)
        events.append((f"s{i}", lane, start, transit_days(rng, lane, start)))
    now = T0 + SPAN
    gc.collect()
    rss_before = current_rss_mb()
    t = time.perf_counter()
    model = TransitModel()
    raw: dict[Lane, list[float]] = {}
    for ref, lane, start, days in events:
        end = start + timedelta(days=days)
        if end <= now:
            model.finish(ref, lane, start, end)
        else:
            model.start(ref, lane, start)
    build_s = time.perf_counter() - t
    gc.collect()
    model_mb = current_rss_mb() - rss_before
    for ref, lane, start, days in events:
        if start + timedelta(days=days) <= now:
            raw.setdefault(lane, []).append(days)
    sorted_raw = {lane: np.sort(np.array(v)) for lane, v in raw.items()}
    asked = [rng.choice(lane_pool) for _ in range(20_000)]
    gc.collect()
    gc.freeze()  # the million shipments of the set-up are long-lived: keep full collections off them
    for lane in asked[:2000]:  # warm-up
        model.quantile(lane, 0.95, now=now)
    timings, cpu = [], []
    levels: dict[str, int] = {}
    for lane in asked:
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        est = model.quantile(lane, 0.95, now=now)
        timings.append(time.perf_counter_ns() - t)
        cpu.append(time.thread_time_ns() - c)
        levels[est.level.value] = levels.get(est.level.value, 0) + 1
    base = []
    for lane in asked:
        if lane not in sorted_raw:
            continue
        t = time.perf_counter_ns()
        np.quantile(sorted_raw[lane], 0.95)
        base.append(time.perf_counter_ns() - t)
    # the widest question: the "all" level, every shipment behind it
    everything = []
    for _ in range(2000):
        t = time.perf_counter_ns()
        model.quantile(Lane(), 0.95, now=now)
        everything.append(time.perf_counter_ns() - t)
    model.pool = 100.0  # the same model, partially pooled across its levels (what the backtest uses)
    pooled_cpu = []
    for lane in asked:
        c = time.thread_time_ns()
        model.quantile(lane, 0.95, now=now)
        pooled_cpu.append(time.thread_time_ns() - c)
    model.pool = None
    gc.unfreeze()
    return {
        "pooled_quantile_cpu_p50_us": round(float(np.percentile(pooled_cpu, 50)) / 1000, 1),
        "pooled_quantile_cpu_p99_us": round(float(np.percentile(pooled_cpu, 99)) / 1000, 1),
        "shipments": shipments,
        "in_flight": sum(1 for _, _, s, d in events if s + timedelta(days=d) > now),
        "build_s": round(build_s, 2),
        "build_per_shipment_us": round(build_s / shipments * 1e6, 2),
        "model_rss_mb": round(model_mb, 1),
        "quantile_p50_us": round(float(np.percentile(timings, 50)) / 1000, 1),
        "quantile_p99_us": round(float(np.percentile(timings, 99)) / 1000, 1),
        "quantile_cpu_p50_us": round(float(np.percentile(cpu, 50)) / 1000, 1),
        "quantile_cpu_p99_us": round(float(np.percentile(cpu, 99)) / 1000, 1),
        "quantile_all_level_p99_us": round(float(np.percentile(everything, 99)) / 1000, 1),
        "levels_answering": levels,
        "baseline_np_quantile_p50_us": round(float(np.percentile(base, 50)) / 1000, 1),
        "baseline_np_quantile_p99_us": round(float(np.percentile(base, 99)) / 1000, 1),
    }


def write_history(path: Path, rows: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    lane_pool = lanes(rng, 200)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["purchase_ts", "approved_ts", "delivered_ts", "estimated_ts", "carrier", "service", "origin",
                      "destination"])
        for i in range(rows):
            lane = rng.choice(lane_pool)
            bought = T0 + SPAN * (i / rows)
            approved = bought + timedelta(hours=rng.expovariate(1 / 3))
            delivered = approved + timedelta(days=1 + transit_days(rng, lane, bought))
            estimated = (bought + timedelta(days=9)).date()
            out.writerow([f"{bought:%Y-%m-%d %H:%M:%S}", f"{approved:%Y-%m-%d %H:%M:%S}",
                          f"{delivered:%Y-%m-%d %H:%M:%S}", estimated.isoformat(), lane.carrier, lane.service,
                          lane.origin, lane.destination])


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(rows: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        write_history(path, rows)
        t = time.perf_counter()
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for record in reader:
                parse_time(record[0]), parse_time(record[2])
        baseline_s = time.perf_counter() - t
        rss_before = peak_rss_mb()
        t = time.perf_counter()
        result = backtest(path)
        backtest_s = time.perf_counter() - t
        rss_after = peak_rss_mb()
    return {
        "rows": rows,
        "backtest_s": round(backtest_s, 1),
        "rows_per_s": round(rows / backtest_s),
        "peak_rss_mb": round(rss_after, 1),
        "peak_rss_growth_mb": round(rss_after - rss_before, 1),
        "baseline_read_parse_rows_per_s": round(rows / baseline_s),
        "vs_baseline": round(baseline_s / backtest_s, 3),
        "on_time_at_95": round(next(r.on_time for r in result.results if r.target == 0.95), 4),
    }


def synthetic(orders: int, seeds: int) -> dict:
    """Calibration on tests/synthetic_histories.py: the engine against a plain lane x carrier quantile."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fulfilhub.engines.backtest import DEFAULT_TARGETS, DeliveryDays, replay
    from tests.synthetic_histories import history

    out = {}
    for seed in range(1, seeds + 1):
        rows = history(seed, orders)
        t = time.perf_counter()
        engine = replay(rows, DEFAULT_TARGETS, calendar=DeliveryDays())
        took = time.perf_counter() - t
        plain = replay(rows, DEFAULT_TARGETS, censor=False, gain=0, half_life=None, min_delivered=20, pool=None,
                       calendar=DeliveryDays())
        out[f"seed {seed}"] = {
            "replay_s": round(took, 1),
            "engine": {f"{o.target:g}": [round(o.on_time * 100, 2), o.median_days] for o in engine.results},
            "plain_lane_carrier_quantile": {f"{o.target:g}": [round(o.on_time * 100, 2), o.median_days]
                                            for o in plain.results},
        }
    return {"orders": orders, "figures": "target: [on time %, median days]", **out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=1_000_000, help="shipments held for the quote latency")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows replayed by the backtest")
    parser.add_argument("--synthetic", type=int, default=20_000, help="orders per synthetic history (calibration)")
    parser.add_argument("--seeds", type=int, default=3, help="synthetic histories, one per seed")
    parser.add_argument("--skip", choices=PARTS, action="append", default=[], help="leave a measurement out")
    parser.add_argument("--only", choices=PARTS, help=argparse.SUPPRESS)  # one part, in this process
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.only:  # a child: one measurement, its figures as JSON on stdout
        figures = (quote_latency(args.shipments) if args.only == "quotes" else throughput(args.rows)
                   if args.only == "backtest" else synthetic(args.synthetic, args.seeds))
        print(json.dumps(figures))
        return 0
    out: dict = {"python": sys.version.split()[0], "machine": platform.machine()}
    for part in PARTS:
        if part in args.skip:
            continue
        # each part in a process of its own, so that one's memory does not count in the other's peak
        child = subprocess.run([sys.executable, __file__, "--only", part, "--shipments", str(args.shipments),
                                "--rows", str(args.rows), "--synthetic", str(args.synthetic), "--seeds", str(args.seeds)],
                               capture_output=True, text=True)
        if child.returncode:
            print(child.stderr, file=sys.stderr)
            return 1
        out[part] = json.loads(child.stdout.strip().splitlines()[-1])
        if not args.json:
            print(f"{part}:", json.dumps(out[part]), flush=True)
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
