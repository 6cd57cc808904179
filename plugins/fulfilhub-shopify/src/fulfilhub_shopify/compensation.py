"""Issuing a compensation in Shopify (the ``issue_compensation`` capability).

- ``discount`` (and any fixed-value code): a price rule worth the amount off the next
  order (``value_type = fixed_amount``, for that customer only, usable once) and a
  discount code for it;
- ``free_upgrade``: a price rule taking 100 % off the shipping line of the next order,
  and its code;
- ``shipping_refund``: a refund of that amount of the order's shipping, paid back to
  the order's sale; ``partial_refund``: a refund of that amount of the order;
- other kinds (points, gifts, warranty) are not Shopify objects: None, and the shop
  honours them by hand from the ledger.

The key is stamped on what is created: the price rule's title ends with ``[<key>]``,
the code is derived from the key, the refund's note is the key. On any attempt after
the first, the adapter looks for them before creating anything, so one compensation is
one code or one refund however often it is retried.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fulfilhub import CompensationKind, CompensationProposal, Order, PermanentError, TransientError

if TYPE_CHECKING:
    from .channel import ShopifyChannel

log = logging.getLogger("fulfilhub_shopify")


def code_for(key: str) -> str:
    """The discount code for a compensation key: the same key, the same code."""
    return "SORRY-" + hashlib.sha256(key.encode()).hexdigest()[:8].upper()


def title_for(order: Order, key: str) -> str:
    return f"Apology for order {order.number} [{key}]"


def _customer_id(order: Order) -> int | None:
    customer = order.raw.get("customer") if isinstance(order.raw, Mapping) else None
    found = customer.get("id") if isinstance(customer, Mapping) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def price_rule_body(order: Order, grant: CompensationProposal, key: str, starts_at: str) -> dict[str, Any]:
    """The ``POST /price_rules.json`` body for a compensation code."""
    customer = _customer_id(order)
    rule: dict[str, Any] = {
        "title": title_for(order, key),
        "target_selection": "all",
        "allocation_method": "across" if grant.kind is not CompensationKind.FREE_UPGRADE else "each",
        "customer_selection": "prerequisite" if customer is not None else "all",
        "usage_limit": 1,
        "once_per_customer": True,
        "starts_at": starts_at,
    }
    if customer is not None:
        rule["prerequisite_customer_ids"] = [customer]
    if grant.kind is CompensationKind.FREE_UPGRADE:
        rule.update(target_type="shipping_line", value_type="percentage", value="-100.0")
    else:
        rule.update(target_type="line_item", value_type="fixed_amount", value=f"-{grant.value.amount:.2f}")
    return {"price_rule": rule}


def issue(channel: ShopifyChannel, order: Order, grant: CompensationProposal, key: str,
          attempt: int | None) -> tuple[str, str] | None:
    """Issue ``grant`` for ``order`` once; ``(code, ref)`` or None for a kind Shopify does not hold."""
    if grant.value.currency != order.currency:
        raise PermanentError(f"compensation in {grant.value.currency} for an order in {order.currency}",
                             service=channel.context.name)
    if grant.kind in (CompensationKind.DISCOUNT, CompensationKind.FREE_UPGRADE):
        return _code(channel, order, grant, key, attempt)
    if grant.kind in (CompensationKind.SHIPPING_REFUND, CompensationKind.PARTIAL_REFUND):
        return _refund(channel, order, grant, key, attempt)
    return None


def _code(channel: ShopifyChannel, order: Order, grant: CompensationProposal, key: str,
          attempt: int | None) -> tuple[str, str]:
    http = channel._http
    code = code_for(key)
    rule_id = None
    if attempt != 1:
        rules = http.json(channel._get("price_rules.json", {"limit": 250}), "price_rules", list)
        title = title_for(order, key)
        found = [r for r in rules if isinstance(r, Mapping) and r.get("title") == title]
        if found:
            rule_id = found[0].get("id")
            codes = http.json(channel._get(f"price_rules/{rule_id}/discount_codes.json"), "discount_codes", list)
            if any(isinstance(c, Mapping) and c.get("code") == code for c in codes):
                log.info("%s: price rule %s with code %s exists already (key %s)", channel.context.name, rule_id, code,
                         key)
                return code, str(rule_id)
    if rule_id is None:
        starts = channel.context.clock.now().isoformat()
        rule = http.json(channel._post("price_rules.json", price_rule_body(order, grant, key, starts)), "price_rule", dict)
        rule_id = rule.get("id")
        if not isinstance(rule_id, int):
            raise TransientError("POST price_rules.json answered without an id; the next attempt looks for it",
                                 service=channel.context.name)
    http.json(channel._post(f"price_rules/{rule_id}/discount_codes.json", {"discount_code": {"code": code}}),
              "discount_code", dict)
    return code, str(rule_id)


def _refund(channel: ShopifyChannel, order: Order, grant: CompensationProposal, key: str,
            attempt: int | None) -> tuple[str, str]:
    http = channel._http
    base = f"orders/{order.external_id}"
    if attempt != 1:
        refunds = http.json(channel._get(f"{base}/refunds.json"), "refunds", list)
        for refund in refunds:
            if isinstance(refund, Mapping) and refund.get("note") == key:
                log.info("%s: refund %s exists already (key %s)", channel.context.name, refund.get("id"), key)
                return "", str(refund.get("id"))
    transactions = http.json(channel._get(f"{base}/transactions.json"), "transactions", list)
    parents = [t for t in transactions if isinstance(t, Mapping) and t.get("kind") in ("sale", "capture")
               and t.get("status") == "success"]
    if not parents:
        raise PermanentError(f"order {order.number} has no successful sale or capture to refund",
                             service=channel.context.name)
    amount = f"{grant.value.amount:.2f}"
    body: dict[str, Any] = {"refund": {"note": key, "notify": False, "currency": order.currency, "transactions": [
        {"parent_id": parents[0]["id"], "amount": amount, "kind": "refund", "gateway": parents[0].get("gateway")}]}}
    if grant.kind is CompensationKind.SHIPPING_REFUND:
        body["refund"]["shipping"] = {"amount": amount}
    refund = http.json(channel._post(f"{base}/refunds.json", body), "refund", dict)
    return "", str(refund.get("id", ""))

