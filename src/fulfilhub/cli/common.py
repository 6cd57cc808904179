"""What every command shares: the store and runtime from the options, the order a
reference names, "show one or say it is not there", and the one way a listing is printed.

The listing convention (``docs/cli.md``, "Conventions"): ``--json`` prints JSON; on a
terminal a table; in a pipe (stdout not a terminal) one tab-separated line per row
after a header line of column names, empty cells empty (never ``None``), nothing
truncated. ``-q`` prints nothing but errors and what ``--json`` asks for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import click

from ..errors import NotFound
from ..models import DelayAssessment
from ..runner.runtime import Runtime
from ..store import Store
from ..store import orders as order_store
from .group import State, console

pass_state = click.make_pass_decorator(State)

T = TypeVar("T")


def runtime(state: State) -> Runtime:
    """The configured runtime with every adapter built (bad settings fail here, exit 2)."""
    config = state.config()
    rt = Runtime(config, Store.open(config.store_url), state.plugins)
    try:
        rt.build_all()
    except BaseException:
        rt.close()
        raise
    return rt


def open_store(state: State) -> Store:
    """The configured store; reading it needs no secret."""
    return Store.open(state.config(strict_env=False).store_url)


def dump(data: Any) -> None:
    """``--json`` output: printed even with ``-q`` (it was asked for)."""
    click.echo(json.dumps(data, indent=2, default=str))


def found(value: T | None, what: str, ref: object, hint: str) -> T:
    """``value``, or exit 5 saying ``no WHAT REF; HINT`` (the one "show a row or not found")."""
    if value is None:
        raise NotFound(f"no {what} {ref!r}; {hint}")
    return value


def resolve_order_id(conn: Any, ref: str) -> str:
    """The order id ``ref`` names: an id, or a shop's order number (``#1009`` or ``1009``)."""
    if order_store.row(conn, ref) is not None:
        return ref
    number = ref if ref.startswith("#") else f"#{ref}"
    ids = order_store.ids_by_number(conn, [ref, number])
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1:
        raise NotFound(f"order number {ref!r} is used by {len(ids)} orders ({', '.join(sorted(ids))}); name one by id")
    raise NotFound(f"no order {ref!r} (by id or number); `fulfilhub orders list` shows them")


def assessment_json(a: DelayAssessment) -> dict[str, Any]:
    """An assessment as JSON values (times in ISO 8601, enums as their words)."""
    return {
        "order_id": a.order_id, "state": str(a.state), "reason": str(a.reason) if a.reason else None,
        "exception": str(a.exception) if a.exception else None, "days_late": a.days_late,
        "revised_eta": a.revised_eta.isoformat() if a.revised_eta else None, "confidence": a.confidence,
        "promise_revision": a.promise_revision, "assessed_at": a.assessed_at.isoformat(), "detail": a.detail,
    }


def line_json(line: Any) -> dict[str, Any]:
    return {"sku": line.sku, "quantity": line.quantity, "order_line_id": line.order_line_id}


# --------------------------------------------------------------------------- listings


def cell(value: Any) -> str:
    """One TSV cell: None is empty, times ISO 8601, tabs and line breaks become spaces."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        text = value.isoformat()
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str, sort_keys=True)
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def piped() -> bool:
    """Whether stdout is a pipe or a file (TSV), not a terminal (a table)."""
    return not console.is_terminal


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta["fulfilhub.format"] = value


#: ``--format table|tsv`` for a listing: what it prints whatever stdout is (default: the
#: table on a terminal, TSV in a pipe). Read by :func:`show_listing`.
format_option = click.option(
    "--format", "listing_format", type=click.Choice(["table", "tsv"]), default=None, expose_value=False,
    callback=_remember_format, is_eager=True,
    help="table (default on a terminal) or tsv: a header line, then one row a line, tab-separated, never "
         "truncated (the default when stdout is a pipe).")


def show_listing(records: Sequence[dict[str, Any]], columns: Sequence[str], *, as_json: bool,
                 table: Callable[[], None], json_data: Any = None, tsv: bool | None = None) -> None:
    """Print a listing the one way every listing is printed.

    ``records`` are dicts holding at least ``columns`` (the TSV header, in order);
    ``table`` prints the terminal's table (and any summary lines under it);
    ``json_data`` is the ``--json`` document (default: ``records``); ``tsv`` forces TSV
    (True) or the table (False) whatever stdout is.
    """
    if as_json:
        dump(records if json_data is None else json_data)
        return
    if tsv is None:
        chosen = click.get_current_context().meta.get("fulfilhub.format")
        tsv = None if chosen is None else chosen == "tsv"
    if tsv if tsv is not None else piped():
        echo_tsv(columns, ([r.get(c) for c in columns] for r in records))
        return
    table()


def echo_tsv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A header line, then one tab-separated line per row (nothing with ``-q``)."""
    if console.quiet:
        return
    click.echo("\t".join(columns))
    for row in rows:
        click.echo("\t".join(cell(v) for v in row))


def say(text: str) -> None:
    """One line for people on stdout (silenced by ``-q``), printed as it is (no markup)."""
    console.print(text, markup=False, highlight=False)
