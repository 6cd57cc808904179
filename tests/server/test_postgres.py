"""The inbox and the tracking tokens on PostgreSQL, unchanged (marked ``postgres``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from fulfilhub.models import Address, Money, Order, OrderLine, OrderStatus
from fulfilhub.store import Store, safe_url
from fulfilhub.store import inbox as inbox_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import tracking as tracking_store

pytestmark = pytest.mark.postgres

POSTGRES_URL = os.environ.get("FULFILHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def pg_store() -> Iterator[Store]:
    pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (pip install 'psycopg[binary]')")
    server = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"fulfilhub_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.skip(f"no PostgreSQL at {safe_url(POSTGRES_URL)} ({exc.orig}); set FULFILHUB_TEST_POSTGRES_URL")
    store = Store.open(sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False),
                       migrate=True)
    try:
        yield store
    finally:
        store.close()
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_the_inbox_keeps_one_row_per_delivery_and_tokens_are_stable(pg_store):
    delivery = dict(instance="shop", kind="channels", delivery_id="d-1", received_at=T0, sent_at=T0,
                    headers={"X-Shopify-Topic": "orders/create", "Authorization": "Bearer x"}, body=b'{"id": 1}\xff')
    with pg_store.transaction() as tx:
        assert inbox_store.add(tx, **delivery) is True
        assert inbox_store.add(tx, **delivery) is False
    with pg_store.read() as conn:
        (row,) = inbox_store.pending(conn)
        assert bytes(row.body) == b'{"id": 1}\xff' and row.headers == {"x-shopify-topic": "orders/create"}
        assert inbox_store.backlog(conn) == (1, T0)
    order = Order(channel="shop", external_id="1", version="v1", number="#1", placed_at=T0, updated_at=T0,
                  currency="USD", total=Money(amount="5", currency="USD"),
                  lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount="5", currency="USD"))],
                  ship_to=Address(name="Ada", line1="1 Main", city="Reno", country="US"))
    with pg_store.transaction() as tx:
        order_store.insert(tx, [(order, OrderStatus.ACCEPTED, None)], T0)
        token = tracking_store.token_for(tx, order.id)
        assert tracking_store.token_for(tx, order.id) == token
    with pg_store.read() as conn:
        assert tracking_store.order_for(conn, token) == order.id
