"""Notices and compensation benchmark: delay assessments in, decisions and notices out.

``--orders`` orders (2,000 by default) are stored with a promise and one "late" delay
assessment each in a fresh SQLite store; then the real ``notices`` job runs over them
(a page of due orders per write transaction: the compensation policy asked, the
ledger written, the budget reserved, the notice rendered in the customer's language
and its outbox row written), and ``deliver_effects`` sends every
notice to a JSON-lines file and issues every compensation through a channel that
answers at once. Prints assessments/s for the job, effects/s for the delivery, and the
baseline in the same run: rendering the same notices alone (Jinja2 + Babel, no store),
the least the job must do per assessment.

Usage::

    python benchmarks/notices.py                 # 2,000 orders
    python benchmarks/notices.py --orders 500 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fulfilhub import ChannelType, hookimpl
from fulfilhub.clock import SimClock
from fulfilhub.config import IntakeConfig, load
from fulfilhub.engines import intake, notify
from fulfilhub.models import Address, DelayAssessment, Money, NoticeEvent, Order, OrderLine, Promise
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store, delays, promises

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)
LOCALES = ("zh-TW", "zh-CN", "en")


class InstantShop:
    """A channel that issues every compensation at once (the benchmark measures fulfilhub)."""

    def __init__(self, context):
        self.n = 0

    def issue_compensation(self, order, grant, key, *, attempt=None):
        self.n += 1
        return (f"SORRY-{self.n}", f"ref-{self.n}") if grant.kind.is_code else ("", f"ref-{self.n}")

    def close(self):
        pass


class Plugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="instant", factory=InstantShop))


CONFIG = """
[store]
url = "sqlite:///{folder}/bench.sqlite"
[channels.shop]
type = "instant"
[warehouses.main]
type = "local"
[notifiers.file]
type = "jsonl"
path = "{folder}/notices.jsonl"
[notices]
shop_name = "Bench"
[compensation]
auto_approve_below = "1000"
budget = {{ amount = "1000000", currency = "TWD" }}
[[compensation.tiers]]
name = "late-1d"
kind = "shipping_refund"
[[compensation.tiers]]
name = "late-3d"
min_days = 3
kind = "discount"
percent = 10
"""


def make_order(n: int) -> Order:
    return Order(channel="shop", external_id=str(100000 + n), version="v1", number=f"#{100000 + n}", placed_at=T0,
                 updated_at=T0, currency="TWD", total=Money(amount="1280", currency="TWD"),
                 lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="1200", currency="TWD"))],
                 ship_to=Address(name="Ming", line1="1 Rd", city="Taipei", country="TW"), email=f"c{n}@example.tw",
                 raw={"customer_locale": LOCALES[n % 3]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="fulfilhub-bench-notices-"))
    (folder / "fulfilhub.toml").write_text(CONFIG.format(folder=folder))
    store = Store.open(f"sqlite:///{folder}/bench.sqlite", migrate=True)
    pm = PluginManager(load_installed=False, extra=[Plugin()])
    orders = [make_order(n) for n in range(args.orders)]
    with store.transaction() as tx:
        intake.ingest(tx, Hooks(pm), orders, at=T0, known_skus={"TEA"}, intake=IntakeConfig(check_sku=False),
                      source="bench")
        for n, o in enumerate(orders):
            promises.record(tx, Promise(order_id=o.id, revision=1, created_at=T0, ship_by=T0,
                                        deliver_from=T0 + timedelta(days=1), deliver_by=T0 + timedelta(days=2),
                                        timezone="Asia/Taipei"))
            delays.record(tx, DelayAssessment(order_id=o.id, assessed_at=T0, state="late", days_late=1 + n % 4,
                                              reason="carrier_exception", exception="weather",
                                              revised_eta=T0 + timedelta(days=3 + n % 4)))
    rt = Runtime(load(folder / "fulfilhub.toml", env={}), store, pm, clock=SimClock(T0))

    # baseline: render the same delay notices, nothing else
    tz = notify.customer_timezone(orders[0], "Asia/Taipei", "UTC")
    started = time.perf_counter()
    for n, o in enumerate(orders):
        notify.render(NoticeEvent.DELAYED, key=f"k{n}", order=o, locale=notify.choose_locale(o), tz=tz, at=T0,
                      facts={"days_late": 1 + n % 4, "new_date": T0, "cause": "c", "action": "a", "link": "L"})
    render_s = time.perf_counter() - started

    started = time.perf_counter()
    report = jobs.JOBS["notices"](rt)
    job_s = time.perf_counter() - started
    started = time.perf_counter()
    delivered = jobs.deliver_effects(rt)
    delivered.merge(jobs.deliver_effects(rt))  # the compensation_issued notices written by the issuances
    deliver_s = time.perf_counter() - started
    effects = sum(n for kind, n in delivered.counts.items() if "." in kind)
    lines = len((folder / "notices.jsonl").read_text(encoding="utf-8").splitlines())
    rt.close()
    store.close()
    result = {
        "orders": args.orders,
        "python": platform.python_version(),
        "baseline_render_per_s": round(args.orders / render_s),
        "notices_job_assessments_per_s": round(args.orders / job_s),
        "notices_job_seconds": round(job_s, 2),
        "deliver_effects_per_s": round(effects / deliver_s),
        "effects_delivered": effects,
        "notice_file_lines": lines,
        "errors": len(report.errors) + len(delivered.errors),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.orders} late orders (SQLite, one write transaction each), Python {result['python']}")
        print(f"  baseline: render the delay notice alone       {result['baseline_render_per_s']:>8} /s")
        print(f"  notices job: decide + ledger + render + outbox {result['notices_job_assessments_per_s']:>8} /s "
              f"({job_s:.2f} s)")
        print(f"  deliver_effects: send + issue + notify         {result['deliver_effects_per_s']:>8} /s "
              f"({effects} effects, {lines} lines written, {result['errors']} errors)")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
