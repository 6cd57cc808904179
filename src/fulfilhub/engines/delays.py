"""Delay detection: one open order against its promise, as a pure decision.

:func:`assess` looks at an order (its status, its promise in force, its shipments and
each shipment's latest carrier scan) at a moment ``now`` and returns a
:class:`~fulfilhub.models.DelayAssessment`: on track, at risk or late, the expected days
late, the reason, a revised ETA and its confidence, and one plain line for people.

One rule per reason; every rule that fires gives a finding and the worst one wins
(late before at risk, then more days late, then the more concrete cause):

=================== ===========================================================================
reason              fires when
=================== ===========================================================================
``stock_out``       the order is backordered: nothing can ship before stock comes back.
``not_picked``      a shipment is still waiting at the warehouse (not picking yet) within
                    ``pick_lead`` of ship-by: the warehouse has not picked by its cut-off.
``not_shipped``     ship-by has passed and a shipment has no label yet (or the order is not
                    even allocated).
``no_scan``         a parcel with the carrier has had no scan for longer than the lane
                    normally allows (``DelayPolicy.no_scan_after``), as of the last time the
                    carrier was asked.
``carrier_exception`` the carrier reports trouble: the shipment's ``exception_reason`` or its
                    latest scan's reason (weather, capacity, address, customs, lost, damaged,
                    a failed attempt, a carrier delay...). Lost and damaged parcels are late:
                    they must be sent again.
``carrier_eta``     the carrier's own ETA falls on a day after deliver-by.
``transit_forecast`` the time the parcel has been travelling plus the remaining transit learned
                    for its lane (``TransitModel.remaining``) passes deliver-by: its median
                    makes the order late, the ``risk_q`` quantile puts it at risk.
=================== ===========================================================================

A parcel waiting at the pickup point the customer chose (out for delivery with a
``pickup_until``) has arrived: it makes no finding until its last day there has passed
(in the promise's time zone); after that day it is watched as any parcel with the carrier,
and the order past deliver-by is late ("not picked up by its last day").

Days are counted in the promise's time zone (the customer's days). A carrier's
date-only estimate (``Shipment.eta_date``) is that local day, never an instant.
Once deliver-by has passed without delivery the order is late whatever the cause.

A forecast is bounded by what the lane has seen: a parcel whose expected arrival is
beyond the longest transit learned for its lane (``BOUND_Q``, plus a day) gets no
date (``revised_eta`` None): it is overdue and being chased, never "546 days late".

The engine reads no store and no clock: time and transit knowledge are passed in
(:class:`Transit`; the runner adapts the promise engine's learned ``TransitModel`` to
it, see :mod:`fulfilhub.runner.delays`). An order with no finding is on track; the runner stores an
assessment only when the finding changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from . import zones
from ..models import (
    DelayAssessment,
    DelayReason,
    DelayState,
    ExceptionReason,
    OrderStatus,
    Promise,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)

S = ShipmentStatus
R = DelayReason

#: Order statuses an assessment looks at: everything not final.
OPEN_STATUSES = (
    OrderStatus.RECEIVED, OrderStatus.ACCEPTED, OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.ALLOCATED,
    OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
    OrderStatus.IN_TRANSIT, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.PARTIALLY_DELIVERED, OrderStatus.EXCEPTION,
)

#: Shipments still at the warehouse, not picked yet.
NOT_PICKED = (S.PENDING, S.SUBMITTED)
#: Shipments without a label: not handed to a carrier.
NOT_SHIPPED = (S.PENDING, S.SUBMITTED, S.PICKING, S.PACKED)
#: Shipments with the carrier.
WITH_CARRIER = (S.LABEL_PURCHASED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION)

#: Carrier exceptions after which the parcel never arrives as it is: it must be sent again.
LOST = frozenset({ExceptionReason.LOST, ExceptionReason.DAMAGED, ExceptionReason.REFUSED})

#: Ties between findings of the same state and days late: the more concrete cause first.
_PRIORITY = {R.CARRIER_EXCEPTION: 7, R.STOCK_OUT: 6, R.CARRIER_ETA: 5, R.NOT_SHIPPED: 4, R.NO_SCAN: 3,
             R.NOT_PICKED: 2, R.TRANSIT_FORECAST: 1}
_STATE_RANK = {DelayState.ON_TRACK: 0, DelayState.AT_RISK: 1, DelayState.LATE: 2}

#: The quantile taken as the longest transit a lane has seen: a forecast beyond it is no date.
BOUND_Q = 0.99

_WORDS = {
    ExceptionReason.WEATHER: "severe weather", ExceptionReason.CAPACITY: "carrier capacity",
    ExceptionReason.ADDRESS: "an address problem", ExceptionReason.CUSTOMS: "customs",
    ExceptionReason.LOST: "the parcel is lost", ExceptionReason.DAMAGED: "the parcel is damaged",
    ExceptionReason.REFUSED: "the parcel was refused", ExceptionReason.FAILED_ATTEMPT: "a failed delivery attempt",
    ExceptionReason.CARRIER_DELAY: "a delay in the carrier's network", ExceptionReason.OTHER: "a carrier exception",
}


@attrs.frozen(kw_only=True)
class DelayPolicy:
    """The thresholds of the rules.

    Attributes:
        pick_lead: A shipment not picking yet this long before ship-by is at risk.
        no_scan_after: Longest silence of the carrier a lane normally allows.
        risk_q: The pessimistic quantile of the transit forecast; past deliver-by: at risk.
        carrier_eta_confidence: The confidence given to a carrier's own ETA.
        resend_handling: How long a warehouse takes to send a lost or damaged parcel again.
        resend: How long re-sending a lost or damaged parcel takes in all, when no transit is learned.
    """

    pick_lead: timedelta = timedelta(hours=4)
    no_scan_after: timedelta = timedelta(hours=48)
    risk_q: float = 0.8
    carrier_eta_confidence: float = 0.5
    resend_handling: timedelta = timedelta(days=1)
    resend: timedelta = timedelta(days=4)


@attrs.frozen
class Estimate:
    """A transit estimate: ``days`` (calendar days) at quantile ``q``, and where it comes from."""

    days: float
    q: float
    basis: str = ""


class Transit(Protocol):
    """What the engine asks about transit times (the runner answers from the learned ``TransitModel``)."""

    def remaining(self, shipment: Shipment, elapsed_days: float, q: float, now: datetime) -> Estimate | None:
        """The q-quantile of the transit still ahead of a parcel that has travelled ``elapsed_days``."""

    def whole(self, shipment: Shipment | None, q: float, now: datetime) -> Estimate | None:
        """The q-quantile of a whole transit for a parcel not handed over yet (None: unknown)."""


@attrs.frozen(kw_only=True)
class OpenOrder:
    """What the engine needs to know about one open order.

    Attributes:
        order_id: The order.
        status: Its current status.
        promise: Its promise in force.
        shipments: Its shipments (cancelled ones are ignored).
        last_scans: Each shipment's latest carrier scan, by shipment id.
    """

    order_id: str
    status: OrderStatus = attrs.field(converter=OrderStatus)
    promise: Promise
    shipments: Sequence[Shipment] = ()
    last_scans: Mapping[str, TrackingEvent] = attrs.Factory(dict)


@attrs.frozen
class _Finding:
    reason: DelayReason
    eta: datetime | None  # expected delivery; None when it cannot be estimated
    confidence: float
    detail: str
    exception: ExceptionReason | None = None
    at_least_late: bool = False  # certainly late (lost parcel, carrier says after deliver-by)


# --------------------------------------------------------------------------- days


def zone(name: str) -> ZoneInfo | timezone:
    return zones.zone(name, timezone.utc)  # type: ignore[return-value]


def eta_day(eta: datetime, tz: ZoneInfo | timezone) -> date:
    """The customer's day an ETA falls on."""
    return eta.astimezone(tz).date()


def days_late(eta: datetime, promise: Promise) -> int:
    """Whole days between deliver-by's day and the ETA's day, in the promise's time zone (0 if on time)."""
    tz = zone(promise.timezone)
    late = (eta_day(eta, tz) - promise.deliver_by.astimezone(tz).date()).days
    return max(0, late)


def _end_of_day(day: date, tz: ZoneInfo | timezone) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tz)


def _short(moment: datetime, tz: ZoneInfo | timezone) -> str:
    return f"{eta_day(moment, tz):%a %d %b}"


# --------------------------------------------------------------------------- rules


def _ship_time(order: OpenOrder, now: datetime) -> datetime:
    """When an order not shipped yet can be handed to a carrier at the earliest."""
    return max(now, order.promise.ship_by)


def _eta_unshipped(order: OpenOrder, shipment: Shipment | None, leaves: datetime, transit: Transit | None,
                   now: datetime) -> tuple[datetime, float, str]:
    """Expected delivery of a parcel that leaves at ``leaves``: the learned median transit, else
    the promise's own allowance (deliver-by minus ship-by)."""
    promise = order.promise
    if transit is not None:
        found = transit.whole(shipment, 0.5, now)
        if found is not None:
            return leaves + timedelta(days=found.days), 0.5, found.basis
    allowance = promise.deliver_by - promise.ship_by
    return leaves + allowance, promise.confidence_by, "the promise's own transit allowance"


def _stock_out(order: OpenOrder, transit: Transit | None, now: datetime) -> _Finding | None:
    if order.status is not OrderStatus.BACKORDERED:
        return None
    eta, confidence, _ = _eta_unshipped(order, None, _ship_time(order, now), transit, now)
    when = "before ship-by" if now < order.promise.ship_by else "and ship-by has passed"
    return _Finding(R.STOCK_OUT, eta, confidence, f"out of stock {when}; the order waits for stock to come back")


def _not_shipped(order: OpenOrder, transit: Transit | None, now: datetime) -> list[_Finding]:
    """Ship-by has passed and the order (or one of its shipments) has not been handed to a carrier."""
    promise, found = order.promise, []
    unallocated = order.status in (OrderStatus.RECEIVED, OrderStatus.ACCEPTED, OrderStatus.ON_HOLD)
    waiting = [s for s in order.shipments if s.status in NOT_SHIPPED]
    if now >= promise.ship_by and (unallocated or waiting):
        what = ("on hold" if order.status is OrderStatus.ON_HOLD else "not allocated") if unallocated else \
            f"shipment {waiting[0].id} is {waiting[0].status}"
        eta, confidence, _ = _eta_unshipped(order, waiting[0] if waiting else None, now, transit, now)
        hours = (now - promise.ship_by).total_seconds() / 3600
        found.append(_Finding(R.NOT_SHIPPED, eta, confidence,
                              f"not shipped by ship-by ({hours:.0f} h ago): {what}"))
    return found


def _not_picked(order: OpenOrder, policy: DelayPolicy, transit: Transit | None, now: datetime) -> _Finding | None:
    promise = order.promise
    waiting = [s for s in order.shipments if s.status in NOT_PICKED]
    if not waiting or now < promise.ship_by - policy.pick_lead or now >= promise.ship_by:
        return None
    shipment = waiting[0]
    eta, confidence, _ = _eta_unshipped(order, shipment, promise.ship_by, transit, now)
    return _Finding(R.NOT_PICKED, eta, confidence,
                    f"warehouse {shipment.warehouse} has not started picking shipment {shipment.id}; "
                    f"ship-by is {_hours(promise.ship_by - now)} away")


def _courier(shipment: Shipment) -> str:
    """The courier as people know it ("USPS"), else the carrier instance."""
    named = shipment.label or shipment.rate
    return (named.carrier_name if named is not None else "") or shipment.carrier or "the carrier"


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _with_carrier(order: OpenOrder, shipment: Shipment, policy: DelayPolicy, transit: Transit | None,
                  now: datetime) -> list[_Finding]:
    promise, found = order.promise, []
    tz = zone(promise.timezone)
    courier = _courier(shipment)
    scan = order.last_scans.get(shipment.id)
    reason = shipment.exception_reason or (scan.reason if scan is not None else None)
    if reason is None and shipment.status is S.EXCEPTION:
        reason = ExceptionReason.OTHER
    started = shipment.shipped_at or shipment.created_at
    elapsed = (now - started).total_seconds() / 86400
    median = transit.remaining(shipment, elapsed, 0.5, now) if transit is not None else None
    carrier_eta = zones.shipment_eta(shipment, tz)  # a date-only estimate at the local day's noon
    fresh_eta = carrier_eta is not None and eta_day(carrier_eta, tz) >= now.astimezone(tz).date()
    forecast = now + timedelta(days=median.days) if median is not None else None
    longest = _longest(shipment, transit, now)
    if forecast is not None and longest is not None and forecast > started + longest:
        forecast = None  # beyond any delivery the lane has seen: no date to give
        median = None

    if reason in LOST:
        resend = transit.whole(shipment, 0.5, now) if transit is not None else None
        eta = now + (policy.resend_handling + timedelta(days=resend.days) if resend is not None else policy.resend)
        found.append(_Finding(R.CARRIER_EXCEPTION, eta, 0.5,
                              f"{courier}: {_WORDS[reason]}; it must be sent again",
                              exception=reason, at_least_late=True))
    elif reason is not None:
        eta = carrier_eta or forecast
        if reason is ExceptionReason.FAILED_ATTEMPT and eta is None:
            eta = now + timedelta(days=1)
        # a carrier that still expects it a day or more before deliver-by leaves room: no finding
        if eta is None or eta_day(eta, tz) >= promise.deliver_by.astimezone(tz).date():
            found.append(_Finding(R.CARRIER_EXCEPTION, eta, policy.carrier_eta_confidence if carrier_eta
                                  else 0.5, f"{courier} reports {_WORDS.get(reason, str(reason))}"
                                  + (f"; it now expects {_short(eta, tz)}" if eta else ""),
                                  exception=reason, at_least_late=carrier_eta is not None))

    if carrier_eta is not None and days_late(carrier_eta, promise) > 0:
        found.append(_Finding(R.CARRIER_ETA, carrier_eta, policy.carrier_eta_confidence,
                              f"{courier} now expects it {_short(carrier_eta, tz)}, "
                              f"after the promised {_short(promise.deliver_by, tz)}", at_least_late=True))

    last = scan.at if scan is not None else started
    asked = max(shipment.modified_at, last)  # the carrier was last asked no earlier than this
    silence = asked - last
    if shipment.status is not S.EXCEPTION and silence > policy.no_scan_after:
        eta = max(forecast or now, now + (silence - policy.no_scan_after))
        if longest is not None and eta > started + longest:
            eta = None  # silent longer than any delivery on the lane took: overdue, being chased
        found.append(_Finding(R.NO_SCAN, eta, 0.5, f"no scan from {courier} for {_hours(silence)} "
                              f"(the lane normally scans within {_hours(policy.no_scan_after)})"))

    if fresh_eta:  # the carrier's own live estimate beats the lane's statistics
        return found
    if median is not None and forecast is not None and days_late(forecast, promise) > 0:
        found.append(_Finding(R.TRANSIT_FORECAST, forecast, 0.5,
                              (f"{elapsed:.1f} days on the way; the rest usually takes {median.days:.1f} more days"
                               if median.days >= 0.1 else
                               f"{elapsed:.1f} days on the way, already longer than most parcels on this lane take")
                              + f" ({median.basis}): expected {_short(forecast, tz)}"))
    elif transit is not None:
        risky = transit.remaining(shipment, elapsed, policy.risk_q, now)
        if risky is not None:
            late_eta = now + timedelta(days=risky.days)
            if days_late(late_eta, promise) > 0 and (longest is None or late_eta <= started + longest):
                found.append(_Finding(R.TRANSIT_FORECAST, late_eta, policy.risk_q,
                                      f"{elapsed:.1f} days on the way; {policy.risk_q:.0%} of such parcels arrive "
                                      f"within {risky.days:.1f} more days ({risky.basis}), by {_short(late_eta, tz)}"))
    return found


# --------------------------------------------------------------------------- assess


def assess(order: OpenOrder, now: datetime, *, transit: Transit | None = None,
           policy: DelayPolicy = DelayPolicy()) -> DelayAssessment:
    """The order's standing against its promise at ``now`` (the worst finding wins)."""
    promise = order.promise
    findings: list[_Finding] = []
    stock = _stock_out(order, transit, now)
    if stock is not None:
        findings.append(stock)
    findings += _not_shipped(order, transit, now)
    picked = _not_picked(order, policy, transit, now)
    if picked is not None:
        findings.append(picked)
    today = now.astimezone(zone(promise.timezone)).date()
    waiting = [s for s in order.shipments if s.status is S.OUT_FOR_DELIVERY and s.pickup_until is not None
               and today <= s.pickup_until]  # at the customer's store, within its last day: arrived
    for shipment in order.shipments:
        if shipment.status in WITH_CARRIER and shipment not in waiting:
            findings += _with_carrier(order, shipment, policy, transit, now)
    arrived = all(s in waiting or s.status in (S.DELIVERED, S.CANCELLED, S.RETURNED) for s in order.shipments)
    overdue = now > promise.deliver_by and not (waiting and arrived)
    if overdue and not findings:  # past deliver-by with no better explanation: the forecast or today
        findings.append(_overdue(order, transit, now))
    judged = [_judge(f, promise, now) for f in findings]
    if not judged:
        return DelayAssessment(order_id=order.order_id, assessed_at=now, state=DelayState.ON_TRACK,
                               promise_revision=promise.revision)
    state, late, finding = max(judged, key=lambda j: (_STATE_RANK[j[0]], j[1], _PRIORITY[j[2].reason]))
    eta = finding.eta
    if eta is not None and eta < now:
        eta = now
    tz = zone(promise.timezone)
    head = f"{late} day{'s' if late != 1 else ''} late" if late else ("at risk" if state is DelayState.AT_RISK else "late")
    eta_words = f"; expected {_short(eta, tz)}" if eta is not None and finding.reason not in (
        R.CARRIER_ETA, R.TRANSIT_FORECAST, R.CARRIER_EXCEPTION) else ""
    return DelayAssessment(
        order_id=order.order_id, assessed_at=now, state=state, reason=finding.reason, exception=finding.exception,
        days_late=late, revised_eta=eta, confidence=finding.confidence, promise_revision=promise.revision,
        detail=f"{head}: {finding.detail}{eta_words}",
    )


def _overdue(order: OpenOrder, transit: Transit | None, now: datetime) -> _Finding:
    carrier = [s for s in order.shipments if s.status in WITH_CARRIER]
    if carrier and transit is not None:
        shipment = carrier[0]
        elapsed = (now - (shipment.shipped_at or shipment.created_at)).total_seconds() / 86400
        rest = transit.remaining(shipment, elapsed, 0.5, now)
        longest = _longest(shipment, transit, now)
        started = shipment.shipped_at or shipment.created_at
        if rest is not None and (longest is None or now + timedelta(days=rest.days) <= started + longest):
            return _Finding(R.TRANSIT_FORECAST, now + timedelta(days=rest.days), 0.5,
                            f"deliver-by has passed; the rest usually takes {rest.days:.1f} more days ({rest.basis})")
        if rest is not None:
            return _Finding(R.TRANSIT_FORECAST, None, 0.0,
                            f"deliver-by has passed and the parcel is out longer than any delivery on this lane "
                            f"took ({rest.basis}); no date can be given: being chased")
    return _Finding(R.TRANSIT_FORECAST, None, 0.0,
                    "deliver-by has passed and the order is not delivered; no date can be given: being chased")


def _longest(shipment: Shipment, transit: Transit | None, now: datetime) -> timedelta | None:
    """The longest transit the parcel's lane has seen (its ``BOUND_Q`` quantile), plus a day."""
    found = transit.whole(shipment, BOUND_Q, now) if transit is not None else None
    return timedelta(days=found.days + 1) if found is not None else None


def _judge(finding: _Finding, promise: Promise, now: datetime) -> tuple[DelayState, int, _Finding]:
    """A finding's state and days late: late when its ETA (or today) is past deliver-by's day and
    the evidence is firm or deliver-by has passed; otherwise at risk."""
    tz = zone(promise.timezone)
    overdue_days = max(0, (now.astimezone(tz).date() - promise.deliver_by.astimezone(tz).date()).days) \
        if now > promise.deliver_by else 0
    late = max(days_late(finding.eta, promise) if finding.eta is not None else 0, overdue_days)
    if now > promise.deliver_by:
        return DelayState.LATE, max(late, 1), finding
    if late > 0 and (finding.at_least_late or finding.reason in (R.TRANSIT_FORECAST, R.NOT_SHIPPED, R.STOCK_OUT)
                     and finding.confidence <= 0.5):
        return DelayState.LATE, late, finding
    return DelayState.AT_RISK, late, finding


def worst_first(assessments: Sequence[DelayAssessment]) -> list[DelayAssessment]:
    """Assessments ordered for people: most days late first, then late before at risk, then oldest."""
    return sorted(assessments, key=lambda a: (-a.days_late, -_STATE_RANK[a.state], a.assessed_at, a.order_id))


def end_of_day(day: date, timezone_name: str) -> datetime:
    """The last second of ``day`` in a time zone (how deliver-by is expressed)."""
    return _end_of_day(day, zone(timezone_name))
