"""What a plugin implements: the adapter protocols and the records it registers.

A plugin registers a *type* once (``ChannelType(name="shopify", factory=...)``); the
config file names *instances* of it. For each instance fulfilhub calls the type's
``factory`` with an :class:`InstanceContext` and gets back an adapter object that
satisfies one of the protocols below. Adapters are synchronous and do their I/O through
``context.http(...)`` (the shared httpx + tenacity helper).

Mapping a foreign payload to the model (``parse_order``, a tracking table) should be a
pure function in the plugin, kept apart from the code that does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from .clock import Clock
from .models import (
    FulfillmentRequest,
    FulfillmentUpdate,
    Label,
    Order,
    OrderPage,
    Rate,
    ShipmentLine,
    ShipmentRequest,
    StockLevel,
    TrackingStatus,
    TrackingUpdate,
)

if TYPE_CHECKING:
    from .http import HttpClient
    from .store import Store


@attrs.frozen(kw_only=True)
class InstanceContext:
    """Everything a factory gets to build one configured instance.

    ``settings`` is the instance's table from ``fulfilhub.toml`` with ``${ENV}``
    references already resolved; ``secrets`` lists the resolved values that must never
    be logged. ``http(base_url, ...)`` builds a client with timeouts, retries and
    redaction. ``store`` is given to built-in types that keep state in fulfilhub's own
    database (the ``local`` warehouse); foreign adapters should not need it.
    """

    name: str
    settings: Mapping[str, Any]
    clock: Clock
    http: Callable[..., HttpClient]
    secrets: tuple[str, ...] = ()
    store: Store | None = None
    kind: str = ""  # "channels", "carriers", "warehouses" or "notifiers"

    def key(self, setting: str) -> str:
        """The dotted config key of one of this instance's settings, for error messages."""
        return ".".join(part for part in (self.kind, self.name, setting) if part)

    def setting(self, key: str, default: Any = attrs.NOTHING) -> Any:
        """Read one setting; a missing required one raises a ConfigError naming it."""
        from .errors import ConfigError

        if key in self.settings:
            return self.settings[key]
        if default is attrs.NOTHING:
            raise ConfigError(f"missing required setting {key!r}", key=self.key(key))
        return default


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class Channel(Protocol):
    """A marketplace or shop."""

    def fetch_orders(self, cursor: str | None) -> OrderPage:
        """Fetch the page after ``cursor`` (None: start from the beginning).

        The cursor is the adapter's own opaque string: the runner saves
        ``page.next_cursor`` only after the page is stored, and passes it back next time.
        """

    def parse_order(self, payload: Mapping[str, Any]) -> Order:
        """Map one raw order to the model; raise ``PayloadError`` if it cannot."""

    def push_fulfillment(self, order: Order, shipment: ShipmentPush, key: str) -> str:
        """Tell the channel a shipment left, with tracking; return the channel's id for it.

        ``key`` is the idempotency key: called twice with the same key, the channel must
        end up with one fulfillment (look before acting where the API has no key).
        """

    def push_tracking(self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str) -> None:
        """Tell the channel of a tracking milestone (in transit, delivered...)."""

    def close(self) -> None: ...


@runtime_checkable
class Carrier(Protocol):
    """A courier API."""

    def quote(self, request: ShipmentRequest) -> Sequence[Rate]:
        """Rates with transit-time estimates for this parcel and lane."""

    def buy(self, rate: Rate, key: str) -> Label:
        """Buy ``rate``'s label. Called twice with the same rate, it returns the first label."""

    def track(self, label: Label) -> TrackingUpdate:
        """Poll the carrier for the shipment's tracking."""

    def void(self, label: Label) -> None:
        """Cancel an unused label."""

    def close(self) -> None: ...


@runtime_checkable
class Warehouse(Protocol):
    """Own stock or a 3PL."""

    def stock_levels(self, skus: Sequence[str]) -> Sequence[StockLevel]:
        """Stock of each SKU asked for (SKUs the warehouse does not carry are left out)."""

    def submit(self, request: FulfillmentRequest) -> str:
        """Submit a fulfillment request; return the warehouse's reference for it.

        Submitting the same ``request.key`` twice returns the first reference.
        """

    def status(self, ref: str) -> FulfillmentUpdate:
        """The warehouse's progress on a request."""

    def cancel(self, ref: str) -> None: ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class ShipmentPush:
    """What a channel is told about a shipment."""

    shipment_id: str
    lines: tuple[ShipmentLine, ...]
    tracking_code: str
    tracking_url: str
    carrier_name: str
    service: str
    fulfillment_ref: str = ""  # the channel's id for the fulfillment, once pushed


@runtime_checkable
class Notifier(Protocol):
    """Delivers a rendered message (email, SMS, webhook, console...)."""

    def send(self, to: str, subject: str, body: str, key: str) -> None: ...


# --------------------------------------------------------------------------- registered types


@attrs.frozen(kw_only=True)
class ChannelType:
    name: str
    factory: Callable[[InstanceContext], Channel]
    description: str = ""


@attrs.frozen(kw_only=True)
class CarrierType:
    name: str
    factory: Callable[[InstanceContext], Carrier]
    description: str = ""


@attrs.frozen(kw_only=True)
class WarehouseType:
    name: str
    factory: Callable[[InstanceContext], Warehouse]
    description: str = ""


@attrs.frozen(kw_only=True)
class NotifierType:
    name: str
    factory: Callable[[InstanceContext], Notifier]
    description: str = ""


@attrs.frozen(kw_only=True)
class CompensationPolicy:
    """A named rule that proposes a compensation (used by the compensation engine)."""

    name: str
    propose: Callable[..., Any]
    description: str = ""
