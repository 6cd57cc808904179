"""Compensation tiers: what caused a delay, what a tier is, and what a tier is worth.

This module decides which tier of a rule set a delay reached and what it costs the
shop; it never reads the store, asks a policy or issues anything (that is
``engines/compensation.py``). Its names are also the policy author's toolkit
(re-exported by :mod:`fulfilhub.sdk`): :data:`CAUSES` and :func:`cause_of` classify a
delay, :func:`shipping_paid` reads what the customer paid for shipping, and
:func:`propose_by_rules` turns a list of :class:`Tier` into a proposal, as the built-in
``rules`` policy (``default_plugins/compensation_rules.py``) and the marketplace presets
in ``contrib/compensation-presets`` do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import attrs

from ..errors import ConfigError
from ..models import CompensationKind, CompensationProposal, DelayAssessment, DelayReason, ExceptionReason, Money, Order

__all__ = ["CAUSES", "Tier", "cause_of", "decimal_setting", "propose_by_rules", "rounded", "shipping_paid", "tier",
           "value_of"]

#: The causes tiers are written for, and the delay reasons each covers.
CAUSES: Mapping[str, str] = {
    "late_dispatch": "not picked or not handed to the carrier by ship-by",
    "late_delivery": "the carrier will deliver after the promised date",
    "stock_out": "a line is out of stock",
    "tracking_stalled": "no carrier scan for longer than the lane allows",
    "lost_or_damaged": "the carrier lost or damaged the parcel",
}

_BY_REASON: Mapping[DelayReason, str] = {
    DelayReason.STOCK_OUT: "stock_out",
    DelayReason.NOT_PICKED: "late_dispatch",
    DelayReason.NOT_SHIPPED: "late_dispatch",
    DelayReason.NO_SCAN: "tracking_stalled",
    DelayReason.CARRIER_EXCEPTION: "late_delivery",
    DelayReason.CARRIER_ETA: "late_delivery",
    DelayReason.TRANSIT_FORECAST: "late_delivery",
}

def cause_of(assessment: DelayAssessment) -> str:
    """The compensation cause of a delay (one of :data:`CAUSES`)."""
    if assessment.exception in (ExceptionReason.LOST, ExceptionReason.DAMAGED):
        return "lost_or_damaged"
    return _BY_REASON.get(assessment.reason, "late_delivery") if assessment.reason else "late_delivery"


@attrs.frozen(kw_only=True)
class Tier:
    """One rule of the ``rules`` policy: from ``min_days`` late, for ``causes``, give ``kind``."""

    name: str
    kind: CompensationKind
    min_days: int = 1
    causes: tuple[str, ...] = ()  # empty: every cause
    percent: Decimal | None = None  # discount / partial refund: share of the order value, in %
    amount: Decimal | None = None  # a fixed value (gift, upgrade, warranty cost; or a discount's value)
    points: int = 0
    point_value: Decimal = Decimal("0.01")
    months: int = 0


_TIER_KEYS = ("name", "kind", "min_days", "causes", "percent", "amount", "points", "point_value", "months")


def decimal_setting(value: Any, where: str, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, float)):
        raise ConfigError(f"expected an amount like \"80\" or 80, got {value!r}", path=path, key=where)
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"expected an amount like \"80\" or 80, got {value!r}", path=path, key=where) from None
    if not out.is_finite() or out < 0:
        raise ConfigError(f"expected an amount of 0 or more, got {value!r}", path=path, key=where)
    return out


def tier(raw: Any, *, where: str, path: str = "fulfilhub.toml") -> Tier:
    """One ``[[compensation.tiers]]`` table, checked."""
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a table", path=path, key=where)
    for key in raw:
        if key not in _TIER_KEYS:
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(_TIER_KEYS)}", path=path,
                              key=f"{where}.{key}")
    try:
        kind = CompensationKind(raw.get("kind"))
    except ValueError:
        raise ConfigError(f"expected a kind: {', '.join(CompensationKind)}; got {raw.get('kind')!r}", path=path,
                          key=f"{where}.kind") from None
    causes = raw.get("causes", [])
    if not isinstance(causes, list) or any(c not in CAUSES for c in causes):
        raise ConfigError(f"expected a list of causes: {', '.join(CAUSES)}; got {causes!r}", path=path,
                          key=f"{where}.causes")
    min_days = raw.get("min_days", 1)
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 0:
        raise ConfigError(f"expected a whole number of days, got {min_days!r}", path=path, key=f"{where}.min_days")
    percent = decimal_setting(raw["percent"], f"{where}.percent", path) if "percent" in raw else None
    amount = decimal_setting(raw["amount"], f"{where}.amount", path) if "amount" in raw else None
    if kind in (CompensationKind.DISCOUNT, CompensationKind.PARTIAL_REFUND) and percent is None and amount is None:
        raise ConfigError(f"a {kind} tier needs `percent` (of the order value) or `amount`", path=path, key=where)
    if kind in (CompensationKind.GIFT, CompensationKind.FREE_UPGRADE, CompensationKind.WARRANTY) and amount is None:
        raise ConfigError(f"a {kind} tier needs `amount`: what it costs the shop", path=path, key=where)
    name = raw.get("name") or f"{kind}-{min_days}d"
    return Tier(name=str(name), kind=kind, min_days=min_days, causes=tuple(causes), percent=percent, amount=amount,
                points=int(raw.get("points", 0)), months=int(raw.get("months", 0)),
                point_value=decimal_setting(raw.get("point_value", "0.01"), f"{where}.point_value", path))


def shipping_paid(order: Order) -> Decimal:
    """What the customer paid for shipping: the order's ``shipping`` (as the channel's
    mapping gives it) when it says; else the order total less its lines, where positive."""
    if order.shipping is not None:
        return order.shipping.price.amount
    goods = sum((line.unit_price.amount * line.quantity for line in order.lines), Decimal(0))
    return max(order.total.amount - goods, Decimal(0))


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def value_of(rule: Tier, order: Order) -> Decimal:
    """What a tier costs the shop for ``order``."""
    total = order.total.amount
    if rule.kind is CompensationKind.SHIPPING_REFUND:
        return rule.amount if rule.amount is not None else shipping_paid(order)
    if rule.kind is CompensationKind.POINTS:
        return rounded(Decimal(rule.points) * rule.point_value)
    if rule.percent is not None:
        return rounded(total * rule.percent / 100)
    return rule.amount or Decimal(0)


def propose_by_rules(tiers: Sequence[Tier], *, order: Order, assessment: DelayAssessment, name: str = "rules"
                     ) -> CompensationProposal | None:
    """The most valuable tier the delay reached for its cause (None: no tier applies)."""
    cause = cause_of(assessment)
    best: tuple[Decimal, Tier] | None = None
    for rule in tiers:
        if assessment.days_late < rule.min_days or (rule.causes and cause not in rule.causes):
            continue
        value = value_of(rule, order)
        if value <= 0:  # nothing to give (a shipping refund where shipping was free)
            continue
        if best is None or value > best[0]:
            best = (value, rule)
    if best is None:
        return None
    value, rule = best
    what = f"{rule.percent}%" if rule.percent is not None else str(rule.kind)
    return CompensationProposal(
        kind=rule.kind, value=Money(amount=value, currency=order.currency), tier=rule.name, percent=rule.percent,
        points=rule.points, months=rule.months, policy=name,
        reason=f"{assessment.days_late} day(s) late ({cause}): tier {rule.name} gives {what}")
