"""Delivery promises: ``fulfilhub promise backtest`` (and, later, ``promise quote``)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import click
from rich.table import Table

from ..engines.backtest import DEFAULT_TARGETS, ROLES, BacktestError, BacktestResult, backtest as run_backtest
from . import EXIT_CONFIG, console, fail, main


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
@click.option("--half-life", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Days after which a delivery weighs half as much as a new one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.svg|png",
              help="Draw on-time share against median promised days per target, the shop's own promise as a point.")
def promise_backtest(args: tuple[str, ...], targets: tuple[str, ...], columns: tuple[str, ...], half_life: float,
                     as_json: bool, plot: Path | None) -> None:
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
    if plot is not None and plot.suffix.lower() not in (".svg", ".png"):
        raise click.BadParameter(f"{plot}: the plot is written as .svg or .png", param_hint="--plot")
    try:
        result = run_backtest(files[0], shares, mapping, half_life=timedelta(days=half_life))
    except BacktestError as exc:
        fail(str(exc), EXIT_CONFIG)
        return
    if plot is not None:
        write_plot(result, plot)
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    _table(result)
    if plot is not None:
        console.print(f"wrote {plot}", markup=False)


def _days(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:g}"


def _table(result: BacktestResult) -> None:
    table = Table(title=f"{result.rows} delivered orders replayed" + (f", {result.skipped} skipped" if result.skipped else ""))
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
        x=alt.X("median_days:Q", title="median promised days", scale=alt.Scale(zero=False)),
        y=alt.Y("on_time:Q", title="on time (%)", scale=alt.Scale(zero=False)),
        color=alt.Color("who:N", title=None),
        tooltip=["promise:N", "median_days:Q", "on_time:Q"],
    )
    chart = (base.mark_line(point=True).transform_filter("datum.who == 'learned'")
             + base.mark_point(size=140, shape="diamond", filled=True).transform_filter("datum.who != 'learned'")
             + base.mark_text(dx=8, align="left").encode(text="promise:N")
             ).properties(title=f"Promise backtest: {result.rows} orders", width=480, height=320)
    spec = chart.to_json()
    try:
        if path.suffix.lower() == ".png":
            path.write_bytes(vlc.vegalite_to_png(spec, scale=2))
        else:
            path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write the plot: {exc.strerror or exc}", EXIT_CONFIG)
