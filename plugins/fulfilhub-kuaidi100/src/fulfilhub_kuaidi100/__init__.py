"""fulfilhub-kuaidi100: Kuaidi100 (快递100) tracking of mainland couriers for fulfilhub.

Installing the package registers, through the ``fulfilhub`` entry point, the carrier
type ``kuaidi100`` (tracking only) and the sandbox simulator ``kuaidi100``.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl

from . import carrier
from .carrier import Kuaidi100Carrier

__version__ = "0.1.0"
__all__ = ["Kuaidi100Carrier", "register_carrier_types", "register_simulators"]


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(CarrierType(name="kuaidi100", factory=Kuaidi100Carrier, settings=carrier.SETTINGS,
                         description="Kuaidi100 (快递100): scans of SF, YTO, ZTO, STO, Yunda, JD, EMS... by query and push"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    # no demo part: a carrier that only tracks has no place in the demo until a
    # warehouse or channel can hand fulfilhub a label bought elsewhere
    register(Simulator(name="kuaidi100", factory="fulfilhub_kuaidi100.simulator:Kuaidi100Simulator",
                       description="Local Kuaidi100: real-time query, subscription and pushes, in Chinese"))
