"""fulfilhub-kuaidi100: Kuaidi100 (快递100) tracking for mainland couriers, with a local simulator.

Installing the package registers, through the ``fulfilhub`` entry point, the carrier
type ``kuaidi100`` (:class:`~fulfilhub_kuaidi100.carrier.Kuaidi100Carrier`, registered
``tracks_only``: labels are bought elsewhere) and the sandbox simulator ``kuaidi100``
(imported only when a sandbox builds it).
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import carrier
from .carrier import Kuaidi100Carrier, outside_label

__version__ = "0.1.0"
__all__ = ["Kuaidi100Carrier", "outside_label", "register_carrier_types", "register_simulators"]


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(CarrierType(name="kuaidi100", factory=Kuaidi100Carrier, settings=carrier.SETTINGS, tracks_only=True,
                         description="Kuaidi100 tracking of mainland couriers (SF, YTO, ZTO, STO, Yunda, JD, EMS...): "
                                     "real-time query and signed subscription pushes; labels bought elsewhere"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(Simulator(
        name="kuaidi100",
        factory="fulfilhub_kuaidi100.simulator:Kuaidi100Simulator",  # imported only when a sandbox builds it
        description="Local Kuaidi100 API: real-time query, subscription and signed pushes on the scenario clock",
        demo=DemoPart(  # follows the demo's mainland order, whose label was bought elsewhere
            kind="carriers", type="kuaidi100", instance="kuaidi100",
            settings={"customer": "DEMOKD100CUSTOMER", "autonumber_url": "/autonumber/auto"},
            secrets={"key": DemoSecret(env="FULFILHUB_DEMO_KUAIDI100_KEY", value="kd100_demo_key_0123456789",
                                       option="key")},
            options={"customer": "DEMOKD100CUSTOMER", "exception_rate": 0.1},
        ),
    ))
