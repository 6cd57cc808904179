"""The parts of the server that grow with the engines: the tracking page's promise and
delay (from the stores the promise and delay engines write), and the promise API."""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import Any

from ..models import DelayState, OrderStatus
from ..runner.runtime import Runtime
from ..store import Connection
from ..store import compensation as comp_store
from ..store import delays as delay_store
from ..store import orders as order_store
from ..store import promises as promise_store
from . import i18n

#: Orders whose delay no longer matters to the customer.
_SETTLED = {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.REFUNDED}


def promise_and_delay(conn: Connection, order_id: str, locale: str, zone: tzinfo) -> dict[str, str]:
    """The promised range and ship-by, and a delay in plain words with its cause and new date."""
    out: dict[str, str] = {}
    promise = promise_store.current(conn, order_id)
    if promise is not None:
        days = i18n.zone_named(promise.timezone, zone)  # the range's days are the destination's
        first, last = i18n.day(promise.deliver_from, locale, days), i18n.day(promise.deliver_by, locale, days)
        out["promise"] = first if first == last else i18n.t(locale, "promise_range", first=first, last=last)
        out["ships_by"] = i18n.t(locale, "ships_by", date=i18n.day(promise.ship_by, locale, days))
    row = order_store.row(conn, order_id)
    delay = delay_store.current(conn, order_id)
    if delay is None or row is None or OrderStatus(row.status) in _SETTLED or delay.state is DelayState.ON_TRACK:
        return out
    cause_key = str(delay.exception) if delay.exception is not None else str(delay.reason or "other")
    cause = i18n.words(i18n.REASON_WORDS, cause_key, locale)
    if delay.state is DelayState.AT_RISK or (delay.days_late <= 0 and delay.revised_eta is None):
        out["delay"] = i18n.t(locale, "at_risk", cause=cause)
        return out
    eta = delay.revised_eta
    if eta is None and promise is not None:
        eta = promise.deliver_by + timedelta(days=delay.days_late)
    days_text = i18n.t(locale, "day") if delay.days_late == 1 else i18n.t(locale, "days", n=delay.days_late)
    date = i18n.day(eta, locale, zone) if eta is not None else "-"
    out["delay"] = i18n.t(locale, "delay", days=days_text, cause=cause, date=date)
    return out


def compensation(conn: Connection, order_id: str, locale: str, zone: tzinfo) -> dict[str, Any]:
    """What the customer was given for a delay, issued, with its code where it has one."""
    out = []
    for row in comp_store.for_order(conn, order_id):
        if row.status != "issued":
            continue
        amount = f"{row.amount} {row.currency}"
        percent = f"{row.percent.normalize():f}" if row.percent is not None else ""
        key = f"comp_{row.kind}"
        if key not in i18n.TEXT:
            continue
        out.append((i18n.t(locale, key, percent=percent, amount=amount, points=row.points, months=row.months),
                    row.code or ""))
    return {"compensation": tuple(out)} if out else {}


def parts(rt: Runtime) -> dict[str, Any]:
    """``create_app`` keyword arguments for the parts that exist: the tracking page's promise
    and delay, and the promise API (its engine warmed from the store here)."""
    from starlette.routing import Route

    from . import promise_api

    api = promise_api.PromiseApi(rt)
    return {"page_extras": [promise_and_delay, compensation],
            "routes": [Route(promise_api.PATH, api.handle, methods=["GET"])],
            "api_paths": promise_api.PATHS,
            "on_close": [api.close]}
