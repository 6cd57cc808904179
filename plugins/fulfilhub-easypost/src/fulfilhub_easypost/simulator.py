"""A local EasyPost for ``fulfilhub sandbox`` and the tests: a Starlette app on the scenario clock.

It answers the part of EasyPost API v2 the adapter uses, in EasyPost's shapes:

- ``POST /v2/shipments`` (201): a Shipment with one Rate per configured service,
  priced from the parcel weight; ``carrier_accounts`` in the body limits the rating.
- ``GET /v2/shipments/{id}``: the Shipment, with its Tracker as of now.
- ``POST /v2/shipments/{id}/buy``: postage, a tracking code and a Tracker whose whole
  history is scripted at purchase on the scenario clock. A second purchase answers
  422 ``SHIPMENT.POSTAGE.EXISTS``, as EasyPost does.
- ``POST /v2/shipments/{id}/refund``: ``refund_status`` "submitted" while the carrier
  has not scanned the parcel, "rejected" once it has.
- ``GET /v2/trackers/{id}``: only the scans whose time has come (``datetime <= now``);
  ``status``, ``status_detail`` and ``est_delivery_date`` are those of the latest.
- ``GET /track/{tracker id}`` and ``GET /files/postage_label/{id}``: the Tracker's
  ``public_url`` and the label's ``label_url``, as plain text.

Errors use EasyPost's body ``{"error": {"code", "message", "errors"}}``. The codes
PARAMETER.REQUIRED, SHIPMENT.INVALID_PARAMS, SHIPMENT.POSTAGE.EXISTS,
SHIPMENT.POSTAGE.FAILURE and NOT_FOUND are EasyPost's own; APIKEY.REQUIRED and
SHIPMENT.REFUND.UNAVAILABLE are stand-ins in the same style.

Options (``context.options_for(context.name)``, the name it is mounted under, "easypost"
by default):

- ``api_key``: when set, requests without it as the Basic user name get 401.
- ``exception_rate`` (0.03): share of parcels that hit a weather delay, get lost or
  see a failed delivery attempt (a third each).
- ``delay_rate`` (0.1): share of parcels delivered 1-3 days after the promised day.
- ``carriers``: the services rated, a list of ``{carrier, service, days, base,
  per_lb}`` (prices as strings); default USPS Priority / GroundAdvantage, UPS Ground /
  NextDayAir, FedEx FEDEX_GROUND / FEDEX_2_DAY.

Disruptions scripted on the scenario clock (``context.disruptions``, see
:mod:`fulfilhub.sandbox.disruptions`) change the parcels they reach once the clock gets
to their start, as the carrier would show them: ``hub_closed`` holds parcels to a
region (its ``state``, its ``country`` or ``country-state``) until the hub reopens, with
an ``in_transit``/``weather_delay`` scan and ``est_delivery_date`` moved;
``carrier_slow`` adds days to a carrier's parcels, their ETA moving at their next scan;
``carrier_outage`` leaves a carrier's parcels without any scan until it resumes, with
an ``in_transit``/``delayed`` scan then and the ETA moved only then.

Everything random comes from ``context.seed``: the same seed and the same requests give
the same ids, prices, tracking codes and fates. Days are calendar days, in UTC.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import attrs
from fulfilhub.sandbox import (
    AuthGuard,
    Disruption,
    LockedState,
    Option,
    OptionError,
    SandboxContext,
    SeededIds,
    Timeline,
    basic_user,
    json_body,
    read_options,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .carrier import POSTAGE_EXISTS

_CENT = Decimal("0.01")


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


@attrs.frozen(kw_only=True)
class ServiceSpec:
    """One service the simulator rates: ``base + per_lb`` for each started pound."""

    carrier: str
    service: str
    days: int = attrs.field(converter=int)
    base: Decimal = attrs.field(converter=_money)
    per_lb: Decimal = attrs.field(converter=_money)


DEFAULT_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(carrier="USPS", service="Priority", days=2, base="7.90", per_lb="1.10"),
    ServiceSpec(carrier="USPS", service="GroundAdvantage", days=4, base="4.75", per_lb="0.65"),
    ServiceSpec(carrier="UPS", service="Ground", days=4, base="9.20", per_lb="0.85"),
    ServiceSpec(carrier="UPS", service="NextDayAir", days=1, base="32.50", per_lb="3.40"),
    ServiceSpec(carrier="FedEx", service="FEDEX_GROUND", days=3, base="9.45", per_lb="0.80"),
    ServiceSpec(carrier="FedEx", service="FEDEX_2_DAY", days=2, base="21.30", per_lb="2.10"),
)

#: What can happen to a bought parcel.
OUTCOMES = ("on_time", "late", "weather_delay", "lost", "failed_attempt")
_EXCEPTIONS = ("weather_delay", "lost", "failed_attempt")

_HUBS = (
    ("MEMPHIS", "TN", "38118"),
    ("LOUISVILLE", "KY", "40209"),
    ("INDIANAPOLIS", "IN", "46241"),
    ("DALLAS", "TX", "75261"),
    ("CHICAGO", "IL", "60666"),
)


@attrs.frozen(kw_only=True)
class Plan:
    """The fate of one bought parcel, decided at purchase.

    ``promised`` is the delivery day its rate promised (00:00 UTC); ``delivered_at`` is
    when it will be delivered (None for a lost parcel).
    """

    outcome: str
    promised: datetime
    delivered_at: datetime | None


@attrs.frozen(kw_only=True)
class Scan:
    """One scripted scan: the TrackingDetail EasyPost shows once ``at`` has come."""

    at: datetime
    detail: dict[str, Any]
    est: datetime | None  # the est_delivery_date the tracker shows once this scan is visible


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(moment: datetime, days: int = 0) -> datetime:
    return (moment + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


def _error(status: int, code: str, message: str, errors: Sequence[Any] = ()) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "errors": list(errors)}}, status_code=status)


def _not_found() -> JSONResponse:
    return _error(404, "NOT_FOUND", "The requested resource could not be found.")


def _location(place: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "object": "TrackingLocation",
        "city": (place.get("city") or "").upper() or None,
        "state": place.get("state") or None,
        "country": place.get("country") or "US",
        "zip": place.get("zip") or None,
    }


def script_timeline(
    *,
    carrier: str,
    bought_at: datetime,
    days: int,
    outcome: str,
    extra_days: int,
    origin: Mapping[str, Any],
    destination: Mapping[str, Any],
    hub: Mapping[str, Any],
    rng: random.Random,
) -> tuple[list[Scan], Plan]:
    """The whole scan history of one parcel, from label to its end, as EasyPost would show it.

    ``days`` is the promised transit time, ``extra_days`` how late a ``late`` or
    ``weather_delay`` parcel arrives. Scans are spread between purchase and the morning
    of the delivery day (out for delivery at 08:xx), so their order holds for any
    purchase time.
    """
    t0 = bought_at.replace(microsecond=0)
    promised = _midnight(t0, days)
    late = extra_days if outcome in ("late", "weather_delay") else 0
    actual_day = _midnight(t0, days + late)
    out_at = actual_day + timedelta(hours=8, minutes=rng.randrange(60))
    span = out_at - t0
    steps: list[Scan] = []

    def scan(
        at: datetime, status: str, detail: str, message: str, place: Mapping[str, Any], est: datetime | None
    ) -> None:
        steps.append(
            Scan(
                at=at.replace(microsecond=0),
                est=est,
                detail={
                    "object": "TrackingDetail",
                    "message": message,
                    "description": message,
                    "status": status,
                    "status_detail": detail,
                    "datetime": _iso(at),
                    "source": carrier,
                    "carrier_code": None,
                    "tracking_location": _location(place),
                },
            )
        )

    # A late parcel's ETA moves when it reaches the hub; until then it shows the promise.
    known = actual_day if outcome == "late" else promised
    scan(t0, "pre_transit", "label_created", f"Shipping label created, {carrier} awaiting item", origin, promised)
    scan(
        t0 + span * 0.12,
        "in_transit",
        "received_at_origin_facility",
        f"Accepted at {carrier} origin facility",
        origin,
        promised,
    )
    scan(
        t0 + span * 0.22,
        "in_transit",
        "departed_origin_facility",
        f"Departed {carrier} origin facility",
        origin,
        promised,
    )
    scan(t0 + span * 0.45, "in_transit", "arrived_at_facility", f"Arrived at {carrier} hub", hub, known)
    if outcome == "weather_delay":
        scan(t0 + span * 0.5, "in_transit", "weather_delay", "Delayed by severe weather in the area", hub, actual_day)
        known = actual_day
    scan(t0 + span * 0.6, "in_transit", "departed_facility", f"Departed {carrier} hub", hub, known)
    if outcome == "lost":
        lost_at = promised + timedelta(days=1, hours=12)
        scan(lost_at, "failure", "lost", "Package could not be located; a trace has been opened", hub, None)
        return steps, Plan(outcome=outcome, promised=promised, delivered_at=None)
    scan(
        t0 + span * 0.85,
        "in_transit",
        "received_at_destination_facility",
        "Arrived at destination facility",
        destination,
        known,
    )
    scan(out_at, "out_for_delivery", "out_for_delivery", "Out for delivery", destination, known)
    if outcome == "failed_attempt":
        retry_day = _midnight(out_at, 1)
        scan(
            out_at + timedelta(hours=5),
            "in_transit",
            "delivery_exception",
            "Delivery attempted - recipient not available; will try again next business day",
            destination,
            retry_day,
        )
        out_at = retry_day + timedelta(hours=8, minutes=rng.randrange(60))
        scan(out_at, "out_for_delivery", "out_for_delivery", "Out for delivery", destination, retry_day)
        known = retry_day
    delivered_at = (out_at + timedelta(hours=rng.randint(3, 8), minutes=rng.randrange(60))).replace(microsecond=0)
    scan(delivered_at, "delivered", "arrived_at_destination", "Delivered, front door/porch", destination, known)
    return steps, Plan(outcome=outcome, promised=promised, delivered_at=delivered_at)


def _services(carriers: Sequence[Mapping[str, Any]]) -> tuple[ServiceSpec, ...]:
    if not carriers:
        return DEFAULT_SERVICES
    try:
        return tuple(ServiceSpec(**spec) for spec in carriers)
    except (TypeError, ArithmeticError, ValueError) as exc:
        raise ValueError(
            "each entry of carriers needs carrier, service, days, base and per_lb "
            f'(prices as strings), e.g. {{carrier = "USPS", service = "Priority", days = 2, base = "7.90", '
            f'per_lb = "1.10"}}; got {carriers!r} ({exc})'
        ) from None


#: The simulator's options (``context.options_for(context.name or "easypost")``).
OPTIONS: Mapping[str, Option] = {
    "api_key": Option(None, str),
    "exception_rate": Option(0.03, (int, float), low=0, high=1),
    "delay_rate": Option(0.1, (int, float), low=0, high=1),
    "carriers": Option(None, (list, tuple), convert=_services),
    "webhook_secret": Option(None, str),
}


@attrs.define
class _Ledger:
    """Everything the simulator has been asked to do (held under one lock)."""

    shipments: dict[str, dict[str, Any]] = attrs.Factory(dict)
    trackers: dict[str, dict[str, Any]] = attrs.Factory(dict)
    timelines: dict[str, Timeline[Scan]] = attrs.Factory(dict)
    plans: dict[str, Plan] = attrs.Factory(dict)
    purchases: int = 0
    applied: set[Disruption] = attrs.Factory(set)  # disruptions applied to the parcels on their way


class EasyPostSimulator:
    """The EasyPost simulator served at ``/easypost``; its state is readable from Python.

    Accessors (snapshots, safe to read while the server runs): :attr:`shipments` and
    :attr:`trackers` as EasyPost would return them now, :meth:`plan` and
    :meth:`timeline` for a tracker's scripted future, :meth:`purchases_count`.
    """

    def __init__(self, context: SandboxContext):
        self.name = context.name or "easypost"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock = context.clock
        self.seed = context.seed
        self.base_url = context.base_url
        self.api_key: str | None = options["api_key"] or None
        self.webhook_secret: str | None = options["webhook_secret"] or None
        self._announced: dict[str, tuple[str, int]] = {}  # tracker id -> (status, scans) last sent
        self.exception_rate = float(options["exception_rate"])
        self.delay_rate = float(options["delay_rate"])
        if not 0 <= self.exception_rate + self.delay_rate <= 1:
            raise OptionError(
                f"{self.name} simulator: exception_rate ({self.exception_rate}) + delay_rate ({self.delay_rate}) "
                "must be between 0 and 1",
                key=f"sandbox.{self.name}",
            )
        self.services = options["carriers"] or DEFAULT_SERVICES
        self.disruptions = context.disruptions
        self._ids = SeededIds(self.seed)
        self._ledger = _Ledger()
        self._state = LockedState(self._ledger)  # self._ledger is only touched inside `with self._state`
        guard = AuthGuard(
            self.api_key,
            basic_user,
            lambda: _error(
                401,
                "APIKEY.REQUIRED",
                "A valid API key is required; send it as the HTTP Basic user name with an empty password.",
            ),
        )
        self.app = Starlette(
            routes=[
                Route("/v2/shipments", guard(self._create_shipment), methods=["POST"]),
                Route("/v2/shipments/{id}", guard(self._get_shipment), methods=["GET"]),
                Route("/v2/shipments/{id}/buy", guard(self._buy), methods=["POST"]),
                Route("/v2/shipments/{id}/refund", guard(self._refund), methods=["POST"]),
                Route("/v2/trackers/{id}", guard(self._get_tracker), methods=["GET"]),
                Route("/track/{id}", self._public_tracking, methods=["GET"]),
                Route("/files/postage_label/{id}", self._label_file, methods=["GET"]),
            ]
        )

    # -- accessors for tests and the demo

    @property
    def shipments(self) -> dict[str, dict[str, Any]]:
        """Every shipment by id, as ``GET /v2/shipments/{id}`` would return it now."""
        with self._state:
            now = self.clock.now()
            return {sid: self._shipment_view(sid, now) for sid in self._ledger.shipments}

    @property
    def trackers(self) -> dict[str, dict[str, Any]]:
        """Every tracker by id, as ``GET /v2/trackers/{id}`` would return it now."""
        with self._state:
            now = self.clock.now()
            return {tid: self._tracker_view(tid, now) for tid in self._ledger.trackers}

    def plan(self, tracker_id: str) -> Plan:
        """What will happen to the parcel (outcome, promised day, delivery time)."""
        with self._state:
            return self._ledger.plans[tracker_id]

    def timeline(self, tracker_id: str) -> list[dict[str, Any]]:
        """Every scan scripted for the parcel, future ones included."""
        with self._state:
            return [copy.deepcopy(step.detail) for step in self._ledger.timelines[tracker_id]]

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """The ``tracker.updated`` Events EasyPost would have sent since the last call (a
        tracker with a new scan), signed with the ``webhook_secret`` option (none without one)."""
        if not self.webhook_secret:
            return []
        import hashlib
        import json

        from . import webhooks

        out: list[tuple[dict[str, str], bytes]] = []
        with self._state:
            now = self.clock.now()
            for tracker_id in self._ledger.trackers:
                view = self._tracker_view(tracker_id, now)
                seen = (view["status"], len(view["tracking_details"]))
                if self._announced.get(tracker_id) == seen:
                    continue
                self._announced[tracker_id] = seen
                event_id = "evt_" + hashlib.sha256(f"{tracker_id}|{seen}".encode()).hexdigest()[:24]
                body = json.dumps({
                    "object": "Event", "id": event_id, "mode": "test", "description": "tracker.updated",
                    "created_at": _iso(now), "updated_at": _iso(now), "status": "pending",
                    "previous_attributes": {}, "pending_urls": [], "completed_urls": [], "result": view,
                }).encode()
                out.append(({"Content-Type": "application/json",
                             webhooks.SIGNATURE_HEADER: webhooks.sign(body, self.webhook_secret)}, body))
        return out

    def purchases_count(self) -> int:
        """How many labels were bought (refused second purchases do not count)."""
        with self._state:
            return self._ledger.purchases

    # -- plumbing

    def _price(self, spec: ServiceSpec, weight_oz: Decimal) -> Decimal:
        pounds = max(1, math.ceil(weight_oz / 16))
        jitter = Decimal(self._ids.rng("price", spec.carrier, spec.service, weight_oz).randrange(400)) / 10000
        return ((spec.base + spec.per_lb * pounds) * (1 + jitter)).quantize(_CENT, rounding=ROUND_HALF_UP)

    # -- endpoints

    async def _create_shipment(self, request: Request) -> Response:
        body = await json_body(request, default=None)
        given = body.get("shipment") if isinstance(body, dict) else None
        if not isinstance(given, dict) or not given:
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "shipment", "message": "cannot be blank"}],
            )
        problems = [
            {"field": field, "message": "Invalid format."}
            for field in ("to_address", "from_address", "parcel")
            if not isinstance(given.get(field), dict)
        ]
        parcel = given.get("parcel")
        weight = parcel.get("weight") if isinstance(parcel, dict) else None
        if not problems and not (isinstance(weight, (int, float)) and weight > 0):
            problems.append({"field": "parcel.weight", "message": "must be greater than 0"})
        if problems:
            return _error(
                422,
                "SHIPMENT.INVALID_PARAMS",
                "Unable to create shipment, one or more parameters were invalid.",
                problems,
            )
        with self._state:
            shipment = self._new_shipment(given, Decimal(str(weight)))
            return JSONResponse(self._shipment_view(shipment["id"], self.clock.now()), status_code=201)

    async def _get_shipment(self, request: Request) -> Response:
        with self._state:
            if request.path_params["id"] not in self._ledger.shipments:
                return _not_found()
            return JSONResponse(self._shipment_view(request.path_params["id"], self.clock.now()))

    async def _buy(self, request: Request) -> Response:
        body = await json_body(request, default=None)
        rate = body.get("rate") if isinstance(body, dict) else None
        rate_id = rate.get("id") if isinstance(rate, dict) else None
        if not rate_id:
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter.",
                [{"field": "rate", "message": "cannot be blank"}],
            )
        shipment_id = request.path_params["id"]
        with self._state:
            shipment = self._ledger.shipments.get(shipment_id)
            if shipment is None:
                return _not_found()
            if shipment["selected_rate"] is not None:
                return _error(422, POSTAGE_EXISTS, "The shipment has already been purchased; postage exists.")
            chosen = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if chosen is None:
                return _error(
                    422, "SHIPMENT.POSTAGE.FAILURE", f"Rate {rate_id} does not belong to shipment {shipment_id}."
                )
            self._purchase(shipment, chosen)
            return JSONResponse(self._shipment_view(shipment_id, self.clock.now()))

    async def _refund(self, request: Request) -> Response:
        shipment_id = request.path_params["id"]
        with self._state:
            shipment = self._ledger.shipments.get(shipment_id)
            if shipment is None:
                return _not_found()
            tracker_id = shipment["tracker_id"]
            if tracker_id is None:
                return _error(422, "SHIPMENT.REFUND.UNAVAILABLE", f"Shipment {shipment_id} has no postage to refund.")
            if shipment["refund_status"] is None:
                now = self.clock.now()
                timeline = self._ledger.timelines[tracker_id]
                seen = timeline.visible(now)
                if any(step.detail["status"] != "pre_transit" for step in seen):
                    shipment["refund_status"] = "rejected"
                else:
                    shipment["refund_status"] = "submitted"
                    timeline.truncate(now)
                    carrier = shipment["selected_rate"]["carrier"]
                    voided = _voided_step(carrier, now, shipment["from_address"])
                    timeline.add(voided.at, voided)
                shipment["updated_at"] = _iso(now)
            return JSONResponse(self._shipment_view(shipment_id, self.clock.now()))

    async def _get_tracker(self, request: Request) -> Response:
        with self._state:
            if request.path_params["id"] not in self._ledger.trackers:
                return _not_found()
            return JSONResponse(self._tracker_view(request.path_params["id"], self.clock.now()))

    async def _public_tracking(self, request: Request) -> Response:
        with self._state:
            if request.path_params["id"] not in self._ledger.trackers:
                return PlainTextResponse("No such tracker.", status_code=404)
            tracker = self._tracker_view(request.path_params["id"], self.clock.now())
        lines = [f"{tracker['carrier']} {tracker['tracking_code']}: {tracker['status']}"]
        lines += [f"{d['datetime']}  {d['message']}" for d in reversed(tracker["tracking_details"])]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def _label_file(self, request: Request) -> Response:
        with self._state:
            shipment = next(
                (
                    s
                    for s in self._ledger.shipments.values()
                    if (s["postage_label"] or {}).get("id") == request.path_params["id"]
                ),
                None,
            )
            if shipment is None:
                return PlainTextResponse("No such label.", status_code=404)
            rate, to = shipment["selected_rate"], shipment["to_address"]
            text = (
                f"SANDBOX LABEL - NOT POSTAGE\n{rate['carrier']} {rate['service']}\n"
                f"TRACKING {shipment['tracking_code']}\n\nSHIP TO\n{to.get('name', '')}\n"
                f"{to.get('street1', '')}\n{to.get('city', '')} {to.get('state', '')} {to.get('zip', '')}\n"
            )
        return PlainTextResponse(text)

    # -- state (called with the lock held)

    def _new_shipment(self, given: Mapping[str, Any], weight_oz: Decimal) -> dict[str, Any]:
        now = _iso(self.clock.now())
        shipment_id = self._ids.new("shp")
        wanted_accounts = set(given.get("carrier_accounts") or ())
        rates = []
        for spec in self.services:
            account = self._ids.stable("ca", "account", spec.carrier)
            if wanted_accounts and account not in wanted_accounts:
                continue
            price = self._price(spec, weight_oz)
            rates.append(
                {
                    "id": self._ids.new("rate"),
                    "object": "Rate",
                    "created_at": now,
                    "updated_at": now,
                    "mode": "test",
                    "service": spec.service,
                    "carrier": spec.carrier,
                    "rate": str(price),
                    "currency": "USD",
                    "retail_rate": str((price * Decimal("1.25")).quantize(_CENT)),
                    "retail_currency": "USD",
                    "list_rate": str((price * Decimal("1.10")).quantize(_CENT)),
                    "list_currency": "USD",
                    "billing_type": "easypost",
                    "delivery_days": spec.days,
                    "delivery_date": _iso(_midnight(self.clock.now(), spec.days)),
                    "delivery_date_guaranteed": False,
                    "est_delivery_days": spec.days,
                    "shipment_id": shipment_id,
                    "carrier_account_id": account,
                }
            )
        messages = (
            []
            if rates
            else [{"carrier": None, "type": "rate_error", "message": "No carrier account matches carrier_accounts."}]
        )
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": "test",
            "reference": given.get("reference"),
            "created_at": now,
            "updated_at": now,
            "is_return": False,
            "status": "unknown",
            "tracking_code": None,
            "options": {"currency": "USD", **(given.get("options") or {})},
            "to_address": self._address(given["to_address"], now),
            "from_address": self._address(given["from_address"], now),
            "parcel": {"id": self._ids.new("prcl"), "object": "Parcel", "mode": "test", **given["parcel"]},
            "rates": rates,
            "messages": messages,
            "selected_rate": None,
            "postage_label": None,
            "refund_status": None,
            "fees": [],
            "tracker_id": None,  # internal: stripped from the view
        }
        self._ledger.shipments[shipment_id] = shipment
        return shipment

    def _address(self, given: Mapping[str, Any], now: str) -> dict[str, Any]:
        return {
            "id": self._ids.new("adr"),
            "object": "Address",
            "mode": "test",
            "created_at": now,
            "updated_at": now,
            **given,
        }

    def _purchase(self, shipment: dict[str, Any], rate: dict[str, Any]) -> None:
        now = self.clock.now()
        self._catch_up(now)
        shipment_id = shipment["id"]
        rng = self._ids.rng("fate", shipment_id)
        roll = rng.random()
        if roll < self.exception_rate:
            outcome = rng.choice(_EXCEPTIONS)
        elif roll < self.exception_rate + self.delay_rate:
            outcome = "late"
        else:
            outcome = "on_time"
        tracker_id = self._ids.new("trk")
        steps, plan = script_timeline(
            carrier=rate["carrier"],
            bought_at=now,
            days=int(rate["delivery_days"]),
            outcome=outcome,
            extra_days=rng.randint(1, 3) if outcome == "late" else rng.randint(1, 2),
            origin=shipment["from_address"],
            destination=shipment["to_address"],
            hub=dict(zip(("city", "state", "zip"), rng.choice(_HUBS), strict=True)),
            rng=rng,
        )
        tracking_code = _tracking_code(rate["carrier"], rng)
        label_id = self._ids.new("pl")
        stamp = _iso(now)
        shipment.update(
            tracking_code=tracking_code,
            selected_rate=rate,
            tracker_id=tracker_id,
            updated_at=stamp,
            postage_label={
                "object": "PostageLabel",
                "id": label_id,
                "created_at": stamp,
                "updated_at": stamp,
                "label_date": stamp,
                "label_resolution": 300,
                "label_size": "4x6",
                "label_type": "default",
                "label_file_type": "text/plain",
                "label_url": f"{self.base_url}/files/postage_label/{label_id}",
                "label_pdf_url": None,
                "label_zpl_url": None,
                "label_epl2_url": None,
            },
            fees=[
                {"object": "Fee", "type": "LabelFee", "amount": "0.00000", "charged": True, "refunded": False},
                {
                    "object": "Fee",
                    "type": "PostageFee",
                    "amount": f"{Decimal(rate['rate']):.5f}",
                    "charged": True,
                    "refunded": False,
                },
            ],
        )
        self._ledger.trackers[tracker_id] = {
            "id": tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": tracking_code,
            "created_at": stamp,
            "signed_by": None,
            "weight": None,
            "shipment_id": shipment_id,
            "carrier": rate["carrier"],
            "carrier_detail": None,
            "is_return": False,
            "public_url": f"{self.base_url}/track/{tracker_id}",
            "fees": [],
        }
        self._ledger.timelines[tracker_id] = Timeline([(step.at, step) for step in steps])
        self._ledger.plans[tracker_id] = plan
        self._ledger.purchases += 1
        for disruption in self.disruptions.started(now, _PARCEL_DISRUPTIONS):
            if disruption.active(now):  # handed over while it lasts: it is hit too
                self._disrupt(tracker_id, disruption, now)

    # -- disruptions (called with the lock held)

    def _catch_up(self, now: datetime) -> None:
        """Apply each disruption that has begun by ``now`` to the parcels on their way at its start, once."""
        for disruption in self.disruptions.started(now, _PARCEL_DISRUPTIONS):
            if disruption in self._ledger.applied:
                continue
            self._ledger.applied.add(disruption)
            for tracker_id in list(self._ledger.trackers):
                bought = datetime.fromisoformat(self._ledger.trackers[tracker_id]["created_at"].replace("Z", "+00:00"))
                if bought <= disruption.start:
                    self._disrupt(tracker_id, disruption, disruption.start)

    def _hits(self, tracker_id: str, disruption: Disruption) -> bool:
        tracker = self._ledger.trackers[tracker_id]
        if disruption.kind != "hub_closed":
            return disruption.hits_carrier(tracker["carrier"])
        to = self._ledger.shipments[tracker["shipment_id"]]["to_address"]
        state, country = str(to.get("state") or "").upper(), str(to.get("country") or "").upper()
        return disruption.region.upper() in {state, country, f"{country}-{state}"} - {""}

    def _disrupt(self, tracker_id: str, disruption: Disruption, at: datetime) -> None:
        """Move the parcel's scans not yet seen at ``at`` as the disruption delays it."""
        if not self._hits(tracker_id, disruption):
            return
        timeline = self._ledger.timelines[tracker_id]
        pending = timeline.pending(at)
        if not pending or any(step.detail["status"] == "cancelled" for step in pending):
            return
        shift = timedelta(days=disruption.extra_days) if disruption.kind == "carrier_slow" else disruption.end - at
        if shift <= timedelta(0):
            return
        est_shift = timedelta(days=math.ceil(shift / timedelta(days=1)))
        seen = timeline.visible(at)
        known = next((step.est for step in reversed(seen) if step.est is not None), None)
        moved_est = known + est_shift if known is not None else None
        timeline.truncate(at)
        span = pending[-1].at - at
        for step in pending:
            # a slow carrier loses the time along the way; a closure or an outage holds everything at once
            delay = shift * ((step.at - at) / span) if disruption.kind == "carrier_slow" and span else shift
            moved = _moved(step, delay, est_shift)
            timeline.add(moved.at, moved)
        carrier = self._ledger.trackers[tracker_id]["carrier"]
        to = self._ledger.shipments[self._ledger.trackers[tracker_id]["shipment_id"]]["to_address"]
        if disruption.kind == "hub_closed":
            cause = disruption.cause or "Severe weather"
            message = (f"{cause}: {carrier} facility serving {disruption.region} closed until "
                       f"{disruption.end:%b %d}; delivery rescheduled")
            notice = _notice(carrier, at + timedelta(minutes=1), "weather_delay", message, to, moved_est)
            timeline.add(notice.at, notice)
        elif disruption.kind == "carrier_outage":
            cause = disruption.cause or "a network outage"
            notice = _notice(carrier, disruption.end, "delayed", f"Operations resumed after {cause}; delivery rescheduled",
                             to, moved_est)
            timeline.add(notice.at, notice)
        plan = self._ledger.plans[tracker_id]
        if plan.delivered_at is not None:
            self._ledger.plans[tracker_id] = attrs.evolve(plan, delivered_at=plan.delivered_at + shift)

    def _tracker_view(self, tracker_id: str, now: datetime) -> dict[str, Any]:
        self._catch_up(now)
        seen = self._ledger.timelines[tracker_id].visible(now)
        latest = seen[-1]
        view = copy.deepcopy(self._ledger.trackers[tracker_id])
        view.update(
            status=latest.detail["status"],
            status_detail=latest.detail["status_detail"],
            updated_at=_iso(latest.at),
            est_delivery_date=_iso(latest.est) if latest.est else None,
            tracking_details=[copy.deepcopy(step.detail) for step in seen],
            finalized=latest.detail["status"] in ("delivered", "failure", "return_to_sender", "cancelled"),
        )
        return view

    def _shipment_view(self, shipment_id: str, now: datetime) -> dict[str, Any]:
        view = copy.deepcopy(self._ledger.shipments[shipment_id])
        tracker_id = view.pop("tracker_id")
        view["tracker"] = self._tracker_view(tracker_id, now) if tracker_id else None
        if view["tracker"]:
            view["status"] = view["tracker"]["status"]
        return view


#: The disruptions that reach parcels (a stock-out is the warehouse's).
_PARCEL_DISRUPTIONS = ("hub_closed", "carrier_slow", "carrier_outage")


def _moved(step: Scan, shift: timedelta, est_shift: timedelta) -> Scan:
    """A scan ``shift`` later (to the second), its ETA ``est_shift`` later."""
    detail = copy.deepcopy(step.detail)
    at = (step.at + shift).replace(microsecond=0)
    detail["datetime"] = _iso(at)
    return Scan(at=at, detail=detail, est=step.est + est_shift if step.est is not None else None)


def _notice(carrier: str, at: datetime, status_detail: str, message: str, place: Mapping[str, Any],
            est: datetime | None) -> Scan:
    """An ``in_transit`` scan saying why the parcel is held (``weather_delay``, ``delayed``)."""
    at = at.replace(microsecond=0)
    detail = {
        "object": "TrackingDetail",
        "message": message,
        "description": message,
        "status": "in_transit",
        "status_detail": status_detail,
        "datetime": _iso(at),
        "source": carrier,
        "carrier_code": None,
        "tracking_location": _location(place),
    }
    return Scan(at=at, detail=detail, est=est)


def _voided_step(carrier: str, now: datetime, origin: Mapping[str, Any]) -> Scan:
    """The scan a refunded label's tracker ends with."""
    message = "Label voided; refund submitted"
    detail = {
        "object": "TrackingDetail",
        "message": message,
        "description": message,
        "status": "cancelled",
        "status_detail": "cancelled",
        "datetime": _iso(now),
        "source": carrier,
        "carrier_code": None,
        "tracking_location": _location(origin),
    }
    return Scan(at=now.replace(microsecond=0), detail=detail, est=None)


def _tracking_code(carrier: str, rng: random.Random) -> str:
    """A tracking code in the carrier's own format (USPS 22 digits, UPS 1Z..., FedEx 12 digits)."""
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "FedEx":
        return "".join(rng.choice("0123456789") for _ in range(12))
    return "9400" + "".join(rng.choice("0123456789") for _ in range(18))
