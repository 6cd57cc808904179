"""The report's figures as words and table rows, shared by the terminal and the HTML
rendering (:mod:`.report` and :mod:`.report_html` both import it; neither imports the other
back)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def counted(value: float | None, part: int, whole: int) -> str:
    return "-" if value is None else f"{share(value)} ({part} of {whole})"


def number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def days(n: int) -> str:
    """Days after the promised last day: ``-2``, ``0``, ``+1``."""
    return f"{n:+d}" if n else "0"


def headline(r: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, what was counted) for the headline table."""
    p, o, h = r["promises"], r["orders"], r["processing_hours"]
    return [
        ("on-time delivery rate", counted(p["on_time_rate"], p["on_time"], p["due"]),
         "orders due in the window, delivered by the promised last day"),
        ("promise accuracy", counted(p["promise_accuracy"], p["in_range"], p["due"]),
         f"delivered inside the promised range ({p['early']} early, {p['late']} late)"),
        ("ship-by met", counted(p["ship_by_met_rate"], p["ship_by_met"], p["ship_by_due"]),
         "orders due to ship in the window, handed to the carrier in time"),
        ("not delivered, past deliver-by", str(p["not_delivered"]), "counted as late"),
        ("promises revised", str(p["revised"]), "of the orders due; measured against the first promise"),
        ("processing time p50 / p90", f"{number(h['p50'], ' h')} / {number(h['p90'], ' h')}",
         f"received -> shipped, {h['orders']} orders shipped in the window"),
        ("backorder rate", counted(o["backorder_rate"], o["backordered"], o["accepted"]),
         f"accepted orders ever backordered, of the {o['received']} received in the window"),
    ]


def scorecard_row(c: Mapping[str, Any]) -> list[str]:
    stated = c["stated_days"]
    cost = ", ".join(f"{amount} {cur}" for cur, amount in c["cost_per_parcel"].items()) or "-"
    name = c["carrier"] + (f" ({c['instance']})" if c["instance"] and c["instance"] != c["carrier"] else "")
    return [name, str(c["shipments"]), counted(c["on_time_rate"], c["on_time"], c["due"]),
            f"{number(c['transit_days']['p50'])} / {number(c['transit_days']['p90'])}",
            number(stated["p50"]), counted(stated["within_rate"], stated["within"], stated["shipments"]),
            counted(c["exception_rate"], c["exceptions"], c["shipments"]), cost]


SCORECARD_COLUMNS = ("carrier", "shipments", "on time", "transit days p50 / p90", "stated days p50",
                     "within stated", "exceptions", "cost per parcel")
REGION_COLUMNS = ("region", "due", "delay rate", "shipments", "exception rate")


def region_row(g: Mapping[str, Any]) -> list[str]:
    return [g["region"] or "(no address)", str(g["due"]), counted(g["delay_rate"], g["late"], g["due"]),
            str(g["shipments"]), counted(g["exception_rate"], g["exceptions"], g["shipments"])]


def period(r: Mapping[str, Any]) -> str:
    w = r["window"]
    since = f"{w['since']:%Y-%m-%d %H:%M}" if w["since"] else "the beginning"
    return f"{since} to {w['until']:%Y-%m-%d %H:%M} UTC"
