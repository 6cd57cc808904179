"""``fulfilhub report``: the KPIs of a period in the terminal, as JSON, or as one HTML file.

The figures come from :func:`fulfilhub.engines.kpi.compute` over the facts
:mod:`fulfilhub.store.kpi` reads. Further parts of the report (the promise backtest,
compensation cost against budget, and what plugins add with the
``register_report_sections`` hook) are :class:`~fulfilhub.ReportSection` records: each
gathers its own data from the store for the window, or answers None and is left out. The HTML rendering lives in :mod:`.report_html` and is
imported only for ``--html`` (Altair takes a moment to import).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..adapters import ReportSection
from ..clock import SystemClock
from ..engines import compensation, kpi
from ..engines import lots as lot_engine
from ..errors import PluginError
from ..plugins import PluginManager
from ..store import Connection
from ..store import kpi as kpi_store
from ..store import lots as lot_store
from ..store import meta as meta_store
from .group import State, console, main
from .common import open_store as _store
from .common import pass_state
from .report_rows import REGION_COLUMNS, SCORECARD_COLUMNS, counted, days, headline, number, period, region_row, scorecard_row, share


#: The KPI keys of ``--json`` (a section may not take one of them).
KPI_KEYS = ("window", "orders", "processing_hours", "promises", "carriers", "regions", "weekly", "lateness")


# --------------------------------------------------------------------------- built-in sections


def _backtest_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not data["scored"]:
        return [("orders replayed", f"none of the {data['orders']} delivered orders was bought after an earlier one "
                                    "was delivered: no history to promise from yet")]
    out = [("orders replayed", f"{data['scored']} promised and scored of {data['orders']} delivered (those bought "
                                "before any earlier order was delivered had no history to be promised from)")]
    for r in data["results"]:
        out.append((f"aim {share(r['target'])} on time",
                    f"{share(r['on_time'])} on time, promised {number(r['median_days'])} days median, "
                    f"{number(r['p90_days'])} p90"))
    b = data["baseline"]
    out.append(("the promises made", "none recorded" if b is None else
                f"{share(b['on_time'])} on time, promised {number(b['median_days'])} days median, "
                f"{number(b['p90_days'])} p90"))
    return out


def _backtest_charts(data: Mapping[str, Any]) -> list[Any]:
    from .report_html import backtest_chart

    return [backtest_chart(data)] if data["scored"] else []


def _cost_rows(data: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rows = []
    for item in data:
        budget = f" of a {item['budget']} budget" if item["budget"] is not None else " (no budget)"
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(item["by_kind"].items()))
        rows.append((f"{item['period']} {item['currency']}",
                     f"{item['given']} given ({kinds or 'none'}; {item['top_ups']} top-ups), {item['total']}{budget}"
                     + (f"; {item['waiting']} waiting for a person" if item["waiting"] else "")))
    return rows


def _accuracy_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in data["by_kind"].items()) or "none"
    rows = [("shipments packed right", f"{counted(data['accuracy'], data['accurate'], data['shipments'])} "
                                       f"(units short, wrong or missing: {kinds})")]
    for w in data["warehouses"]:
        rows.append((f"warehouse {w['warehouse']}", f"{counted(w['accuracy'], w['accurate'], w['shipments'])} "
                                                    f"shipments right, {w['units_wrong']} of {w['units']} units wrong"))
    for k in [k for k in data["skus"] if k["units_wrong"]][:10]:
        rows.append((f"SKU {k['sku']}", f"{share(k['accuracy'])} of units right, {k['units_wrong']} of {k['units']} wrong"))
    return rows


def _accuracy_charts(data: Mapping[str, Any]) -> list[Any]:
    from .report_html import accuracy_chart

    return [accuracy_chart(data)] if data["warehouses"] else []


#: The sections the report always has (when they have something to say), before the plugins'.
BUILT_IN = (
    ReportSection(
        name="backtest", title="Promise backtest of this store's history",
        collect=lambda conn, window: kpi.promise_backtest(kpi_store.delivered_orders(conn, window.since, window.as_of)),
        rows=_backtest_rows, charts=_backtest_charts),
    ReportSection(
        name="compensation", title="Compensation cost against budget",
        collect=lambda conn, window: compensation.cost_in_window(conn, window.since, window.until), rows=_cost_rows),
    ReportSection(
        name="accuracy", title="Order accuracy (shipments handed over in the window)",
        collect=lambda conn, window: lot_engine.accuracy(*lot_store.accuracy_facts(conn, window.since, window.until)),
        rows=_accuracy_rows, charts=_accuracy_charts),
)


def sections(plugins: PluginManager | None) -> list[ReportSection]:
    """The built-in sections, then those plugins registered (``register_report_sections``).

    A plugin's section named like a KPI or a built-in section is refused with PluginError."""
    out = list(BUILT_IN)
    taken = {*KPI_KEYS, *(s.name for s in BUILT_IN)}
    for section in (plugins.registry.report_sections.values() if plugins is not None else ()):
        if section.name in taken:
            owner = plugins.owner("report_sections", section.name)
            raise PluginError(f"plugin {owner!r} registers a report section named {section.name!r}, which the report "
                              "already uses; choose another name")
        out.append(section)
    return out


def build(conn: Connection, window: kpi.Window, skip: Collection[str] = (),
          parts: Iterable[ReportSection] = BUILT_IN) -> dict[str, Any]:
    """The whole report of ``window``: the KPIs, then each of ``parts`` (but ``skip``) that has something to say."""
    report = kpi.compute(kpi_store.order_facts(conn, window.since, window.until),
                         kpi_store.shipment_facts(conn, window.since, window.until), window)
    for section in parts:
        if section.name in skip:
            continue
        data = section.collect(conn, window)
        if data is not None:
            report[section.name] = data
    return report


def _print(r: dict[str, Any], regions: int, parts: Iterable[ReportSection] = BUILT_IN) -> None:
    # into a pipe or file: wide rows rather than wrapped cells, so that each line can be grepped
    out = console if console.is_terminal else Console(highlight=False, width=max(console.width, 160))
    out.print(f"[bold]fulfilhub report[/]: {escape(period(r))}")
    table = Table("figure", "value", "counted", title="Promises and processing")
    for row in headline(r):
        table.add_row(*row)
    out.print(table)
    if r["carriers"]:
        table = Table(*SCORECARD_COLUMNS, title="Carrier scorecards (shipments handed over in the window)")
        for c in r["carriers"]:
            table.add_row(*map(escape, scorecard_row(c)))
        out.print(table)
    else:
        out.print("no shipment was handed to a carrier in the window")
    if r["regions"]:
        shown = r["regions"][:regions]
        table = Table(*REGION_COLUMNS, title="By destination region" + (
            f" (the {len(shown)} busiest of {len(r['regions'])}; --json has all)" if len(shown) < len(r["regions"]) else ""))
        for g in shown:
            table.add_row(*map(escape, region_row(g)))
        out.print(table)
    if r["weekly"]:
        out.print("on time by week due: " + ", ".join(
            f"{w['week']} {counted(w['on_time_rate'], w['on_time'], w['due'])}" for w in r["weekly"]), markup=False)
    lateness = r["lateness"]
    if lateness["days"] or lateness["not_delivered"]:
        out.print("days after the promised last day: " + ", ".join(
            f"{days(d['days_late'])}: {d['orders']}" for d in lateness["days"])
            + f"; not delivered: {lateness['not_delivered']}", markup=False)
    for section in parts:
        if section.name in r:
            table = Table("", "", title=section.title, show_header=False)
            for label, value in section.rows(r[section.name]):
                table.add_row(escape(label), escape(value))
            out.print(table)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _instant(value: str | None, option: str) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=timezone.utc)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-01-05 or a time like 2026-01-05T08:00, got {value!r}",
                                 param_hint=option) from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@main.command()
@click.option("--since", help="First day counted (ISO 8601 date or time, UTC unless it says otherwise). Default: everything.")
@click.option("--until", help="Day after the last one counted: a date counts up to its midnight (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (keys in docs/cli.md).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write a self-contained HTML report with charts to this file.")
@click.option("--no-backtest", is_flag=True,
              help="Leave the promise backtest out (it replays every delivered order: the slow part of the report).")
@click.option("--regions", default=15, show_default=True, type=click.IntRange(min=1),
              help="How many regions the terminal table shows (the busiest).")
@pass_state
def report(state: State, since: str | None, until: str | None, as_json: bool, html_file: Path | None, no_backtest: bool,
           regions: int) -> None:
    """The KPIs of a period: promises kept, processing time, carrier scorecards, regions.

    Figures count orders due (to deliver or to ship) in the window, and shipments handed
    to a carrier in it; a promise not due yet is not counted. `docs/cli.md` says exactly
    what each figure counts.
    """
    parts = sections(state.plugins)
    store = _store(state)
    try:
        with store.read() as conn:
            now = meta_store.now_of(conn, SystemClock().now())  # a finished scenario's store: as it ended
            try:
                window = kpi.Window.of(_instant(since, "--since"), _instant(until, "--until"), now)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--since/--until") from None
            data = build(conn, window, skip=("backtest",) if no_backtest else (), parts=parts)
    finally:
        store.close()
    if html_file is not None:
        from .report_html import render

        if html_file.parent and not html_file.parent.is_dir():
            raise click.BadParameter(f"folder {html_file.parent} does not exist", param_hint="--html")
        html_file.write_text(render(data, parts), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(data, indent=2, default=_json_default))
        return
    _print(data, regions, parts)
    if html_file is not None:
        console.print(f"wrote {html_file}", markup=False)


__all__ = ["BUILT_IN", "KPI_KEYS", "build", "report", "sections"]
