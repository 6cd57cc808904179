"""Everyday commands: init, plugins, doctor, db upgrade, sync, run, orders list|show, quarantine, stock, outbox."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Column, Table

from .. import store as store_mod
from ..config import DEFAULT_PATH, ENGINES, example_for
from ..clock import SystemClock
from ..errors import ConfigError, NotFound, StoreError
from ..models import OrderStatus
from ..runner import jobs
from ..runner.runtime import Runtime
from ..runner.scheduler import Scheduler
from ..store import Store
from ..store import breakers as breaker_store
from ..store import delays as delay_store
from ..store import orders as order_store
from ..store import inbox as inbox_store
from ..store import meta as meta_store
from ..store import outbox as outbox_store
from ..store import promises as promise_store
from ..store import quarantine as quarantine_store
from ..store import queues as queue_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from ..store import tracking as tracking_store
from ..http import Redactor
from .group import _SECRETS, EXIT_OK, EXIT_PARTIAL, State, console, err_console, main
from .common import assessment_json, found, format_option, line_json, pass_state, resolve_order_id, say, show_listing
from .common import dump as _dump
from .common import open_store as _store
from .common import runtime as _runtime


# --------------------------------------------------------------------------- setup


@main.command()
@click.option("--path", "target", default=DEFAULT_PATH, show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the config file.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_context
def init(ctx: click.Context, target: str, force: bool) -> None:
    """Write an example fulfilhub.toml and create the store it names."""
    path = Path(target)
    if path.exists() and not force:
        raise ConfigError("already exists; pass --force to overwrite it", path=str(path))
    if not path.parent.is_dir():
        raise ConfigError(f"folder {path.parent} does not exist; create it first", path=str(path))
    registry = ctx.obj.plugins.registry  # a type no installed plugin registers is written commented out
    path.write_text(example_for({kind: getattr(registry, kind) for kind in ("channels", "carriers", "warehouses",
                                                                            "notifiers")}), encoding="utf-8")
    ctx.obj.config_path = str(path)
    config = ctx.obj.config(strict_env=False)
    revision = store_mod.upgrade(config.store_url)
    console.print(f"wrote {path}; store {store_mod.safe_url(config.store_url)} at schema {revision}")
    console.print("next: export the ${...} variables it names, then `fulfilhub doctor` and `fulfilhub sync`")


@main.command()
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def plugins(state: State, as_json: bool) -> None:
    """List loaded plugins with their versions, hooks and registered types."""
    pm = state.plugins
    info = pm.plugin_info()
    reg = pm.registry
    types = {kind: sorted(getattr(reg, kind)) for kind in ("channels", "carriers", "warehouses", "notifiers", "policies", "simulators")}
    failures = [{"name": f.name, "error": f.error} for f in pm.failures]
    records = [{"name": item["name"], "source": item["source"], "hooks": ", ".join(item["hooks"]), "error": None}
               for item in info]
    records += [{"name": f["name"], "source": "FAILED", "hooks": "", "error": f["error"]} for f in failures]

    def table() -> None:
        grid = Table("plugin", "from", "hooks")
        for item in records:  # a failure was reported on stderr when it failed to load: listed here, not repeated
            grid.add_row(item["name"], item["source"], item["error"] or item["hooks"])
        console.print(grid)
        for kind, names in types.items():
            say(f"{kind}: {', '.join(names) or '-'}")

    show_listing(records, ("name", "source", "hooks", "error"), as_json=as_json, table=table,
                 json_data={"plugins": info, "types": types, "failures": failures})


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="The schema revision to go to.")
@click.option("--downgrade", "allow_downgrade", is_flag=True,
              help="Allow going back to an older revision (undoes migrations: their tables and columns are dropped).")
@pass_state
def db_upgrade(state: State, revision: str, allow_downgrade: bool) -> None:
    """Apply schema migrations to the configured store."""
    config = state.config(strict_env=False)
    where = store_mod.safe_url(config.store_url)
    try:
        try:
            current, target, step = store_mod.plan(config.store_url, revision)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--revision") from None
        if step == 0:
            console.print(f"store {where} is at schema revision {target} already; nothing to do")
            _queue_schema(config.store_url)
            return
        if step < 0 and not allow_downgrade:
            raise click.UsageError(
                f"store {where} is at schema revision {current}, newer than {target}: `db upgrade` only goes "
                f"forward. To go back (dropping what the later migrations added), pass --downgrade")
        at = (store_mod.downgrade if step < 0 else store_mod.upgrade)(config.store_url, target)
    except Exception as exc:  # unreachable, refused, wrong password: one line, no traceback
        reason = store_mod.database_error(exc, operational=True)
        if reason is None:
            raise
        raise StoreError(f"cannot reach store {store_mod.safe_url(config.store_url)}: {reason}") from None
    console.print(f"store {store_mod.safe_url(config.store_url)} is at schema revision {at}")
    _queue_schema(config.store_url)


def _queue_schema(url: str) -> None:
    """On PostgreSQL with the postgres extra installed, procrastinate's tables too (the
    workers' queues live in the store's database)."""
    import importlib.util

    if not url.startswith("postgresql") or importlib.util.find_spec("procrastinate") is None:
        return
    from ..runner.distributed import apply_schema

    created = apply_schema(url)
    console.print("procrastinate's queue tables " + ("created" if created else "are in place")
                  + " (for `fulfilhub worker` and `run --engine procrastinate`)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one object per check.")
@pass_state
def doctor(state: State, as_json: bool) -> None:
    """Check the config, plugins, store and backlog; exit 1 if something needs attention."""
    checks: list[dict[str, str]] = []

    def check(name: str, ok: bool, detail: str) -> None:  # a secret the config resolved is never shown
        checks.append({"check": name, "ok": "yes" if ok else "NO", "detail": Redactor(_SECRETS).text(detail)})

    pm = state.plugins
    check("plugins", not pm.failures, "; ".join(f.error for f in pm.failures) or f"{len(pm.plugin_info())} loaded")
    try:
        config = state.config()
        check("config", True, str(config.path))
    except ConfigError as exc:
        check("config", False, str(exc))
        config = state.config(strict_env=False)
    try:
        rt = Runtime(config, Store.open(config.store_url), pm)
        try:
            rt.build_all()
        finally:
            rt.close()
        check("instances", True, ", ".join(f"{k}: {len(getattr(config, k))}" for k in ("channels", "carriers", "warehouses")))
    except Exception as exc:
        check("store/instances", False, str(exc))
    else:
        store = Store.open(config.store_url)
        with store.read() as conn:
            base = meta_store.time_base(conn)
            now = meta_store.now_of(conn, SystemClock().now())  # a finished scenario's store: as it ended
            q = quarantine_store.count_open(conn)
            eff = outbox_store.count_by_status(conn)
            stuck = outbox_store.stuck(conn, now)
            hooks = inbox_store.count_by_status(conn)
            from ..runner.jobs import healthy_webhooks

            healthy = healthy_webhooks(conn, config, now)
            tripped = breaker_store.open_now(conn)
            queues = queue_store.status(conn)
            levels = stock_store.levels(conn) if config.stock.reorder_points else []
        store.close()
        check("quarantine", q == 0, f"{q} payload(s) waiting: `fulfilhub quarantine list`")
        check("outbox", not eff.get("failed"), f"pending {eff.get('pending', 0)}, failed {eff.get('failed', 0)}, done {eff.get('done', 0)}")
        check("webhooks", not hooks.get("failed"),
              f"pending {hooks.get('pending', 0)}, failed {hooks.get('failed', 0)}, processed {hooks.get('processed', 0)}"
              + (": `fulfilhub webhooks list --status failed`, then `webhooks replay ID`" if hooks.get("failed") else ""))
        from .shipments_events_jobs import backoff_summary

        check("polling", True, backoff_summary(config, healthy, now))
        if config.stock.reorder_points:  # told to the operator once per crossing by push_stock; listed here
            from ..engines import inventory

            total = inventory.sellable(levels)
            _, low = inventory.low_stock(total, config.stock.reorder_points, ())
            check("low stock", True, "no SKU at or below its reorder point" if not low else
                  f"{len(low)} SKU(s) at or below the reorder point: " + ", ".join(
                      f"{sku} {total.get(sku, 0)} <= {config.stock.reorder_points[sku]}" for sku in sorted(low)[:10]))
        if base is not None:
            check("time base", True, f"written by the {base.scenario} scenario; judged as of its last time, "
                  f"{base.at:%Y-%m-%d %H:%M} UTC (the customer-facing jobs do not run on the wall clock)")
        check("breakers", not tripped, "every instance reachable at the last run" if not tripped else "; ".join(
            f"{key} {state['state']} ({state['failures']} connection failures in a row, the last {state['last_error']}; "
            f"until {state['until'] or 'its next try'})" for key, state in tripped.items())
            + " — check the instance's base_url and network, then `fulfilhub sync`")
        if queues is not None:
            _queue_checks(check, queues)
        check("stuck", not stuck, "nothing stuck" if not stuck else
              f"{len(stuck)} effect(s) stuck: " + "; ".join(
                  f"#{r.id} {r.kind} {r.target} {r.status}, {r.attempts} tries" + (f": {r.last_error}" if r.last_error else "")
                  for r in stuck[:5]) + ("; ..." if len(stuck) > 5 else "") + " — fix the cause, then `fulfilhub outbox retry`")
    if as_json:
        _dump(checks)
    else:
        table = Table("check", "ok", "detail")
        for c in checks:
            table.add_row(c["check"], c["ok"], escape(c["detail"]))
        console.print(table)
    sys.exit(EXIT_OK if all(c["ok"] == "yes" for c in checks) else EXIT_PARTIAL)


#: Work an instance may wait for in the queues before `doctor` says so.
QUEUE_LAG_LIMIT = 600.0


def _queue_checks(check: Callable[[str, bool, str], None], queues: queue_store.QueueStatus) -> None:
    """The procrastinate workers' part of `doctor`: queues, workers alive, stalled jobs, lag."""
    check("queues", not any(q.failed for q in queues.queues), "; ".join(
        f"{q.name}: {q.todo} waiting, {q.doing} running, {q.failed} failed" for q in queues.queues) or "no job yet")
    check("workers", queues.workers_alive > 0 or queues.waiting == 0,
          f"{queues.workers_alive} alive, {queues.workers_silent} silent"
          + ("" if queues.workers_alive or not queues.waiting else
             f"; {queues.waiting} job(s) wait and no worker runs: start `fulfilhub worker`"))
    check("stalled jobs", not queues.stalled, "none" if not queues.stalled else "; ".join(
        f"job {j.id} {j.task} ({j.lock})" for j in queues.stalled[:5])
        + " — their worker stopped; the next dispatch hands them back")
    late = {k: v for k, v in queues.lag.items() if v > QUEUE_LAG_LIMIT}
    if late:
        detail = ("waiting longer than 10 minutes: " + ", ".join(f"{k} {v:.0f}s" for k, v in late.items())
                  + " — add workers or check `fulfilhub worker --status`")
    else:
        detail = ", ".join(f"{k} {v:.0f}s" for k, v in queues.lag.items()) or "nothing waiting"
    check("lag", not late, detail)


# --------------------------------------------------------------------------- run


def _print_reports(reports: list[jobs.JobReport], as_json: bool) -> int:
    total = jobs.summarize(reports)
    if as_json:
        _dump({"counts": dict(total.counts), "errors": total.errors, "jobs": [
            {"job": r.job, "counts": dict(r.counts), "errors": r.errors} for r in reports]})
    else:
        table = Table("job", "done", "errors")
        for r in reports:
            table.add_row(r.job, ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items()) if v) or "-", str(len(r.errors)))
        console.print(table)
        for error in total.errors:
            err_console.print(f"[yellow]•[/] {escape(error)}", markup=True, highlight=False)
    return EXIT_OK if total.ok else EXIT_PARTIAL


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: counts and errors per job.")
@click.option("--channel", "channels", multiple=True, help="Only pull these channels (repeatable).")
@pass_state
def sync(state: State, as_json: bool, channels: tuple[str, ...]) -> None:
    """Run one pass of every job: pull, allocate, submit, label, push, track."""
    rt = _runtime(state)
    try:
        for name in channels:
            if name not in rt.config.channels:
                close = difflib.get_close_matches(name, list(rt.config.channels), n=1)
                raise click.BadParameter(f"no channel {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                                         + f" configured: {', '.join(rt.config.channels) or 'none'}",
                                         param_hint="--channel")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, transient=True, disable=as_json or state.quiet) as bar:
            tasks: dict[str, Any] = {}

            def progress(name: str, n: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"pull {name}", total=None)
                bar.advance(tasks[name], n)

            if channels:
                reports = [jobs.recorded(rt, jobs.pull_orders, trigger="sync", channels=channels, progress=progress)]
            else:
                reports = jobs.sync_once(rt, progress=progress, record=True)
        sys.exit(_print_reports(reports, as_json))
    finally:
        rt.close()


@main.command()
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="Who runs the schedule: embedded (this process; the default) or procrastinate (this process "
                   "as a worker on the store's PostgreSQL, sharing the passes with every other worker). "
                   "Default: [schedule] engine.")
@click.option("--concurrency", "-j", default=8, show_default=True, type=click.IntRange(1, 256),
              help="With the procrastinate engine: jobs run at once.")
@pass_state
def run(state: State, engine: str | None, concurrency: int) -> None:
    """Run the schedule until SIGINT/SIGTERM, then stop cleanly after the current job.

    With the procrastinate engine the periodic passes are procrastinate periodic tasks:
    any number of `run --engine procrastinate` or `worker` processes share one PostgreSQL
    and no pass runs twice at once (see docs/deploy.md).
    """
    if (engine or state.config().engine) == "procrastinate":
        from ..runner.distributed import for_config

        dist = for_config(state.config(), state.plugins)
        if not state.quiet:
            err_console.print(f"running the schedule as a procrastinate worker ({concurrency} at once) on "
                              f"{store_mod.safe_url(state.config().store_url)}; Ctrl-C to stop", markup=False)
        try:
            dist.run_worker(concurrency=concurrency)
        finally:
            dist.close()
        return
    rt = _runtime(state)

    def report(r: jobs.JobReport) -> None:
        if state.quiet:  # errors only
            for error in r.errors:
                err_console.print(f"{r.job}: {error}", markup=False)
            return
        err_console.print(f"{r.job}: " + (", ".join(f"{k} {v}" for k, v in sorted(r.counts.items()) if v) or "nothing to do")
                          + (f" ({len(r.errors)} errors)" if r.errors else ""), markup=False)

    scheduler = Scheduler(rt, rt.config.schedule, on_report=report)
    scheduler.install_signal_handlers()
    if not state.quiet:
        err_console.print(f"running {len(scheduler.schedule)} jobs; Ctrl-C to stop", markup=False)
    try:
        scheduler.run()
    finally:
        rt.close()
    if not state.quiet:
        err_console.print(f"stopped cleanly after {scheduler.runs} job runs", markup=False)


# --------------------------------------------------------------------------- orders


@main.group()
def orders() -> None:
    """Look at orders."""


@orders.command("list")
@click.option("--status", type=click.Choice([s.value for s in OrderStatus]), help="Only orders in this status.")
@click.option("--channel", help="Only orders from this channel instance.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (full ids, every field).")
@click.option("--format", "fmt", type=click.Choice(["table", "tsv"]), default=None,
              help="table (default on a terminal) or tsv: one order a line, tab-separated, never truncated "
                   "(the default when stdout is a pipe).")
@pass_state
def orders_list(state: State, status: str | None, channel: str | None, limit: int, as_json: bool, fmt: str | None) -> None:
    """The newest orders with their status."""
    store = _store(state)
    with store.read() as conn:
        rows = order_store.listing(conn, status=status, channel=channel, limit=limit)
        counts = order_store.count_by_status(conn)
        known = order_store.channels_with_orders(conn) if channel and not rows else []
    if channel and not rows and channel not in known:
        raise NotFound(f"nothing matched: no order came from channel {channel!r}; "
                       f"orders came from: {', '.join(known) or 'none yet'}")
    records = [dict(r._mapping) for r in rows]

    def table() -> None:
        grid = Table(Column("id", overflow="fold"), Column("number", no_wrap=True), "status", "placed", "total",
                     "hold reason")
        for r in rows:
            grid.add_row(r.id, r.number, r.status, f"{r.placed_at:%Y-%m-%d %H:%M}", f"{r.total} {r.currency}",
                         r.hold_reason or "")
        console.print(grid)
        say("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no orders yet")

    show_listing(records, ORDER_COLUMNS, as_json=as_json, table=table, json_data={"orders": records, "counts": counts},
                 tsv=True if fmt == "tsv" else False if fmt == "table" else None)


#: The TSV columns of ``orders list``.
ORDER_COLUMNS = ("id", "number", "status", "placed_at", "total", "currency", "hold_reason", "channel")


@orders.command("show")
@click.argument("order_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the order, lines, shipments, scans, events.")
@pass_state
def orders_show(state: State, order_id: str, as_json: bool) -> None:
    """One order's lines, shipments, scans and timeline of events.

    ORDER_ID is the id (``shop:5001``) or the shop's order number (``'#1009'``).
    """
    config = state.config(strict_env=False)
    store = Store.open(config.store_url)
    with store.read() as conn:
        order_id = resolve_order_id(conn, order_id)
        order, row = found(order_store.load(conn, order_id), "order", order_id, "`fulfilhub orders list` shows the ids")
        events = order_store.events_of(conn, order_id)
        ships = shipment_store.of_order(conn, order_id)
        scans = {s.id: shipment_store.scans_of(conn, s.id) for s in ships}
        delay = delay_store.current(conn, order_id)
        promises = promise_store.history(conn, order_id)
    with store.transaction() as tx:  # the page's token is made on first use
        page_url = tracking_store.tracking_page_url(config, tx, order_id)
    from .promise import promise_json, promise_lines  # noqa: PLC0415 (promise.py imports this module's group)

    if as_json:
        _dump({
            "tracking_page_url": page_url,
            "promise": promise_json(promises[-1]) if promises else None,
            "promise_history": [promise_json(p) for p in promises],
            "order": {k: v for k, v in row._mapping.items() if k != "raw"},
            "lines": [{"sku": ln.sku, "quantity": ln.quantity, "unit_price": str(ln.unit_price.amount)} for ln in order.lines],
            "shipments": [{**shipment_store.as_row(s), "lines": [line_json(ln) for ln in s.lines],
                           "scans": [dict(e._mapping) for e in scans[s.id]]} for s in ships],
            "events": [dict(e._mapping) for e in events],
            "delay": assessment_json(delay) if delay is not None else None,
        })
        return
    console.print(f"[bold]{order.number}[/]  {order.id}  [bold]{row.status}[/]"
                  + (f"  (hold: {row.hold_reason})" if row.hold_reason else ""))
    console.print(f"placed {order.placed_at:%Y-%m-%d %H:%M %Z}, total {order.total}, to "
                  f"{order.ship_to.city + ', ' + order.ship_to.country if order.ship_to else '-'}")
    console.print(f"tracking page: {page_url}", markup=False)
    for ln in order.lines:
        console.print(f"  {ln.quantity} x {ln.sku}  {ln.title}  @ {ln.unit_price}")
    if promises:
        head, *rest = promise_lines(promises[-1])
        console.print(f"[bold]promise[/] {escape(head)}")
        for line in rest:
            console.print(line, markup=False)
        for p in reversed(promises[:-1]):
            console.print(f"  earlier: revision {p.revision}, {promise_lines(p)[0]} ({p.reason})", markup=False)
    else:
        console.print("[bold]promise[/] none yet")
    if delay is not None:
        console.print(f"[bold]delay[/] {delay.state} (assessed {delay.assessed_at:%Y-%m-%d %H:%M}): {escape(delay.detail)}"
                      if delay.detail else f"[bold]delay[/] {delay.state} (assessed {delay.assessed_at:%Y-%m-%d %H:%M})")
    for s in ships:
        console.print(f"[bold]shipment {s.id}[/] from {s.warehouse}: {s.status}"
                      + (f", {s.label.carrier_name} {s.label.service} {s.tracking_code}" if s.label else ""))
        for ln in s.lines:
            console.print(f"    {ln.quantity} x {ln.sku}")
        for e in scans[s.id]:
            console.print(f"    {e.at:%Y-%m-%d %H:%M}  {e.status}{' (' + e.reason + ')' if e.reason else ''}  {e.description}  {e.location}")
    console.print("[bold]timeline[/]")
    for e in events:
        change = f"{e.from_status or 'new'} -> {e.to_status}" if e.kind == "status" else e.kind
        console.print(f"  {e.at:%Y-%m-%d %H:%M}  {change:<32} {e.source:<22} {e.reason}", markup=False)


# --------------------------------------------------------------------------- quarantine


@main.group()
def quarantine() -> None:
    """Payloads that failed to map, kept so that nothing is lost."""


@quarantine.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved ones.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (without the payloads).")
@pass_state
def quarantine_list(state: State, show_all: bool, as_json: bool) -> None:
    """The payloads waiting in quarantine, with their error."""
    store = _store(state)
    with store.read() as conn:
        rows = quarantine_store.listing(conn, status=None if show_all else "open", limit=1000)
    records = [{k: v for k, v in r._mapping.items() if k != "payload"} for r in rows]

    def table() -> None:
        grid = Table("id", "source", "external id", "status", "tries", "error")
        for r in rows:
            grid.add_row(str(r.id), r.source, r.external_id or "", r.status, str(r.attempts), escape(r.error))
        console.print(grid)

    show_listing(records, ("id", "source", "kind", "external_id", "status", "attempts", "error"), as_json=as_json,
                 table=table)


@quarantine.command("show")
@click.argument("qid", type=int)
@pass_state
def quarantine_show(state: State, qid: int) -> None:
    """The error and the payload exactly as received."""
    store = _store(state)
    with store.read() as conn:
        row = found(quarantine_store.row(conn, qid), "quarantine entry", qid, "`fulfilhub quarantine list` shows them")
    _dump({k: v for k, v in row._mapping.items()})


@quarantine.command("retry")
@click.argument("qids", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every open entry.")
@pass_state
def quarantine_retry(state: State, qids: tuple[int, ...], retry_all: bool) -> None:
    """Map quarantined payloads again (after the plugin is fixed) and store those that now map;
    process again the delay assessments and status events the notices job quarantined."""
    from ..runner.quarantine import retry

    if not qids and not retry_all:
        raise click.UsageError("name entry ids or pass --all")
    if qids:
        store = _store(state)
        with store.read() as conn:
            missing = [qid for qid in qids if quarantine_store.row(conn, qid) is None]
        store.close()
        if missing:
            raise NotFound(f"nothing matched: no quarantine entry {', '.join(map(str, missing))}; "
                           f"`fulfilhub quarantine list --all` shows them (nothing was retried)")
    rt = _runtime(state)
    try:
        outcome = retry(rt, None if retry_all else list(qids))
    finally:
        rt.close()
    for qid, result in outcome.items():
        console.print(f"{qid}: {result}", markup=False)
    sys.exit(EXIT_OK if all(r.startswith(("stored", "processed")) for r in outcome.values()) else EXIT_PARTIAL)


# --------------------------------------------------------------------------- stock


@main.group()
def stock() -> None:
    """Stock levels of local warehouses."""


class _NoNegativeNumbers(click.Command):
    """Says that a negative number is refused, where click would call ``-5`` an unknown option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            if arg == "--":
                break
            if arg[:1] == "-" and arg[1:].isascii() and arg[1:].isdigit():
                raise click.UsageError(f"{arg} is negative: stock levels are 0 or more (0 when there is none)", ctx=ctx)
        return super().parse_args(ctx, args)


def _sku(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("the SKU is empty; give the SKU as the channel sends it (`fulfilhub stock list` shows them)")
    if value != value.strip() or not value.isprintable():
        raise click.BadParameter(f"{value!r} has spaces around it or characters that cannot be printed; "
                                 "give the SKU as the channel sends it")
    return value


@stock.command("set", cls=_NoNegativeNumbers)
@click.argument("warehouse")
@click.argument("sku", callback=_sku)
@click.argument("on_hand", type=click.IntRange(min=0))
@click.option("--safety", type=click.IntRange(min=0), help="Safety stock never sold.")
@click.option("--weight-g", type=click.IntRange(min=1), help="Unit weight in grams.")
@click.option("--restock-date", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="When more is expected: a promise for an order that waits for it ships from that day.")
@pass_state
def stock_set(state: State, warehouse: str, sku: str, on_hand: int, safety: int | None, weight_g: int | None,
              restock_date: Any) -> None:
    """Set how many units of SKU a local WAREHOUSE has on hand (orders waiting for it are looked at again)."""
    config = state.config(strict_env=False)
    if warehouse not in config.warehouses:
        raise ConfigError(f"no warehouse {warehouse!r}; configured: {', '.join(config.warehouses) or 'none'}",
                          path=str(config.path), key="warehouses")
    store = Store.open(config.store_url)
    from ..clock import SystemClock

    with store.transaction() as tx:
        stock_store.set_level(tx, warehouse, sku, on_hand, SystemClock().now(), safety_stock=safety, unit_weight_g=weight_g,
                              restock_on=restock_date.date() if restock_date else None)
    console.print(f"{warehouse} {sku}: on hand {on_hand}" + (f", more expected {restock_date:%Y-%m-%d}" if restock_date else ""))


@stock.command("list")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def stock_list(state: State, as_json: bool) -> None:
    """Stock levels: on hand, reserved, safety stock and available, per warehouse and SKU."""
    store = _store(state)
    with store.read() as conn:
        levels = stock_store.levels(conn)
        restock = stock_store.restock_dates(conn)
    records = [{"warehouse": s.warehouse, "sku": s.sku, "on_hand": s.on_hand, "reserved": s.reserved,
                "safety_stock": s.safety_stock, "available": s.available,
                "restock_on": restock[(s.warehouse, s.sku)].isoformat() if (s.warehouse, s.sku) in restock else None}
               for s in levels]

    def table() -> None:
        grid = Table("warehouse", "sku", "on hand", "reserved", "safety", "available", "restock")
        for r in records:
            grid.add_row(r["warehouse"], r["sku"], str(r["on_hand"]), str(r["reserved"]), str(r["safety_stock"]),
                         str(r["available"]), r["restock_on"] or "")
        console.print(grid)

    show_listing(records, STOCK_COLUMNS, as_json=as_json, table=table)


#: The TSV columns of ``stock list``.
STOCK_COLUMNS = ("warehouse", "sku", "on_hand", "reserved", "safety_stock", "available", "restock_on")


# --------------------------------------------------------------------------- outbox


@main.group()
def outbox() -> None:
    """Effects on the outside world: pending, done, failed."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "done", "failed"]), help="Only effects in this status.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def outbox_list(state: State, status: str | None, limit: int, as_json: bool) -> None:
    """The newest effects with their attempts and last error."""
    store = _store(state)
    with store.read() as conn:
        rows = outbox_store.listing(conn, status=status, limit=limit)
    records = [dict(r._mapping) for r in rows]

    def table() -> None:
        grid = Table("id", "kind", "target", "status", "tries", "next try", "last error")
        for r in rows:
            grid.add_row(str(r.id), r.kind, r.target, r.status, str(r.attempts), f"{r.next_attempt_at:%Y-%m-%d %H:%M}",
                         escape(r.last_error or ""))
        console.print(grid)

    show_listing(records, ("id", "kind", "target", "status", "attempts", "next_attempt_at", "last_error"),
                 as_json=as_json, table=table)


@outbox.command("retry")
@click.argument("ids", type=int, nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed effect.")
@pass_state
def outbox_retry(state: State, ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed (or waiting) effects back in line for the next run, after fixing their cause."""
    if not ids and not all_failed:
        raise click.UsageError("name effect ids or pass --failed")
    store = _store(state)
    if ids:
        with store.read() as conn:
            missing = sorted(set(ids) - outbox_store.existing_ids(conn, list(ids)))
        if missing:
            raise NotFound(f"nothing matched: no effect {', '.join(map(str, missing))}; "
                           f"`fulfilhub outbox list` shows them (nothing was queued)")
    with store.transaction() as tx:
        count = outbox_store.requeue(tx, None if all_failed else list(ids))
    say(f"{count} effect(s) queued again; `fulfilhub sync` delivers them" if count else
        "nothing to retry: no failed effect")
