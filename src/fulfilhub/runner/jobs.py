"""The jobs, registered in one place (:data:`JOBS`), and one pass of all of them.

Each job is idempotent and resumable: run it twice, kill it anywhere, run it again, and
nothing is lost or done twice. A job selects the work that is due, calls an adapter, and
hands the answer to an engine in one transaction; it decides nothing itself. One module
per job:

- ``pull_orders`` (:mod:`.pull`): each channel from its saved cursor, page by page; the
  cursor is saved in the transaction that stores the page; bad payloads are quarantined.
- ``process_inbox`` (:mod:`.inbox`): the webhooks ``fulfilhub serve`` stored.
- ``allocate`` (:mod:`.allocate`): accepted and backordered orders into shipments,
  reserving stock.
- ``poll_warehouses`` and ``poll_tracking`` (:mod:`.polling`, one polling loop):
  picking / packed news for submitted shipments, scans for shipments whose next look is
  due.
- ``buy_labels`` (:mod:`.labels`): quotes every carrier for packed shipments, lets
  ``choose_rate`` pick, and writes the purchase to the outbox.
- ``deliver_effects`` (:mod:`.deliver`): the outbox (warehouse submissions, labels,
  channel pushes, notices, compensations).
- ``push_stock`` (:mod:`.stock`): changed sellable quantities to the channels that take them.
- ``assess_delays`` (:mod:`.delays`): open orders against their promises.
- ``notices`` (:mod:`.notices`): delay assessments and status events into compensations
  and customer notices.

Work for different channels, warehouses and carriers runs concurrently in threads; one
item that fails is reported and the others go on. The job modules share
:mod:`.reports` and import no other job module (but :mod:`.deliver`, which hands
notices to :mod:`.notices`), so the runner has no import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .allocate import allocate
from .delays import assess_delays
from .deliver import PER_ORDER, deliver_effects
from .inbox import process_inbox
from .labels import buy_labels
from .notices import notices
from .polling import backing_off, healthy_webhooks, poll_shipments, poll_tracking, poll_warehouses
from .pull import pull_channel, pull_orders
from .stock import push_stock
from .reports import JobReport, Progress, describe_error, record_run, recorded, summarize
from .runtime import Runtime

__all__ = [
    "JOBS", "PER_ORDER", "JobReport", "Progress", "allocate", "assess_delays", "backing_off", "buy_labels",
    "deliver_effects", "describe_error", "healthy_webhooks", "notices", "poll_shipments", "poll_tracking",
    "poll_warehouses", "process_inbox", "pull_channel", "pull_orders", "push_stock", "record_run", "recorded", "summarize",
    "sync_once",
]

JOBS: dict[str, Callable[..., JobReport]] = {
    "pull_orders": pull_orders,
    "process_inbox": process_inbox,
    "allocate": allocate,
    "poll_warehouses": poll_warehouses,
    "buy_labels": buy_labels,
    "deliver_effects": deliver_effects,
    "poll_tracking": poll_tracking,
    "assess_delays": assess_delays,
    "notices": notices,
    "push_stock": push_stock,
}


def sync_once(rt: Runtime, *, progress: Progress | None = None, record: bool = False) -> list[JobReport]:
    """One pass of every job, in the order an order travels (with ``record``, each run is
    kept in ``job_runs`` for ``fulfilhub jobs``)."""
    def run(job: Callable[..., JobReport], **kwargs: Any) -> JobReport:
        return recorded(rt, job, trigger="sync", **kwargs) if record else job(rt, **kwargs)

    return [
        run(pull_orders, progress=progress),
        run(process_inbox),
        run(allocate),
        run(deliver_effects),
        run(poll_warehouses),
        run(buy_labels),
        run(deliver_effects),
        run(poll_tracking),
        run(push_stock),
        run(assess_delays),
        run(notices),
        run(deliver_effects),
    ]
