"""The runner scaled out: the jobs as procrastinate tasks on the store's PostgreSQL.

``fulfilhub worker`` runs this on every machine; all of them share one PostgreSQL, the
store's, and procrastinate's tables live in it beside fulfilhub's. Nothing here decides
anything: each task is the existing job function (:mod:`.pull`, :mod:`.polling`,
:mod:`.labels`, :mod:`.deliver`, :mod:`.jobs`) run for one adapter instance, or one
slice of an instance's work, so the single-process runner and the workers do the same
work the same way.

Theory of operation:

- **dispatch** is a periodic task (every ``every`` seconds, deduplicated by the
  database: one deferral per tick however many workers run). It recovers stalled jobs
  (their worker stopped sending heartbeats: killed, or its machine gone) by handing
  them back to the queue, then reads what is due and defers one task per unit of work:
  the pulls and the passes at the config's ``[schedule]`` intervals (measured from
  their last recorded run), the per-shipment and outbox work whenever some is due.
- **units of work**, each deferred with a procrastinate ``lock`` and ``queueing_lock``
  of the same name, so one unit never runs twice at once and never waits twice:

  ========================  ==========================  ====================================
  task                      lock                        what it runs
  ========================  ==========================  ====================================
  ``fulfilhub.pull``        ``pull:CHANNEL``            ``pull_channel`` (cursor to the end)
  ``fulfilhub.warehouse``   ``warehouse:NAME``          the warehouse's due polls
  ``fulfilhub.track``       ``track:CARRIER:PART``      the carrier's due scans, one slice
  ``fulfilhub.labels``      ``labels:PART``             ``buy_labels`` for one slice
  ``fulfilhub.deliver``     ``deliver:TARGET:PART``     one slice of an instance's outbox
  ``fulfilhub.pass``        ``pass:JOB``                inbox, allocate, delays, notices
  ========================  ==========================  ====================================

  A slice (``PART`` of ``parts``) is the shipments (or, for notices and compensations,
  the orders) whose id hashes to it, so every effect of one shipment stays in one slice
  and in order, and two workers never claim the same effect: the lock makes the slice's
  deliveries one at a time, and the outbox counts each attempt before its I/O (an
  effect retried after a kill is looked up before it acts again, as in one process).
- **rate limits**: with ``rate_limits``, each instance's HTTP calls draw tokens from a
  bucket in PostgreSQL (:mod:`fulfilhub.store.rate_limits`), shared by every worker.
- **SIGTERM**: procrastinate stops fetching, waits up to ``shutdown_timeout`` for the
  running jobs, then aborts what is left; a job left ``doing`` by a killed worker is
  handed back by the next dispatch once its worker's heartbeat is ``stalled_after``
  old. Every job is idempotent and resumable, so a retried job loses and repeats nothing.

procrastinate is imported here only, lazily (``pip install 'fulfilhub[postgres]'``);
the embedded runner never imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import httpx

from ..errors import ConfigError
from ..engines import fulfilment
from ..models import ShipmentStatus
from ..store import Store
from ..store import outbox as outbox_store
from ..store import job_runs, rate_limits
from ..store import shipments as shipment_store
from . import jobs
from .deliver import _deliver
from .labels import buy_labels
from .polling import _poll_warehouse, _track_carrier, at_warehouses
from .pull import pull_channel
from .reports import JobReport, record_run
from .runtime import Runtime

log = logging.getLogger("fulfilhub.worker")

#: The queues, one per kind of work (``fulfilhub worker --queue`` picks some).
QUEUES = ("passes", "pull", "poll", "labels", "deliver")
#: The global passes, one at a time each.
PASSES = ("process_inbox", "sync_stock", "allocate", "assess_delays", "notices")


def part_of(key: str, parts: int) -> int:
    """The slice ``key`` (a shipment or order id) falls in: stable across processes."""
    return zlib.crc32(key.encode()) % parts


def _effect_key(row: Any) -> str:
    payload = row.payload if isinstance(row.payload, dict) else {}
    return str(payload.get("shipment_id") or payload.get("order_id") or row.id)


def conninfo(store_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (ConfigError otherwise)."""
    from ..store import safe_url

    scheme, sep, rest = store_url.partition("://")
    if not sep or not scheme.startswith("postgresql"):
        raise ConfigError(f"fulfilhub worker needs the store on PostgreSQL, not {safe_url(store_url)}; "
                          "move it with `fulfilhub db copy SQLITE_URL POSTGRES_URL` and point [store] url at it")
    return f"postgresql://{rest}"


@attrs.frozen(kw_only=True)
class RateLimit:
    """``rate`` calls a second on average, at most ``burst`` at once, across all workers."""

    rate: float = attrs.field(validator=attrs.validators.gt(0))
    burst: float = attrs.field(default=1.0, validator=attrs.validators.ge(1))

    @classmethod
    def parse(cls, text: str) -> tuple[str, RateLimit]:
        """``KIND:NAME=RATE[/BURST]``, e.g. ``channels:shop_eu=2/5`` (ConfigError if not)."""
        name, _, value = text.partition("=")
        rate, _, burst = value.partition("/")
        try:
            if ":" not in name:
                raise ValueError("no KIND:NAME")
            return name, cls(rate=float(rate), burst=float(burst or 1))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad rate limit {text!r} ({exc}); write KIND:NAME=RATE[/BURST], "
                              "e.g. channels:shop_eu=2/5") from None


class RateLimitedTransport(httpx.BaseTransport):
    """An httpx transport that takes a token from the instance's shared bucket per request."""

    def __init__(self, store: Store, bucket: str, limit: RateLimit, inner: httpx.BaseTransport | None = None):
        self.store, self.bucket, self.limit = store, bucket, limit
        self.inner = inner or httpx.HTTPTransport()
        self.waited = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        while True:
            with self.store.transaction() as tx:
                wait = rate_limits.take(tx, self.bucket, rate=self.limit.rate, burst=self.limit.burst)
            if wait <= 0:
                return self.inner.handle_request(request)
            self.waited += wait
            time.sleep(wait)

    def close(self) -> None:
        self.inner.close()


@attrs.frozen(kw_only=True)
class Unit:
    """One unit of work to defer: a task, its arguments, and its lock (also its queueing lock)."""

    task: str
    kwargs: Mapping[str, Any]
    lock: str


class Distributed:
    """The procrastinate app for one store, its tasks, and the dispatcher.

    ``runtime``: builds the worker's :class:`Runtime` (once, on first use). ``parts``:
    how many slices the per-shipment work of one instance is cut into. ``every``: the
    dispatch period in seconds.
    """

    def __init__(self, store_url: str, runtime: Callable[[], Runtime], *, parts: int = 16, every: int = 5,
                 rate_limits: Mapping[str, RateLimit] | None = None, stalled_after: float = 30.0):
        try:
            import procrastinate
        except ImportError:
            raise ConfigError("fulfilhub worker needs procrastinate: pip install 'fulfilhub[postgres]'") from None
        if parts < 1 or every < 1:
            raise ConfigError(f"parts and every must be at least 1 (got parts={parts}, every={every})")
        self.store_url = store_url
        self.parts, self.every, self.stalled_after = parts, every, stalled_after
        self.limits = dict(rate_limits or {})
        self._make_runtime = runtime
        self._rt: Runtime | None = None
        self._rt_lock = threading.Lock()
        self.procrastinate = procrastinate
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(store_url)))
        self._register()

    # ------------------------------------------------------------------ the runtime

    @property
    def rt(self) -> Runtime:
        with self._rt_lock:
            if self._rt is None:
                rt = self._make_runtime()
                if self.limits:
                    unknown = [name for name in self.limits
                               if name.partition(":")[2] not in getattr(rt.config, name.partition(":")[0], {})]
                    if unknown:
                        raise ConfigError(f"rate limit for an instance not in the config: {', '.join(unknown)}")
                    rt.transports = self._transport
                self._rt = rt
            return self._rt

    def _transport(self, kind: str, name: str) -> httpx.BaseTransport | None:
        limit = self.limits.get(f"{kind}:{name}")
        return RateLimitedTransport(self._rt.store, f"{kind}:{name}", limit) if limit and self._rt else None

    def close(self) -> None:
        with self._rt_lock:
            if self._rt is not None:
                self._rt.close()
                self._rt.store.close()
                self._rt = None

    # ------------------------------------------------------------------ the tasks

    def _register(self) -> None:
        app = self.app

        @app.task(name="fulfilhub.pull", queue="pull")
        def pull(channel: str) -> dict[str, Any]:
            return self._recorded(lambda rt: pull_channel(rt, channel), f"pull:{channel}")

        @app.task(name="fulfilhub.warehouse", queue="poll")
        def warehouse(name: str) -> dict[str, Any]:
            def run(rt: Runtime) -> JobReport:
                with rt.store.read() as conn:
                    due = [s for s in at_warehouses(rt, conn, rt.clock.now()) if s.warehouse == name]
                return _poll_warehouse(rt, name, due)
            return self._recorded(run, f"warehouse:{name}")

        @app.task(name="fulfilhub.track", queue="poll")
        def track(carrier: str, part: int, parts: int) -> dict[str, Any]:
            def run(rt: Runtime) -> JobReport:
                with rt.store.read() as conn:
                    due = [s for s in shipment_store.due(conn, fulfilment.TRACKED, rt.clock.now(), limit=5000,
                                                         tracked_only=True)
                           if s.carrier == carrier and part_of(s.id, parts) == part]
                return _track_carrier(rt, carrier, due)
            return self._recorded(run, f"track:{carrier}:{part}")

        @app.task(name="fulfilhub.labels", queue="labels")
        def labels(part: int, parts: int) -> dict[str, Any]:
            return self._recorded(lambda rt: buy_labels(rt, only=lambda s: part_of(s.id, parts) == part),
                                  f"labels:{part}")

        @app.task(name="fulfilhub.deliver", queue="deliver")
        def deliver(target: str, part: int, parts: int) -> dict[str, Any]:
            return self._recorded(lambda rt: deliver_slice(rt, target, part, parts), f"deliver:{target}:{part}")

        @app.task(name="fulfilhub.pass", queue="passes")
        def run_pass(job: str) -> dict[str, Any]:
            if job not in PASSES:
                raise ValueError(f"no pass named {job!r}; the passes: {', '.join(PASSES)}")
            return self._recorded(lambda rt: jobs.JOBS[job](rt), f"pass:{job}")

        @app.periodic(cron=f"* * * * * */{self.every}", periodic_id="dispatch")
        @app.task(name="fulfilhub.dispatch", queue="passes", queueing_lock="dispatch", pass_context=False)
        async def dispatch(timestamp: int) -> dict[str, int]:
            return await self.dispatch()

        self.tasks = {"pull": pull, "warehouse": warehouse, "track": track, "labels": labels, "deliver": deliver,
                      "pass": run_pass, "dispatch": dispatch}

    def _recorded(self, job: Callable[[Runtime], JobReport], unit: str) -> dict[str, Any]:
        rt = self.rt
        started, began = rt.clock.now(), time.monotonic()
        try:
            report = job(rt)
        except Exception as exc:
            log.exception("%s crashed", unit)
            record_run(rt, JobReport(unit.partition(":")[0], errors=[f"{type(exc).__name__}: {exc}"]), started,
                       time.monotonic() - began, trigger="worker", outcome="crashed")
            raise
        record_run(rt, report, started, time.monotonic() - began, trigger="worker")
        for error in report.errors:
            log.warning("%s: %s", unit, error)
        return {"unit": unit, "counts": dict(report.counts), "errors": len(report.errors)}

    # ------------------------------------------------------------------ dispatch

    def plan(self) -> list[Unit]:
        """The units of work due now, read from the store."""
        rt, parts = self.rt, self.parts
        now = rt.clock.now()
        with rt.store.read() as conn:
            last = job_runs.last_runs(conn)

        def due(job: str) -> bool:  # the pulls and passes keep the config's [schedule], as `run` does
            run = last.get(job)
            return run is None or run.started_at + rt.schedule[job] <= now

        units = [Unit(task="fulfilhub.pull", kwargs={"channel": c}, lock=f"pull:{c}")
                 for c in rt.config.channels if due("pull_orders")]
        units += [Unit(task="fulfilhub.pass", kwargs={"job": j}, lock=f"pass:{j}") for j in PASSES if due(j)]
        with rt.store.read() as conn:
            at_warehouse = at_warehouses(rt, conn, now)
            tracked = shipment_store.due(conn, fulfilment.TRACKED, now, limit=5000, tracked_only=True)
            packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
            claims = outbox_store.due_effects(conn, now)
        units += [Unit(task="fulfilhub.warehouse", kwargs={"name": w}, lock=f"warehouse:{w}")
                  for w in sorted({s.warehouse for s in at_warehouse})]
        units += [Unit(task="fulfilhub.track", kwargs={"carrier": c, "part": p, "parts": parts}, lock=f"track:{c}:{p}")
                  for c, p in sorted({(s.carrier, part_of(s.id, parts)) for s in tracked if s.carrier})]
        units += [Unit(task="fulfilhub.labels", kwargs={"part": p, "parts": parts}, lock=f"labels:{p}")
                  for p in sorted({part_of(s.id, parts) for s in packed})]
        units += [Unit(task="fulfilhub.deliver", kwargs={"target": t, "part": p, "parts": parts},
                       lock=f"deliver:{t}:{p}")
                  for t, p in sorted({(row.target, part_of(_effect_key(row), parts)) for row in claims})]
        return units

    async def dispatch(self) -> dict[str, int]:
        """Hand back stalled jobs, then defer every unit of work that is due (a unit already
        waiting is not deferred again). Returns ``{"recovered": n, "deferred": n, "waiting": n}``."""
        recovered = await self.recover_stalled()
        units = await asyncio.to_thread(self.plan)
        deferred = waiting = 0
        for unit in units:
            try:
                await self.app.configure_task(unit.task, lock=unit.lock, queueing_lock=unit.lock).defer_async(
                    **unit.kwargs)
                deferred += 1
            except self.procrastinate.exceptions.AlreadyEnqueued:
                waiting += 1
        return {"recovered": recovered, "deferred": deferred, "waiting": waiting}

    async def recover_stalled(self) -> int:
        """Put the jobs of workers whose heartbeat is ``stalled_after`` old back in their queue."""
        manager = self.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after))
        for job in stalled:
            log.warning("job %s (%s, lock %s) stalled with its worker; handing it back", job.id, job.task_name, job.lock)
            try:
                await manager.retry_job(job)
            except self.procrastinate.exceptions.UniqueViolation:
                # The same unit already waits in the queue (deferred again while this one
                # was stuck): that job does the work; this one is closed as failed.
                log.warning("job %s: its unit %s is queued again already; closing the stalled one", job.id, job.lock)
                await manager.finish_job_by_id_async(job.id, self.procrastinate.jobs.Status.FAILED, delete_job=False)
        await manager.prune_stalled_workers(seconds_since_heartbeat=self.stalled_after)
        return len(stalled)

    # ------------------------------------------------------------------ workers and the schema

    def apply_schema(self) -> bool:
        """Create procrastinate's tables and the rate buckets' if missing; True if it created them."""
        return apply_schema(self.store_url, rate_buckets=self._rt.store.engine if self._rt is not None else None)

    def run_worker(self, *, concurrency: int = 8, queues: Iterable[str] | None = None, wait: bool = True,
                   heartbeat: float | None = None, shutdown_timeout: float | None = 30.0, name: str | None = None) -> None:
        """Run a worker in the foreground until SIGINT/SIGTERM (or, without ``wait``, until
        the queues are empty). ``concurrency`` jobs run at once, each in its own thread."""
        chosen = list(queues) if queues else None
        unknown = sorted(set(chosen or ()) - set(QUEUES))
        if unknown:
            raise ConfigError(f"no queue named {', '.join(unknown)}; the queues: {', '.join(QUEUES)}")
        self.rt  # a bad config fails here, before any job is taken
        self.apply_schema()

        async def main() -> None:
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fulfilhub-job"))
            async with self.app.open_async():
                await self.app.run_worker_async(
                    queues=chosen, concurrency=concurrency, wait=wait, name=name or worker_name(),
                    update_heartbeat_interval=heartbeat or min(10.0, self.stalled_after / 3),
                    stalled_worker_timeout=self.stalled_after,
                    shutdown_graceful_timeout=shutdown_timeout, delete_jobs="successful",
                    fetch_job_polling_interval=1.0)

        asyncio.run(main())

    def defer_dispatch(self) -> None:
        """Defer one dispatch now (``fulfilhub worker --kick``, the tests)."""
        with self.app.open():
            try:
                self.tasks["dispatch"].defer(timestamp=int(time.time()))
            except self.procrastinate.exceptions.AlreadyEnqueued:
                pass

    def status(self) -> dict[str, Any]:
        """Queues (jobs by status), workers alive, stalled jobs: for ``fulfilhub worker --status``."""
        return asyncio.run(self._status())

    async def _status(self) -> dict[str, Any]:
        async with self.app.open_async():
            manager = self.app.job_manager
            queues = await manager.list_queues_async()
            stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after))
            workers = await self.app.connector.execute_query_all_async(
                "SELECT id, last_heartbeat FROM procrastinate_workers ORDER BY id")
        return {"queues": queues, "workers": [dict(w) for w in workers],
                "stalled": [{"id": j.id, "task": j.task_name, "lock": j.lock} for j in stalled]}


def apply_schema(store_url: str, *, rate_buckets: Any = None) -> bool:
    """Create procrastinate's tables in the store's PostgreSQL if they are missing (and the
    shared rate buckets' table, given the store's engine); True if it created them.

    ``fulfilhub db upgrade`` calls it after the store's own migrations when procrastinate
    is installed, and every worker at start, under one advisory lock, so workers started
    together never create the tables twice."""
    import psycopg

    with psycopg.connect(conninfo(store_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('fulfilhub procrastinate schema'))")
        try:
            if rate_buckets is not None:
                rate_limits.ensure(rate_buckets)
            exists = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
            if not exists:
                from procrastinate.schema import SchemaManager

                conn.execute(SchemaManager.get_schema())
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('fulfilhub procrastinate schema'))")
    return not exists


def for_config(config: Any, plugins: Any, *, parts: int = 16, every: int = 5, limits: Iterable[str] = (),
               stalled_after: float = 30.0) -> Distributed:
    """The :class:`Distributed` app of a config: its runtime built on first use (every
    instance built, so a bad config fails before a job is taken). ``limits``: the
    ``KIND:NAME=RATE[/BURST]`` texts of ``--rate-limit``."""
    def runtime() -> Runtime:
        rt = Runtime(config, Store.open(config.store_url), plugins)
        try:
            rt.build_all()
        except BaseException:
            rt.close()
            raise
        return rt

    return Distributed(config.store_url, runtime, parts=parts, every=every, stalled_after=stalled_after,
                       rate_limits=dict(RateLimit.parse(text) for text in limits))


def deliver_slice(rt: Runtime, target: str, part: int, parts: int) -> JobReport:
    """Claim the due effects of ``target`` in slice ``part`` and deliver them in order."""
    with rt.store.transaction() as tx:
        rows = outbox_store.claim_for(tx, rt.clock.now(), target, lambda row: part_of(_effect_key(row), parts) == part)
    return _deliver(rt, rows) if rows else JobReport("deliver_effects")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
