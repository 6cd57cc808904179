"""The models refuse values no real order has, so that the store never meets them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fulfilhub.models import Address, Money, OrderLine, ShipmentLine, TrackingEvent

UTC = timezone.utc


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN", "1e15", "-1e16", True, 1.5])
def test_money_refuses_amounts_that_are_not_usable(amount):
    with pytest.raises((ValueError, TypeError)):
        Money(amount=amount, currency="USD")


def test_money_keeps_exact_amounts():
    assert Money(amount="999999999999999.99", currency="usd") == Money(amount=Decimal("999999999999999.99"), currency="USD")


@pytest.mark.parametrize("code", ["USD\n", "US", "USDX", " USD", "U$D", ""])
def test_currency_codes_are_exactly_three_letters(code):
    with pytest.raises(ValueError, match="ISO-4217"):
        Money(amount="1", currency=code)


@pytest.mark.parametrize("country, ok", [("US", True), ("us", True), ("US\n", False), ("USA", False), ("U1", False)])
def test_country_codes_are_exactly_two_letters(country, ok):
    address = Address(name="Ada", line1="1 Main St", city="Reno", country=country)
    assert (address.problems() == []) is ok


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, 2**64, True, "2"])
def test_quantities_are_whole_numbers_in_range(quantity):
    with pytest.raises((ValueError, TypeError)):
        OrderLine(sku="A", quantity=quantity, unit_price=Money(amount="1", currency="USD"))
    with pytest.raises((ValueError, TypeError)):
        ShipmentLine(sku="A", quantity=quantity)


@pytest.mark.parametrize(
    "moment",
    [
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-12))),
        datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
        datetime(2200, 1, 1, tzinfo=UTC),
        datetime(1899, 12, 31, tzinfo=UTC),
        datetime(2026, 1, 5, 8, 0),  # naive
    ],
)
def test_times_are_aware_and_in_a_sane_range(moment):
    with pytest.raises(ValueError):
        TrackingEvent(at=moment, status="in_transit")


def test_a_time_in_range_in_any_zone_is_fine():
    moment = datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert TrackingEvent(at=moment, status="in_transit").at == moment
