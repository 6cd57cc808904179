"""Shared fixtures for the core's unit tests: a migrated SQLite store and an order factory.

Kept deliberately small. Sandbox and runtime fixtures belong with the integration tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from fulfilhub.models import Address, Money, Order, OrderLine
from fulfilhub.store import Store, safe_url

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)

#: Why a test that drives the first-party plugins is skipped: the core suite runs without them.
FIRST_PARTY_MISSING = ("needs the first-party plugins fulfilhub-shopify and fulfilhub-easypost installed "
                       "(pip install -e 'plugins/fulfilhub-shopify[test]' -e 'plugins/fulfilhub-easypost[test]')")


def first_party() -> list:
    """The modules of fulfilhub-shopify and fulfilhub-easypost, or skip the test saying why."""
    return [pytest.importorskip("fulfilhub_shopify", reason=FIRST_PARTY_MISSING),
            pytest.importorskip("fulfilhub_easypost", reason=FIRST_PARTY_MISSING)]


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


POSTGRES_URL = os.environ.get("FULFILHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Uses FULFILHUB_TEST_POSTGRES_URL (a server URL whose user may create databases);
    skips, saying why, when the driver or the server is not there.
    """
    pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (pip install 'psycopg[binary]')")
    server = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"fulfilhub_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.skip(f"no PostgreSQL at {safe_url(POSTGRES_URL)} ({exc.orig}); set FULFILHUB_TEST_POSTGRES_URL")
    try:
        yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture
def postgres_store(postgres_url) -> Iterator[Store]:
    """A migrated store on a fresh PostgreSQL database (skipped, saying why, without a server)."""
    s = Store.open(postgres_url, migrate=True)
    yield s
    s.close()
