"""One promise engine per process, learned from the store once and kept warm after.

This module owns the promise engine's life: it builds the engine on first use, has it
learn every past shipment through ``learn`` (the caller's store read), and from then on
hears of each committed shipment change (:meth:`PromiseCache.shipment_moved`), so a
quote never reads history. It never reads the store itself and opens no transaction:
``learn`` is given to it by whoever holds the store (the runtime).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Address, Shipment
    from .promise import PromiseEngine


#: How far back each catch-up reads again: a change committed late (its ``modified_at``
#: set before a catch-up read, its commit after) is still seen by the next one.
OVERLAP = timedelta(minutes=5)


class PromiseCache:
    """The promise engine, built by ``build()`` and taught by ``learn(engine)`` on first use.

    Two ways to keep it warm: in the process that commits shipment changes (the runner),
    :meth:`shipment_moved` after each commit; in another process (the server),
    :meth:`catch_up` now and then, which reads only the shipments changed since the last
    one (``now`` gives the time the engine was loaded, on the store's clock). Use one or
    the other in a process, not both.

    Thread-safe: jobs in several threads ask for it and report shipments to it.
    """

    def __init__(self, build: Callable[[], PromiseEngine], learn: Callable[[PromiseEngine], object],
                 now: Callable[[], datetime] | None = None):
        self._build = build
        self._learn = learn
        self._now = now
        self._engine: PromiseEngine | None = None
        self._lock = threading.Lock()
        self._loaded_at: datetime | None = None  # when the engine was loaded (the store's clock)
        self._cursor: datetime | None = None  # the latest modified_at a catch-up has seen
        self._seen: dict[tuple[str, str, datetime], datetime] = {}  # changes read within OVERLAP of the cursor

    @property
    def built(self) -> bool:
        return self._engine is not None

    def engine(self) -> PromiseEngine:
        """The engine, built and taught on the first call."""
        with self._lock:
            if self._engine is None:
                engine = self._build()
                loaded_at = self._now() if self._now is not None else None
                self._learn(engine)
                self._engine = engine
                self._loaded_at = self._cursor = loaded_at
                self._seen.clear()
            return self._engine

    def catch_up(self, changed: Callable[[datetime], Iterable[Any]]) -> int:
        """Learn the shipment changes committed since the last catch-up (or the load):
        ``changed(since)`` reads them from the store (``fulfilhub.store.shipments.
        moved_since``). Returns the deliveries learned. Needs ``now``; nothing to do
        before the engine is built (it learns from the store when it is)."""
        if self._now is None:
            raise TypeError("catch_up needs a PromiseCache made with now= (the store's clock)")
        with self._lock:
            engine, cursor, loaded_at = self._engine, self._cursor, self._loaded_at
        if engine is None or cursor is None or loaded_at is None:
            return 0
        # from OVERLAP before the latest change seen (the first time: before the load; the
        # engine skips what the load learned, see PromiseEngine.moved)
        rows = changed(cursor - OVERLAP)
        learned = 0
        addresses: dict[str, Address] = {}
        with self._lock:
            if self._engine is not engine:  # forgotten meanwhile: the next engine loads afresh
                return 0
            for row in rows:
                change = (row.id, str(row.status), row.modified_at)
                if change in self._seen:
                    continue
                self._seen[change] = row.modified_at
                learned += engine.moved(row, learned_after=loaded_at, addresses=addresses)
                if row.modified_at > self._cursor:
                    self._cursor = row.modified_at
            horizon = self._cursor - OVERLAP
            self._seen = {k: at for k, at in self._seen.items() if at >= horizon}
        return learned

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
            self._loaded_at = self._cursor = None
            self._seen.clear()
