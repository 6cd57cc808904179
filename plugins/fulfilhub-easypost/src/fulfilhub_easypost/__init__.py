"""fulfilhub-easypost: EasyPost as a fulfilhub carrier, with a local EasyPost simulator.

Installing the package registers, through the ``fulfilhub`` entry point:

- the carrier type ``easypost`` (:class:`~fulfilhub_easypost.carrier.EasyPostCarrier`),
- the sandbox simulator ``easypost`` (:class:`~fulfilhub_easypost.simulator.EasyPostSimulator`).
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl

from . import carrier
from .carrier import EasyPostCarrier
from .simulator import EasyPostSimulator

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
            factory=EasyPostSimulator,
            description="Local EasyPost API v2: shipments, rates, purchases, tracking scripted on the scenario clock",
        )
    )
