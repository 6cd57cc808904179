"""The narrow ports an adapter gets to fulfilhub's database, instead of the store itself.

:class:`StatePort` is an instance's own key -> JSON store (the ``plugin_state`` table,
namespaced by kind and instance name): enough for an adapter to keep records of its own
(the ``local`` warehouse keeps its fulfillment requests there) with insert-if-absent and
compare-and-set. :class:`StockPort` reads the stock fulfilhub keeps for one warehouse.
Each call is one short transaction of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import Clock
from ..errors import StoreError
from ..models import StockLevel
from . import Store
from .schema import plugin_state, stock


def dump(value: Any) -> str:
    """The canonical JSON text of ``value``: equal values give equal text."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"plugin state must be JSON (str, number, bool, None, list, dict): {exc}") from None


class StatePort:
    """``namespace``'s keys in ``plugin_state`` (see :class:`fulfilhub.adapters.StatePort`)."""

    def __init__(self, store: Store, namespace: str, clock: Clock):
        self.store = store
        self.namespace = namespace
        self.clock = clock

    def get(self, key: str) -> Any | None:
        with self.store.read() as conn:
            text = conn.execute(
                sa.select(plugin_state.c.value).where(
                    plugin_state.c.namespace == self.namespace, plugin_state.c.key == key
                )
            ).scalar()
        return None if text is None else json.loads(text)

    def insert(self, key: str, value: Any) -> bool:
        row = {"namespace": self.namespace, "key": key, "value": dump(value), "updated_at": self.clock.now()}
        with self.store.transaction() as tx:
            dialect = tx.conn.dialect.name
            if dialect == "postgresql":
                stmt = postgresql.insert(plugin_state).on_conflict_do_nothing(index_elements=["namespace", "key"])
            elif dialect == "sqlite":
                stmt = sqlite.insert(plugin_state).on_conflict_do_nothing(index_elements=["namespace", "key"])
            else:
                raise StoreError(f"fulfilhub's store runs on SQLite and PostgreSQL, not on {dialect}")
            return tx.execute(stmt, [row]).rowcount == 1

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        with self.store.transaction() as tx:
            result = tx.execute(
                plugin_state.update()
                .where(
                    plugin_state.c.namespace == self.namespace,
                    plugin_state.c.key == key,
                    plugin_state.c.value == dump(expected),
                )
                .values(value=dump(value), updated_at=self.clock.now())
            )
            return result.rowcount == 1


class StockPort:
    """One warehouse's rows of the ``stock`` table, read-only."""

    def __init__(self, store: Store, warehouse: str):
        self.store = store
        self.warehouse = warehouse

    def levels(self, skus: Sequence[str]) -> list[StockLevel]:
        stmt = (
            sa.select(stock)
            .where(stock.c.warehouse == self.warehouse, stock.c.sku.in_(list(skus)))
            .order_by(stock.c.sku)
        )
        with self.store.read() as conn:
            return [
                StockLevel(warehouse=r.warehouse, sku=r.sku, on_hand=r.on_hand, reserved=r.reserved,
                           safety_stock=r.safety_stock)
                for r in conn.execute(stmt)
            ]

    def unit_weights(self, skus: Sequence[str]) -> dict[str, int]:
        stmt = sa.select(stock.c.sku, stock.c.unit_weight_g).where(
            stock.c.warehouse == self.warehouse, stock.c.sku.in_(list(skus))
        )
        with self.store.read() as conn:
            return {r.sku: r.unit_weight_g for r in conn.execute(stmt) if r.unit_weight_g is not None}


def namespace(kind: str, name: str) -> str:
    """The ``plugin_state`` namespace of a configured instance: ``"warehouses.east"``."""
    return f"{kind}.{name}" if kind else name
