"""The facts the KPI report is computed from, read from the store.

Two flat records, built by a few grouped queries and no per-order round trip:
:class:`OrderFacts` (one per order: when it was received, its first promise, when its
live shipments were all shipped and all delivered, whether it was ever backordered)
and :class:`ShipmentFacts` (one per shipment handed to a carrier: carrier, service,
stated transit, cost, exceptions, and its order's promised deliver-by). Nothing here
decides anything; :mod:`fulfilhub.engines.kpi` does the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import OrderStatus, ShipmentStatus, TrackingStatus
from .schema import order_events, orders, promises, shipments, tracking_events


@attrs.frozen(kw_only=True)
class OrderFacts:
    """One order as the KPIs see it.

    Attributes:
        order_id: The order.
        received_at: When fulfilhub received it (stored it).
        status: Its status now.
        region: Destination ``COUNTRY-PROVINCE`` (``COUNTRY`` where no province; ``""`` without address).
        ship_by: The first promise's ship-by (None: no promise was made).
        deliver_from: The first promise's start of the delivery range.
        deliver_by: The first promise's end of the delivery range.
        timezone: The first promise's time zone (its days are counted there).
        revisions: How many revisions the promise has (0: none, 1: never revised).
        shipped_at: When the last of its live shipments was handed to the carrier (None: not all yet).
        delivered_at: When the last of its live shipments was delivered (None: not all yet).
        backordered: Whether it was ever backordered.
        accepted: Whether it was ever accepted (checked and let through to allocation).
    """

    order_id: str
    received_at: datetime
    status: str
    region: str = ""
    ship_by: datetime | None = None
    deliver_from: datetime | None = None
    deliver_by: datetime | None = None
    timezone: str = "UTC"
    revisions: int = 0
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    backordered: bool = False
    accepted: bool = False


@attrs.frozen(kw_only=True)
class ShipmentFacts:
    """One shipment handed to a carrier, as the carrier scorecard sees it.

    Attributes:
        shipment_id: The shipment.
        order_id: Its order.
        carrier: The courier as the carrier API names it (``carrier_name``), else the carrier instance.
        instance: The configured carrier instance that bought the label.
        service: The carrier service.
        region: The order's destination region (as in :class:`OrderFacts`).
        shipped_at: When its label was bought (handed to the carrier).
        delivered_at: When it was delivered (None: not yet).
        stated_days: The transit days the carrier stated with its rate (None: it stated none).
        cost: What the label cost (None: unknown).
        currency: The cost's currency.
        exception: The first exception reason its scans carried (``"other"`` when a scan gave none), None: no exception.
        deliver_by: Its order's first promised deliver-by (None: no promise).
        timezone: That promise's time zone.
    """

    shipment_id: str
    order_id: str
    carrier: str
    instance: str
    service: str = ""
    region: str = ""
    shipped_at: datetime
    delivered_at: datetime | None = None
    stated_days: int | None = None
    cost: Decimal | None = None
    currency: str = ""
    exception: str | None = None
    deliver_by: datetime | None = None
    timezone: str = "UTC"


def region_of(ship_to: Any) -> str:
    """``US-CA`` from a stored address (``US`` without a province, ``""`` without an address)."""
    if not isinstance(ship_to, dict):
        return ""
    country = str(ship_to.get("country") or "").upper()
    province = str(ship_to.get("province") or "").upper()
    return f"{country}-{province}" if country and province else country


_LIVE = shipments.c.status != ShipmentStatus.CANCELLED
_EXCEPTION_SCANS = (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)


def _first_promise_join(left: Any) -> Any:
    """``left`` joined with each order's first promise (by its primary key: no subquery to materialize)."""
    return left.outerjoin(promises, sa.and_(promises.c.order_id == orders.c.id, promises.c.revision == 1))


def _revised(conn: Connection) -> dict[str, int]:
    """``{order id: revisions}`` of the orders whose promise was revised (usually few)."""
    rows = conn.execute(sa.select(promises.c.order_id, sa.func.max(promises.c.revision))
                        .group_by(promises.c.order_id).having(sa.func.max(promises.c.revision) > 1))
    return {order_id: n for order_id, n in rows}


def _went_to(status: OrderStatus) -> Any:
    return sa.exists().where(order_events.c.order_id == orders.c.id, order_events.c.kind == "status",
                             order_events.c.to_status == status)


def order_facts(conn: Connection, since: datetime | None, until: datetime) -> Iterator[OrderFacts]:
    """Orders received before ``until`` that any window figure can count.

    That is, received, due to ship, due to deliver, shipped or delivered at or after
    ``since`` (every order received before ``until`` when ``since`` is None). One pass
    over the orders in key order, each joined through indexes with its live shipments
    (grouped), first promise and events.
    """
    revised = _revised(conn)
    live = sa.func.count(shipments.c.id)
    last_shipped = sa.func.max(shipments.c.shipped_at)
    last_delivered = sa.func.max(shipments.c.delivered_at)
    joined = _first_promise_join(orders.outerjoin(shipments, sa.and_(shipments.c.order_id == orders.c.id, _LIVE)))
    stmt = (sa.select(orders.c.id, orders.c.created_at, orders.c.status, orders.c.ship_to,
                      promises.c.ship_by, promises.c.deliver_from, promises.c.deliver_by, promises.c.timezone,
                      live.label("live"), sa.func.count(shipments.c.shipped_at).label("shipped"),
                      last_shipped.label("last_shipped"), sa.func.count(shipments.c.delivered_at).label("delivered"),
                      last_delivered.label("last_delivered"),
                      _went_to(OrderStatus.BACKORDERED).label("backordered"),
                      _went_to(OrderStatus.ACCEPTED).label("accepted"))
            .select_from(joined).where(orders.c.created_at < until)
            .group_by(orders.c.id, promises.c.ship_by, promises.c.deliver_from, promises.c.deliver_by,
                      promises.c.timezone))
    if since is not None:
        stmt = stmt.having(sa.or_(orders.c.created_at >= since, promises.c.deliver_by >= since,
                                  promises.c.ship_by >= since, last_shipped >= since, last_delivered >= since))
    for r in conn.execute(stmt.execution_options(stream_results=True)):  # a server-side cursor on PostgreSQL
        n = r.live or 0
        yield OrderFacts(
            order_id=r.id, received_at=r.created_at, status=r.status, region=region_of(r.ship_to),
            ship_by=r.ship_by, deliver_from=r.deliver_from, deliver_by=r.deliver_by, timezone=r.timezone or "UTC",
            revisions=revised.get(r.id, 1 if r.deliver_by is not None else 0),
            shipped_at=r.last_shipped if n and r.shipped == n else None,
            delivered_at=r.last_delivered if n and r.delivered == n else None,
            backordered=bool(r.backordered),
            # orders stored before events were kept may lack the event: a later stage proves it was accepted
            accepted=bool(r.accepted) or n > 0,
        )


def shipment_facts(conn: Connection, since: datetime | None, until: datetime) -> Iterator[ShipmentFacts]:
    """Shipments handed to a carrier in ``[since, until)`` (any order)."""
    where = [shipments.c.shipped_at.is_not(None), shipments.c.shipped_at < until]
    if since is not None:
        where.append(shipments.c.shipped_at >= since)
    scans = (sa.select(tracking_events.c.shipment_id, tracking_events.c.reason)
             .join(shipments, shipments.c.id == tracking_events.c.shipment_id)
             .where(tracking_events.c.status.in_(list(_EXCEPTION_SCANS)), *where)
             .order_by(tracking_events.c.at, tracking_events.c.id))
    first_exception: dict[str, str] = {}
    for r in conn.execute(scans):
        first_exception.setdefault(r.shipment_id, r.reason or "other")
    c = shipments.c
    stmt = (sa.select(c.id, c.order_id, c.carrier, c.carrier_name, c.service, c.shipped_at, c.delivered_at,
                      c.transit_days, c.rate_amount, c.rate_currency, c.exception_reason,
                      orders.c.ship_to, promises.c.deliver_by.label("promised_by"), promises.c.timezone)
            .select_from(_first_promise_join(shipments.join(orders, orders.c.id == shipments.c.order_id)))
            .where(*where))
    for r in conn.execute(stmt.execution_options(stream_results=True)):  # a server-side cursor on PostgreSQL
        exception = first_exception.get(r.id) or r.exception_reason
        yield ShipmentFacts(
            shipment_id=r.id, order_id=r.order_id, carrier=r.carrier_name or r.carrier or "", instance=r.carrier or "",
            service=r.service or "", region=region_of(r.ship_to), shipped_at=r.shipped_at,
            delivered_at=r.delivered_at,
            stated_days=r.transit_days, cost=r.rate_amount, currency=r.rate_currency or "",
            exception=exception, deliver_by=r.promised_by, timezone=r.timezone or "UTC",
        )


@attrs.frozen(kw_only=True)
class DeliveredOrder:
    """One delivered order, as the promise backtest replays it.

    Attributes:
        order_id: The order.
        placed_at: When the customer bought (the channel's time).
        received_at: When fulfilhub received it (promises count from here).
        delivered_at: When its last live shipment was delivered.
        carrier: The courier of that shipment (``carrier_name``, else the carrier instance).
        service: Its service.
        origin: The warehouse it left from.
        destination: The destination region (as in :class:`OrderFacts`).
        deliver_by: The first promise's deliver-by (None: no promise was made).
        timezone: That promise's time zone (UTC without one).
    """

    order_id: str
    placed_at: datetime
    received_at: datetime
    delivered_at: datetime
    carrier: str = ""
    service: str = ""
    origin: str = ""
    destination: str = ""
    deliver_by: datetime | None = None
    timezone: str = "UTC"


def delivered_orders(conn: Connection, since: datetime | None, until: datetime) -> Iterator[DeliveredOrder]:
    """Orders bought in ``[since, until)`` whose live shipments were all delivered before ``until`` (any order)."""
    where = [orders.c.placed_at < until]
    if since is not None:
        where.append(orders.c.placed_at >= since)
    stmt = (sa.select(orders.c.id, orders.c.placed_at, orders.c.created_at, orders.c.ship_to, promises.c.deliver_by,
                      promises.c.timezone, shipments.c.status, shipments.c.delivered_at, shipments.c.carrier,
                      shipments.c.carrier_name, shipments.c.service, shipments.c.warehouse)
            .select_from(_first_promise_join(orders.join(shipments, shipments.c.order_id == orders.c.id)))
            .where(_LIVE, *where).order_by(orders.c.id))
    current: list[Any] = []
    for r in conn.execute(stmt.execution_options(stream_results=True)):  # a server-side cursor on PostgreSQL
        if current and current[0].id != r.id:
            yield from _delivered(current, until)
            current = []
        current.append(r)
    if current:
        yield from _delivered(current, until)


def _delivered(rows: list[Any], until: datetime) -> Iterator[DeliveredOrder]:
    if any(r.delivered_at is None or r.delivered_at >= until for r in rows):
        return
    last = max(rows, key=lambda r: r.delivered_at)
    yield DeliveredOrder(
        order_id=last.id, placed_at=last.placed_at, received_at=last.created_at, delivered_at=last.delivered_at,
        carrier=last.carrier_name or last.carrier or "", service=last.service or "", origin=last.warehouse,
        destination=region_of(last.ship_to), deliver_by=last.deliver_by, timezone=last.timezone or "UTC")
