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
- ``sync_stock`` (:mod:`.stock_sync`): each 3PL's stock into the table allocation reads.
- ``assess_delays`` (:mod:`.delays`): open orders against their promises.
- ``notices`` (:mod:`.notices`): delay assessments and status events into compensations
  and customer notices.

Work for different channels, warehouses and carriers runs concurrently in threads; one
item that fails is reported and the others go on. The job modules share
:mod:`.reports` and import no other job module (but :mod:`.deliver`, which hands
notices to :mod:`.notices`), so the runner has no import circle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..engines import delays as delay_engine
from ..engines import fulfilment
from ..store import job_runs

from .allocate import allocate
from .delays import assess_delays
from .deliver import PER_ORDER, deliver_effects
from .inbox import process_inbox
from .labels import buy_labels
from .notices import DELAYS as NOTICE_DELAYS, EVENTS as NOTICE_EVENTS, notices
from .polling import backing_off, healthy_webhooks, poll_shipments, poll_tracking, poll_warehouses
from .pull import pull_channel, pull_orders
from .stock import push_stock
from .stock_sync import sync_stock
from .reports import JobReport, Progress, describe_error, record_run, record_runs, recorded, run_of, summarize
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

__all__ = [
    "GATED", "Gate", "JOBS", "PER_ORDER", "JobReport", "Progress", "allocate", "assess_delays", "backing_off", "buy_labels",
    "deliver_effects", "describe_error", "healthy_webhooks", "notices", "poll_shipments", "poll_tracking",
    "poll_warehouses", "process_inbox", "pull_channel", "pull_orders", "push_stock", "record_run", "recorded", "summarize",
    "sync_once", "sync_stock",
]

JOBS: dict[str, Callable[..., JobReport]] = {
    "pull_orders": pull_orders,
    "process_inbox": process_inbox,
    "sync_stock": sync_stock,
    "allocate": allocate,
    "poll_warehouses": poll_warehouses,
    "buy_labels": buy_labels,
    "deliver_effects": deliver_effects,
    "poll_tracking": poll_tracking,
    "assess_delays": assess_delays,
    "notices": notices,
    "push_stock": push_stock,
}


#: The jobs a pass runs only when :func:`store.job_runs.waiting` finds work for them (the
#: others always run: ``pull_orders`` must ask the channel, ``push_stock`` compares with
#: what each channel was told).
GATED = frozenset({"process_inbox", "allocate", "deliver_effects", "poll_warehouses", "buy_labels", "poll_tracking",
                   "assess_delays", "notices"})


class Gate:
    """Which jobs of a pass have work waiting: one read, made when the first gated job
    comes up and made again only after a job did something (its work may be the next
    job's). A skipped job returns an empty report, as it would have with nothing due."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._waiting: set[str] | None = None

    def skips(self, job: str) -> bool:
        if job not in GATED:
            return False
        if self._waiting is None:
            try:
                with self.rt.store.read() as conn:
                    self._waiting = job_runs.waiting(
                        conn, self.rt.clock.now(), at_warehouse=fulfilment.AT_WAREHOUSE, tracked=fulfilment.TRACKED,
                        open_statuses=delay_engine.OPEN_STATUSES,
                        cursors=[(NOTICE_DELAYS, "delay_assessments"), (NOTICE_EVENTS, "order_events")],
                        own_labels=self.rt.warehouses_that("ships_own_labels"))
            except Exception as exc:  # the jobs themselves say what is wrong with the store
                log.warning("could not tell which jobs have work waiting, running them all: %s", describe_error(exc))
                self._waiting = set(GATED)
        return job not in self._waiting

    def ran(self, report: JobReport) -> None:
        """After a job that did something, read again before the next gated job. What
        ``push_stock`` writes (what a channel was told) no gated job reads, and a count
        of ``unchanged`` is nothing done."""
        if report.job == "push_stock":
            return
        if report.errors or any(n for key, n in report.counts.items() if key != "unchanged"):
            self._waiting = None

    def run(self, job: Callable[..., JobReport], name: str, **kwargs: Any) -> JobReport:
        """``job`` if it has work waiting, else its empty report."""
        if self.skips(name):
            return JobReport(name)
        report = job(self.rt, **kwargs)
        self.ran(report)
        return report


def sync_once(rt: Runtime, *, progress: Progress | None = None, record: bool = False) -> list[JobReport]:
    """One pass of every job, in the order an order travels; a job with nothing waiting
    (see :class:`Gate`) is skipped. With ``record``, the pass's runs are kept in
    ``job_runs`` for ``fulfilhub jobs``, in one transaction at its end."""
    gate = Gate(rt)
    runs: list[job_runs.Run] = []
    reports: list[JobReport] = []

    def run(job: Callable[..., JobReport], **kwargs: Any) -> None:
        started, began = rt.clock.now(), time.monotonic()
        try:
            report = gate.run(job, job.__name__, **kwargs)
        except Exception as exc:
            if record:
                runs.append(run_of(JobReport(job.__name__, errors=[describe_error(exc)]), started,
                                   time.monotonic() - began, trigger="sync", outcome="crashed"))
            raise
        if record:
            runs.append(run_of(report, started, time.monotonic() - began, trigger="sync"))
        reports.append(report)

    try:
        run(pull_orders, progress=progress)
        synced = [sync_stock] if rt.warehouses_that("keeps_stock") else []  # a 3PL's stock, before allocating
        for job in (process_inbox, *synced, allocate, deliver_effects, poll_warehouses, buy_labels, deliver_effects,
                    poll_tracking, push_stock, assess_delays, notices, deliver_effects):
            run(job)
    finally:
        if record:
            record_runs(rt, runs)
    return reports
