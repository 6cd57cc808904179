"""Scaling out: ``fulfilhub worker`` (procrastinate on the store's PostgreSQL) and
``fulfilhub db copy`` (a store moved from one database to another).

procrastinate is imported only when a worker command runs (``fulfilhub[postgres]``).
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..store import safe_url
from .group import EXIT_OK, State, console, main
from .commands import db

pass_state = click.make_pass_decorator(State)


def _distributed(state: State, *, parts: int, every: int, limits: tuple[str, ...], stalled_after: float) -> Any:
    from ..runner.distributed import for_config

    return for_config(state.config(), state.plugins, parts=parts, every=every, limits=limits,
                      stalled_after=stalled_after)


@main.command()
@click.option("--concurrency", "-j", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Jobs this worker runs at once (each in a thread: the work waits on HTTP, not CPU).")
@click.option("--queue", "queues", multiple=True,
              help="Take jobs from this queue only (repeatable): passes, pull, poll, labels, deliver. Default: all.")
@click.option("--parts", default=16, show_default=True, type=click.IntRange(1, 1024),
              help="Slices per instance for tracking, labels and the outbox: the most jobs one instance's work "
                   "runs in at once. The same on every worker.")
@click.option("--every", default=5, show_default=True, type=click.IntRange(1, 59),
              help="Seconds between dispatches (the periodic task that defers due work, once per tick in all).")
@click.option("--rate-limit", "limits", multiple=True, metavar="KIND:NAME=RATE[/BURST]",
              help="Calls a second to one instance across all workers, e.g. channels:shop_eu=2/5 (repeatable).")
@click.option("--stalled-after", default=30.0, show_default=True, type=click.FloatRange(2),
              help="Seconds without a heartbeat after which a worker's jobs are handed back.")
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0),
              help="On SIGTERM, seconds to let running jobs finish before aborting them.")
@click.option("--burst", "drain", is_flag=True, help="Stop once no job can be taken instead of waiting for work.")
@click.option("--status", is_flag=True, help="Show the queues, the workers alive and stalled jobs, and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --status: one JSON object.")
@pass_state
def worker(state: State, concurrency: int, queues: tuple[str, ...], parts: int, every: int, limits: tuple[str, ...],
           stalled_after: float, shutdown_timeout: float, drain: bool, status: bool, as_json: bool) -> None:
    """Run jobs from the procrastinate queues on the store's PostgreSQL (until SIGTERM).

    Any number of workers on any number of machines share the store; the periodic
    dispatch runs once per tick in all of them, and each channel's pull, each slice of
    an instance's tracking, labels and outbox runs in one worker at a time.
    """
    dist = _distributed(state, parts=parts, every=every, limits=limits, stalled_after=stalled_after)
    try:
        if status:
            dist.apply_schema()
            _show_status(dist.status(), as_json)
            return
        dist.run_worker(concurrency=concurrency, queues=queues or None, wait=not drain,
                        shutdown_timeout=shutdown_timeout)
    finally:
        dist.close()
    raise SystemExit(EXIT_OK)


def _show_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status, default=str, indent=2))
        return
    for q in status["queues"]:
        console.print(f"queue {q['name']}: {q['todo']} waiting, {q['doing']} running, {q['failed']} failed, "
                      f"{q['succeeded']} kept as done")
    if not status["queues"]:
        console.print("queues: no job yet")
    console.print(f"workers alive: {len(status['workers'])}")
    for w in status["workers"]:
        console.print(f"  worker {w['id']}: last heartbeat {w['last_heartbeat']}")
    console.print(f"stalled jobs: {len(status['stalled'])}")
    for j in status["stalled"]:
        console.print(f"  job {j['id']} {j['task']} ({j['lock']})")


@db.command("copy")
@click.argument("source")
@click.argument("target")
def db_copy(source: str, target: str) -> None:
    """Copy the whole store at SOURCE into the empty database TARGET (e.g. SQLite to PostgreSQL).

    TARGET is migrated first and must hold no rows. Each table is checked after the copy
    by its row count and a digest of its rows on both sides.
    """
    from ..store import copy as store_copy

    if source.strip() == target.strip():
        raise click.UsageError(f"SOURCE and TARGET are the same store ({safe_url(source)}): name another database to copy into")
    results = store_copy.copy(source, target)
    for r in results:
        console.print(f"{r.table}: {r.rows} rows, sha256 {r.digest[:16]}, verified")
    console.print(f"copied {sum(r.rows for r in results)} rows in {len(results)} tables from {safe_url(source)} "
                  f"to {safe_url(target)}; counts and digests match")
