"""The server's commands: ``serve``, and ``webhooks list|show|replay``."""

from __future__ import annotations

import json
import sys

import attrs
import click
from rich.markup import escape
from rich.table import Table

from ..config import default_public_url
from ..errors import NotFound
from ..runner.inbox import process_inbox
from ..store import inbox as inbox_store
from .group import EXIT_OK, EXIT_PARTIAL, State, console, err_console, main
from .common import found, format_option, pass_state, say, show_listing
from .common import open_store as _store
from .common import runtime as _runtime


@main.command()
@click.option("--host", help="Address to listen on (default: [server] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default: [server] port, 8080).")
@pass_state
def serve(state: State, host: str | None, port: int | None) -> None:
    """Serve webhooks (POST /webhooks/INSTANCE), tracking pages (/t/TOKEN), /healthz and /metrics
    (/metrics only with [server] metrics_token or on [server] metrics_port).

    Webhooks are verified and stored at once; `fulfilhub run` (its process_inbox job)
    or `fulfilhub sync` processes them. SIGINT/SIGTERM stop taking connections and let
    the requests in flight finish.
    """
    from ..server import serve as run_server

    rt = _runtime(state)
    settings = rt.config.server
    host, port = host or settings.host, port or settings.port
    if settings.public_url == default_public_url(settings.host, settings.port):  # none configured: where it listens
        settings = attrs.evolve(settings, public_url=default_public_url(host, port))
        rt.config = attrs.evolve(rt.config, server=settings)

    def listening() -> None:
        if not state.quiet:
            if settings.metrics_port is not None:
                where = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
            elif settings.metrics_token is not None:
                where = "/metrics with the bearer token ([server] metrics_token)"
            else:
                where = "off (set [server] metrics_port or metrics_token)"
            err_console.print(f"metrics: {where}", markup=False)
            takes = sorted(set(rt.config.channels) | set(rt.config.carriers))
            err_console.print(f"serving on http://{host}:{port} (public URL {settings.public_url}); webhooks for: "
                              f"{', '.join(takes) or 'none configured'}; Ctrl-C to stop", markup=False)

    try:
        run_server(rt, host, port, listening=listening)
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: requests in flight have finished
        pass
    finally:
        rt.close()
    if not state.quiet:
        err_console.print("stopped cleanly", markup=False)


@main.group()
def webhooks() -> None:
    """Webhooks the server received: what arrived and what it did."""


_COLUMNS = ("id", "instance", "delivery_id", "received_at", "status", "result", "error")


@webhooks.command("list")
@click.option("--status", type=click.Choice(inbox_store.STATUSES), help="Only deliveries in this status.")
@click.option("--instance", help="Only deliveries for this channel or carrier.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many, newest first.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def webhooks_list(state: State, status: str | None, instance: str | None, limit: int, as_json: bool) -> None:
    """The newest deliveries: when, for which instance, and what processing did."""
    store = _store(state)
    with store.read() as conn:
        rows = inbox_store.listing(conn, status=status, instance=instance, limit=limit)
        counts = inbox_store.count_by_status(conn)

    def table() -> None:
        grid = Table("id", "instance", "delivery", "received", "status", "what it did")
        for r in rows:
            grid.add_row(str(r.id), escape(r.instance), escape(r.delivery_id[:24]), f"{r.received_at:%Y-%m-%d %H:%M:%S}",
                         r.status, escape(r.error or r.result or "-"))
        console.print(grid)
        say("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no webhooks received yet")

    show_listing([dict(r._mapping) for r in rows], _COLUMNS, as_json=as_json, table=table)


@webhooks.command("show")
@click.argument("delivery", type=int)
@pass_state
def webhooks_show(state: State, delivery: int) -> None:
    """One delivery as JSON: headers kept, body, status, result or error."""
    store = _store(state)
    with store.read() as conn:
        row = found(inbox_store.get(conn, delivery), "webhook", delivery, "`fulfilhub webhooks list` shows them")
    click.echo(json.dumps(inbox_store.as_dict(row), indent=2, default=str))


@webhooks.command("replay")
@click.argument("delivery", type=int)
@pass_state
def webhooks_replay(state: State, delivery: int) -> None:
    """Process one delivery again now, as it arrived (after fixing a plugin, say).

    Processing is idempotent: an order or a scan already stored is not stored twice.
    """
    rt = _runtime(state)
    try:
        with rt.store.transaction() as tx:
            if not inbox_store.reopen(tx, delivery):
                raise NotFound(f"no webhook {delivery}; `fulfilhub webhooks list` shows them")
        process_inbox(rt, ids=[delivery])
        with rt.store.read() as conn:
            row = inbox_store.get(conn, delivery)
    finally:
        rt.close()
    console.print(f"webhook {delivery} ({row.instance}): {row.status}: {row.error or row.result}", markup=False)
    sys.exit(EXIT_PARTIAL if row.status == inbox_store.FAILED else EXIT_OK)
