"""`fulfilhub report` over a large store, against a bare read of the same rows.

Fills a SQLite store (migrated, in a temporary folder) with ``--orders`` orders over
half a year, each with a promise, its received/accepted events, one shipment from one
of 2 warehouses with one of 3 carrier services to one of 24 regions; 95% delivered, 3%
with an exception scan, 5% backordered once. Then, in the same run, times:

- ``baseline_s``: a bare ``sqlite3`` read of the columns the report needs (orders joined
  with their shipment and promise, ``fetchall``): the least any report must do;
- ``kpi_s``: :mod:`fulfilhub.store.kpi` facts + :func:`fulfilhub.engines.kpi.compute`;
- ``backtest_s``: the report's backtest section (delivered orders replayed at 3 targets);
- ``html_s``: rendering the HTML file (Altair specs, the inlined Vega bundle);

and prints them with the peak RSS of the process.

    python benchmarks/report.py [--orders 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fulfilhub.cli import report as report_cli
from fulfilhub.cli.report_html import render
from fulfilhub.engines import kpi
from fulfilhub.store import Store
from fulfilhub.store import kpi as kpi_store
from fulfilhub.store.schema import order_events, orders, promises, shipments, tracking_events

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SERVICES = [("USPS", "Priority", 3, "6.10"), ("UPS", "Ground", 4, "8.45"), ("DHL", "Express", 2, "14.90")]
REGIONS = [("US", p) for p in ("CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "OR", "AZ", "GA", "NC")] + \
          [("CA", "ON"), ("CA", "BC"), ("GB", ""), ("DE", ""), ("FR", ""), ("TW", ""), ("JP", ""), ("AU", ""),
           ("NL", ""), ("SE", ""), ("SG", ""), ("HK", "")]


def fill(store: Store, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    batch = 20_000
    for start in range(0, n, batch):
        o_rows, s_rows, p_rows, e_rows, t_rows = [], [], [], [], []
        for i in range(start, min(start + batch, n)):
            oid = f"shop:{i}"
            received = T0 + timedelta(minutes=rng.randrange(180 * 24 * 60))
            country, province = rng.choice(REGIONS)
            o_rows.append({"id": oid, "channel": "shop", "external_id": str(i), "number": f"#{i}", "version": "v1",
                           "status": "delivered", "hold_reason": None, "placed_at": received,
                           "foreign_updated_at": received, "currency": "USD", "total": "25.00", "email": "",
                           "note": "", "ship_to": {"country": country, "province": province,
                                                   "postal_code": f"{rng.randrange(10000, 99999)}"},
                           "cancelled_at": None, "raw": {}, "created_at": received, "modified_at": received})
            e_rows += [{"order_id": oid, "at": received, "kind": "status", "from_status": None, "to_status": "received",
                        "source": "channel:shop", "reason": "", "data": None},
                       {"order_id": oid, "at": received, "kind": "status", "from_status": "received",
                        "to_status": "accepted", "source": "intake", "reason": "", "data": None}]
            if rng.random() < 0.05:
                e_rows.append({"order_id": oid, "at": received, "kind": "status", "from_status": "accepted",
                               "to_status": "backordered", "source": "allocation", "reason": "", "data": None})
            carrier, service, stated, cost = rng.choice(SERVICES)
            shipped = received + timedelta(hours=rng.uniform(2, 40))
            transit = timedelta(days=max(0.3, rng.gauss(stated, 1.0)))
            delivered = shipped + transit if rng.random() < 0.95 else None
            day = (received + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            p_rows.append({"order_id": oid, "revision": 1, "created_at": received, "ship_by": day + timedelta(hours=14),
                           "deliver_from": day + timedelta(days=stated - 1),
                           "deliver_by": day + timedelta(days=stated + 2, microseconds=-1), "timezone": "UTC",
                           "confidence_from": 0.3, "confidence_by": 0.95, "carrier": "easypost", "service": service,
                           "level": "lane", "basis": "", "reason": "accepted"})
            s_rows.append({"id": f"{oid}/1", "order_id": oid, "warehouse": rng.choice(("east", "west")),
                           "status": "delivered" if delivered else "in_transit", "carrier": "easypost",
                           "carrier_name": carrier, "service": service, "rate_id": f"r{i}", "rate_amount": cost,
                           "rate_currency": "USD", "transit_days": stated, "tracking_code": f"T{i}",
                           "exception_reason": None, "est_delivery": None, "shipped_at": shipped,
                           "delivered_at": delivered, "next_poll_at": None, "created_at": received,
                           "modified_at": delivered or shipped})
            if rng.random() < 0.03:
                t_rows.append({"shipment_id": f"{oid}/1", "at": shipped + timedelta(days=1), "status": "exception",
                               "reason": rng.choice(("weather", "capacity", "address")), "description": "",
                               "location": "", "source": "bench"})
        with store.transaction() as tx:
            tx.execute(orders.insert(), o_rows)
            tx.execute(order_events.insert(), e_rows)
            tx.execute(promises.insert(), p_rows)
            tx.execute(shipments.insert(), s_rows)
            if t_rows:
                tx.execute(tracking_events.insert(), t_rows)


BASELINE = """
SELECT o.id, o.created_at, o.placed_at, o.status, o.ship_to, p.ship_by, p.deliver_from, p.deliver_by, p.timezone,
       s.carrier, s.carrier_name, s.service, s.shipped_at, s.delivered_at, s.transit_days, s.rate_amount,
       s.exception_reason
FROM orders o JOIN shipments s ON s.order_id = o.id LEFT JOIN promises p ON p.order_id = o.id AND p.revision = 1
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        store = Store.open(f"sqlite:///{path}", migrate=True)
        started = time.perf_counter()
        fill(store, args.orders)
        fill_s = time.perf_counter() - started
        window = kpi.Window.of(None, None, datetime(2026, 12, 1, tzinfo=timezone.utc))

        started = time.perf_counter()
        raw = sqlite3.connect(path)
        rows = raw.execute(BASELINE).fetchall()
        raw.close()
        baseline_s = time.perf_counter() - started
        del rows

        with store.read() as conn:
            started = time.perf_counter()
            data = kpi.compute(kpi_store.order_facts(conn, window.since, window.until),
                               kpi_store.shipment_facts(conn, window.since, window.until), window)
            kpi_s = time.perf_counter() - started
            started = time.perf_counter()
            data["backtest"] = report_cli.SECTIONS["backtest"].collect(conn, window)
            backtest_s = time.perf_counter() - started
        store.close()
        started = time.perf_counter()
        html = render(data)
        html_s = time.perf_counter() - started
    out = {
        "orders": args.orders, "fill_s": round(fill_s, 1), "baseline_s": round(baseline_s, 2),
        "kpi_s": round(kpi_s, 2), "kpi_vs_baseline": round(kpi_s / baseline_s, 1),
        "backtest_s": round(backtest_s, 2), "html_s": round(html_s, 2), "html_bytes": len(html),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "on_time_rate": data["promises"]["on_time_rate"], "carriers": len(data["carriers"]),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:>16}: {value}")


if __name__ == "__main__":
    sys.exit(main())
