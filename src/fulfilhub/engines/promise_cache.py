"""One promise engine per process, learned from the store once and kept warm after.

This module owns the promise engine's life: it builds the engine on first use, has it
learn every past shipment through ``learn`` (the caller's store read), and from then on
hears of each committed shipment change (:meth:`PromiseCache.shipment_moved`), so a
quote never reads history. It never reads the store itself and opens no transaction:
``learn`` is given to it by whoever holds the store (the runtime).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Address, Shipment
    from .promise import PromiseEngine


class PromiseCache:
    """The promise engine, built by ``build()`` and taught by ``learn(engine)`` on first use.

    Thread-safe: jobs in several threads ask for it and report shipments to it.
    """

    def __init__(self, build: Callable[[], PromiseEngine], learn: Callable[[PromiseEngine], object]):
        self._build = build
        self._learn = learn
        self._engine: PromiseEngine | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._engine is not None

    def engine(self) -> PromiseEngine:
        """The engine, built and taught on the first call."""
        with self._lock:
            if self._engine is None:
                engine = self._build()
                self._learn(engine)
                self._engine = engine
            return self._engine

    def shipment_moved(self, shipment: Shipment, ship_to: Address | None = None) -> None:
        """A committed shipment change: a label bought (give ``ship_to``), a delivery, a
        cancellation. Before the engine is built there is nothing to tell: it learns from
        the store when it is built."""
        with self._lock:
            engine = self._engine
            if engine is None:
                return
            if ship_to is not None:
                engine.shipped(shipment, ship_to)
            else:
                engine.tracked(shipment)

    def forget(self) -> None:
        """Drop the engine: the next :meth:`engine` learns the store again."""
        with self._lock:
            self._engine = None
