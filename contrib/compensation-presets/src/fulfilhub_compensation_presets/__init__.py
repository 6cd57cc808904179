"""Compensation policies modelled on published marketplace rules (see README.md).

Installed, the ``fulfilhub`` entry point registers them through
``register_compensation_policies``; ``[compensation] policy = "<name>"`` picks one and
``[compensation] options`` holds its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fulfilhub import (
    CompensationKind,
    CompensationPolicy,
    CompensationProposal,
    DelayAssessment,
    Money,
    Order,
    hookimpl,
)
from fulfilhub.sdk import cause_of, shipping_paid

__version__ = "0.1.0"


def _option(settings: Mapping[str, Any], name: str, default: str) -> Decimal:
    options = settings.get("options") or {}
    return Decimal(str(options.get(name, default))) if isinstance(options, Mapping) else Decimal(default)


def late_dispatch_5pct(*, order: Order, assessment: DelayAssessment, given: Sequence[CompensationProposal],
                       settings: Mapping[str, Any]) -> CompensationProposal | None:
    """5 % of the order value, at least ``min``, at most ``max``, for a late dispatch.

    Modelled on Taobao's late-dispatch rule (淘宝网 延迟发货规则) as it long stood: a
    seller who ships late pays the buyer 5 % of the item's actual price, no less than
    ¥5 and no more than ¥30. Here the amount is a code for the next order.
    """
    if cause_of(assessment) not in ("late_dispatch", "stock_out") or assessment.days_late < 1:
        return None
    low, high = _option(settings, "min", "5"), _option(settings, "max", "30")
    value = min(max(order.total.amount * Decimal("0.05"), low), high)
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return CompensationProposal(kind=CompensationKind.DISCOUNT, value=Money(amount=value, currency=order.currency),
                                tier="late-dispatch", reason=f"5% of the order, within {low}..{high}: late dispatch")


def missed_promise_shipping_refund(*, order: Order, assessment: DelayAssessment,
                                   given: Sequence[CompensationProposal],
                                   settings: Mapping[str, Any]) -> CompensationProposal | None:
    """The shipping paid, refunded, when the promised delivery date is missed.

    Modelled on Amazon's Guaranteed Delivery terms: "If we provide a guaranteed delivery
    date on the checkout page, your shipping fees may be refunded if we miss our
    promised delivery date." With free shipping, the ``credit`` option (if set) is a
    fixed amount off the next order instead.
    """
    if assessment.days_late < 1:
        return None
    paid = shipping_paid(order)
    if paid > 0:
        return CompensationProposal(kind=CompensationKind.SHIPPING_REFUND, value=Money(amount=paid, currency=order.currency),
                                    tier="missed-promise", reason="missed the promised date: the shipping paid back")
    credit = _option(settings, "credit", "0")
    if credit <= 0:
        return None
    return CompensationProposal(kind=CompensationKind.DISCOUNT, value=Money(amount=credit, currency=order.currency),
                                tier="missed-promise", reason="missed the promised date with free shipping: a credit")


@hookimpl
def register_compensation_policies(register: Callable[[CompensationPolicy], None]) -> None:
    register(CompensationPolicy(name="late-dispatch-5pct", propose=late_dispatch_5pct,
                                description="5% of the order (min 5, max 30) for a late dispatch (Taobao-style)"))
    register(CompensationPolicy(name="missed-promise-shipping-refund", propose=missed_promise_shipping_refund,
                                description="Shipping refunded when the promised date is missed (Amazon-style)"))
