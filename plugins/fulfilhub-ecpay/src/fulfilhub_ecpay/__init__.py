"""fulfilhub-ecpay: ECPay Logistics (綠界物流) as a fulfilhub carrier, with a local simulator of its API.

Installing the package registers, through the ``fulfilhub`` entry point, the carrier
type ``ecpay`` (:class:`~fulfilhub_ecpay.carrier.EcpayCarrier`: Taiwan home delivery by
T-Cat and Chunghwa Post, and convenience-store pickup at 7-ELEVEN, FamilyMart, Hi-Life
and OK mart) and the sandbox simulator ``ecpay`` (imported only when a sandbox builds it).
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import carrier
from .carrier import EcpayCarrier
from .mapping import check_mac_value, pickup_point, pickup_until

__version__ = "0.1.0"
__all__ = ["EcpayCarrier", "check_mac_value", "pickup_point", "pickup_until", "register_carrier_types",
           "register_simulators"]

#: ECPay's public test merchant (B2C/home) and its keys, as ECPay's documentation and SDKs publish them.
TEST_MERCHANT = ("2000132", "5294y06JbISpM5x9", "v77hoKGq4kWxNNIS")


@hookimpl
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    register(CarrierType(name="ecpay", factory=EcpayCarrier, settings=carrier.SETTINGS,
                         description="ECPay Logistics (Taiwan): T-Cat and Chunghwa Post home delivery, 7-ELEVEN, "
                                     "FamilyMart, Hi-Life and OK mart store pickup; signed status notifications"))


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    merchant, key, iv = TEST_MERCHANT
    register(Simulator(
        name="ecpay",
        factory="fulfilhub_ecpay.simulator:EcpaySimulator",  # imported only when a sandbox builds it
        description="Local ECPay Logistics: create, status query and signed status notifications on the scenario clock",
        demo=DemoPart(
            kind="carriers", type="ecpay", instance="ecpay",
            settings={"merchant_id": merchant, "server_reply_url": "http://127.0.0.1/webhooks/ecpay"},
            secrets={"hash_key": DemoSecret(env="FULFILHUB_DEMO_ECPAY_HASH_KEY", value=key, option="hash_key"),
                     "hash_iv": DemoSecret(env="FULFILHUB_DEMO_ECPAY_HASH_IV", value=iv, option="hash_iv")},
            options={"merchant_id": merchant, "unclaimed_rate": 0.05},
        ),
    ))
