"""engines.allocation: the allocate job's next step, from plain facts."""

from __future__ import annotations

import pytest

from fulfilhub.engines.allocation import ATTEMPTS, Step, first_step, next_step
from fulfilhub.models import OrderStatus as O


def test_an_order_with_nothing_to_ship_completes_and_one_with_parcels_is_placed():
    assert first_step(needs_shipping=False) is Step.COMPLETE
    assert first_step(needs_shipping=True) is None


@pytest.mark.parametrize(("status", "attempt", "planned", "reserved_in", "expected"), [
    (O.ACCEPTED, 1, True, 1, Step.ALLOCATED),
    (O.ACCEPTED, 1, True, 2, Step.ALLOCATED_SPLIT),
    (O.BACKORDERED, 2, True, 1, Step.ALLOCATED),  # stock came back: a backorder is allocated too
    (O.ACCEPTED, 1, True, None, Step.RETRY),  # the stock went between reading and reserving
    (O.ACCEPTED, ATTEMPTS, True, None, Step.BACKORDER),  # ... and again on fresh levels
    (O.ACCEPTED, 1, False, None, Step.BACKORDER),  # no warehouse can fill it: no retry
    (O.BACKORDERED, 1, False, None, Step.STILL_BACKORDERED),
    (O.BACKORDERED, ATTEMPTS, True, None, Step.STILL_BACKORDERED),
])
def test_the_next_step(status, attempt, planned, reserved_in, expected):
    assert next_step(status=status, attempt=attempt, planned=planned, reserved_in=reserved_in) is expected


def test_the_steps_are_the_job_counters_the_docs_name():
    assert {str(step) for step in Step} - {"retry"} == {
        "completed_without_shipment", "allocated", "allocated_split", "backordered", "still_backordered"}
