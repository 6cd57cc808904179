"""fulfilhub-shippo: Shippo as a fulfilhub carrier, with a local simulator of its API.

Installing the package registers, through the ``fulfilhub`` entry point, the carrier
type ``shippo`` (:class:`~fulfilhub_shippo.carrier.ShippoCarrier`) and the sandbox
simulator ``shippo`` (imported only when a sandbox builds it).
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import carrier
from .carrier import ShippoCarrier

__version__ = "0.1.0"
__all__ = ["ShippoCarrier", "register_carrier_types", "register_simulators"]


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(CarrierType(name="shippo", factory=ShippoCarrier, settings=carrier.SETTINGS,
                         description="Shippo multi-carrier API: rates with transit days, labels, tracking, refunds, webhooks"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(Simulator(
        name="shippo",
        factory="fulfilhub_shippo.simulator:ShippoSimulator",  # imported only when a sandbox builds it
        description="Local Shippo API: shipments with rates, transactions, tracks and refunds on the scenario clock",
        demo=DemoPart(
            kind="carriers", type="shippo", instance="shippo",
            secrets={"api_key": DemoSecret(env="FULFILHUB_DEMO_SHIPPO_KEY", value="shippo_test_demo0123456789",
                                           option="api_key")},
            options={"exception_rate": 0.03, "delay_rate": 0.1},
            webhooks={"webhook_secret": DemoSecret(env="FULFILHUB_DEMO_SHIPPO_WEBHOOK_SECRET",
                                                   value="demo_shippo_webhook_secret", option="webhook_secret")},
        ),
    ))
