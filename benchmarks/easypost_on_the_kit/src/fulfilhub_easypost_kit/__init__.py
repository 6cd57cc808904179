"""fulfilhub-easypost-kit: EasypostKit as a fulfilhub carrier, with a local simulator of its API.

Installing the package registers, through the ``fulfilhub`` entry point, the carrier
type ``easypost_kit`` and the sandbox simulator ``easypost_kit``.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import carrier

__version__ = "0.1.0"


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(CarrierType(name="easypost_kit", factory=carrier.EasypostKitCarrier, settings=carrier.SETTINGS,
                         description="EasypostKit: rates with transit days, labels, tracking, webhooks"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(Simulator(
        name="easypost_kit",
        factory="fulfilhub_easypost.simulator:EasyPostSimulator",  # EasyPost's simulator, from fulfilhub-easypost
        description="Local EasypostKit API: rates, labels, tracking on the scenario clock",
        demo=DemoPart(kind="carriers", type="easypost_kit", instance="easypost_kit", secrets={
            "api_key": DemoSecret(env="FULFILHUB_DEMO_EASYPOST_KIT_KEY", value="easypost_kit-demo-key-0123", option="api_key"),
        }),
    ))
