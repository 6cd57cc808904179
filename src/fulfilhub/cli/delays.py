"""``fulfilhub delays``: the open orders at risk or late, with their reasons, worst first."""

from __future__ import annotations

import sys
from typing import Any

import click
import sqlalchemy as sa
from rich.markup import escape
from rich.table import Table

from ..engines.delays import OPEN_STATUSES, worst_first
from ..store import delays as delay_store
from ..store import schema
from . import State, console, main
from .commands import _dump, _store, _tsv, assessment_json, pass_state


@main.command("delays")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: a list, worst first.")
@pass_state
def delays_command(state: State, as_json: bool) -> None:
    """Open orders at risk of missing their promise, or late, with the reason, worst first.

    Worst first: most days late, then late before at risk. Each line is the order's latest
    assessment by the job ``assess_delays`` (run by ``fulfilhub sync`` and ``fulfilhub run``).
    """
    store = _store(state)
    with store.read() as conn:
        found = delay_store.current_all(conn)
        rows = _orders(conn, [a.order_id for a in found])
    open_words = {str(s) for s in OPEN_STATUSES}
    listed = worst_first([a for a in found if a.order_id in rows and rows[a.order_id][1] in open_words])
    if as_json:
        _dump([{**assessment_json(a), "number": rows[a.order_id][0], "status": rows[a.order_id][1]} for a in listed])
        return
    if not listed:
        console.print("no open order is at risk or late")
        return
    if not sys.stdout.isatty():
        for a in listed:
            number, status = rows[a.order_id]
            click.echo("\t".join(_tsv(v) for v in (a.order_id, number, status, a.state, a.days_late, a.reason or "",
                                                    f"{a.revised_eta:%Y-%m-%d}" if a.revised_eta else "", a.detail)))
        return
    table = Table("order", "number", "status", "state", "days late", "reason", "new ETA", "detail")
    for a in listed:
        number, status = rows[a.order_id]
        table.add_row(escape(a.order_id), escape(number), status, str(a.state), str(a.days_late), str(a.reason or ""),
                      f"{a.revised_eta:%Y-%m-%d}" if a.revised_eta else "-", escape(a.detail))
    console.print(table)
    late = sum(1 for a in listed if a.state == "late")
    console.print(f"{len(listed)} order(s): {late} late, {len(listed) - late} at risk")


def _orders(conn: Any, ids: list[str]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        stmt = sa.select(schema.orders.c.id, schema.orders.c.number, schema.orders.c.status).where(
            schema.orders.c.id.in_(ids[start:start + 500]))
        out.update((r.id, (r.number, r.status)) for r in conn.execute(stmt))
    return out
