"""``fulfilhub delays``: the open orders at risk or late, with their reasons, worst first."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from ..engines.delays import OPEN_STATUSES, worst_first
from ..store import delays as delay_store
from ..store import orders as order_store
from .group import State, console, main
from .common import assessment_json, format_option, open_store, pass_state, say, show_listing

#: The TSV columns of ``delays``.
COLUMNS = ("order_id", "number", "status", "state", "days_late", "reason", "revised_eta", "detail")


@main.command("delays")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: a list, worst first.")
@pass_state
def delays_command(state: State, as_json: bool) -> None:
    """Open orders at risk of missing their promise, or late, with the reason, worst first.

    Worst first: most days late, then late before at risk. Each line is the order's latest
    assessment by the job ``assess_delays`` (run by ``fulfilhub sync`` and ``fulfilhub run``).
    """
    store = open_store(state)
    with store.read() as conn:
        found = delay_store.current_all(conn)
        rows = order_store.numbers_and_statuses(conn, [a.order_id for a in found])
    open_words = {str(s) for s in OPEN_STATUSES}
    listed = worst_first([a for a in found if a.order_id in rows and rows[a.order_id][1] in open_words])
    records = [{**assessment_json(a), "number": rows[a.order_id][0], "status": rows[a.order_id][1]} for a in listed]

    def table() -> None:
        if not listed:
            say("no open order is at risk or late")
            return
        grid = Table("order", "number", "status", "state", "days late", "reason", "new ETA", "detail")
        for a in listed:
            number, status = rows[a.order_id]
            grid.add_row(escape(a.order_id), escape(number), status, str(a.state), str(a.days_late), str(a.reason or ""),
                         f"{a.revised_eta:%Y-%m-%d}" if a.revised_eta else "-", escape(a.detail))
        console.print(grid)
        late = sum(1 for a in listed if a.state == "late")
        say(f"{len(listed)} order(s): {late} late, {len(listed) - late} at risk")

    show_listing(records, COLUMNS, as_json=as_json, table=table)
