"""fulfilhub-easypost: EasyPost as a fulfilhub carrier, with a local EasyPost simulator.

Installing the package registers, through the ``fulfilhub`` entry point:

- the carrier type ``easypost`` (:class:`~fulfilhub_easypost.carrier.EasyPostCarrier`),
- the sandbox simulator ``easypost`` (:class:`~fulfilhub_easypost.simulator.EasyPostSimulator`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import carrier
from .carrier import EasyPostCarrier

__version__ = "0.1.0"
__all__ = ["EasyPostCarrier", "EasyPostSimulator", "register_carrier_types", "register_simulators"]


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(
        CarrierType(
            name="easypost",
            factory=EasyPostCarrier,
            settings=carrier.SETTINGS,
            description="EasyPost multi-carrier API: rates with transit days, labels, tracking, webhooks",
        )
    )


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(
        Simulator(
            name="easypost",
            factory="fulfilhub_easypost.simulator:EasyPostSimulator",  # imported only when a sandbox builds it
            description="Local EasyPost API v2: shipments, rates, purchases, tracking scripted on the scenario clock",
            demo=DemoPart(
                kind="carriers",
                type="easypost",
                instance="easypost",
                secrets={
                    "api_key": DemoSecret(env="FULFILHUB_DEMO_EASYPOST_KEY", value="EZTKdemo0123456789", option="api_key")
                },
                options={"exception_rate": 0.03, "delay_rate": 0.1},
                webhooks={"webhook_secret": DemoSecret(env="FULFILHUB_DEMO_EASYPOST_WEBHOOK_SECRET",
                                                       value="demo_easypost_webhook_secret", option="webhook_secret")},
            ),
        )
    )


def __getattr__(name: str) -> Any:
    """``EasyPostSimulator`` is imported on first use, so that the runner never loads it."""
    if name == "EasyPostSimulator":
        from .simulator import EasyPostSimulator

        return EasyPostSimulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
