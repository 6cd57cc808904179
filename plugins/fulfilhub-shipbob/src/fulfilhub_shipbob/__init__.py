"""fulfilhub-shipbob: ShipBob (a 3PL) as a fulfilhub warehouse, with a local simulator of its API.

Installing the package registers, through the ``fulfilhub`` entry point, the warehouse
type ``shipbob`` (it ships with its own labels and keeps its own stock) and the sandbox
simulator ``shipbob`` (``fulfilhub demo --warehouse shipbob``).
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import Simulator, WarehouseType, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import warehouse

__version__ = "0.1.0"

#: The demo's ShipBob fulfillment center (Cicero, IL), the ship-from address of its instance.
DEMO_ADDRESS = {"name": "ShipBob Cicero", "line1": "5900 W Ogden Ave", "city": "Cicero", "province": "IL",
                "postal_code": "60804", "country": "US"}


@hookimpl
def register_warehouse_types(register: Callable[[WarehouseType], None]) -> None:
    register(WarehouseType(name="shipbob", factory=warehouse.ShipbobWarehouse, settings=warehouse.SETTINGS,
                           ships_own_labels=True, keeps_stock=True,
                           description="ShipBob 3PL: orders, shipments with its own labels, stock, webhooks"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(Simulator(
        name="shipbob",
        factory="fulfilhub_shipbob.simulator:ShipbobSimulator",  # imported only when a sandbox builds it
        description="Local ShipBob API 1.0: orders picked, packed and shipped with its own carrier on the scenario "
                    "clock, split parcels, stock with commitments, cancellation, signed webhooks, 429s",
        demo=DemoPart(kind="warehouses", type="shipbob", instance="shipbob",
                      settings={"channel_id": 100102, "address": DEMO_ADDRESS},
                      secrets={"access_token": DemoSecret(env="FULFILHUB_DEMO_SHIPBOB_TOKEN",
                                                          value="shipbob-demo-token-0123", option="access_token")},
                      webhooks={"webhook_secret": DemoSecret(env="FULFILHUB_DEMO_SHIPBOB_WEBHOOK_SECRET",
                                                             value="whsec_c2hpcGJvYi1kZW1vLXNpZ25pbmcta2V5",
                                                             option="webhook_secret")}),
    ))
