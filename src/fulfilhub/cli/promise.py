"""Delivery promises: ``fulfilhub promise quote``, ``promise show`` and ``promise backtest``."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from ..engines.backtest import (
    DEFAULT_TARGETS,
    DEFAULT_WEEKDAY_WEIGHTS,
    ROLES,
    BacktestError,
    BacktestResult,
    DeliveryDays,
)
from ..engines.backtest import backtest as run_backtest
from .group import EXIT_CONFIG, console, err_console, fail, main


@main.group()
def promise() -> None:
    """Delivery promises: how they are learned, and how they would have done on your history."""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a share (0.95 for 95%)", param_hint="--target") from None
    if not 0.0 < value < 1.0:
        raise click.BadParameter(f"{text!r}: a target is a share between 0 and 1 (0.95 for 95%)", param_hint="--target")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@promise.command("backtest", context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1, required=True, metavar="FILE.csv")
@click.option("--target", "targets", multiple=True, metavar="SHARE...",
              help="Shares to promise, one or more (--target 0.90 0.95 0.97); default 0.90 to 0.97 by 0.01.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Read ROLE from column NAME (repeatable), e.g. destination=customer_state. Roles: "
                   + ", ".join(ROLES) + ".")
@click.option("--half-life", default=30.0, show_default=True, type=click.FloatRange(min=0.1), metavar="DAYS",
              help="Days after which a delivery weighs half as much as a new one.")
@click.option("--weekday-weights", default=",".join(f"{w:g}" for w in DEFAULT_WEEKDAY_WEIGHTS), show_default=True,
              metavar="MON,...,SUN", help="How much each weekday counts towards a transit (1,1,1,1,1,1,1: calendar days).")
@click.option("--delimiter", default=",", show_default=True, metavar="CHAR",
              help="What separates the fields: ';' for a semicolon-separated file, $'\\t' for tabs.")
@click.option("--skip-bad-rows", is_flag=True,
              help="Leave out rows that cannot be read (counted and reported, the first error shown) "
                   "instead of stopping at the first.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.svg|png",
              help="Draw on-time share against median promised days per target, the shop's own promise as a point.")
def promise_backtest(args: tuple[str, ...], targets: tuple[str, ...], columns: tuple[str, ...], half_life: float,
                     weekday_weights: str, delimiter: str, skip_bad_rows: bool, as_json: bool,
                     plot: Path | None) -> None:
    """Replay FILE.csv in time order and score the promises it would have made at each target.

    Each promise uses only what was known at its purchase time: the deliveries finished
    before it, and the orders still in flight as censored observations.
    """
    files = [a for a in args if not _is_number(a)]
    extra = [a for a in args if _is_number(a)]
    if len(files) != 1:
        raise click.UsageError(f"expected one FILE.csv, got {len(files)}: {' '.join(files) or 'none'}")
    if extra and not targets:
        raise click.UsageError(f"unexpected {' '.join(extra)}: shares go after --target")
    shares = tuple(_share(t) for t in (*targets, *extra)) or DEFAULT_TARGETS
    mapping: dict[str, str] = {}
    for item in columns:
        role, sep, name = item.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise click.BadParameter(f"expected ROLE=NAME, got {item!r}", param_hint="--column")
        if role.strip() not in ROLES:
            raise click.BadParameter(f"unknown role {role.strip()!r}; the roles are {', '.join(ROLES)}",
                                     param_hint="--column")
        mapping[role.strip()] = name.strip()
    try:
        calendar = DeliveryDays([float(w) for w in weekday_weights.split(",")])
    except ValueError:
        raise click.BadParameter(f"{weekday_weights!r}: expected 7 positive numbers, Monday first "
                                 f"(e.g. 1,1,1,1,1,0.5,0.1)", param_hint="--weekday-weights") from None
    if plot is not None and plot.suffix.lower() not in (".svg", ".png"):
        raise click.BadParameter(f"{plot}: the plot is written as .svg or .png", param_hint="--plot")
    if plot is not None and not plot.resolve().parent.is_dir():  # before the replay, not after it
        raise click.BadParameter(f"{plot}: folder {plot.parent} does not exist; create it first", param_hint="--plot")
    if len(delimiter) != 1:
        raise click.BadParameter(f"expected one character, got {delimiter!r}", param_hint="--delimiter")
    try:
        result = run_backtest(files[0], shares, mapping, half_life=timedelta(days=half_life), calendar=calendar,
                              delimiter=delimiter, skip_bad_rows=skip_bad_rows)
    except BacktestError as exc:
        hint = "" if skip_bad_rows or ": line " not in str(exc) else " (--skip-bad-rows leaves such rows out and counts them)"
        fail(str(exc) + hint, EXIT_CONFIG)
        return
    if plot is not None:
        write_plot(result, plot)
    if result.bad_rows:
        err_console.print(f"{result.bad_rows} row(s) could not be read and were left out; the first: {result.first_bad}",
                          markup=False)
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    _table(result)
    if plot is not None:
        console.print(f"wrote {plot}", markup=False)


def _days(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:g}"


def _table(result: BacktestResult) -> None:
    table = Table(title=f"{result.rows} delivered orders replayed" + (f", {result.skipped} skipped" if result.skipped else "")
                  + (f", {result.bad_rows} unreadable left out" if result.bad_rows else ""))
    for name in ("promise", "on time", "median days", "p90 days"):
        table.add_column(name, justify="right")
    for r in result.results:
        table.add_row(f"{r.target * 100:g}%", f"{r.on_time * 100:.1f}%", _days(r.median_days), _days(r.p90_days))
    if result.baseline is not None:
        b = result.baseline
        table.add_row("shop's own", f"{b.on_time * 100:.1f}%", _days(b.median_days), _days(b.p90_days))
    console.print(table)


def write_plot(result: BacktestResult, path: Path) -> None:
    """On-time share against median promised days, a point per target, the shop's promise as its own point."""
    import altair as alt
    import vl_convert as vlc

    points = [{"promise": f"{r.target * 100:g}%", "median_days": r.median_days, "on_time": r.on_time * 100,
               "who": "learned"} for r in result.results]
    if result.baseline is not None:
        points.append({"promise": "shop's own", "median_days": result.baseline.median_days,
                       "on_time": result.baseline.on_time * 100, "who": "shop's own"})
    data = alt.Data(values=points)
    base = alt.Chart(data).encode(
        x=alt.X("median_days:Q", title="median promised days", scale=alt.Scale(zero=False, padding=40)),
        y=alt.Y("on_time:Q", title="on time (%)", scale=alt.Scale(zero=False, padding=10)),
        color=alt.Color("who:N", title=None),
        tooltip=["promise:N", "median_days:Q", "on_time:Q"],
    )
    chart = (base.mark_line(point=True).transform_filter("datum.who == 'learned'")
             + base.mark_point(size=140, shape="diamond", filled=True).transform_filter("datum.who != 'learned'")
             + base.mark_text(dx=8, dy=-8, align="left").encode(text="promise:N").transform_filter(
                 "datum.who == 'learned'")
             + base.mark_text(dx=10, dy=12, align="left").encode(text="promise:N").transform_filter(
                 "datum.who != 'learned'")
             ).properties(title=f"Promise backtest: {result.rows} orders", width=480, height=320)
    spec = chart.to_json()
    try:
        if path.suffix.lower() == ".png":
            path.write_bytes(vlc.vegalite_to_png(spec, scale=2))
        else:
            path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write the plot: {exc.strerror or exc}", EXIT_CONFIG)


# --------------------------------------------------------------------------- quote and show


def promise_json(p: Any) -> dict[str, Any]:
    """A promise as JSON: times in ISO 8601 with their offset, the range also in words."""
    from ..engines.promise import describe_range

    return {
        "order_id": p.order_id or None, "revision": p.revision, "created_at": p.created_at.isoformat(),
        "ship_by": p.ship_by.isoformat(), "deliver_from": p.deliver_from.isoformat(),
        "deliver_by": p.deliver_by.isoformat(), "timezone": p.timezone, "range": describe_range(p),
        "confidence_from": p.confidence_from, "confidence_by": p.confidence_by, "carrier": p.carrier,
        "service": p.service, "level": p.level, "basis": p.basis, "reason": p.reason,
    }


def promise_lines(p: Any, *, indent: str = "  ") -> list[str]:
    """A promise for people: the range in the customer's days, ship-by, the confidence of each end, the basis."""
    from ..engines.promise import describe_range

    zone = ZoneInfo(p.timezone)
    first, last = p.deliver_from.astimezone(zone), p.deliver_by.astimezone(zone)
    ship_by = p.ship_by if p.ship_by.tzinfo is not timezone.utc else p.ship_by.astimezone(zone)
    how = f" by {p.carrier} {p.service}".rstrip() if p.carrier or p.service else ""
    out = [
        f"{describe_range(p)}{how} ({p.timezone})",
        f"{indent}ship by {ship_by:%a %d %b %Y %H:%M %Z}",
        f"{indent}{100 * p.confidence_from:.0f}% expected by the end of {first:%a %d %b}, "
        f"{100 * p.confidence_by:.0f}% by the end of {last:%a %d %b}"
        if p.confidence_by else f"{indent}confidence not known (no delivery history behind it)",
        f"{indent}basis ({p.level}): {p.basis}",
    ]
    if p.order_id:
        out.append(f"{indent}revision {p.revision}, {p.created_at:%Y-%m-%d %H:%M %Z}: {p.reason}")
    return out


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a time like 2026-05-12T13:59-07:00 (UTC when no offset), got {value!r}",
                                 param_hint="--at") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _sku(text: str) -> tuple[str, int]:
    sku, _, qty = text.rpartition(":") if ":" in text else (text, "", "1")
    try:
        quantity = int(qty)
    except ValueError:
        quantity = 0
    if not sku.strip() or quantity < 1:
        raise click.BadParameter(f"expected SKU or SKU:QTY with a quantity of 1 or more, got {text!r}",
                                 param_hint="--sku")
    return sku.strip(), quantity


@promise.command("quote")
@click.option("--sku", "skus", multiple=True, required=True, metavar="SKU[:QTY]",
              help="A line: SKU and quantity (default 1); repeat for more lines.")
@click.option("--country", required=True, help="Destination country, ISO 3166 alpha-2 (US, TW, DE ...).")
@click.option("--region", default="", help="Destination state or province code (CA, NY ...).")
@click.option("--postal-code", default="", help="Destination postal code (its first 3 characters count).")
@click.option("--at", "at_text", metavar="TIME", help="When the order is placed (ISO 8601; UTC when no offset). Default: now.")
@click.option("--warehouse", default="", help="Ship from this warehouse (default: the one with the earliest promise).")
@click.option("--carrier", default="", help="Assume this courier, as rates name it (USPS, UPS ...); default: any.")
@click.option("--service", default="", help="Assume this carrier service (Priority, Ground ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the promise as JSON.")
@click.option("--explain", is_flag=True, help="Print what the promise rests on, one fact a line (with --json: an "
              "\"explain\" list).")
@click.pass_obj
def promise_quote(state: Any, skus: tuple[str, ...], country: str, region: str, postal_code: str, at_text: str | None,
                  warehouse: str, carrier: str, service: str, as_json: bool, explain: bool) -> None:
    """The promise a customer would get now: ship-by, the delivery range and its basis.

    Reads the stock and learns the transit times from the store's shipments (delivered,
    and those still on their way) the way the runner does; calls no foreign API.
    """
    from ..engines.promise import QuoteRequest
    from ..models import Address
    from ..runner.runtime import Runtime
    from ..store import Store

    lines = [_sku(text) for text in skus]
    at = _parse_at(at_text)
    if len(country.strip()) != 2 or not country.strip().isalpha():
        raise click.BadParameter(f"expected an ISO 3166 alpha-2 code like US, got {country!r}", param_hint="--country")
    ship_to = Address(country=country.strip(), province=region.strip().upper(), postal_code=postal_code.strip())
    config = state.config(strict_env=False)
    rt = Runtime(config, Store.open(config.store_url), state.plugins)
    try:
        engine = rt.promise_engine()
        with rt.store.read() as conn:
            p = engine.quote(QuoteRequest(lines=lines, ship_to=ship_to, at=at, warehouse=warehouse, carrier=carrier,
                                          service=service), conn=conn)
        why = engine.explain(p) if explain else []
    finally:
        rt.close()
        rt.store.close()
    if as_json:
        click.echo(json.dumps({**promise_json(p), "explain": why} if explain else promise_json(p), indent=2))
        return
    for line in promise_lines(p):
        console.print(line, markup=False)
    for line in why:
        console.print(f"  {line}", markup=False)


@promise.command("show")
@click.argument("order_ref")
@click.option("--json", "as_json", is_flag=True, help="Print {promise, promise_history} as JSON.")
@click.pass_obj
def promise_show(state: Any, order_ref: str, as_json: bool) -> None:
    """An order's promise in force and every earlier revision, with why each was made.

    ORDER_REF is the order id (``shop:5001``) or the shop's order number (``'#1009'``).
    """
    from ..store import Store
    from ..store import promises as promise_store
    from .common import resolve_order_id

    store = Store.open(state.config(strict_env=False).store_url)
    try:
        with store.read() as conn:
            order_id = resolve_order_id(conn, order_ref)
            history = promise_store.history(conn, order_id)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"order_id": order_id, "promise": promise_json(history[-1]) if history else None,
                               "promise_history": [promise_json(p) for p in history]}, indent=2))
        return
    if not history:
        console.print(f"{order_id}: no promise yet (see `fulfilhub orders show {order_id}` for why)", markup=False)
        return
    console.print(f"{order_id}: promise in force (revision {history[-1].revision})", markup=False)
    for line in promise_lines(history[-1]):
        console.print("  " + line, markup=False)
    for p in reversed(history[:-1]):
        console.print(f"earlier, revision {p.revision}:", markup=False)
        for line in promise_lines(p):
            console.print("  " + line, markup=False)
