"""The narrow ports an adapter gets to fulfilhub's database, instead of the store itself.

:class:`StatePort` is an instance's own key -> JSON store (the ``plugin_state`` table,
namespaced by kind and instance name): enough for an adapter to keep records of its own
(the ``local`` warehouse keeps its fulfillment requests there) with insert-if-absent and
compare-and-set (and ``get_many`` and ``insert_many``, many keys in one read or write). :class:`StockPort` reads the stock fulfilhub keeps for one warehouse.
Each call is one short transaction of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..clock import Clock
from ..models import LotPick, ShortPick, StockLevel
from . import Store, insert_ignore
from . import lots as lot_store
from . import stock as stock_store
from .schema import plugin_state


def dump(value: Any) -> str:
    """The canonical JSON text of ``value``: equal values give equal text."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"plugin state must be JSON (str, number, bool, None, list, dict): {exc}") from None


def state_value(conn: Connection, namespace: str, key: str) -> Any | None:
    """What :meth:`StatePort.get` gives, read in the caller's read (None: no such key)."""
    text = conn.execute(
        sa.select(plugin_state.c.value).where(plugin_state.c.namespace == namespace, plugin_state.c.key == key)
    ).scalar()
    return None if text is None else json.loads(text)


class StatePort:
    """``namespace``'s keys in ``plugin_state`` (see :class:`fulfilhub.adapters.StatePort`)."""

    def __init__(self, store: Store, namespace: str, clock: Clock):
        self.store = store
        self.namespace = namespace
        self.clock = clock

    def get(self, key: str) -> Any | None:
        with self.store.read() as conn:
            return state_value(conn, self.namespace, key)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values of those of ``keys`` that exist, ``{key: value}``: one read."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self.store.read() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(sa.select(plugin_state.c.key, plugin_state.c.value).where(
                    plugin_state.c.namespace == self.namespace, plugin_state.c.key.in_(wanted[start:start + 500])))
                found.update((key, json.loads(text)) for key, text in rows)
        return found

    def insert(self, key: str, value: Any) -> bool:
        row = {"namespace": self.namespace, "key": key, "value": dump(value), "updated_at": self.clock.now()}
        with self.store.transaction() as tx:
            return insert_ignore(tx, plugin_state, [row], ["namespace", "key"]) == 1

    def insert_many(self, values: Mapping[str, Any]) -> int:
        """:meth:`insert` of each ``{key: value}``, in one transaction; how many were stored."""
        now = self.clock.now()
        rows = [{"namespace": self.namespace, "key": key, "value": dump(value), "updated_at": now}
                for key, value in values.items()]
        with self.store.transaction() as tx:
            return insert_ignore(tx, plugin_state, rows, ["namespace", "key"])

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
    """One warehouse's rows of the ``stock`` table, read-only but for picking its lots."""

    def __init__(self, store: Store, warehouse: str):
        self.store = store
        self.warehouse = warehouse

    def levels(self, skus: Sequence[str]) -> list[StockLevel]:
        with self.store.read() as conn:
            return stock_store.levels(conn, warehouses=[self.warehouse], skus=skus)

    def unit_weights(self, skus: Sequence[str]) -> dict[str, int]:
        with self.store.read() as conn:
            return stock_store.unit_weights(conn, self.warehouse, skus)

    def packing_facts(self, skus: Sequence[str]) -> tuple[dict[str, int], set[str]]:
        """The grams per unit of ``skus`` and those of them kept by lot, in one read."""
        with self.store.read() as conn:
            return stock_store.unit_weights(conn, self.warehouse, skus), lot_store.tracked(conn, self.warehouse, skus)

    def pick_lots_many(self, wanted: Mapping[str, tuple[Mapping[str, int], datetime]]
                       ) -> dict[str, tuple[list[LotPick], list[ShortPick]]]:
        """First expiry first out from the ``lots`` table, once per request key (see
        :func:`fulfilhub.store.lots.pick_many`), for ``{key: ({sku: units}, packed at)}`` in
        one transaction: the one write this port makes."""
        with self.store.transaction() as tx:
            return lot_store.pick_many(tx, namespace("warehouses", self.warehouse), self.warehouse, wanted)


def namespace(kind: str, name: str) -> str:
    """The ``plugin_state`` namespace of a configured instance: ``"warehouses.east"``."""
    return f"{kind}.{name}" if kind else name
