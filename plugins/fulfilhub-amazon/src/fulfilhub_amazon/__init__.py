"""fulfilhub-amazon: Amazon (Selling Partner API) as a fulfilhub channel, and a local SP-API to test against.

Installed, it registers the ``amazon`` channel type (:class:`AmazonChannel`) and the
``amazon`` sandbox simulator through the ``fulfilhub`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import ChannelType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import channel
from .channel import AmazonChannel

__version__ = "0.1.0"

__all__ = ["AmazonChannel", "register_channel_types", "register_simulators"]

#: The demo seller's app and account (the simulator checks them when its options name them).
DEMO_CLIENT_ID = "amzn1.application-oa2-client.demo0fulfilhub"
DEMO_SELLER_ID = "A3DEMOSELLER01"
DEMO_MARKETPLACES = ["ATVPDKIKX0DER", "A1VC38T7YXB528"]


@hookimpl
def register_channel_types(register: Callable[[ChannelType], None]) -> None:
    register(
        ChannelType(
            name="amazon",
            factory=AmazonChannel,
            settings=channel.SETTINGS,
            description="Amazon Selling Partner API: Orders v0 by LastUpdatedAfter and NextToken, LWA tokens, "
            "per-operation rate limits, confirmShipment, listings quantity, relayed ORDER_CHANGE notifications",
        )
    )


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(
        Simulator(
            name="amazon",
            factory="fulfilhub_amazon.simulator:AmazonSimulator",  # imported only when a sandbox builds it
            description="A simulated Amazon seller account in the US (USD) and Japan (JPY): LWA tokens, orders "
            "paged by NextToken, restricted data, per-operation rate limits, shipment confirmations, listings",
            demo=DemoPart(
                kind="channels",
                type="amazon",
                instance="demo-amazon",
                settings={"client_id": DEMO_CLIENT_ID, "token_url": "/auth/o2/token",
                          "marketplace_ids": DEMO_MARKETPLACES, "seller_id": DEMO_SELLER_ID,
                          "restricted_data": True},
                secrets={
                    "client_secret": DemoSecret(env="FULFILHUB_DEMO_AMAZON_CLIENT_SECRET",
                                                value="demo_amazon_lwa_secret_3c9e1f", option="client_secret"),
                    "refresh_token": DemoSecret(env="FULFILHUB_DEMO_AMAZON_REFRESH_TOKEN",
                                                value="Atzr|demo_amazon_refresh_8d2b7a", option="refresh_token"),
                },
                options={"client_id": DEMO_CLIENT_ID, "seller_id": DEMO_SELLER_ID, "marketplaces": DEMO_MARKETPLACES,
                         "pending_rate": 0.1, "afn_rate": 0.1, "update_rate": 0.05, "cancel_rate": 0.02},
                webhooks={"relay_secret": DemoSecret(env="FULFILHUB_DEMO_AMAZON_RELAY_SECRET",
                                                     value="demo_amazon_relay_5e0a4d", option="relay_secret")},
            ),
        )
    )
