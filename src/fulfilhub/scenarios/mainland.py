"""The demo's mainland China order, whose label is bought elsewhere.

A customer in Shanghai orders through a channel simulator that takes an order as asked
(``add_order``); the parcel goes to a mainland courier with a label bought at its
counter, as a tracks-only carrier's simulator hands it over (``outside_parcel(phone, city)
-> (courier, number)``); the number is attached to the shipment as an operator's
``fulfilhub shipments attach-code`` would (:func:`fulfilhub.runner.outside.attach`), and
that carrier follows it like any other: its Chinese scans show on the customer's
tracking page (zh-Hans) as they came. Nothing here names a plugin: the parts are found
by what their simulators offer, and without both there is no mainland order.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..engines import fulfilment
from ..errors import FulfilhubError
from ..runner import outside
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from .world import World

#: Where the order goes (the channel simulator's address fields, Shopify's shape).
ADDRESS = {"name": "王芳", "address1": "世纪大道100号 15楼", "city": "上海市", "province": "上海市",
           "province_code": "SH", "zip": "200120", "country": "China", "country_code": "CN",
           "phone": "+86 138 0013 8000"}


@attrs.define
class MainlandOrder:
    """One mainland order through a world: :meth:`place` it, call :meth:`step` after each
    pass of the runner (it attaches the outside code once the warehouse has the parcel),
    and read :meth:`figures` at the end."""

    world: World
    shop: Any
    shop_instance: str
    courier_sim: Any
    carrier: str
    order_id: str | None = None
    codes: dict[str, tuple[str, str]] = attrs.Factory(dict)  # shipment id -> (courier, number)
    errors: list[str] = attrs.Factory(list)

    @classmethod
    def find(cls, world: World) -> MainlandOrder | None:
        """The mainland order's parts in ``world``, or None when a part is missing."""
        shops = [(name, sim) for name, sim in world.simulators("channels").items() if hasattr(sim, "add_order")]
        couriers = [(name, sim) for name, sim in world.simulators("carriers").items() if hasattr(sim, "outside_parcel")]
        if not shops or not couriers:
            return None
        (shop_name, shop), (courier_name, courier) = shops[0], couriers[0]
        return cls(world, shop, world.parts[shop_name][1], courier, world.parts[courier_name][1])

    def place(self) -> str:
        """Place the order now, for one unit of the SKU with the most stock left."""
        skus = [item["sku"] for item in self.shop.catalog]
        with self.world.store.read() as conn:
            levels = stock_store.levels(conn, warehouses=sorted(self.world.config.warehouses), skus=skus)
        sku = max(levels, key=lambda level: (level.on_hand - level.reserved, level.sku)).sku if levels else skus[0]
        placed = self.shop.add_order([{"sku": sku, "quantity": 1}], shipping_address=ADDRESS)
        self.order_id = f"{self.shop_instance}:{placed['id']}"
        return self.order_id

    def step(self) -> None:
        """Attach a courier's number to each of the order's shipments the warehouse has
        without a label (the courier takes the parcel now)."""
        if self.order_id is None:
            return
        for shipment in self.world.shipments(self.order_id):
            if shipment.label is not None or shipment.status not in fulfilment.TAKES_OUTSIDE_LABEL:
                continue
            courier, number = self.courier_sim.outside_parcel(phone=ADDRESS["phone"], city=ADDRESS["city"])
            try:
                outside.attach(self.world.rt, shipment.id, carrier=self.carrier, code=number, courier=courier)
            except FulfilhubError as exc:
                self.errors.append(f"{shipment.id}: {exc}")
            else:
                self.codes[shipment.id] = (courier, number)

    def figures(self) -> dict[str, Any]:
        """What became of it: the order, its parcels (courier, number, status) and their scans."""
        if self.order_id is None:
            return {}
        parcels = []
        with self.world.store.read() as conn:
            for shipment in shipment_store.of_order(conn, self.order_id):
                scans = shipment_store.scans_of(conn, shipment.id)
                courier, number = self.codes.get(shipment.id, ("", shipment.tracking_code))
                parcels.append({"shipment": shipment.id, "carrier": shipment.carrier, "courier": courier,
                                "tracking_code": number, "status": str(shipment.status), "scans": len(scans),
                                "last_scan": scans[-1].description if scans else None})
        return {"order": self.order_id, "carrier": self.carrier, "parcels": parcels, "errors": self.errors}
