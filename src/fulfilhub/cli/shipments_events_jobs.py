"""Looking around: ``shipments list|show``, ``track``, ``events`` (the timeline across orders), ``jobs``;
and ``shipments attach-code`` (a label bought elsewhere)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from rich.markup import escape
from rich.table import Column, Table

from ..config import DEFAULT_SCHEDULE
from ..engines import choice
from ..engines.delays import OPEN_STATUSES
from ..engines import fulfilment
from ..errors import FulfilhubError, NotFound
from ..models import ShipmentStatus
from ..store import breakers as breaker_store
from ..store import choices as choice_store
from ..store import job_runs as job_run_store
from ..store import orders as order_store
from ..store import queues as queue_store
from ..store import shipments as shipment_store
from ..runner import outside
from .group import EXIT_OK, EXIT_PARTIAL, State, console, main
from .common import dump, found, format_option, open_store, pass_state, resolve_order_id, runtime, say, show_listing


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _span(delta: Any) -> str:
    """A duration in a few characters: ``45s``, ``30m``, ``2h``, ``1d 6h``."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h" + (f" {seconds % 3600 // 60}m" if seconds % 3600 // 60 else "")
    return f"{seconds // 86400}d" + (f" {seconds % 86400 // 3600}h" if seconds % 86400 // 3600 else "")


def _ago(now: datetime, at: datetime) -> str:
    return f"{_span(max(now - at, timedelta(0)))} ago"


def backoff_summary(config: Any, healthy: dict[tuple[str, str], datetime], now: datetime) -> str:
    """``[server] poll_backoff`` and the instances it applies to now, in a few words (``doctor``)."""
    every = config.server.poll_backoff
    if every is None:
        return "poll_backoff off: every instance is polled on its schedule"
    if not healthy:
        return f"poll_backoff {_span(every)}: no webhooks in the last {_span(every)}, every instance polled on schedule"
    heard = ", ".join(f"{name} (webhook {_ago(now, at)})" for (_, name), at in sorted(healthy.items()))
    return f"poll_backoff {_span(every)}: polled at most every {_span(every)}: {heard}"


# --------------------------------------------------------------------------- shipments


@main.group()
def shipments() -> None:
    """Shipments: one parcel from one warehouse, with its label and scans."""


@shipments.command("list")
@click.option("--status", type=click.Choice([s.value for s in ShipmentStatus]), help="Only shipments in this status.")
@click.option("--order", "order_ref", help="Only the shipments of this order (id or number).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many, newest first.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (full ids, every field).")
@pass_state
def shipments_list(state: State, status: str | None, order_ref: str | None, limit: int, as_json: bool) -> None:
    """The newest shipments with their carrier and tracking number."""
    store = open_store(state)
    with store.read() as conn:
        order_id = resolve_order_id(conn, order_ref) if order_ref else None
        rows = shipment_store.listing(conn, status=status, order_id=order_id, limit=limit)
    records = [dict(r._mapping) for r in rows]

    def table() -> None:
        grid = Table(Column("id", overflow="fold"), Column("order", overflow="fold"), "warehouse", "status", "carrier",
                     Column("tracking", overflow="fold"), "changed")
        for r in rows:
            grid.add_row(r.id, r.order_id, r.warehouse, r.status, " ".join(filter(None, (r.carrier_name, r.service))) or "-",
                         r.tracking_code or "-", _when(r.modified_at))
        console.print(grid)

    show_listing(records, shipment_store.LISTING_COLUMNS, as_json=as_json, table=table)


def _show_shipment(state: State, shipment_id: str, as_json: bool) -> None:
    store = open_store(state)
    with store.read() as conn:
        shipment = found(shipment_store.load(conn, shipment_id), "shipment", shipment_id,
                         "`fulfilhub shipments list` shows them")
        scans = shipment_store.scans_of(conn, shipment_id)
        choices = choice_store.of_shipment(conn, shipment_id)
    if as_json:
        dump({**shipment_store.as_row(shipment),
               "lines": [{"sku": ln.sku, "quantity": ln.quantity, "order_line_id": ln.order_line_id} for ln in shipment.lines],
               "scans": [dict(e._mapping) for e in scans], "choices": choices})
        return
    label = shipment.label
    console.print(f"[bold]shipment {escape(shipment.id)}[/] of order {escape(shipment.order_id)} from "
                  f"{escape(shipment.warehouse)}: [bold]{shipment.status}[/]")
    if label:
        console.print(f"  {label.carrier_name} {label.service}, tracking {label.tracking_code}, cost {label.cost}",
                      markup=False)
        if label.tracking_url:
            console.print(f"  {label.tracking_url}", markup=False)
    if shipment.est_delivery:
        console.print(f"  estimated delivery {_when(shipment.est_delivery)}", markup=False)
    elif shipment.eta_date:  # the carrier gave a day, the destination's: no time, no zone
        console.print(f"  estimated delivery {shipment.eta_date:%Y-%m-%d} (the carrier's day)", markup=False)
    for ln in shipment.lines:
        console.print(f"  {ln.quantity} x {ln.sku}", markup=False)
    if choices:
        console.print("[bold]why this carrier[/]")
        for made in choices:
            for line in choice.describe(made):
                console.print(f"  {line}", markup=False)
    console.print("[bold]scans[/]" if scans else "no scans yet")
    for e in scans:
        console.print(f"  {_when(e.at)}  {e.status}{' (' + e.reason + ')' if e.reason else ''}  {e.description}  {e.location}",
                      markup=False)


@shipments.command("show")
@click.argument("shipment_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with lines and scans.")
@pass_state
def shipments_show(state: State, shipment_id: str, as_json: bool) -> None:
    """One shipment: its label, lines, why its carrier was chosen, and carrier scans."""
    _show_shipment(state, shipment_id, as_json)


def _takes_label(conn: Any, ref: str) -> str:
    """The shipment ``ref`` names for a label bought elsewhere: a shipment id, or an order
    (id or number) with exactly one shipment that can take one."""
    if shipment_store.load(conn, ref) is not None:
        return ref
    order_id = resolve_order_id(conn, ref)
    shipments = shipment_store.of_order(conn, order_id)
    open_ = [s.id for s in shipments if s.label is None and s.status in fulfilment.TAKES_OUTSIDE_LABEL]
    if len(open_) == 1:
        return open_[0]
    if not open_:
        states = ", ".join(f"{s.id} {s.status}" + (f" ({s.tracking_code})" if s.tracking_code else "")
                           for s in shipments) or "none yet"
        raise FulfilhubError(f"no shipment of order {order_id} can take a tracking code from outside (it needs one "
                             f"at its warehouse without a label): {states}")
    raise click.UsageError(f"order {order_id} has {len(open_)} shipments without a label ({', '.join(open_)}); "
                           "name one by its id")


@shipments.command("attach-code")
@click.argument("ref", metavar="SHIPMENT_OR_ORDER")
@click.option("--carrier", required=True, help="The configured carrier that follows the code (one that only tracks, "
                                                "such as a Kuaidi100 instance).")
@click.option("--code", "tracking_code", required=True, help="The tracking number on the label bought elsewhere.")
@click.option("--courier", default="", help="The courier's code where the carrier needs it (Kuaidi100: shunfeng, "
                                            "yuantong, zhongtong ...; left out, the carrier finds it).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the shipment as saved.")
@pass_state
def shipments_attach_code(state: State, ref: str, carrier: str, tracking_code: str, courier: str,
                          as_json: bool) -> None:
    """Give a shipment the tracking code of a label bought elsewhere; the carrier follows it."""
    store = open_store(state)
    with store.read() as conn:
        shipment_id = _takes_label(conn, ref)
    rt = runtime(state)
    try:
        saved = outside.attach(rt, shipment_id, carrier=carrier, code=tracking_code, courier=courier)
    finally:
        rt.close()
    if as_json:
        dump(shipment_store.as_row(saved))
        return
    say(f"shipment {saved.id}: {saved.tracking_code} is followed by {carrier}"
        + (f" ({saved.label.carrier_name})" if saved.label and saved.label.carrier_name else "")
        + "; the channel is told and the first scans come with the next poll_tracking")


@main.command()
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with lines and scans.")
@pass_state
def track(state: State, code: str, as_json: bool) -> None:
    """Find a shipment by its tracking number and show it with its scans."""
    store = open_store(state)
    with store.read() as conn:
        ids = shipment_store.ids_by_tracking_code(conn, code.strip())
    if not ids:
        raise NotFound(f"no shipment with tracking number {code!r}; `fulfilhub shipments list` shows them")
    for shipment_id in ids:
        _show_shipment(state, shipment_id, as_json)


# --------------------------------------------------------------------------- events


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date or time like 2026-01-05 or 2026-01-05T08:00, got {value!r}",
                                 param_hint="--since") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@main.command()
@click.option("--order", "order_ref", help="Only this order's events (id or number).")
@click.option("--since", help="Only events at or after this date/time (ISO 8601; UTC unless it says otherwise).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1), help="At most this many, the newest.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def events(state: State, order_ref: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """The timeline across orders: every status change, update and note, oldest first."""
    after = _since(since)
    store = open_store(state)
    with store.read() as conn:
        order_id = resolve_order_id(conn, order_ref) if order_ref else None
        rows = order_store.events_listing(conn, order_id=order_id, since=after, limit=limit)
    records = [dict(r._mapping) for r in rows]

    def table() -> None:
        for r in rows:
            change = f"{r.from_status or 'new'} -> {r.to_status}" if r.kind == "status" else r.kind
            say(f"{_when(r.at)}  {r.order_id:<24} {change:<32} {r.source:<22} {r.reason}")
        if not rows:
            say("no events" + (" in that window" if after else ""))

    show_listing(records, ("id", "at", "order_id", "kind", "from_status", "to_status", "source", "reason"),
                 as_json=as_json, table=table)


# --------------------------------------------------------------------------- jobs


#: The first part of a queued unit's instance (store.queues.QueueStatus.lag), by job.
_QUEUE_KIND = {"pull_orders": "pull", "poll_warehouses": "warehouse", "poll_tracking": "track",
               "deliver_effects": "deliver"}
#: The instances each job talks to, whose open circuit breakers ``jobs`` shows beside it.
_BREAKER_KINDS = {"pull_orders": "channels", "poll_warehouses": "warehouses", "buy_labels": "carriers",
                  "poll_tracking": "carriers"}


@main.command()
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def jobs(state: State, as_json: bool) -> None:
    """Each job's last run (when, how long, how it went) and what it has waiting, per instance.

    Runs are recorded by `fulfilhub run` and `fulfilhub sync`. Exits 1 when a job's
    last run had errors.
    """
    from ..clock import SystemClock
    from ..runner.jobs import healthy_webhooks

    config = state.config(strict_env=False)
    store = open_store(state)
    now = SystemClock().now()
    with store.read() as conn:
        last = job_run_store.last_runs(conn)
        backlog = job_run_store.backlog(conn, OPEN_STATUSES)
        healthy = healthy_webhooks(conn, config, now)
        tripped = breaker_store.open_now(conn)
        queues = queue_store.status(conn)
    every = config.server.poll_backoff
    polls = {"pull_orders": "channels", "poll_tracking": "carriers"}
    out = []
    for job in DEFAULT_SCHEDULE:
        r = last.get(job)
        out.append({
            "job": job, "last_run": r.started_at if r else None, "trigger": r.trigger if r else None,
            "duration_ms": r.duration_ms if r else None, "outcome": r.outcome if r else "never run",
            "counts": r.counts if r else {}, "errors": r.errors if r else 0,
            "first_error": r.first_error if r else None,
            "backlog": None if backlog.get(job) is None else sum(backlog[job].values()),
            "backlog_by_instance": backlog.get(job),
        })
        if job in _BREAKER_KINDS:  # the instances its last run gave up on (circuit breaker open)
            out[-1]["breakers_open"] = {key.split(".", 1)[1]: state for key, state in tripped.items()
                                        if key.split(".", 1)[0] == _BREAKER_KINDS[job]}
        if queues is not None:  # the procrastinate workers' share of it: jobs waiting and running, lag
            kind = _QUEUE_KIND.get(job)
            out[-1]["queued"] = {**queues.by_job.get(job, {"todo": 0, "doing": 0}),
                                 "lag_seconds": {k.split(":", 1)[1]: round(v, 1) for k, v in queues.lag.items()
                                                 if k.split(":", 1)[0] == kind}}
        if job in polls:  # the instances polled at most every poll_backoff, with their last webhook
            out[-1]["backing_off"] = None if every is None else {
                name: at for (kind, name), at in sorted(healthy.items()) if kind == polls[job]}

    def table() -> None:
        grid = Table(Column("job", no_wrap=True), "last run", "by", "took", "outcome", "done", "backlog")
        for j in out:
            ms = j["duration_ms"]
            took = "-" if ms is None else f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
            done = ", ".join(f"{k} {v}" for k, v in sorted(j["counts"].items())) or "-"
            outcome = j["outcome"] + (f" ({j['errors']}: {j['first_error']})" if j["errors"] else "")
            by = j["backlog_by_instance"]
            waiting = "-" if by is None else ", ".join(f"{k} {v}" for k, v in by.items()) or "0"
            grid.add_row(j["job"], _when(j["last_run"]), j["trigger"] or "-", took, escape(outcome), done, escape(waiting))
        console.print(grid)
        for j in out:
            if j.get("backing_off"):
                heard = ", ".join(f"{name} (webhook {_ago(now, at)})" for name, at in j["backing_off"].items())
                say(f"{j['job']} backs off for {heard}: polled at most every {_span(every)}")
        if queues is not None:
            say(f"procrastinate: {queues.workers_alive} worker(s) alive, {queues.workers_silent} silent, "
                f"{len(queues.stalled)} stalled job(s); "
                + ("; ".join(f"{q.name} {q.todo} waiting, {q.doing} running" for q in queues.queues) or "no job yet"))
            for j in out:
                q = j.get("queued") or {}
                if q.get("todo") or q.get("doing"):
                    lag = ", ".join(f"{k} {v:.0f}s" for k, v in q["lag_seconds"].items())
                    say(f"  {j['job']}: {q['todo']} waiting, {q['doing']} running" + (f"; waited {lag}" if lag else ""))
        for key, state in tripped.items():
            say(f"circuit breaker {state['state']}: {key} — {state['failures']} connection failures in a row, "
                f"the last {state['last_error']}; given up until {state['until'] or 'its next try'}")

    show_listing(out, ("job", "last_run", "trigger", "duration_ms", "outcome", "errors", "first_error", "backlog",
                       "counts"), as_json=as_json, table=table)
    sys.exit(EXIT_PARTIAL if tripped or (queues is not None and queues.stalled) or any(j["outcome"] in ("errors", "crashed") for j in out) else EXIT_OK)
