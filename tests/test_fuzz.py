"""fulfilhub.testing.fuzz: deterministic mutations, and a check that fails on the first bad payloads."""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from fulfilhub import Money, OrderLine, PayloadError, TrackingEvent, TrackingStatus
from fulfilhub.testing import FAST_RETRIES, instance_context  # still importable from the package
from fulfilhub.testing.fuzz import FuzzResult, assert_maps_or_refuses, check_model, mutations

GOLDEN = {
    "id": 7,
    "currency": "USD",
    "placed": "2026-01-05T10:00:00Z",
    "lines": [{"sku": "MUG", "quantity": 2, "price": "9.50"}],
    "note": None,
}


def _mapping(payload):
    """A careful mapping: every wrong shape is a PayloadError."""
    if not isinstance(payload, dict):
        raise PayloadError("not an object")
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        raise PayloadError("no lines", field="lines")
    quantity = lines[0].get("quantity") if isinstance(lines[0], dict) else None
    if type(quantity) is not int or not 0 < quantity <= 1000:
        raise PayloadError(f"bad quantity {quantity!r}", field="lines[0].quantity")
    return quantity


def test_mutations_are_deterministic_and_leave_the_payload_alone():
    before = copy.deepcopy(GOLDEN)
    first = [json.dumps(p, sort_keys=True, default=str) for p in mutations(GOLDEN, seed=3, count=300)]
    again = [json.dumps(p, sort_keys=True, default=str) for p in mutations(GOLDEN, seed=3, count=300)]
    other = [json.dumps(p, sort_keys=True, default=str) for p in mutations(GOLDEN, seed=4, count=300)]
    assert first == again
    assert first != other
    assert GOLDEN == before
    assert len(first) == 300


def test_mutations_cover_the_promised_kinds():
    seen = list(mutations(GOLDEN, seed=1, count=3000))
    leaves = []

    def walk(node):
        leaves.append(node)
        if isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for payload in seen:
        walk(payload)
    assert any(isinstance(v, dict) and "currency" not in v and "lines" in v for v in seen)  # a deleted key
    assert any(isinstance(p, dict) and p.get("currency") is None for p in seen)  # set to None
    assert 2**70 in leaves
    assert any(isinstance(v, float) and math.isnan(v) for v in leaves)
    assert float("inf") in leaves
    assert "Infinity" in leaves
    assert "NaN" in leaves
    assert "" in leaves
    assert "USD\n" in leaves
    assert any(isinstance(v, str) and "\ud800" in v for v in leaves)  # a lone surrogate
    assert any(isinstance(v, str) and len(v) >= 10_000 for v in leaves)
    assert True in leaves
    assert [] in leaves
    assert {} in leaves
    assert "9999-12-31T23:59:59-12:00" in leaves
    assert any(not isinstance(p, dict) for p in seen)  # the root itself is swapped too


def test_a_careful_mapping_passes_and_the_counts_add_up():
    result = assert_maps_or_refuses(_mapping, mutations(GOLDEN, seed=2, count=1000))
    assert isinstance(result, FuzzResult)
    assert result.mapped + result.refused == 1000
    assert result.mapped > 100
    assert result.refused > 100


def test_a_careless_mapping_fails_listing_the_first_payloads():
    def careless(payload):
        return int(payload["lines"][0]["quantity"]) * Decimal(payload["lines"][0]["price"])

    with pytest.raises(AssertionError) as caught:
        assert_maps_or_refuses(careless, mutations(GOLDEN, seed=2, count=500), show=3)
    message = str(caught.value)
    assert "of 500 payloads raised something other than PayloadError; the first 3:" in message
    assert message.count("    payload: ") == 3
    assert "KeyError" in message or "TypeError" in message
    assert "test_fuzz.py" in message  # where it was raised


def test_refuse_widens_what_counts_as_a_clean_refusal():
    def strict(payload):
        raise LookupError("no such thing")

    with pytest.raises(AssertionError):
        assert_maps_or_refuses(strict, [GOLDEN])
    assert assert_maps_or_refuses(strict, [GOLDEN], refuse=(LookupError,)) == FuzzResult(mapped=0, refused=1)


def test_check_rejects_what_a_store_cannot_keep():
    at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    good = TrackingEvent(at=at, status=TrackingStatus.IN_TRANSIT, description="Arrived")
    check_model(good)
    check_model(OrderLine(sku="MUG", quantity=2, unit_price=Money(amount="9.50", currency="USD")))
    bad = [
        TrackingEvent.checked(at=at, status=TrackingStatus.IN_TRANSIT, description="Arrived \ud800"),
        TrackingEvent.checked(at=at, status=TrackingStatus.IN_TRANSIT, description=float("nan")),
        TrackingEvent.checked(at=datetime(9999, 1, 1, tzinfo=timezone.utc), status=TrackingStatus.IN_TRANSIT),
        [2**64],
        {"x": float("inf")},
        Decimal("NaN"),
        datetime(2026, 1, 5),
    ]
    for value in bad:
        with pytest.raises(AssertionError):
            check_model(value)
    with pytest.raises(AssertionError) as caught:
        assert_maps_or_refuses(lambda p: bad[0], [GOLDEN], check=check_model)
    assert "result.description: text is not valid Unicode" in str(caught.value)


def test_the_old_testing_names_still_import():
    assert FAST_RETRIES.attempts == 3
    assert callable(instance_context)
