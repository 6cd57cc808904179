"""The ``local`` warehouse type: your own stock, kept in fulfilhub's store.

Stock levels are the ``stock`` table (set with ``fulfilhub stock set``); reservations
are made by the inventory engine at allocation. A submitted request is picked and
packed after the configured handling times on fulfilhub's clock:

    [warehouses.main]
    type = "local"
    pick_minutes = 60        # from submission until picking starts
    pack_minutes = 120       # from submission until the parcel is packed
    tare_g = 150             # box weight added to the items' weight
    default_unit_weight_g = 500
    [warehouses.main.address] ...  (the ship-from address)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

import attrs
import sqlalchemy as sa

from ..adapters import InstanceContext, WarehouseType
from ..errors import ConfigError, NotFound
from ..hookspecs import hookimpl
from ..models import FulfillmentRequest, FulfillmentStatus, FulfillmentUpdate, Parcel, StockLevel
from ..store import Store, insert_ignore
from ..store import stock as stock_store
from ..store.schema import local_fulfillments


def _number(context: InstanceContext, key: str, default: float, what: str) -> float:
    value = context.setting(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"expected {what} >= 0, got {value!r}", key=context.key(key))
    return value


class LocalWarehouse:
    """Own stock in the store; picking and packing follow the configured handling times."""

    def __init__(self, context: InstanceContext):
        if context.store is None:
            raise ConfigError("the local warehouse needs fulfilhub's store", key=context.key(""))
        self.name = context.name
        self.store: Store = context.store
        self.clock = context.clock
        self.pick_after = timedelta(minutes=_number(context, "pick_minutes", 60, "a number of minutes"))
        self.pack_after = max(self.pick_after, timedelta(minutes=_number(context, "pack_minutes", 120, "a number of minutes")))
        self.tare_g = int(_number(context, "tare_g", 150, "a weight in grams"))
        self.default_weight_g = int(_number(context, "default_unit_weight_g", 500, "a weight in grams"))

    def stock_levels(self, skus: Sequence[str]) -> Sequence[StockLevel]:
        with self.store.read() as conn:
            return stock_store.levels(conn, warehouses=[self.name], skus=skus)

    def submit(self, request: FulfillmentRequest) -> str:
        ref = "LF-" + hashlib.sha256(request.key.encode()).hexdigest()[:16].upper()
        row = {
            "ref": ref,
            "key": request.key,
            "warehouse": self.name,
            "shipment_id": request.shipment_id,
            "lines": [attrs.asdict(line) for line in request.lines],
            "status": "submitted",
            "submitted_at": self.clock.now(),
        }
        with self.store.transaction() as tx:
            insert_ignore(tx, local_fulfillments, [row], ["key"])
            return tx.conn.execute(sa.select(local_fulfillments.c.ref).where(local_fulfillments.c.key == request.key)).scalar_one()

    def status(self, ref: str) -> FulfillmentUpdate:
        with self.store.read() as conn:
            row = conn.execute(sa.select(local_fulfillments).where(local_fulfillments.c.ref == ref)).first()
            if row is None:
                raise NotFound(f"local warehouse {self.name!r} has no fulfillment request {ref!r}")
            weights = stock_store.unit_weights(conn, self.name, [ln["sku"] for ln in row.lines])
        if row.status == "cancelled":
            return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.CANCELLED, at=self.clock.now())
        elapsed = self.clock.now() - row.submitted_at
        if elapsed >= self.pack_after:
            grams = self.tare_g + sum(ln["quantity"] * weights.get(ln["sku"], self.default_weight_g) for ln in row.lines)
            return FulfillmentUpdate(
                ref=ref, status=FulfillmentStatus.PACKED, at=row.submitted_at + self.pack_after, parcel=Parcel(weight_g=grams)
            )
        if elapsed >= self.pick_after:
            return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.PICKING, at=row.submitted_at + self.pick_after)
        return FulfillmentUpdate(ref=ref, status=FulfillmentStatus.SUBMITTED, at=row.submitted_at)

    def cancel(self, ref: str) -> None:
        with self.store.transaction() as tx:
            tx.execute(local_fulfillments.update().where(local_fulfillments.c.ref == ref).values(status="cancelled"))

    def close(self) -> None:
        """Nothing to release: the store belongs to the runtime."""


@hookimpl
def register_warehouse_types(register):
    register(WarehouseType(name="local", factory=LocalWarehouse, description="Own stock kept in fulfilhub's store"))
