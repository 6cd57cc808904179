"""Allocation: what to do with an order after each attempt to place it in warehouses.

This module decides, from plain facts, one step at a time: whether the order completes
without a shipment, is allocated, is tried again on fresh stock levels, or is
backordered. It never reads stock, asks a plugin or writes: the ``allocate`` job reads
the levels, asks ``allocate_order`` for a plan, tries to reserve it in one transaction,
and hands what happened to :func:`next_step`; :mod:`.fulfilment` records the outcome.

The rules, as a table of (what happened) -> step:

===============================================  =========================================
nothing in the order needs shipping               ``COMPLETE`` (no shipment)
a plan, and its stock was reserved                ``ALLOCATED`` (``ALLOCATED_SPLIT`` for
                                                  more than one warehouse)
a plan, but the stock went meanwhile              ``RETRY`` on fresh levels, while
                                                  attempts are left (:data:`ATTEMPTS`)
no plan, or the stock went on the last attempt    ``BACKORDER``; ``STILL_BACKORDERED``
                                                  for an order already backordered
===============================================  =========================================
"""

from __future__ import annotations

import enum

from ..models import OrderStatus

#: Attempts per order and pass: the first on the levels read for the whole pass, one
#: more on fresh levels when another order took the stock in between.
ATTEMPTS = 2


class Step(enum.StrEnum):
    """What the ``allocate`` job does next with an order (also its counter's name)."""

    COMPLETE = "completed_without_shipment"
    ALLOCATED = "allocated"
    ALLOCATED_SPLIT = "allocated_split"
    RETRY = "retry"
    BACKORDER = "backordered"
    STILL_BACKORDERED = "still_backordered"


def first_step(*, needs_shipping: bool) -> Step | None:
    """Before any attempt: an order with nothing to ship completes; None: try to place it."""
    return None if needs_shipping else Step.COMPLETE


def next_step(*, status: OrderStatus, attempt: int, planned: bool, reserved_in: int | None) -> Step:
    """After attempt number ``attempt`` (1 = the first) for an order in ``status``.

    ``planned``: the ``allocate_order`` hook gave a plan. ``reserved_in``: the number of
    warehouses the reservation was made in, or None when the stock had gone (or there
    was no plan to reserve).
    """
    if planned and reserved_in:
        return Step.ALLOCATED if reserved_in == 1 else Step.ALLOCATED_SPLIT
    if planned and attempt < ATTEMPTS:
        return Step.RETRY
    return Step.STILL_BACKORDERED if status is OrderStatus.BACKORDERED else Step.BACKORDER
