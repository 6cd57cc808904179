"""Shared fixtures for the core's unit tests: a migrated SQLite store and an order factory.

Kept deliberately small. Sandbox and runtime fixtures belong with the integration tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from fulfilhub.models import Address, Money, Order, OrderLine
from fulfilhub.store import Store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A fresh, migrated SQLite store in the test's own folder."""
    s = Store.open("sqlite:///" + str(tmp_path / "t.sqlite"), migrate=True)
    yield s
    s.close()


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """``make_order("1001", ("SKU-A", 2), ...)``: a valid order on channel ``shop``."""

    def make(external_id: str = "1001", *lines: tuple[str, int], channel: str = "shop") -> Order:
        lines = lines or (("SKU-A", 1),)
        return Order(
            channel=channel,
            external_id=external_id,
            version="v1",
            number=f"#{external_id}",
            placed_at=T0,
            updated_at=T0,
            currency="USD",
            total=Money(amount="10.00", currency="USD"),
            lines=[
                OrderLine(sku=sku, quantity=qty, unit_price=Money(amount="5.00", currency="USD"), external_id=f"L{i}")
                for i, (sku, qty) in enumerate(lines)
            ],
            ship_to=Address(name="Ada", line1="1 Main St", city="Reno", country="US"),
        )

    return make
