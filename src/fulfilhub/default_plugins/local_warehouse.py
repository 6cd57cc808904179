"""The ``local`` warehouse type: your own stock, kept in fulfilhub's store.

Stock levels are the ``stock`` table (set with ``fulfilhub stock set``), read through
``context.stock``; reservations are made by the inventory engine at allocation. A
submitted request is kept in the instance's own state (``context.state``) and picked
and packed after the configured handling times on fulfilhub's clock. It uses nothing a
third-party warehouse does not get:

    [warehouses.main]
    type = "local"
    pick_minutes = 60        # from submission until picking starts
    pack_minutes = 120       # from submission until the parcel is packed
    tare_g = 150             # box weight added to the items' weight
    default_unit_weight_g = 500
    [warehouses.main.address] ...  (the ship-from address)

Stock received by lot (``fulfilhub stock receive WAREHOUSE SKU QTY --lot L --expires
D``) is picked first-expiry-first-out when the parcel is packed: the packed answer
names the lots, and a SKU whose unexpired lots do not cover the order is packed short
(the answer's ``short`` says so; an expired lot is never picked).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..adapters import InstanceContext, Setting, StatePort, StockPort, WarehouseType
from ..errors import ConfigError, NotFound
from ..hookspecs import hookimpl
from ..models import FulfillmentRequest, FulfillmentStatus, FulfillmentUpdate, LotPick, Parcel, ShortPick, StockLevel

SETTINGS = {
    "pick_minutes": Setting(float, default=60.0, min=0, help="minutes from submission until picking starts"),
    "pack_minutes": Setting(float, default=120.0, min=0, help="minutes from submission until the parcel is packed"),
    "tare_g": Setting(int, default=150, min=0, help="box weight in grams, added to the items' weight"),
    "default_unit_weight_g": Setting(int, default=500, min=0, help="grams per unit of a SKU with no weight in stock"),
}


class LocalWarehouse:
    """Own stock in the store; picking and packing follow the configured handling times."""

    def __init__(self, context: InstanceContext):
        if context.state is None or context.stock is None:
            raise ConfigError("the local warehouse needs fulfilhub's store (context.state and context.stock)",
                              key=context.key(""))
        self.name = context.name
        self.state: StatePort = context.state
        self.stock: StockPort = context.stock
        self.clock = context.clock
        self.pick_after = timedelta(minutes=context.setting("pick_minutes"))
        self.pack_after = max(self.pick_after, timedelta(minutes=context.setting("pack_minutes")))
        self.tare_g: int = context.setting("tare_g")
        self.default_weight_g: int = context.setting("default_unit_weight_g")

    def stock_levels(self, skus: Sequence[str]) -> Sequence[StockLevel]:
        return self.stock.levels(skus)

    def submit(self, request: FulfillmentRequest) -> str:
        """Keep the request under a ref derived from its key: the same key, the same ref."""
        ref = self._ref(request)
        self.state.insert(ref, self._new_record(request))
        return ref

    def submit_many(self, requests: Sequence[FulfillmentRequest]) -> dict[str, str]:
        """:meth:`submit` of each request, in one write: ``{request key: ref}``."""
        insert_many = getattr(self.state, "insert_many", None)
        if insert_many is None:
            return {request.key: self.submit(request) for request in requests}
        insert_many({self._ref(request): self._new_record(request) for request in requests})
        return {request.key: self._ref(request) for request in requests}

    @staticmethod
    def _ref(request: FulfillmentRequest) -> str:
        return "LF-" + hashlib.sha256(request.key.encode()).hexdigest()[:16].upper()

    def _new_record(self, request: FulfillmentRequest) -> dict[str, Any]:
        return {
            "key": request.key,
            "shipment_id": request.shipment_id,
            "lines": [attrs.asdict(line) for line in request.lines],
            "status": "submitted",
            "submitted_at": self.clock.now().isoformat(),
        }

    def status(self, ref: str) -> FulfillmentUpdate:
        record = self._record(ref)
        packed = self._packed(record)
        return self._progress(ref, record, self.stock.unit_weights(self._skus(record)) if packed else {})

    def status_many(self, refs: Sequence[str]) -> dict[str, FulfillmentUpdate]:
        """:meth:`status` of each of ``refs`` it knows, in two reads however many (a ref it
        does not know is left out: asked alone, :meth:`status` says why)."""
        get_many = getattr(self.state, "get_many", None)
        records = get_many(refs) if get_many is not None else {r: v for r in refs if (v := self.state.get(r)) is not None}
        skus = sorted({sku for record in records.values() if self._packed(record) for sku in self._skus(record)})
        weights, by_lot = self.stock.packing_facts(skus) if skus else ({}, set())
        packed = {ref: record for ref, record in records.items() if self._packed(record)}
        # one transaction for the batch's lots, none when no SKU of it is kept by lot
        picked = self._pick_lots(packed) if by_lot else {ref: ([], []) for ref in packed}
        return {ref: self._progress(ref, record, weights, picked.get(ref)) for ref, record in records.items()}

    def _packed(self, record: dict[str, Any]) -> bool:
        return record["status"] != "cancelled" and \
            self.clock.now() - datetime.fromisoformat(record["submitted_at"]) >= self.pack_after

    @staticmethod
    def _skus(record: dict[str, Any]) -> list[str]:
        return [ln["sku"] for ln in record["lines"]]

    def _progress(self, ref: str, record: dict[str, Any], weights: dict[str, int],
                  picked: tuple[list[LotPick], list[ShortPick]] | None = None) -> FulfillmentUpdate:
        """Where the request ``record`` stands now (``weights``: grams per unit of its SKUs once
        packed; ``picked``: its lots and short picks, when the caller picked a batch's at once)."""
        if record["status"] == "cancelled":
            return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.CANCELLED, at=self.clock.now())
        submitted_at = datetime.fromisoformat(record["submitted_at"])
        elapsed = self.clock.now() - submitted_at
        if elapsed >= self.pack_after:
            lines = record["lines"]
            lots, short = picked if picked is not None else self._pick_lots({ref: record})[ref]
            missing = {s.sku: s.quantity for s in short}
            grams = self.tare_g + sum(ln["quantity"] * weights.get(ln["sku"], self.default_weight_g) for ln in lines) \
                - sum(units * weights.get(sku, self.default_weight_g) for sku, units in missing.items())
            return FulfillmentUpdate(
                ref=ref, status=FulfillmentStatus.PACKED, at=submitted_at + self.pack_after, parcel=Parcel(weight_g=grams),
                lots=lots, short=short,
            )
        packed_at = submitted_at + self.pack_after  # no news before then: say so, and be asked then
        if elapsed >= self.pick_after:
            return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.PICKING, at=submitted_at + self.pick_after,
                                     next_check_at=packed_at)
        next_check = submitted_at + self.pick_after if self.pick_after > timedelta(0) else packed_at
        return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.SUBMITTED, at=submitted_at, next_check_at=next_check)

    def cancel(self, ref: str) -> None:
        self._update(ref, lambda record: {**record, "status": "cancelled"})

    def close(self) -> None:
        """Nothing to release: the store belongs to the runtime."""

    def _pick_lots(self, records: dict[str, dict[str, Any]]) -> dict[str, tuple[list[LotPick], list[ShortPick]]]:
        """The lots of each packed request's SKUs kept by lot, first expiry first out, and what
        is short where no unexpired lot is left (once per request: asked again, the same), for
        a batch of requests ``{ref: record}`` in one transaction."""
        wanted: dict[str, tuple[dict[str, int], datetime]] = {}
        for ref, record in records.items():
            units: dict[str, int] = {}
            for line in record["lines"]:
                units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
            wanted[record["key"]] = (units, datetime.fromisoformat(record["submitted_at"]) + self.pack_after)
        by_key = self.stock.pick_lots_many(wanted)
        return {ref: by_key[record["key"]] for ref, record in records.items()}

    def _record(self, ref: str) -> dict[str, Any]:
        record = self.state.get(ref)
        if record is None:
            raise NotFound(f"local warehouse {self.name!r} has no fulfillment request {ref!r}")
        return record

    def _update(self, ref: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Apply ``change`` with compare-and-set, reading again if someone else wrote first."""
        while True:
            record = self._record(ref)
            if self.state.compare_and_set(ref, record, change(record)):
                return


@hookimpl
def register_warehouse_types(register: Callable[[WarehouseType], None]) -> None:
    register(WarehouseType(
        name="local", factory=LocalWarehouse, description="Own stock kept in fulfilhub's store", settings=SETTINGS,
    ))
