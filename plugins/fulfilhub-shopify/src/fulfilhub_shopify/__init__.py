"""fulfilhub-shopify: Shopify as a fulfilhub channel, and a local Shopify to test against.

Installed, it registers the ``shopify`` channel type (:class:`ShopifyChannel`) and the
``shopify`` sandbox simulator (:class:`ShopifySimulator`) through the ``fulfilhub``
entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

from fulfilhub import ChannelType, Simulator, hookimpl

from . import channel
from .channel import ShopifyChannel
from .simulator import ShopifySimulator

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
            factory=ShopifySimulator,
            description="A simulated Shopify shop: orders over scenario time, call limit, fulfillments, events",
        )
    )
