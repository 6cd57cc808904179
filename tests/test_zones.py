"""One resolver of a destination's time zone, used by promises, notices and the page;
a carrier's date-only estimate stays the destination's calendar day."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from fulfilhub.engines import notify, promise, zones
from fulfilhub.models import Address, Money, Order, OrderLine
from fulfilhub.server import i18n

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc)

ADDRESSES = [("US", "CA", "America/Los_Angeles"), ("US", "TX", "America/Chicago"), ("US", "", "America/New_York"),
             ("CA", "BC", "America/Vancouver"), ("TW", "", "Asia/Taipei"), ("CN", "", "Asia/Shanghai"),
             ("HK", "", "Asia/Hong_Kong"), ("SG", "", "Asia/Singapore"), ("GB", "", "Europe/London"),
             ("AU", "WA", "Australia/Perth"), ("IS", "", "Atlantic/Reykjavik")]


def order(country: str, province: str) -> Order:
    return Order(channel="shop", external_id="1", version="v1", number="#1", placed_at=T0, updated_at=T0,
                 currency="USD", total=Money(amount="10", currency="USD"),
                 lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount="10", currency="USD"))],
                 ship_to=Address(name="A", line1="1 Main St", city="X", country=country, province=province))


@pytest.mark.parametrize(("country", "province", "expected"), ADDRESSES)
def test_promises_notices_and_the_page_resolve_the_same_zone(country, province, expected):
    address = Address(name="A", line1="1 Main St", city="X", country=country, province=province)
    assert zones.destination_zone(address, "Europe/Berlin") == expected
    assert promise.destination_zone(address, "Europe/Berlin") == expected
    assert notify.customer_timezone(order(country, province), None, "Europe/Berlin") == ZoneInfo(expected)
    assert i18n.zone_of(country, province) == ZoneInfo(expected)


def test_an_unknown_country_falls_back():
    address = Address(name="A", line1="1 Main St", city="X", country="ZZ")
    assert zones.destination_zone(address, "Asia/Taipei") == "Asia/Taipei"
    assert i18n.zone_of("ZZ") == ZoneInfo("UTC")


def test_a_date_only_estimate_is_the_destinations_day_never_a_utc_instant():
    la = ZoneInfo("America/Los_Angeles")
    # taken as midnight UTC, Sunday 8 March would be Saturday 7 March in Los Angeles
    assert zones.eta_day(date(2026, 3, 8), None, la) == date(2026, 3, 8)
    assert zones.local_noon(date(2026, 3, 8), la).astimezone(la).date() == date(2026, 3, 8)
    instant = datetime(2026, 3, 8, 3, 0, tzinfo=timezone.utc)  # a carrier that gives a time: its local day
    assert zones.eta_day(None, instant, la) == date(2026, 3, 7)
