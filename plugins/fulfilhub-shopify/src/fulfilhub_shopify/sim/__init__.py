"""A local Shopify Admin REST API for ``fulfilhub sandbox``, on the scenario clock.

- :mod:`.state`: the shop — compact order records, arrivals and updates over scenario
  time, fulfillments and events — behind one lock;
- :mod:`.render`: records to Shopify's JSON (orders, line items, fulfillment orders);
- :mod:`.routes`: the HTTP API (API version, access token, call limit, paging) and
  :class:`ShopifySimulator`, the object the sandbox builds.
"""

from __future__ import annotations

from .routes import ShopifySimulator
from .state import MALFORMATIONS

__all__ = ["MALFORMATIONS", "ShopifySimulator"]
