"""The tracking page's parts that come from the engines' stores (the promise, the delay
and the compensation given for it, in the customer's words), and the promise API's route:
what ``build_app`` adds to the bare app."""

from __future__ import annotations

from datetime import date, tzinfo
from typing import Any

from ..engines import words
from ..models import DelayState, Money, OrderStatus
from ..runner.runtime import Runtime
from ..store import Connection
from ..store import compensation as comp_store
from ..store import delays as delay_store
from ..store import orders as order_store
from ..store import promises as promise_store
from . import i18n

#: Orders whose delay no longer matters to the customer.
_SETTLED = {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.REFUNDED}


def promise_and_delay(conn: Connection, order_id: str, locale: str, zone: tzinfo, today: date) -> dict[str, str]:
    """The date the customer is told now, and a delay in the notices' words with its cause.

    The headline (``promise``) is the promised range while the order is on time, and the
    delay's new date once it is late (the promised one then beside it as
    ``promised_was``): never the old date under a banner announcing a new one, and never a
    date the delay engine did not give (a parcel past its lane's longest delivery is
    overdue, as its notice says). Dates are the destination's days (the promise's zone), as
    in the notices.
    """
    out: dict[str, str] = {}
    promise = promise_store.current(conn, order_id)
    days = i18n.zone_named(promise.timezone, zone) if promise is not None else zone  # the destination's days
    promised = ""
    if promise is not None:
        first = i18n.day(promise.deliver_from, locale, days, today)
        last = i18n.day(promise.deliver_by, locale, days, today)
        promised = first if first == last else i18n.t(locale, "promise_range", first=first, last=last)
        out["promise"] = promised
        out["ships_by"] = i18n.t(locale, "ships_by", date=i18n.day(promise.ship_by, locale, days, today))
    row = order_store.row(conn, order_id)
    delay = delay_store.current(conn, order_id)
    if delay is None or row is None or OrderStatus(row.status) in _SETTLED or delay.state is DelayState.ON_TRACK:
        return out
    cause_key = str(delay.exception) if delay.exception is not None else str(delay.reason or "other")
    cause = words.cause(cause_key, locale)
    if delay.state is DelayState.AT_RISK or (delay.days_late <= 0 and delay.revised_eta is None):
        due = i18n.day(promise.deliver_by, locale, days, today) if promise is not None else ""
        out["delay"] = i18n.t(locale, "at_risk", cause=cause, date=due) if due \
            else i18n.t(locale, "at_risk_undated", cause=cause)
        return out
    eta = delay.revised_eta  # None: no date to give (overdue, being chased), as the notice says it
    days_text = i18n.t(locale, "day") if delay.days_late == 1 else i18n.t(locale, "days", n=delay.days_late)
    if eta is None:
        out["delay"] = i18n.t(locale, "overdue", days=days_text, cause=cause)
        return out
    new_date = i18n.day(eta, locale, days, today)
    out["delay"] = i18n.t(locale, "delay", days=days_text, cause=cause, date=new_date)
    out["promise"] = new_date
    out.pop("ships_by", None)  # what was promised before it left is no longer news
    if promised:
        out["promised_was"] = i18n.t(locale, "promised_was", date=promised)
    return out


def compensation(conn: Connection, order_id: str, locale: str, zone: tzinfo, today: date) -> dict[str, Any]:
    """What the customer was given for a delay, issued, in the sentence its notice used, with its code."""
    out = []
    for row in comp_store.for_order(conn, order_id):
        if row.status != "issued":
            continue
        whole = row.amount == row.tier_value  # a top-up is told by its amount, not the tier's percent (as notices)
        sentence = words.compensation_sentence(
            row.kind, Money(amount=row.amount, currency=row.currency), locale,
            percent=row.percent if whole and row.percent is not None else None, points=row.points or 0,
            months=row.months or 0)
        out.append((sentence, row.code or ""))
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
