"""fulfilhub-woocommerce: WooCommerce as a fulfilhub channel, and a local WooCommerce to test against.

Installed, it registers the ``woocommerce`` channel type (:class:`WoocommerceChannel`)
and the ``woocommerce`` sandbox simulator through the ``fulfilhub`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import ChannelType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import channel
from .channel import WoocommerceChannel

__version__ = "0.1.0"

__all__ = ["WoocommerceChannel", "register_channel_types", "register_simulators"]


@hookimpl
def register_channel_types(register: Callable[[ChannelType], None]) -> None:
    register(
        ChannelType(
            name="woocommerce",
            factory=WoocommerceChannel,
            settings=channel.SETTINGS,
            description="WooCommerce REST API v3: orders by modified_after, tracking as order notes, coupons",
        )
    )


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(
        Simulator(
            name="woocommerce",
            factory="fulfilhub_woocommerce.simulator:WoocommerceSimulator",  # imported only when a sandbox builds it
            description="A simulated WooCommerce shop: orders paid, edited and cancelled over scenario time, notes, "
            "coupons, Shipment Tracking, signed webhooks",
            demo=DemoPart(
                kind="channels",
                type="woocommerce",
                instance="demo-woo",
                secrets={
                    "consumer_key": DemoSecret(env="FULFILHUB_DEMO_WC_CONSUMER_KEY",
                                               value="ck_demo_0123456789abcdef0123", option="consumer_key"),
                    "consumer_secret": DemoSecret(env="FULFILHUB_DEMO_WC_CONSUMER_SECRET",
                                                  value="cs_demo_fedcba9876543210fedc", option="consumer_secret"),
                },
                options={"update_rate": 0.05, "cancel_rate": 0.02, "unpaid_rate": 0.1, "cvs_rate": 0.15},
                webhooks={"webhook_secret": DemoSecret(env="FULFILHUB_DEMO_WC_WEBHOOK_SECRET",
                                                       value="demo_woocommerce_webhook_secret",
                                                       option="webhook_secret")},
            ),
        )
    )
