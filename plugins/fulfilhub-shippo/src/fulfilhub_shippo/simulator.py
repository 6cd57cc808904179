"""A local Shippo for ``fulfilhub sandbox`` and the tests: a Starlette app on the scenario clock.

It answers the part of Shippo's API (version 2018-02-08) the adapter uses, in Shippo's
shapes, behind ``Authorization: ShippoToken <key>``:

- ``POST /shipments``: a Shipment with one Rate per service (priced per started kg;
  ``carrier_accounts`` limits the rating), ``attributes`` CHEAPEST / FASTEST marked.
- ``POST /transactions``: buys a rate's label (status SUCCESS, or ERROR with
  ``messages`` for a destination ZIP ``00000``). Shippo takes no idempotency key, and
  this simulator sells a rate twice if asked twice: the adapter must look first.
- ``GET /transactions?rate=...`` and ``GET /transactions/{id}``.
- ``GET /tracks/{carrier}/{tracking_number}``: the Track with the scans whose time has
  come (``tracking_status`` the latest, ``tracking_history`` all, ``eta`` as of now).
- ``POST /refunds``: SUCCESS (transaction REFUNDED) before the carrier's first scan,
  ERROR (transaction REFUNDREJECTED) after.

Options: ``api_key`` (when set, other tokens get 401), ``webhook_secret`` (signs
``pending_webhooks()``: ``transaction_created`` and ``track_updated``, HMAC-signed as
``Shippo-Auth-Signature``), ``exception_rate`` (0.03: lost, damaged and returned, or a
failed attempt, a third each) and ``delay_rate`` (0.1: a ``delayed`` scan on the
promised day, delivered 1-3 days later). Disruptions on the scenario clock
(``hub_closed``, ``carrier_slow``, ``carrier_outage``) move the scans of the parcels
they reach, with a ``TRANSIT``/``delayed`` scan saying why. Same seed, same requests:
same ids, prices, tracking numbers and fates.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fulfilhub.sandbox import (
    AuthGuard,
    LockedState,
    Option,
    Rejected,
    SandboxContext,
    SeededIds,
    answering,
    json_body,
    read_options,
)

from .carrier import sign
from .mapping import tracking_carrier

#: (provider, servicelevel token, name, days, base price, per started kg)
SERVICES = (
    ("USPS", "usps_priority", "Priority Mail", 2, "7.40", "1.20"),
    ("USPS", "usps_ground_advantage", "Ground Advantage", 4, "5.10", "0.90"),
    ("UPS", "ups_ground", "Ground", 4, "8.90", "0.70"),
    ("UPS", "ups_next_day_air", "Next Day Air", 1, "28.00", "3.10"),
    ("DHL Express", "dhl_express_worldwide", "Express Worldwide", 3, "24.50", "2.40"),
)
OPTIONS = {
    "api_key": Option(None, str),
    "webhook_secret": Option(None, str),
    "exception_rate": Option(0.03, (int, float), low=0, high=1),
    "delay_rate": Option(0.1, (int, float), low=0, high=1),
}
_KG = {"g": Decimal("0.001"), "kg": Decimal(1), "oz": Decimal("0.028349523125"), "lb": Decimal("0.45359237")}
_PARCEL_DISRUPTIONS = ("hub_closed", "carrier_slow", "carrier_outage")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme == "ShippoToken" else None


class ShippoSimulator:
    def __init__(self, context: SandboxContext):
        self.name = context.name or "shippo"
        options = read_options(self.name, context.options_for(self.name), OPTIONS)
        self.clock, self.disruptions = context.clock, context.disruptions
        self.exception_rate, self.delay_rate = options["exception_rate"], options["delay_rate"]
        self.webhook_secret: str | None = options["webhook_secret"]
        self.ids = SeededIds(context.seed)
        #: rates, transactions (by id); parcels: transaction id -> {steps, to, provider, seen, applied}
        self.state = LockedState({"rates": {}, "transactions": {}, "parcels": {}, "outbox": []})
        guard = AuthGuard(options["api_key"], _token,
                          lambda: JSONResponse({"detail": "Invalid token."}, status_code=401))
        self.app = Starlette(routes=[
            Route("/shipments", guard(answering(self._shipment)), methods=["POST"]),
            Route("/transactions", guard(answering(self._transactions)), methods=["GET", "POST"]),
            Route("/transactions/{id}", guard(answering(self._transaction)), methods=["GET"]),
            Route("/tracks/{carrier}/{number}", guard(answering(self._track)), methods=["GET"]),
            Route("/refunds", guard(answering(self._refund)), methods=["POST"]),
        ])

    # -- for tests and the demo

    def labels_sold(self) -> int:
        """Transactions that sold a label (a second purchase of one rate counts: it costs twice)."""
        with self.state as state:
            return sum(1 for t in state["transactions"].values() if t["status"] != "ERROR")

    def scans_sent(self, tracking_number: str) -> list[tuple[str, datetime]]:
        """The scans the parcel has had by now: ``(status, time)`` each, in the order they happened."""
        now = self.clock.now()
        with self.state as state:
            self._catch_up(state, now)
            for transaction_id, parcel in state["parcels"].items():
                if state["transactions"][transaction_id]["tracking_number"] == tracking_number:
                    return [(scan["status"], at) for at, scan in parcel["steps"] if at <= now]
        raise KeyError(tracking_number)

    def quoted(self, rate_id: str) -> tuple[str, str]:
        """What a rate was quoted at: ``(amount, currency)`` as the answer wrote them."""
        with self.state as state:
            rate = state["rates"][rate_id]
            return rate["amount"], rate["currency"]

    def fate(self, transaction_id: str) -> str:
        with self.state as state:
            return state["parcels"][transaction_id]["fate"]

    def pending_webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        """What Shippo would have POSTed since last asked, signed (nothing without ``webhook_secret``)."""
        now = self.clock.now()
        with self.state as state:
            self._catch_up(state, now)
            events, state["outbox"] = state["outbox"], []
            for transaction_id, parcel in state["parcels"].items():
                seen = len(self._visible(parcel, now))
                if seen > parcel["seen"]:
                    parcel["seen"] = seen
                    events.append({"event": "track_updated", "test": True, "data": self._track_view(state, transaction_id, now)})
        if not self.webhook_secret:
            return []
        out = []
        for event in events:
            body = json.dumps(event).encode()
            out.append(({"Content-Type": "application/json",
                         "Shippo-Auth-Signature": sign(body, self.webhook_secret, int(now.timestamp()))}, body))
        return out

    # -- endpoints

    async def _shipment(self, request: Request) -> Response:
        body = await json_body(request, invalid=Rejected(400, {"detail": "JSON parse error"}))
        body = body if isinstance(body, dict) else {}
        for field in ("address_from", "address_to"):
            if not isinstance(body.get(field), dict) or not body[field].get("country"):
                raise Rejected(400, {field: ["This field is required."]})
        parcels = body.get("parcels")
        try:
            kilos = sum(Decimal(str(p["weight"])) * _KG[p["mass_unit"]] for p in parcels)
        except (TypeError, KeyError, ArithmeticError, ValueError):
            raise Rejected(400, {"parcels": ["Each parcel needs a weight and a mass_unit (g, kg, oz, lb)."]}) from None
        if not kilos.is_finite() or kilos <= 0:
            raise Rejected(400, {"parcels": ["The weight must be positive."]})
        started = max(1, math.ceil(kilos))
        now, shipment_id = _iso(self.clock.now()), self.ids.new("shp")[4:]
        accounts = body.get("carrier_accounts") or []
        rates = []
        with self.state as state:
            for provider, token, name, days, base, per_kg in SERVICES:
                account = self.ids.stable("ca", provider)[3:]
                if accounts and account not in accounts:
                    continue
                rate = {"object_id": self.ids.new("rate")[5:], "object_created": now, "object_owner": "sandbox@example.com",
                        "shipment": shipment_id, "attributes": [], "amount": str(Decimal(base) + Decimal(per_kg) * started),
                        "currency": "USD", "amount_local": None, "currency_local": "USD", "provider": provider,
                        "servicelevel": {"name": name, "token": token, "terms": ""}, "estimated_days": days,
                        "arrives_by": None, "duration_terms": f"Delivery in {days} business day(s).", "messages": [],
                        "carrier_account": account, "test": True, "zone": "1"}
                rate["amount_local"] = rate["amount"]
                rates.append(rate)
            if rates:
                min(rates, key=lambda r: Decimal(r["amount"]))["attributes"].append("CHEAPEST")
                min(rates, key=lambda r: r["estimated_days"])["attributes"].append("FASTEST")
            for rate in rates:
                state["rates"][rate["object_id"]] = {**rate, "_to": body["address_to"], "_from": body["address_from"]}
        return JSONResponse({"object_state": "VALID", "status": "SUCCESS", "object_id": shipment_id,
                             "object_created": now, "object_updated": now, "object_owner": "sandbox@example.com",
                             "address_from": body["address_from"], "address_to": body["address_to"],
                             "parcels": parcels, "rates": rates,
                             "messages": [], "metadata": body.get("metadata", ""), "test": True}, status_code=201)

    async def _transactions(self, request: Request) -> Response:
        if request.method == "GET":
            rate_id = request.query_params.get("rate")
            with self.state as state:
                found = [self._expanded(state, t) for t in state["transactions"].values() if not rate_id or t["rate"] == rate_id]
            return JSONResponse({"next": None, "previous": None, "results": found})
        body = await json_body(request, invalid=Rejected(400, {"detail": "JSON parse error"}))
        rate_id = body.get("rate") if isinstance(body, dict) else None
        now = self.clock.now()
        with self.state as state:
            rate = state["rates"].get(rate_id) if isinstance(rate_id, str) else None
            if rate is None:
                raise Rejected(400, {"rate": ["Rate with supplied object_id not found."]})
            transaction_id = self.ids.new("tx")[3:]
            number = f"92{self.ids.next('tracking', 10**19)}"
            transaction = {"object_state": "VALID", "status": "SUCCESS", "object_created": _iso(now),
                           "object_updated": _iso(now), "object_id": transaction_id, "object_owner": "sandbox@example.com",
                           "test": True, "rate": rate_id, "tracking_number": number, "tracking_status": "UNKNOWN",
                           "eta": None, "tracking_url_provider": f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
                           "label_url": f"https://shippo-delivery.example/{transaction_id}.pdf",
                           "commercial_invoice_url": None, "messages": [], "order": None,
                           "metadata": str(body.get("metadata") or "")[:100], "parcel": None, "qr_code_url": None}
            if str(rate["_to"].get("zip")) == "00000":
                transaction.update(status="ERROR", object_state="INVALID", tracking_number="", label_url="",
                                   tracking_url_provider="", messages=[{"source": rate["provider"], "code": "",
                                                                         "text": "The address as submitted could not be found."}])
            else:
                self._script(state, transaction_id, rate, now)
                transaction["eta"] = state["parcels"][transaction_id]["steps"][0][1]["_eta"]
            state["transactions"][transaction_id] = transaction
            state["outbox"].append({"event": "transaction_created", "test": True, "data": dict(transaction)})
            return JSONResponse(transaction, status_code=201)

    async def _transaction(self, request: Request) -> Response:
        with self.state as state:
            transaction = state["transactions"].get(request.path_params["id"])
            if transaction is None:
                raise Rejected(404, {"detail": "Not found."})
            return JSONResponse(transaction)

    async def _track(self, request: Request) -> Response:
        carrier, number, now = request.path_params["carrier"], request.path_params["number"], self.clock.now()
        with self.state as state:
            self._catch_up(state, now)
            for transaction_id, parcel in state["parcels"].items():
                if state["transactions"][transaction_id]["tracking_number"] == number and \
                        tracking_carrier(parcel["provider"]) == carrier:
                    return JSONResponse(self._track_view(state, transaction_id, now))
        raise Rejected(404, {"detail": "Not found."})

    async def _refund(self, request: Request) -> Response:
        body = await json_body(request, invalid=Rejected(400, {"detail": "JSON parse error"}))
        transaction_id = body.get("transaction") if isinstance(body, dict) else None
        now = self.clock.now()
        with self.state as state:
            transaction = state["transactions"].get(transaction_id) if isinstance(transaction_id, str) else None
            if transaction is None or transaction["status"] == "ERROR":
                raise Rejected(400, {"transaction": ["Transaction with supplied object_id not found."]})
            if transaction["status"] in ("REFUNDED", "REFUNDPENDING", "REFUNDREJECTED"):
                raise Rejected(400, {"transaction": ["A refund was already requested for this transaction."]})
            parcel = state["parcels"][transaction_id]
            scanned = any(step["status"] != "PRE_TRANSIT" for step in self._visible(parcel, now))
            status = "ERROR" if scanned else "SUCCESS"
            transaction.update(status="REFUNDREJECTED" if scanned else "REFUNDED", object_updated=_iso(now))
            if not scanned:
                parcel["steps"] = [s for s in parcel["steps"] if s[0] <= now]
            return JSONResponse({"object_id": self.ids.new("rf")[3:], "object_created": _iso(now), "object_updated": _iso(now),
                                 "object_owner": "sandbox@example.com", "status": status, "transaction": transaction_id,
                                 "test": True}, status_code=201)

    # -- parcels (called with the state lock held)

    def _expanded(self, state: dict[str, Any], transaction: dict[str, Any]) -> dict[str, Any]:
        rate = state["rates"][transaction["rate"]]
        return {**transaction, "rate": {"object_id": rate["object_id"], "amount": rate["amount"], "currency": rate["currency"],
                                        "provider": rate["provider"], "servicelevel_token": rate["servicelevel"]["token"]}}

    def _script(self, state: dict[str, Any], transaction_id: str, rate: dict[str, Any], t0: datetime) -> None:
        """Every scan the parcel will get, on the scenario clock, with the ETA known from each."""
        rng, days = self.ids.rng("fate", transaction_id), rate["estimated_days"]
        roll = rng.random()
        third = self.exception_rate / 3
        fate = ("lost" if roll < third else "damaged" if roll < 2 * third else "failed_attempt"
                if roll < self.exception_rate else "late" if roll < self.exception_rate + self.delay_rate else "on_time")
        origin, dest = rate["_from"], rate["_to"]
        day = (t0 + timedelta(days=days)).replace(hour=8, minute=rng.randrange(60), second=0, microsecond=0)
        eta = day.replace(hour=20, minute=0)
        steps = [(t0, "PRE_TRANSIT", "information_received", "Shipping label created", origin, eta),
                 (t0 + timedelta(hours=3), "TRANSIT", "package_accepted", "Accepted at origin facility", origin, eta),
                 (t0 + timedelta(hours=9), "TRANSIT", "package_departed", "Departed origin facility", origin, eta)]
        if fate == "lost":
            steps.append((t0 + timedelta(days=days + 2), "FAILURE", "package_lost", "Package could not be located", origin, eta))
        elif fate == "damaged":
            steps += [(day - timedelta(hours=10), "TRANSIT", "package_damaged", "Package damaged in transit", dest, eta),
                      (day + timedelta(days=2), "RETURNED", "return_to_sender", "Returned to sender", dest, None)]
        else:
            if fate == "late":
                late = rng.randint(1, 3)
                steps.append((day - timedelta(hours=2), "TRANSIT", "delayed", "Delivery delayed", dest, eta + timedelta(days=late)))
                day, eta = day + timedelta(days=late), eta + timedelta(days=late)
            steps.append((day - timedelta(hours=12), "TRANSIT", "package_arrived", "Arrived at destination facility", dest, eta))
            if fate == "failed_attempt":
                steps += [(day, "TRANSIT", "out_for_delivery", "Out for delivery", dest, eta),
                          (day + timedelta(hours=6), "TRANSIT", "delivery_attempted", "Delivery attempted; notice left",
                           dest, eta + timedelta(days=1))]
                day, eta = day + timedelta(days=1), eta + timedelta(days=1)
            steps += [(day, "TRANSIT", "out_for_delivery", "Out for delivery", dest, eta),
                      (day + timedelta(hours=rng.randint(2, 8)), "DELIVERED", "delivered", "Delivered", dest, eta)]
        parcel = {"steps": [(at, self._scan(at, *rest)) for at, *rest in steps], "provider": rate["provider"], "to": dest,
                  "from": origin, "fate": fate, "seen": 0, "applied": [], "rate": rate["object_id"]}
        state["parcels"][transaction_id] = parcel
        for disruption in self.disruptions.started(t0, _PARCEL_DISRUPTIONS):
            parcel["applied"].append(disruption)
            if disruption.active(t0):
                self._disrupt(parcel, disruption, t0)

    def _scan(self, at: datetime, status: str, code: str, text: str, place: dict[str, Any], eta: datetime | None) -> dict[str, Any]:
        return {"object_created": _iso(at), "object_updated": _iso(at), "object_id": self.ids.new("ts")[3:],
                "status": status, "status_details": text, "status_date": _iso(at),
                "substatus": {"code": code, "text": text, "action_required": code in ("address_issue", "delivery_attempted")},
                "location": {k: place.get(k, "") for k in ("city", "state", "zip", "country")},
                "_eta": _iso(eta) if eta else None}

    def _catch_up(self, state: dict[str, Any], now: datetime) -> None:
        """Apply each disruption that has begun by ``now`` to the parcels on their way at its start, once."""
        for disruption in self.disruptions.started(now, _PARCEL_DISRUPTIONS):
            for parcel in state["parcels"].values():
                if disruption not in parcel["applied"]:
                    parcel["applied"].append(disruption)
                    self._disrupt(parcel, disruption, disruption.start)

    def _disrupt(self, parcel: dict[str, Any], disruption: Any, at: datetime) -> None:
        place = parcel["to"]
        if disruption.kind == "hub_closed":
            hit = disruption.region.upper() in {str(place.get("state", "")).upper(), str(place.get("country", "")).upper()}
        else:
            hit = disruption.hits_carrier(parcel["provider"])
        later = [(t, s) for t, s in parcel["steps"] if t > at]
        if not hit or not later:
            return
        shift = timedelta(days=disruption.extra_days) if disruption.kind == "carrier_slow" else disruption.end - at
        moved = []
        for t, scan in later:
            scan = copy.deepcopy(scan)
            scan["_eta"] = _iso(datetime.fromisoformat(scan["_eta"]) + shift) if scan["_eta"] else None
            for key in ("status_date", "object_created", "object_updated"):
                scan[key] = _iso(t + shift)
            moved.append((t + shift, scan))
        cause = disruption.cause or {"hub_closed": "Severe weather", "carrier_outage": "a network outage"}.get(disruption.kind, "")
        notice_at = disruption.end if disruption.kind == "carrier_outage" else at + timedelta(minutes=1)
        words = (f"{cause}: facility serving {disruption.region} closed until {disruption.end:%b %d}"
                 if disruption.kind == "hub_closed" else f"Operations resumed after {cause}"
                 if disruption.kind == "carrier_outage" else "Carrier network delays")
        notice = self._scan(notice_at, "TRANSIT", "delayed", f"{words}; delivery rescheduled", place, None)
        notice["_eta"] = moved[-1][1]["_eta"]
        parcel["steps"] = sorted([(t, s) for t, s in parcel["steps"] if t <= at] + [(notice_at, notice)] + moved,
                                 key=lambda step: step[0])

    def _visible(self, parcel: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        return [scan for at, scan in parcel["steps"] if at <= now]

    def _track_view(self, state: dict[str, Any], transaction_id: str, now: datetime) -> dict[str, Any]:
        parcel, transaction = state["parcels"][transaction_id], state["transactions"][transaction_id]
        seen = self._visible(parcel, now)
        history = [{k: v for k, v in scan.items() if k != "_eta"} for scan in seen]
        rate = state["rates"][parcel["rate"]]
        return {"carrier": tracking_carrier(parcel["provider"]), "tracking_number": transaction["tracking_number"],
                "address_from": {k: parcel["from"].get(k, "") for k in ("city", "state", "zip", "country")},
                "address_to": {k: parcel["to"].get(k, "") for k in ("city", "state", "zip", "country")},
                "transaction": transaction_id, "original_eta": transaction["eta"],
                "eta": seen[-1]["_eta"] if seen else transaction["eta"],
                "servicelevel": {"token": rate["servicelevel"]["token"], "name": rate["servicelevel"]["name"]},
                "metadata": None, "tracking_status": history[-1] if history else None, "tracking_history": history,
                "messages": [], "test": True}
