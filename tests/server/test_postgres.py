"""The inbox and the tracking tokens on PostgreSQL, unchanged (marked ``postgres``)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fulfilhub.models import Address, Money, Order, OrderLine, OrderStatus
from fulfilhub.store import inbox as inbox_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import tracking as tracking_store

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def test_the_inbox_keeps_one_row_per_delivery_and_tokens_are_stable(postgres_store):
    delivery = dict(instance="shop", kind="channels", delivery_id="d-1", received_at=T0, sent_at=T0,
                    headers={"X-Shopify-Topic": "orders/create", "Authorization": "Bearer x"}, body=b'{"id": 1}\xff')
    with postgres_store.transaction() as tx:
        assert inbox_store.add(tx, **delivery) is True
        assert inbox_store.add(tx, **delivery) is False
    with postgres_store.read() as conn:
        (row,) = inbox_store.pending(conn)
        assert bytes(row.body) == b'{"id": 1}\xff' and row.headers == {"x-shopify-topic": "orders/create"}
        assert inbox_store.backlog(conn) == (1, T0)
    order = Order(channel="shop", external_id="1", version="v1", number="#1", placed_at=T0, updated_at=T0,
                  currency="USD", total=Money(amount="5", currency="USD"),
                  lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount="5", currency="USD"))],
                  ship_to=Address(name="Ada", line1="1 Main", city="Reno", country="US"))
    with postgres_store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
        token = tracking_store.token_for(tx, order.id)
        assert tracking_store.token_for(tx, order.id) == token
    with postgres_store.read() as conn:
        assert tracking_store.order_for(conn, token) == order.id
