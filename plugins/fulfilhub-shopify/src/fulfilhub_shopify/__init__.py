"""fulfilhub-shopify: Shopify as a fulfilhub channel, and a local Shopify to test against.

Installed, it registers the ``shopify`` channel type (:class:`ShopifyChannel`) and the
``shopify`` sandbox simulator (:class:`ShopifySimulator`) through the ``fulfilhub``
entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fulfilhub import ChannelType, Simulator, hookimpl
from fulfilhub.sandbox import DemoPart, DemoSecret

from . import channel
from .channel import ShopifyChannel

__version__ = "0.1.0"

__all__ = ["ShopifyChannel", "ShopifySimulator", "register_channel_types", "register_simulators"]


@hookimpl
def register_channel_types(register: Callable[[ChannelType], None]) -> None:
    register(
        ChannelType(
            name="shopify",
            factory=ShopifyChannel,
            settings=channel.SETTINGS,
            description="Shopify Admin REST API: orders by updated_at, fulfillments with tracking, fulfillment events",
        )
    )


@hookimpl
def register_simulators(register: Callable[[Simulator], None]) -> None:
    register(
        Simulator(
            name="shopify",
            factory="fulfilhub_shopify.sim:ShopifySimulator",  # imported only when a sandbox builds it
            description="A simulated Shopify shop: orders over scenario time, call limit, fulfillments, events",
            demo=DemoPart(
                kind="channels",
                type="shopify",
                instance="demo-shop",
                settings={"shop": "demo-shop"},
                secrets={
                    "access_token": DemoSecret(
                        env="FULFILHUB_DEMO_SHOPIFY_TOKEN", value="shpat_demo_0123456789abcdef", option="access_token"
                    )
                },
                options={"malformed_rate": 0.01, "update_rate": 0.05},
                webhooks={"webhook_secret": DemoSecret(env="FULFILHUB_DEMO_SHOPIFY_WEBHOOK_SECRET",
                                                       value="demo_shopify_webhook_secret", option="webhook_secret")},
            ),
        )
    )


def __getattr__(name: str) -> Any:
    """``ShopifySimulator`` is imported on first use, so that the runner never loads it."""
    if name == "ShopifySimulator":
        from .sim import ShopifySimulator

        return ShopifySimulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
