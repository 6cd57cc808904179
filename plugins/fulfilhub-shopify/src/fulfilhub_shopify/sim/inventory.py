"""The simulated shop's products, location and inventory levels (what ``push_stock`` talks to).

- ``GET /locations.json``: one active location.
- ``GET /products.json?fields=id,variants&limit=``: one product per catalogue SKU, with one
  variant carrying the SKU and its ``inventory_item_id`` (the catalogue is small: one page).
- ``POST /inventory_levels/set.json`` ``{location_id, inventory_item_id, available}``: sets
  the available quantity, 422 for an unknown item or location, as Shopify answers.

:class:`Inventory` keeps this state under its own lock.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fulfilhub.sandbox import Rejected, json_body
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import PRODUCT_ID_BASE, VARIANT_ID_BASE, iso

LOCATION_ID = 65_000_000_001
INVENTORY_ITEM_ID_BASE = 48_000_000_000


class Inventory:
    """Products from the catalogue and the available quantity of each at the one location."""

    def __init__(self, catalog: Callable[[], Sequence[Mapping[str, Any]]], now: Callable[[], Any]):
        self._catalog = catalog
        self._now = now
        self._lock = threading.Lock()
        self.available: dict[int, int] = {}  # inventory item id -> available

    def routes(self, api: str, endpoint: Callable[[Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
        return [
            Route(f"{api}/locations.json", endpoint(self._locations)),
            Route(f"{api}/products.json", endpoint(self._products)),
            Route(f"{api}/inventory_levels/set.json", endpoint(self._set), methods=["POST"]),
        ]

    def by_sku(self) -> dict[str, int | None]:
        """SKU -> available at the location (None: never set)."""
        with self._lock:
            return {item["sku"]: self.available.get(INVENTORY_ITEM_ID_BASE + i) for i, item in enumerate(self._catalog())}

    async def _locations(self, request: Request) -> Response:
        return JSONResponse({"locations": [{"id": LOCATION_ID, "name": "Shop location", "active": True,
                                            "country_code": "US", "legacy": False}]})

    async def _products(self, request: Request) -> Response:
        products = []
        for i, item in enumerate(self._catalog()):
            products.append({
                "id": PRODUCT_ID_BASE + i, "title": item["title"],
                "variants": [{"id": VARIANT_ID_BASE + i, "product_id": PRODUCT_ID_BASE + i, "sku": item["sku"],
                              "price": item["price"], "inventory_item_id": INVENTORY_ITEM_ID_BASE + i,
                              "inventory_management": "shopify",
                              "inventory_quantity": self.available.get(INVENTORY_ITEM_ID_BASE + i, 0)}],
            })
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        if fields:
            products = [{k: v for k, v in p.items() if k in fields} for p in products]
        return JSONResponse({"products": products})

    async def _set(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise Rejected(400, {"errors": "Bad Request"})
        item, location, available = body.get("inventory_item_id"), body.get("location_id"), body.get("available")
        known = {INVENTORY_ITEM_ID_BASE + i for i in range(len(self._catalog()))}
        if location != LOCATION_ID or item not in known:
            raise Rejected(422, {"errors": ["Inventory item does not have inventory tracking enabled or is not "
                                            "stocked at the location"]})
        if isinstance(available, bool) or not isinstance(available, int):
            raise Rejected(422, {"errors": {"available": ["must be an integer"]}})
        with self._lock:
            self.available[item] = available
        return JSONResponse({"inventory_level": {"inventory_item_id": item, "location_id": location,
                                                 "available": available, "updated_at": iso(self._now())}})
