"""Delay assessment benchmark: the ``assess_delays`` job over N open orders in a SQLite store.

The store is filled with bulk inserts: N open orders, each with a promise; 40 % not
shipped yet (some past their ship-by), 60 % with a parcel on its way (a label, one scan;
a few with a carrier ETA after the promise, a few in a weather delay); and H delivered
shipments of history the promise engine learns its transit times from. Measured:

- **baseline**: streaming the same open orders with their promise, page by page as the
  job does, and doing nothing with them (the floor: reading what must be read);
- **model build**: the runtime's promise engine learning every shipment in the store
  (done once; the job then reuses it);
- **first pass**: ``assess_delays`` when no order was assessed yet (it writes every
  finding that is not "on track");
- **second pass**: ``assess_delays`` again, nothing changed (reads and assessments only).

Wall time and peak memory are printed for each (peak RSS, reset before each phase
through ``/proc/self/clear_refs`` on Linux, so each phase's peak is its own; elsewhere
the process's peak so far). Usage::

    python benchmarks/delays.py                      # 1,000,000 open orders
    python benchmarks/delays.py --orders 100000 --history 20000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

NOW = datetime(2026, 5, 8, 16, 0, tzinfo=timezone.utc)
CHUNK = 20_000


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(store: Any, orders: int, history: int) -> dict[str, int]:
    """Bulk-insert the open orders, their promises, shipments and scans, and the delivered history."""
    from fulfilhub.store import schema

    places = [("Austin", "TX", "78701"), ("Seattle", "WA", "98101"), ("Denver", "CO", "80202"),
              ("Boston", "MA", "02116"), ("Chicago", "IL", "60607")]
    services = [("USPS", "Priority", 2), ("USPS", "GroundAdvantage", 4), ("UPS", "Ground", 4)]
    counts = {"open_orders": 0, "shipments": 0, "scans": 0, "history": 0}

    def order_row(oid: str, n: int, status: str, placed: datetime) -> dict[str, Any]:
        city, state, postal = places[n % len(places)]
        return {"id": oid, "channel": "shop", "external_id": oid[5:], "number": f"#{oid[5:]}", "version": "1",
                "status": status, "hold_reason": None, "placed_at": placed, "foreign_updated_at": placed,
                "currency": "USD", "total": "10.00", "email": "", "note": "", "cancelled_at": None,
                "ship_to": {"name": "A", "company": "", "line1": "1 Main St", "line2": "", "city": city,
                            "province": state, "postal_code": postal, "country": "US", "phone": "", "email": ""},
                "raw": {}, "created_at": placed, "modified_at": placed}

    def shipment_row(oid: str, n: int, status: str, shipped: datetime, **extra: Any) -> dict[str, Any]:
        carrier, service, _ = services[n % len(services)]
        return {"id": f"{oid}/1", "order_id": oid, "warehouse": "west", "status": status, "carrier": "easypost",
                "carrier_name": carrier, "service": service, "rate_id": f"rate_{n}", "carrier_shipment_ref": f"shp_{n}",
                "rate_amount": "7.90", "rate_currency": "USD", "tracking_code": f"94{n:020d}", "shipped_at": shipped,
                "created_at": shipped - timedelta(hours=6), "modified_at": shipped + timedelta(hours=12),
                "delivered_at": None, "est_delivery": None, "exception_reason": None, **extra}

    # one transaction per chunk: the write-ahead log stays small
    rows: dict[str, list[dict[str, Any]]] = {"orders": [], "promises": [], "shipments": [], "scans": []}

    def flush(force: bool = False) -> None:
        if not force and len(rows["orders"]) < CHUNK:
            return
        with store.transaction() as tx:
            for table, key in ((schema.orders, "orders"), (schema.promises, "promises"),
                               (schema.shipments, "shipments"), (schema.tracking_events, "scans")):
                if rows[key]:
                    tx.execute(table.insert(), rows[key])
                    rows[key] = []

    for n in range(history):  # delivered: what the transit model learns from
        oid = f"shop:h{n}"
        shipped = NOW - timedelta(days=60) + timedelta(minutes=n * 60 * 24 * 55 // max(history, 1))
        _, _, days = services[n % len(services)]
        rows["orders"].append(order_row(oid, n, "delivered", shipped))
        rows["shipments"].append(shipment_row(oid, n, "delivered", shipped,
                                              delivered_at=shipped + timedelta(days=days, hours=n % 30)))
        counts["history"] += 1
        flush()
    for n in range(orders):
        oid = f"shop:{n:08d}"
        placed = NOW - timedelta(hours=6 + n % 96)
        shipped_already = n % 10 >= 4
        status = "in_transit" if shipped_already else ("accepted", "allocated", "picking", "backordered")[n % 4]
        rows["orders"].append(order_row(oid, n, status, placed))
        deliver_by = placed + timedelta(days=5, hours=12)
        rows["promises"].append({"order_id": oid, "revision": 1, "created_at": placed,
                                 "ship_by": placed + timedelta(hours=20), "deliver_from": placed + timedelta(days=2),
                                 "deliver_by": deliver_by, "timezone": "America/Chicago", "confidence_from": 0.3,
                                 "confidence_by": 0.95, "carrier": "", "service": "", "level": "lane",
                                 "basis": "", "reason": "accepted"})
        counts["open_orders"] += 1
        if shipped_already:
            shipped = placed + timedelta(hours=4)
            est = (deliver_by + timedelta(days=1)) if n % 50 == 7 else (deliver_by - timedelta(days=1))
            rows["shipments"].append(shipment_row(
                oid, n, "in_transit", shipped, est_delivery=est.replace(hour=0, minute=0, second=0, microsecond=0),
                exception_reason="weather" if n % 97 == 3 else None))
            rows["scans"].append({"shipment_id": f"{oid}/1", "at": shipped + timedelta(hours=10),
                                  "status": "in_transit", "reason": "weather" if n % 97 == 3 else None,
                                  "description": "Arrived at facility", "location": "MEMPHIS, TN, US",
                                  "source": "in_transit/arrived_at_facility"})
            counts["shipments"] += 1
            counts["scans"] += 1
        elif status in ("allocated", "picking"):
            rows["shipments"].append({**shipment_row(oid, n, "submitted" if status == "allocated" else "picking",
                                                     placed),
                                      "shipped_at": None, "rate_id": None, "tracking_code": None})
            counts["shipments"] += 1
        flush()
    flush(force=True)
    return counts


def baseline(store: Any, page: int) -> int:
    """Stream the open orders and read their promises page by page, as the job does, and nothing more."""
    import sqlalchemy as sa

    from fulfilhub.engines.delays import OPEN_STATUSES
    from fulfilhub.store import delays as delay_store
    from fulfilhub.store import schema

    seen = 0
    with store.read() as conn:
        stream = conn.execution_options(stream_results=True, yield_per=page).execute(
            delay_store.open_orders_query([str(s) for s in OPEN_STATUSES]))
        for rows in stream.partitions(page):
            ids = [r.id for r in rows]
            conn.execute(sa.select(schema.promises).where(schema.promises.c.order_id.in_(ids))).all()
            seen += len(rows)
    return seen


def measure(orders: int, history: int, page: int) -> dict[str, Any]:
    from fulfilhub import config as fconfig
    from fulfilhub.clock import SimClock
    from fulfilhub.plugins import PluginManager
    from fulfilhub.runner.delays import assess_delays
    from fulfilhub.runner.runtime import Runtime
    from fulfilhub.store import Store

    folder = Path(tempfile.mkdtemp(prefix="fulfilhub-bench-delays-"))
    db = folder / "f.sqlite"
    (folder / "fulfilhub.toml").write_text(
        f'[store]\nurl = "sqlite:///{db}"\n[warehouses.west]\ntype = "local"\n[warehouses.west.address]\n'
        'name = "West DC"\nline1 = "55 Logistics Pkwy"\ncity = "Reno"\nprovince = "NV"\npostal_code = "89502"\n'
        'country = "US"\n', encoding="utf-8")
    config = fconfig.load(folder / "fulfilhub.toml", env={})
    store = Store.open(config.store_url, migrate=True)
    out: dict[str, Any] = {"orders": orders, "history": history, "page_size": page,
                           "peak_rss_resettable": _reset_peak()}
    started = time.perf_counter()
    out["filled"] = fill(store, orders, history)
    out["fill_s"] = round(time.perf_counter() - started, 1)

    def phase(name: str, work: Any) -> Any:
        _reset_peak()
        began, cpu = time.perf_counter(), time.process_time()
        result = work()
        out[f"{name}_s"] = round(time.perf_counter() - began, 2)
        out[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)  # what the code costs on a busy machine
        out[f"{name}_peak_rss_mb"] = round(_peak_mb(), 1)
        return result

    out["baseline_orders"] = phase("baseline", lambda: baseline(store, page))
    rt = Runtime(config, store, PluginManager(load_installed=False), clock=SimClock(NOW))
    engine = phase("model_build", rt.promise_engine)
    out["model_learned"] = engine.loaded
    first = phase("first_pass", lambda: assess_delays(rt, page_size=page))
    out["first_pass_counts"] = dict(first.counts)
    second = phase("second_pass", lambda: assess_delays(rt, page_size=page))
    out["second_pass_counts"] = dict(second.counts)
    out["first_pass_us_per_order"] = round(out["first_pass_s"] / max(orders, 1) * 1e6, 1)
    out["second_pass_us_per_order"] = round(out["second_pass_s"] / max(orders, 1) * 1e6, 1)
    out["baseline_us_per_order"] = round(out["baseline_s"] / max(orders, 1) * 1e6, 1)
    out["first_pass_cpu_us_per_order"] = round(out["first_pass_cpu_s"] / max(orders, 1) * 1e6, 1)
    out["second_pass_cpu_us_per_order"] = round(out["second_pass_cpu_s"] / max(orders, 1) * 1e6, 1)
    out["baseline_cpu_us_per_order"] = round(out["baseline_cpu_s"] / max(orders, 1) * 1e6, 1)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    out["cpus"] = os.cpu_count()
    out["db_mb"] = round(db.stat().st_size / 1e6, 1)
    rt.close()
    store.close()
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="open orders (default 1,000,000)")
    parser.add_argument("--history", type=int, default=100_000, help="delivered shipments to learn from (default 100,000)")
    parser.add_argument("--page", type=int, default=1000, help="orders per page (the job's default: 1000)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    r = measure(args.orders, args.history, args.page)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"delay assessment, Python {platform.python_version()}, SQLite: {r['orders']:,} open orders "
          f"({r['filled']['shipments']:,} shipments, {r['filled']['scans']:,} scans), {r['history']:,} delivered "
          f"shipments of history; store {r['db_mb']} MB, filled in {r['fill_s']} s")
    peak = "peak RSS of the phase" if r["peak_rss_resettable"] else "peak RSS of the process so far"
    print(f"  load average {r['load_average']} on {r['cpus']} CPUs; wall s, CPU s, CPU us/order, {peak}")
    print(f"  baseline: stream orders + promises {r['baseline_s']:8.2f} s {r['baseline_cpu_s']:8.2f} s "
          f"{r['baseline_cpu_us_per_order']:7.1f} us  {r['baseline_peak_rss_mb']:7.1f} MB")
    print(f"  transit model build ({r['model_learned']:,}) {r['model_build_s']:8.2f} s {r['model_build_cpu_s']:8.2f} s "
          f"{'':10}{r['model_build_peak_rss_mb']:7.1f} MB")
    print(f"  first pass (writes findings)       {r['first_pass_s']:8.2f} s {r['first_pass_cpu_s']:8.2f} s "
          f"{r['first_pass_cpu_us_per_order']:7.1f} us  {r['first_pass_peak_rss_mb']:7.1f} MB  {r['first_pass_counts']}")
    print(f"  second pass (nothing changed)      {r['second_pass_s']:8.2f} s {r['second_pass_cpu_s']:8.2f} s "
          f"{r['second_pass_cpu_us_per_order']:7.1f} us  {r['second_pass_peak_rss_mb']:7.1f} MB  {r['second_pass_counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
