"""The simulated shop's price rules, discount codes, transactions and refunds.

Enough of Shopify's Admin REST behaviour to issue a compensation and to see it:

- ``POST /price_rules.json`` (``title``, ``value_type`` ``fixed_amount`` or
  ``percentage``, a negative ``value``, ``target_type`` ``line_item`` or
  ``shipping_line``, ``customer_selection``, ``prerequisite_customer_ids``,
  ``usage_limit``, ``starts_at``) and ``GET /price_rules.json`` (newest first,
  ``limit``, ``since_id``);
- ``POST /price_rules/{id}/discount_codes.json`` (a code is unique in the shop: 422
  ``has already been taken`` otherwise) and ``GET`` of the same;
- ``GET /orders/{id}/transactions.json`` (the order's sale);
- ``POST /orders/{id}/refunds.json`` (``shipping.amount`` refunds shipping and can never
  exceed the shipping paid less what was refunded; ``transactions`` move the money and
  can never exceed what was captured less what was refunded; ``note``) and ``GET``.

:class:`Discounts` keeps this state under its own lock; the simulator's accessors
(:meth:`price_rules`, :meth:`discount_codes`, :meth:`refunds_for`) read it for tests and
the demo.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fulfilhub.sandbox import Rejected, json_body
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import iso

PRICE_RULE_ID_BASE = 1_120_000_000_000
DISCOUNT_CODE_ID_BASE = 15_200_000_000_000
REFUND_ID_BASE = 9_870_000_000_000
TRANSACTION_ID_BASE = 7_010_000_000_000

_INVALID_JSON = Rejected(400, {"errors": "The request body is not valid JSON."})


def _money(value: Any, field: str, *, negative: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Rejected(422, {"errors": {field: ["is not a number"]}}) from None
    if not amount.is_finite() or (amount >= 0 if negative else amount < 0):
        raise Rejected(422, {"errors": {field: ["must be less than 0" if negative else "must be greater than or equal to 0"]}})
    return amount


class Discounts:
    """Price rules, discount codes and refunds of one simulated shop."""

    def __init__(self, now: Callable[[], float], order: Callable[[int], Mapping[str, Any]]):
        self._now = now
        self._order = order  # the rendered order (KeyError: unknown)
        self._lock = threading.Lock()
        self.rules: list[dict[str, Any]] = []
        self.codes: list[dict[str, Any]] = []
        self.refunds: dict[int, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ accessors

    def price_rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.rules]

    def discount_codes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.codes]

    def refunds_for(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.refunds.get(order_id, [])]

    # ------------------------------------------------------------------ HTTP

    def routes(self, api: str, endpoint: Callable[[Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
        return [
            Route(f"{api}/price_rules.json", endpoint(self._price_rules), methods=["GET", "POST"]),
            Route(f"{api}/price_rules/{{rule_id:int}}/discount_codes.json", endpoint(self._discount_codes),
                  methods=["GET", "POST"]),
            Route(f"{api}/orders/{{order_id:int}}/transactions.json", endpoint(self._transactions)),
            Route(f"{api}/orders/{{order_id:int}}/refunds.json", endpoint(self._refunds), methods=["GET", "POST"]),
        ]

    async def _price_rules(self, request: Request) -> Response:
        if request.method == "GET":
            limit = min(int(request.query_params.get("limit", "50") or 50), 250)
            since = int(request.query_params.get("since_id", "0") or 0)
            with self._lock:
                rules = [dict(r) for r in reversed(self.rules) if r["id"] > since][:limit]
            return JSONResponse({"price_rules": rules})
        body = await json_body(request, invalid=_INVALID_JSON)
        spec = body.get("price_rule") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise Rejected(400, {"errors": {"price_rule": "Required parameter missing or invalid"}})
        missing = [k for k in ("title", "value_type", "value", "target_type", "target_selection",
                               "allocation_method", "customer_selection", "starts_at") if k not in spec]
        if missing:
            raise Rejected(422, {"errors": {k: ["can't be blank"] for k in missing}})
        if spec["value_type"] not in ("fixed_amount", "percentage"):
            raise Rejected(422, {"errors": {"value_type": ["is not included in the list"]}})
        if spec["target_type"] not in ("line_item", "shipping_line"):
            raise Rejected(422, {"errors": {"target_type": ["is not included in the list"]}})
        value = _money(spec["value"], "value", negative=True)
        if spec["value_type"] == "percentage" and value < -100:
            raise Rejected(422, {"errors": {"value": ["must be greater than or equal to -100"]}})
        with self._lock:
            rule = {**spec, "id": PRICE_RULE_ID_BASE + len(self.rules) + 1, "value": f"{value:.1f}"
                    if spec["value_type"] == "percentage" else f"{value:.2f}", "created_at": iso(self._now()),
                    "updated_at": iso(self._now())}
            self.rules.append(rule)
            return JSONResponse({"price_rule": dict(rule)}, status_code=201)

    async def _discount_codes(self, request: Request) -> Response:
        rule_id = request.path_params["rule_id"]
        with self._lock:
            if not any(r["id"] == rule_id for r in self.rules):
                raise Rejected(404, {"errors": "Not Found"})
        if request.method == "GET":
            with self._lock:
                return JSONResponse({"discount_codes": [dict(c) for c in self.codes if c["price_rule_id"] == rule_id]})
        body = await json_body(request, invalid=_INVALID_JSON)
        spec = body.get("discount_code") if isinstance(body, dict) else None
        code = spec.get("code") if isinstance(spec, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise Rejected(422, {"errors": {"code": ["can't be blank"]}})
        with self._lock:
            if any(c["code"].lower() == code.lower() for c in self.codes):
                raise Rejected(422, {"errors": {"code": ["must be unique. Please try a different code."]}})
            created = {"id": DISCOUNT_CODE_ID_BASE + len(self.codes) + 1, "price_rule_id": rule_id, "code": code,
                       "usage_count": 0, "created_at": iso(self._now()), "updated_at": iso(self._now())}
            self.codes.append(created)
            return JSONResponse({"discount_code": dict(created)}, status_code=201)

    def _known(self, order_id: int) -> Mapping[str, Any]:
        try:
            return self._order(order_id)
        except KeyError:
            raise Rejected(404, {"errors": "Not Found"}) from None

    def _sale(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": TRANSACTION_ID_BASE + order["order_number"], "order_id": order["id"], "kind": "sale",
                "status": "success", "amount": order["total_price"], "currency": order["currency"],
                "gateway": "shopify_payments", "parent_id": None, "created_at": order["created_at"]}

    async def _transactions(self, request: Request) -> Response:
        order = self._known(request.path_params["order_id"])
        with self._lock:
            refunds = self.refunds.get(order["id"], [])
            done = [t for r in refunds for t in r["transactions"]]
        return JSONResponse({"transactions": [self._sale(order), *done]})

    async def _refunds(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        order = self._known(order_id)
        if request.method == "GET":
            with self._lock:
                return JSONResponse({"refunds": [dict(r) for r in self.refunds.get(order_id, [])]})
        body = await json_body(request, invalid=_INVALID_JSON)
        spec = body.get("refund") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise Rejected(400, {"errors": {"refund": "Required parameter missing or invalid"}})
        shipping_spec = spec.get("shipping") or {}
        shipping = _money(shipping_spec.get("amount", "0"), "shipping.amount") if isinstance(shipping_spec, dict) \
            else Decimal(0)
        transactions = spec.get("transactions") or []
        if not isinstance(transactions, list):
            raise Rejected(422, {"errors": {"transactions": ["is invalid"]}})
        sale = self._sale(order)
        moved = Decimal(0)
        rows = []
        with self._lock:
            earlier = self.refunds.setdefault(order_id, [])
            paid_shipping = sum((Decimal(s["price"]) for s in order.get("shipping_lines", [])), Decimal(0))
            refunded_shipping = sum((Decimal(r["shipping"]["amount"]) for r in earlier), Decimal(0))
            if shipping > paid_shipping - refunded_shipping:
                raise Rejected(422, {"errors": {"shipping": [
                    f"amount {shipping} exceeds the refundable shipping {paid_shipping - refunded_shipping}"]}})
            refunded = sum((Decimal(t["amount"]) for r in earlier for t in r["transactions"]), Decimal(0))
            for n, spec_t in enumerate(transactions):
                if not isinstance(spec_t, dict) or spec_t.get("kind") != "refund":
                    raise Rejected(422, {"errors": {"transactions": ["kind must be refund"]}})
                if spec_t.get("parent_id") != sale["id"]:
                    raise Rejected(422, {"errors": {"transactions": ["parent_id must be a successful capture or sale"]}})
                amount = _money(spec_t.get("amount"), "transactions.amount")
                moved += amount
                rows.append({"id": TRANSACTION_ID_BASE + 1_000_000 + sum(len(r["transactions"]) for rs in
                                                                       self.refunds.values() for r in rs) + n + 1,
                             "order_id": order_id, "kind": "refund", "status": "success", "amount": f"{amount:.2f}",
                             "currency": order["currency"], "gateway": sale["gateway"], "parent_id": sale["id"],
                             "created_at": iso(self._now())})
            if moved + refunded > Decimal(sale["amount"]):
                raise Rejected(422, {"errors": {"base": ["Refund amount exceeds the amount that can be refunded"]}})
            if shipping > moved:
                raise Rejected(422, {"errors": {"base": ["The shipping refund needs a transaction that pays it back"]}})
            refund = {"id": REFUND_ID_BASE + sum(len(rs) for rs in self.refunds.values()) + 1, "order_id": order_id,
                      "note": spec.get("note"), "created_at": iso(self._now()),
                      "shipping": {"amount": f"{shipping:.2f}"}, "transactions": rows}
            earlier.append(refund)
            return JSONResponse({"refund": dict(refund)}, status_code=201)
