"""The customer's tracking page (``GET /t/{token}``): what it shows, and nothing more.

The page is built from the store: the order's progress as steps, each parcel with its
carrier and tracking number, the scan timeline in the customer's local time, and the
promise, any delay and any compensation issued for it (with its code) where those exist. It never shows the address (only the city),
the email, the phone, the price or the lines' prices. Rendered with Jinja2 (autoescape
on), self-contained: inline CSS, no script, no font or image from elsewhere.

Its words are the notices' (one catalogue, :mod:`fulfilhub.engines.words`), and its dates
and money are formatted for the same locale and territory as the order's notices: the
headline is the date the customer is told now (a delay's new date, with the promised
one beside it), and Chinese text is marked with its ``lang`` so the browser picks
Traditional (TC) or Simplified (SC) glyph shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import jinja2

from ..engines import notify, zones
from ..models import Order, OrderStatus, Shipment
from ..store import Connection
from ..store import orders as order_store
from ..store import shipments as shipment_store
from . import i18n

STEPS = ("received", "packed", "shipped", "out_for_delivery", "delivered")
_STEP_OF = {
    OrderStatus.RECEIVED: 0, OrderStatus.ACCEPTED: 0, OrderStatus.ON_HOLD: 0, OrderStatus.BACKORDERED: 0,
    OrderStatus.ALLOCATED: 0, OrderStatus.PICKING: 0, OrderStatus.PACKED: 1, OrderStatus.PARTIALLY_SHIPPED: 2,
    OrderStatus.SHIPPED: 2, OrderStatus.IN_TRANSIT: 2, OrderStatus.OUT_FOR_DELIVERY: 3,
    OrderStatus.PARTIALLY_DELIVERED: 3, OrderStatus.DELIVERED: 4, OrderStatus.RETURNED: 4, OrderStatus.REFUNDED: 4,
}
#: Order statuses the page explains in a sentence above the steps.
_NOTICES = {OrderStatus.CANCELLED: "cancelled", OrderStatus.RETURNED: "returned", OrderStatus.REFUNDED: "refunded",
            OrderStatus.ON_HOLD: "on_hold", OrderStatus.BACKORDERED: "backordered"}

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@attrs.frozen(kw_only=True)
class Step:
    key: str
    label: str
    state: str  # done | current | todo
    state_label: str


@attrs.frozen(kw_only=True)
class Scan:
    at: datetime
    when: str
    what: str
    description: str
    location: str


@attrs.frozen(kw_only=True)
class Parcel:
    label: str
    status: str
    carrier: str
    tracking_code: str
    tracking_url: str
    eta: str


@attrs.frozen(kw_only=True)
class Page:
    """Everything the template shows (all text already in the page's language)."""

    locale: str
    number: str
    notice: str
    steps: tuple[Step, ...]
    parcels: tuple[Parcel, ...]
    scans: tuple[Scan, ...]
    destination: str
    zone: str
    promise: str = ""
    promised_was: str = ""  # the promised date when the headline is a delay's new one
    ships_by: str = ""
    delay: str = ""
    compensation: tuple[tuple[str, str], ...] = ()  # (what, its code or "") per compensation issued


def _step_state(i: int, current: int) -> str:
    return "done" if i < current else "current" if i == current else "todo"


def _stage_of_shipments(ships: Sequence[Shipment]) -> int:
    live = [s for s in ships if str(s.status) not in ("cancelled", "returned")]
    rank = {"pending": 0, "submitted": 0, "picking": 0, "packed": 1, "label_purchased": 2, "in_transit": 2,
            "exception": 2, "out_for_delivery": 3, "delivered": 4}
    return min((rank.get(str(s.status), 0) for s in live), default=0)


def reader(order: Order, locale: str) -> str:
    """The locale the page formats ``order`` with: ``locale``'s language, in the territory the
    order's notices use (the customer's own locale when it is that language, else the
    destination country's): ``en_US``, ``en_GB``, ``zh_Hant_TW``, ``zh_Hant_HK``..."""
    country = order.ship_to.country if order.ship_to else None
    return i18n.reader(locale, country, notify.choose_locale(order, "en"))


def build(conn: Connection, order_id: str, locale: str, now: datetime,
          extras: Sequence[Any] = ()) -> Page | None:
    """The page of one order in ``locale`` (None when the order is gone).

    ``extras`` are callables ``(conn, order_id, locale, zone, today) -> dict`` that add the
    promise, delay and compensation fields where their stores exist; ``locale`` is then
    the formatting locale (``en_GB``) and ``today`` the customer's date (a date of
    another year is written with its year).
    """
    found = order_store.load(conn, order_id)
    if found is None:
        return None
    order, row = found
    status = OrderStatus(row.status)
    ships = shipment_store.of_order(conn, order_id)
    address = order.ship_to
    zone = i18n.zone_of(address.country if address else None, address.province if address else None)
    fmt = reader(order, locale)
    today = now.astimezone(zone).date()
    if status is OrderStatus.EXCEPTION or status is OrderStatus.CANCELLED:
        current = _stage_of_shipments(ships) if status is OrderStatus.EXCEPTION else -1
    else:
        current = _STEP_OF.get(status, 0)
    states = [_step_state(i, current) if current >= 0 else "todo" for i in range(len(STEPS))]
    steps = tuple(Step(key=key, label=i18n.t(locale, f"step_{key}"), state=state,
                       state_label=i18n.t(locale, f"step_{state}"))
                  for key, state in zip(STEPS, states))
    notice = ""
    if status is OrderStatus.EXCEPTION:
        reason = next((s.exception_reason for s in ships if str(s.status) == "exception"), None)
        notice = i18n.t(locale, "exception", reason=i18n.words(i18n.CAUSES, reason, locale))
    elif status in _NOTICES:
        notice = i18n.t(locale, _NOTICES[status])
    pickup = address.pickup if address else None
    store = f"{pickup.network} {pickup.store_name}".strip() if pickup else ""
    waiting = [s for s in ships if s.pickup_until is not None and str(s.status) in ("out_for_delivery", "exception")]
    if pickup and waiting and status not in (OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.DELIVERED):
        last = max(s.pickup_until for s in waiting if s.pickup_until is not None)
        word = "pickup_missed" if today > last else "ready_for_pickup"  # the store's last day, the customer's day
        notice = i18n.t(locale, word, store=store, date=i18n.day(last, fmt, zone, today))
    parcels = []
    scans: list[Scan] = []
    live = [s for s in ships if str(s.status) != "cancelled" or s.tracking_code]
    for n, s in enumerate(live, start=1):
        label = s.label
        parcels.append(Parcel(
            label=i18n.t(locale, "parcel", n=n),
            status=i18n.words(i18n.STATUS_WORDS, "available_for_pickup" if pickup and s in waiting and str(
                s.status) == "out_for_delivery" else _tracking_word(str(s.status)), locale) if label
            else i18n.t(locale, "not_shipped"),
            carrier=label.carrier_name if label else "",
            tracking_code=s.tracking_code or "",
            tracking_url=_safe_link(label.tracking_url if label else ""),
            eta=i18n.t(locale, "carrier_eta", date=i18n.day(zones.eta_day(s.eta_date, s.est_delivery, zone), fmt, zone,
                                                             today))
            if (s.est_delivery or s.eta_date) and str(s.status) not in ("delivered", "cancelled", "returned") else "",
        ))
        for e in shipment_store.scans_of(conn, s.id):
            scans.append(Scan(
                at=e.at, when=i18n.when(e.at, fmt, zone, today),
                what=i18n.words(i18n.STATUS_WORDS, e.status, locale)
                + (_aside(i18n.words(i18n.REASON_WORDS, e.reason, locale), locale) if e.reason else ""),
                description=e.description or "", location=e.location or "",
            ))
    scans.sort(key=lambda s: s.at, reverse=True)
    place = ", ".join(p for p in ((address.city if address else ""), (address.country if address else "")) if p)
    page = Page(
        locale=locale, number=order.number, notice=notice, steps=steps, parcels=tuple(parcels), scans=tuple(scans),
        destination=i18n.t(locale, "pickup_at", store=" ".join(p for p in (store, pickup.store_address) if p))
        if pickup else i18n.t(locale, "destination", place=place) if place else "",
        zone=i18n.t(locale, "times_in", zone=i18n.zone_name(zone, fmt, now)),
    )
    for extra in extras:
        page = attrs.evolve(page, **extra(conn, order_id, fmt, zone, today))
    return page


def _aside(words: str, locale: str) -> str:
    """`` (bad weather)`` / ``（天候不佳）``: full-width brackets, no space, in Chinese."""
    return f"（{words}）" if locale.startswith("zh") else f" ({words})"


def _tracking_word(shipment_status: str) -> str:
    return {"label_purchased": "pre_transit", "returned": "return_to_sender"}.get(shipment_status, shipment_status)


def _safe_link(url: str) -> str:
    """Only an https link to the carrier's page is shown (no ``javascript:``, no plain http)."""
    return url if url.startswith("https://") and len(url) < 2000 else ""


def render(page: Page | None, locale: str, base_path: str) -> str:
    """The HTML of ``page`` (or of the not-found page when None)."""
    template = _ENV.get_template("tracking.html")
    return template.render(
        page=page, locale=locale, lang=i18n.html_lang(locale), locales=i18n.LOCALES, names=i18n.NAMES,
        t=lambda key, **kw: i18n.t(locale, key, **kw), base_path=base_path,
        colon="：" if locale.startswith("zh") else ": ",  # full-width in Chinese
        aside=lambda words: _aside(words, locale),
    )
