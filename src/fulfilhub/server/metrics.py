"""``/metrics``: Prometheus text, read from the store at each scrape plus the server's counters.

- ``fulfilhub_orders{status}``: orders by status.
- ``fulfilhub_outbox_backlog`` and ``fulfilhub_outbox_oldest_age_seconds``: effects waiting.
- ``fulfilhub_inbox_backlog`` and ``fulfilhub_inbox_oldest_age_seconds``: webhooks waiting.
- ``fulfilhub_webhooks_total{instance, outcome}``: webhooks accepted, or refused by reason.
- ``fulfilhub_job_lag_seconds{job}``: time since each job last ran.
- ``fulfilhub_channel_lag_seconds{channel}``: time since each channel's cursor last moved
  (the pull's lag per instance).

With procrastinate workers (the store on PostgreSQL, its queue tables present):

- ``fulfilhub_queue_jobs{queue, status}``: jobs in each queue by status.
- ``fulfilhub_workers_alive`` and ``fulfilhub_workers_silent``: workers whose heartbeat is
  recent, and those silent longer than the stalled threshold.
- ``fulfilhub_stalled_jobs``: jobs running on a silent worker (handed back at the next dispatch).
- ``fulfilhub_queue_lag_seconds{unit}``: how long the oldest waiting job of each instance
  has waited (``pull:shop_eu``, ``track:easypost``, ``deliver:shop_eu``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..clock import Clock
from ..store import Store, cursors, outbox
from ..store import inbox as inbox_store
from ..store import job_runs
from ..store import orders as order_store
from ..store import queues as queue_store


def _age(now: datetime, then: Any) -> float:
    return max(0.0, (now - then).total_seconds()) if isinstance(then, datetime) else 0.0


class StoreCollector(Collector):
    """Gauges read from the store at scrape time (one read transaction)."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock.now()
        with self.store.read() as conn:
            by_status = order_store.count_by_status(conn)
            waiting, oldest = outbox.backlog(conn)
            inbox_waiting, inbox_oldest = inbox_store.backlog(conn)
            runs = job_runs.last_runs(conn)
            moved = cursors.last_moved(conn)
            queues = queue_store.status(conn)
        orders = GaugeMetricFamily("fulfilhub_orders", "Orders by status", labels=["status"])
        for status, n in sorted(by_status.items()):
            orders.add_metric([str(status)], n)
        yield orders
        yield GaugeMetricFamily("fulfilhub_outbox_backlog", "Effects waiting to be delivered", value=waiting)
        yield GaugeMetricFamily("fulfilhub_outbox_oldest_age_seconds", "Age of the oldest waiting effect",
                                value=_age(now, oldest))
        yield GaugeMetricFamily("fulfilhub_inbox_backlog", "Webhooks waiting to be processed", value=inbox_waiting)
        yield GaugeMetricFamily("fulfilhub_inbox_oldest_age_seconds", "Age of the oldest waiting webhook",
                                value=_age(now, inbox_oldest))
        lag = GaugeMetricFamily("fulfilhub_job_lag_seconds", "Seconds since each job last started", labels=["job"])
        for job, run in sorted(runs.items()):
            lag.add_metric([job], _age(now, run.started_at))
        yield lag
        channel_lag = GaugeMetricFamily("fulfilhub_channel_lag_seconds",
                                        "Seconds since each channel's cursor last moved", labels=["channel"])
        for channel, at in moved:
            channel_lag.add_metric([channel], _age(now, at))
        yield channel_lag
        if queues is not None:
            yield from _queue_metrics(queues)


def _queue_metrics(queues: queue_store.QueueStatus) -> Iterator[GaugeMetricFamily]:
    jobs = GaugeMetricFamily("fulfilhub_queue_jobs", "procrastinate jobs by queue and status", labels=["queue", "status"])
    for q in queues.queues:
        for status in ("todo", "doing", "failed", "succeeded"):
            jobs.add_metric([q.name, status], getattr(q, status))
    yield jobs
    yield GaugeMetricFamily("fulfilhub_workers_alive", "Workers with a recent heartbeat", value=queues.workers_alive)
    yield GaugeMetricFamily("fulfilhub_workers_silent", "Workers silent past the stalled threshold",
                            value=queues.workers_silent)
    yield GaugeMetricFamily("fulfilhub_stalled_jobs", "Jobs running on a silent worker", value=len(queues.stalled))
    lag = GaugeMetricFamily("fulfilhub_queue_lag_seconds", "Seconds the oldest waiting job of each instance has waited",
                            labels=["unit"])
    for unit, seconds in queues.lag.items():
        lag.add_metric([unit], seconds)
    yield lag


class Metrics:
    """The server's registry: the store's gauges and its own counters."""

    def __init__(self, store: Store, clock: Clock):
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(StoreCollector(store, clock))
        self.webhooks = Counter("fulfilhub_webhooks", "Webhooks received, by instance and outcome "
                                "(accepted, or the reason they were refused)", ["instance", "outcome"],
                                registry=self.registry)

    def count_webhook(self, outcome: str, instance: str) -> None:
        self.webhooks.labels(instance=instance, outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
