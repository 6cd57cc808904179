"""fulfilhub-shopee: Shopee (Open Platform v2) as a fulfilhub channel, and a local Shopee to test against.

Installed, it registers the ``shopee`` channel type (:class:`ShopeeChannel`) and the
``shopee`` sandbox simulator through the ``fulfilhub`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import ChannelType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import channel
from .channel import ShopeeChannel

__version__ = "0.1.0"

__all__ = ["ShopeeChannel", "register_channel_types", "register_simulators"]

#: The demo shop's ids (the simulator checks them when its options name them).
DEMO_PARTNER_ID, DEMO_SHOP_ID = 2001234, 880011
#: Where the demo's pushes claim to be sent (Shopee signs the URL with the body).
DEMO_PUSH_URL = "http://127.0.0.1/webhooks/demo-shopee"
_DEMO_KEY = "demo_shopee_partner_key_5f3a9c0d1e"


@hookimpl
def register_channel_types(register: Callable[[ChannelType], None]) -> None:
    register(
        ChannelType(
            name="shopee",
            factory=ShopeeChannel,
            settings=channel.SETTINGS,
            description="Shopee Open Platform v2: orders by update_time, signed calls, token refresh, "
            "seller-shipped tracking by ship_order, Shopee's own logistics (pickup/dropoff, its tracking), "
            "update_stock, signed pushes",
        )
    )


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(
        Simulator(
            name="shopee",
            factory="fulfilhub_shopee.simulator:ShopeeSimulator",  # imported only when a sandbox builds it
            description="A simulated Shopee shop in TWD: orders paid, edited and cancelled over scenario time, "
            "signed calls, four-hour access tokens, seller-shipped and integrated logistics, signed pushes",
            demo=DemoPart(
                kind="channels",
                type="shopee",
                instance="demo-shopee",
                # half the orders ride Shopee's integrated logistics (蝦皮店到店): Shopee's carrier, its tracking
                settings={"partner_id": DEMO_PARTNER_ID, "shop_id": DEMO_SHOP_ID, "push_url": DEMO_PUSH_URL,
                          "marketplace_carriers": ["蝦皮店到店"]},
                secrets={
                    "partner_key": DemoSecret(env="FULFILHUB_DEMO_SHOPEE_PARTNER_KEY",
                                              value=_DEMO_KEY, option="partner_key"),
                    "refresh_token": DemoSecret(env="FULFILHUB_DEMO_SHOPEE_REFRESH_TOKEN",
                                                value="demo_shopee_refresh_7b21e4", option="refresh_token"),
                },
                options={"partner_id": DEMO_PARTNER_ID, "shop_id": DEMO_SHOP_ID, "push_url": DEMO_PUSH_URL,
                         "update_rate": 0.05, "cancel_rate": 0.02, "unpaid_rate": 0.1, "integrated_rate": 0.5},
                # Shopee signs pushes with the partner key: the same secret verifies them
                webhooks={"push_key": DemoSecret(env="FULFILHUB_DEMO_SHOPEE_PARTNER_KEY", value=_DEMO_KEY,
                                                 option="partner_key")},
            ),
        )
    )
