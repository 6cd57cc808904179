"""What a plugin implements: the adapter protocols and the records it registers.

A plugin registers a *type* once (``ChannelType(name="shopify", factory=...)``); the
config file names *instances* of it. For each instance fulfilhub calls the type's
``factory`` with an :class:`InstanceContext` and gets back an adapter object that
satisfies one of the protocols below. Adapters are synchronous and do their I/O through
``context.http(...)`` (the shared httpx + tenacity helper).

Mapping a foreign payload to the model (``parse_order``, a tracking table) should be a
pure function in the plugin, kept apart from the code that does I/O.

A type declares the settings its instances may have (:class:`Setting`); the runtime
refuses any other key and ``context.setting(name)`` reads one by its declaration.
Adapters reach fulfilhub's database only through narrow ports on the context: their
own key -> JSON ``state``, and (warehouses) the ``stock`` fulfilhub keeps for them.
Optional capabilities, such as taking webhooks (:class:`WebhookReceiver`), are
protocols an adapter satisfies or not; :func:`capabilities` lists them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import attrs

from .clock import Clock
from .models import (
    CompensationProposal,
    FulfillmentRequest,
    FulfillmentUpdate,
    Label,
    LotPick,
    Notice,
    Order,
    OrderPage,
    Rate,
    ShipmentLine,
    ShipmentRequest,
    ShortPick,
    StockLevel,
    TrackingStatus,
    TrackingUpdate,
)

if TYPE_CHECKING:
    from .http import HttpClient


#: Setting types :meth:`InstanceContext.setting` can read, with how they are described in errors.
SETTING_TYPES: dict[type, str] = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "a string",
    list: "a list",
    dict: "a table",
}

_PLURALS = {int: "whole numbers", float: "numbers", bool: "booleans", str: "strings", dict: "tables"}

#: Keys every instance of a kind may carry whatever its type declares (read by the core).
FRAMEWORK_SETTINGS: Mapping[str, frozenset[str]] = {
    "channels": frozenset({"type"}),
    "carriers": frozenset({"type"}),
    "warehouses": frozenset({"type", "address"}),
    "notifiers": frozenset({"type", "events", "channels"}),  # routing: which notices go through it
}


class _Required:
    """The default of a setting that has none: it must be set."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@attrs.frozen
class Setting:
    """One declared setting of a registered type: its type, default and limits.

    ``Setting(int, default=250, min=1, max=250, help="orders per page")``. Without a
    ``default`` the setting is required. ``items`` checks each element of a ``list``;
    ``choices`` limits the value to a few; ``secret`` strips surrounding whitespace from
    a string, refuses one with whitespace inside, and never shows the value in an error.
    """

    type: type
    default: Any = attrs.field(default=REQUIRED, kw_only=True)
    min: float | None = attrs.field(default=None, kw_only=True)
    max: float | None = attrs.field(default=None, kw_only=True)
    choices: tuple[Any, ...] | None = attrs.field(default=None, kw_only=True)
    items: type | None = attrs.field(default=None, kw_only=True)
    secret: bool = attrs.field(default=False, kw_only=True)
    help: str = attrs.field(default="", kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.type, type) or self.type not in SETTING_TYPES:
            raise TypeError(f"a setting's type is one of {', '.join(t.__name__ for t in SETTING_TYPES)}, not {self.type!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def read(self, key: str, settings: Mapping[str, Any], dotted: str) -> Any:
        """The value of ``key`` in ``settings`` checked against this declaration."""
        from .errors import ConfigError

        if key not in settings:
            if self.required:
                raise ConfigError(f"missing required setting {key!r}" + (f" ({self.help})" if self.help else ""), key=dotted)
            return self.default
        value = settings[key]
        shown = "a value that is not shown (it is a secret)" if self.secret else repr(value)

        def refuse(expected: str) -> ConfigError:
            return ConfigError(f"expected {expected}, got {shown}", key=dotted)

        kind = self.type
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif kind is list:
            ok = isinstance(value, (list, tuple)) and (
                self.items is None or all(isinstance(item, self.items) for item in value)
            )
            value = tuple(value) if ok else value
        elif kind is dict:
            ok = isinstance(value, Mapping)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise refuse(self._describe())
        if kind is str and self.secret:
            value = value.strip()
            if not value:
                raise ConfigError("is empty; set it to " + (self.help or "the secret, from the environment "
                                                             "(e.g. \"${MY_SECRET}\")"), key=dotted)
            if any(char.isspace() for char in value):
                raise ConfigError("contains whitespace inside; a secret is one unbroken word (check how it was "
                                  "pasted); the value is not shown", key=dotted)
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise refuse(self._describe())
        if self.choices is not None and value not in self.choices:
            raise refuse(f"one of {', '.join(repr(c) for c in self.choices)}")
        return value

    def _describe(self) -> str:
        what = SETTING_TYPES[self.type]
        if self.type is list and self.items is not None:
            what = f"a list of {_PLURALS.get(self.items, self.items.__name__ + ' values')}"
        if self.min is not None and self.max is not None:
            return f"{what} from {_num(self.min)} to {_num(self.max)}"
        if self.min is not None:
            return f"{what} of {_num(self.min)} or more"
        if self.max is not None:
            return f"{what} of {_num(self.max)} or less"
        return what


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_settings(
    settings: Mapping[str, Any], schema: Mapping[str, Setting] | None, *, kind: str, name: str,
    secrets: Sequence[str] = (),
) -> None:
    """Refuse a key the type does not declare, naming it, with a "did you mean" when close.

    A type that declares no schema (``settings=None``) accepts any key. The refused value
    is shown unless it holds one of ``secrets`` (a typo'd ``acess_token = "${TOKEN}"``
    must not print the token): then it is said to be from the environment, not shown.
    """
    from .errors import ConfigError

    if schema is None:
        return
    allowed = set(schema) | FRAMEWORK_SETTINGS.get(kind, frozenset({"type"}))
    for key in settings:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, sorted(allowed - {"type"}), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(allowed - {"type"})) or "none"
        shown = repr(settings[key])
        if any(secret and secret.strip() and secret.strip() in shown for secret in secrets):
            shown = "(a value from the environment, not shown)"
        raise ConfigError(
            f"unknown setting {key!r} = {shown}; {hint}settings of this type: {known}",
            key=".".join(part for part in (kind, name, key) if part),
        )


@runtime_checkable
class StockPort(Protocol):
    """What a warehouse may read of the stock fulfilhub keeps for it (``fulfilhub stock set``)."""

    def levels(self, skus: Sequence[str]) -> list[StockLevel]:
        """This warehouse's stock of each SKU asked for (SKUs it does not stock are left out)."""

    def unit_weights(self, skus: Sequence[str]) -> dict[str, int]:
        """Grams per unit of the SKUs asked for, where known."""

    def packing_facts(self, skus: Sequence[str]) -> tuple[dict[str, int], set[str]]:
        """:meth:`unit_weights` of ``skus``, and those of them received by lot (whose
        packing :meth:`pick_lots_many` must be asked), in one read."""

    def pick_lots_many(self, wanted: Mapping[str, tuple[Mapping[str, int], datetime]]
                       ) -> dict[str, tuple[list[LotPick], list[ShortPick]]]:
        """For each request ``key``: take ``{sku: units}`` from this warehouse's lots, first
        expiry first out, once per key (asked again, the same answer), packing at the time
        given with it (a lot that expired before that day is not picked): the lots picked,
        and the units short where no unexpired lot is left. SKUs kept without lots are in
        neither. One transaction for the whole batch."""


@runtime_checkable
class StatePort(Protocol):
    """A small key -> JSON store of the instance's own, in fulfilhub's database.

    Keys are the instance's own (the store namespaces them by kind and instance name);
    values are anything ``json.dumps`` takes. Each call is one transaction.
    """

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None."""

    def insert(self, key: str, value: Any) -> bool:
        """Store ``value`` under ``key`` unless the key exists; True if it was stored."""

    def compare_and_set(self, key: str, expected: Any, value: Any) -> bool:
        """Replace the value under ``key`` with ``value`` only if it still equals ``expected``.

        True if replaced; False when the value changed since it was read (read it again
        and retry) or the key does not exist.
        """


@attrs.frozen(kw_only=True)
class InstanceContext:
    """Everything a factory gets to build one configured instance.

    ``settings`` is the instance's table from ``fulfilhub.toml`` with ``${ENV}``
    references already resolved; ``secrets`` lists the resolved values that must never
    be logged. ``http(base_url, ...)`` builds a client with timeouts, retries and
    redaction. ``schema`` is the registered type's declared settings (what
    :meth:`setting` reads by name). ``state`` is the instance's own key -> JSON store in
    fulfilhub's database; ``stock`` (warehouses only) reads the stock fulfilhub keeps for
    it. Both are None where no store is open.
    """

    name: str
    settings: Mapping[str, Any]
    clock: Clock
    http: Callable[..., HttpClient]
    secrets: tuple[str, ...] = ()
    kind: str = ""  # "channels", "carriers", "warehouses" or "notifiers"
    schema: Mapping[str, Setting] | None = None
    state: StatePort | None = None
    stock: StockPort | None = None

    def key(self, setting: str) -> str:
        """The dotted config key of one of this instance's settings, for error messages."""
        return ".".join(part for part in (self.kind, self.name, setting) if part)

    def setting(
        self,
        key: str,
        type: type | None = None,  # noqa: A002  (reads as the declaration it mirrors)
        *,
        default: Any = REQUIRED,
        min: float | None = None,  # noqa: A002
        max: float | None = None,  # noqa: A002
        choices: Sequence[Any] | None = None,
        items: type | None = None,
        secret: bool = False,
    ) -> Any:
        """Read one setting, checked: ``context.setting("page_size", int, default=250, min=1, max=250)``.

        Without a type, the setting the registered type declared under ``key`` is used
        (its type, default and limits). A missing required setting or a value of the
        wrong type or out of range raises a ConfigError naming the dotted key and the
        value (a secret's value is never shown).
        """
        if type is None:
            declared = (self.schema or {}).get(key)
            if declared is None:
                raise TypeError(
                    f"setting {key!r} is not declared by this type; declare it in the type's settings "
                    f"or pass its type: context.setting({key!r}, int, default=...)"
                )
        else:
            declared = Setting(
                type, default=default, min=min, max=max, items=items, secret=secret,
                choices=tuple(choices) if choices is not None else None,
            )
        return declared.read(key, self.settings, self.key(key))

    def check_settings(self) -> None:
        """Refuse settings the type does not declare (ConfigError naming the dotted key), and
        a value from the environment with whitespace around it where the type does not
        declare the setting secret (a declared secret is stripped when it is read)."""
        from .errors import ConfigError

        check_settings(self.settings, self.schema, kind=self.kind, name=self.name, secrets=self.secrets)
        for key, value in self.settings.items():
            declared = (self.schema or {}).get(key)
            if (isinstance(value, str) and value != value.strip() and value in self.secrets
                    and not (declared is not None and declared.secret)):
                raise ConfigError(
                    "the value this setting takes from the environment has whitespace around it "
                    "(a trailing newline, as env files and base64-decoded secrets often leave); "
                    "strip it where the variable is set (the value is not shown)",
                    key=self.key(key),
                )


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

    def push_fulfillment(
        self, order: Order, shipment: ShipmentPush, key: str, *, attempt: int | None = None
    ) -> str:
        """Tell the channel a shipment left, with tracking; return the channel's id for it.

        ``key`` is the idempotency key: called twice with the same key, the channel must
        end up with one fulfillment. ``attempt == 1`` is the first try of this effect:
        no earlier try can have reached the API, so act at once. ``attempt > 1`` or
        None: an earlier try may have reached the API with an unknown outcome, so look
        before acting where the API takes no idempotency key.
        """

    def push_tracking(
        self, order: Order, shipment: ShipmentPush, status: TrackingStatus, key: str, *, attempt: int | None = None
    ) -> None:
        """Tell the channel of a tracking milestone (in transit, delivered...).

        ``attempt`` as for :meth:`push_fulfillment`.
        """

    def close(self) -> None: ...


@runtime_checkable
class Carrier(Protocol):
    """A courier API.

    A carrier that can follow a parcel whose label was bought elsewhere (a type
    registered ``tracks_only``; ``fulfilhub shipments attach-code``) may also offer
    ``outside_label(tracking_code, *, courier, ship_to) -> Label``: the Label it
    tracks that code by (``courier`` is the courier's code as the operator gave it,
    ``ship_to`` the order's address). Without it, a plain Label costing nothing is made.
    """

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
    """Delivers a rendered customer notice (email, SMS, webhook, console...)."""

    def send(self, notice: Notice, *, attempt: int) -> str:
        """Deliver ``notice`` (``notice.key`` is its idempotency key); return a reference for the log.

        ``attempt == 1``: no earlier try can have reached the outside world. ``attempt >
        1``: one may have, so look before sending again where the medium allows (the
        ``jsonl`` notifier looks in its file; a webhook receiver sees the same
        ``Idempotency-Key``). Raise TransientError to be retried later, PermanentError
        when retrying cannot help.
        """

    def close(self) -> None: ...


# --------------------------------------------------------------------------- optional capabilities


@runtime_checkable
class WebhookReceiver(Protocol):
    """An adapter that can take the foreign service's webhooks (an optional capability).

    The core asks ``isinstance(adapter, WebhookReceiver)`` (or :func:`capabilities`)
    before routing a webhook to it. ``body`` is the raw request body, exactly as it
    arrived: verify it before parsing it. Where the vendor signs a timestamp,
    ``verify_webhook`` refuses a stale one.

    An adapter may also offer ``webhook_delivery(headers, body) -> WebhookDelivery``:
    the vendor's delivery id (the same on each retry) and when it was sent. The server
    then keeps one inbox row per delivery id and refuses a delivery sent longer ago than
    ``[server] webhook_tolerance_seconds``; without it, a delivery is known by the
    SHA-256 of its body.

    And ``webhook_reply(outcome) -> (status, media_type, body)``, where the vendor
    expects its own answer (ECPay ``1|OK``; Kuaidi100 ``{"result": true, ...}``):
    ``outcome`` is ``"accepted"``, ``"duplicate"`` or ``"refused"`` (the delivery itself
    was refused: too large, bad signature, malformed, stale), and the server answers
    with that HTTP status, media type and body (bytes) instead of its JSON. A refusal
    for the server's own state (no secret, store down: 503) keeps the JSON answer.
    """

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the request carries a valid signature of ``body``.

        A missing or wrong signature is False; raise ConfigError when the adapter has no
        secret configured to verify with.
        """

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Order | TrackingUpdate | FulfillmentUpdate | None:
        """What a verified webhook carries: an ``Order`` (channels), a ``TrackingUpdate``
        (carriers, and warehouses that ship), a ``FulfillmentUpdate`` (warehouses), or
        None for a topic the adapter does not act on. Raise PayloadError when the body
        cannot be mapped.
        """


@runtime_checkable
class CompensationIssuer(Protocol):
    """A channel that can issue a compensation to its customer (an optional capability).

    The compensation engine's ``channel.issue_compensation`` effect calls it for an
    approved compensation of an order from this channel.
    """

    def issue_compensation(
        self, order: Order, grant: CompensationProposal, key: str, *, attempt: int | None = None
    ) -> tuple[str, str] | None:
        """Issue ``grant`` (``grant.value`` is the amount to give now) and return ``(code, ref)``.

        ``code`` is what the customer uses (a discount code), empty for a refund; ``ref``
        is the channel's id for what it created. Return None for a kind the channel does
        not issue (the ledger then records it for the shop to honour by hand). ``key`` is
        the idempotency key: stamp it on what is created, and with ``attempt > 1`` look
        for it before creating again.
        """


@runtime_checkable
class StockPusher(Protocol):
    """A channel that takes the sellable quantity of each SKU (an optional capability).

    The ``push_stock`` job calls it with the quantities that changed since the last
    push, so the shop stops selling what is gone.
    """

    def push_stock(self, levels: Mapping[str, int], key: str, *, attempt: int | None = None) -> Sequence[str]:
        """Set each SKU's sellable quantity to ``levels[sku]`` (an absolute number, never a delta).

        Batch the calls as the API allows. Setting a quantity twice is harmless, so a
        retry (``attempt > 1``, ``key`` the same) simply sets the same numbers again.
        Return the SKUs of ``levels`` the shop has no listing for (nothing was set for
        them). Raise TransientError to be tried again on the next run.
        """


@runtime_checkable
class MarketplaceLogistics(Protocol):
    """A channel that ships orders with the marketplace's own logistics (an optional capability).

    An order whose ``fulfilled_by`` is ``FulfilledBy.MARKETPLACE`` buys no label: once its
    shipment is packed, ``buy_labels`` asks the channel to arrange it (Shopee's
    ``ship_order`` with pickup or dropoff) and takes the tracking number the marketplace
    issues; ``poll_tracking`` then asks the channel, not a carrier, where the parcel is.
    """

    def arrange_shipment(self, order: Order, push: ShipmentPush, key: str, *,
                         attempt: int | None = None) -> Label | None:
        """Hand the packed shipment to the marketplace's logistics and return its label.

        ``Label.carrier`` must be the channel's instance name (``context.name``), so its
        tracking is asked of this channel; ``cost`` is what the seller pays for it (zero
        when the marketplace bills it elsewhere). Return None while the marketplace has
        not issued a tracking number yet (asked again on the next run). Look before you
        act: an order the marketplace already ships returns the label it has.
        """

    def track_shipment(self, label: Label) -> TrackingUpdate:
        """Where the marketplace's carrier says the parcel is (as :meth:`Carrier.track`)."""


@attrs.frozen(kw_only=True)
class WebhookDelivery:
    """Which delivery a webhook is (:meth:`WebhookReceiver.webhook_delivery`).

    Attributes:
        id: The vendor's id of the delivery, the same on each retry of it (Shopify's
            ``X-Shopify-Webhook-Id``, EasyPost's event id); 1 to 200 characters.
        sent_at: When the vendor sent or triggered it (timezone-aware); None when the
            vendor says nothing.
        signed: True when ``sent_at`` is covered by the signature (inside the signed
            body, say): an unsigned time still stops a naive replay, but a forger could
            change it.
    """

    id: str = attrs.field(validator=[attrs.validators.min_len(1), attrs.validators.max_len(200)])
    sent_at: datetime | None = None
    signed: bool = False

    def __attrs_post_init__(self) -> None:
        if self.sent_at is not None and self.sent_at.tzinfo is None:
            raise ValueError(f"WebhookDelivery.sent_at must be timezone-aware, got {self.sent_at.isoformat()}")


@runtime_checkable
class ShipmentTracker(Protocol):
    """A warehouse that follows the parcels it shipped with its own labels (an optional capability).

    When no configured carrier can track the courier a warehouse shipped with, the
    ``poll_tracking`` job asks the warehouse itself: ``label.shipment_ref`` is the
    warehouse's reference (``submit``'s answer), ``label.tracking_code`` the code it
    reported.
    """

    def track(self, label: Label) -> TrackingUpdate:
        """The parcel's tracking as the warehouse knows it (its status, and scans where it has them)."""


#: Optional capability protocols, by the name :func:`capabilities` reports.
CAPABILITIES: Mapping[str, type] = {
    "track": ShipmentTracker,
    "webhooks": WebhookReceiver,
    "issue_compensation": CompensationIssuer,
    "push_stock": StockPusher,
    "marketplace_logistics": MarketplaceLogistics,
}


def capabilities(adapter: object) -> frozenset[str]:
    """The optional capabilities ``adapter`` has (``{"webhooks"}``...). ``track`` is a
    warehouse's option (a 3PL following its own parcels); every carrier tracks, so a
    carrier does not list it."""
    return frozenset(name for name, protocol in CAPABILITIES.items() if isinstance(adapter, protocol)
                     and not (name == "track" and isinstance(adapter, Carrier)))


# --------------------------------------------------------------------------- registered types
#
# ``settings`` declares the instance settings a type reads (see :class:`Setting`); a
# configured instance with any other key is refused, naming the key. None (the default)
# declares nothing and accepts any key.


A = TypeVar("A")


@attrs.frozen(kw_only=True)
class AdapterType(Generic[A]):
    """One registered type of adapter: ``factory(context)`` builds an instance of it.

    Attributes:
        name: The type's name, as ``type = "..."`` in ``fulfilhub.toml``.
        factory: Builds one configured instance from its :class:`InstanceContext`.
        description: One line for ``fulfilhub plugins``.
        settings: The instance settings it reads (None: any key is accepted).

    A plugin registers one of the four kinds below, which differ only in what the
    factory returns and which ``register_*_types`` hook takes them.
    """

    name: str
    factory: Callable[[InstanceContext], A]
    description: str = ""
    settings: Mapping[str, Setting] | None = None


class ChannelType(AdapterType["Channel"]):
    """A channel type (``register_channel_types``): its factory returns a :class:`Channel`."""


@attrs.frozen(kw_only=True)
class CarrierType(AdapterType["Carrier"]):
    """A carrier type (``register_carrier_types``): its factory returns a :class:`Carrier`.

    ``tracks_only``: the type follows parcels whose labels were bought elsewhere (a
    tracking service such as Kuaidi100). The runner never asks it for rates nor buys
    from it; a shipment reaches it carrying a :class:`Label` made outside, and only its
    ``track`` (and webhooks) are called. The conformance suite skips the label checks
    for it, saying why.

    ``countries``: the ISO 3166 codes of the destinations it delivers to (empty: it
    does not say; it is asked, and a carrier that quotes nothing for a lane simply
    offers nothing). The runner quotes only carriers that serve the shipment's
    destination, so a domestic carrier is not asked about a parcel abroad.
    """

    tracks_only: bool = False
    countries: tuple[str, ...] = attrs.field(default=(), converter=lambda v: tuple(str(c).upper() for c in v))


@attrs.frozen(kw_only=True)
class WarehouseType(AdapterType["Warehouse"]):
    """A warehouse type (``register_warehouse_types``): its factory returns a :class:`Warehouse`.

    ``ships_own_labels``: the warehouse buys its own labels (a 3PL). ``buy_labels``
    never quotes for its packed shipments; they stay with the warehouse until it answers
    ``shipped`` with the carrier and tracking code (:class:`FulfillmentUpdate`).

    ``keeps_stock``: the warehouse keeps its own stock (a 3PL). The ``sync_stock`` job
    copies its ``stock_levels`` into fulfilhub's stock table, keeping the reservations
    it has not seen yet, and allocation reads that table for it (not the live API).
    """

    ships_own_labels: bool = False
    keeps_stock: bool = False


class NotifierType(AdapterType["Notifier"]):
    """A notifier type (``register_notifier_types``): its factory returns a :class:`Notifier`."""


@attrs.frozen(kw_only=True)
class ReportSection:
    """One part of ``fulfilhub report`` beside the KPIs (``register_report_sections``).

    Attributes:
        name: Its key in ``--json`` output (not one of the KPI keys, not another section's).
        title: Its heading in the terminal and the HTML file.
        collect: ``collect(conn, window)`` -> its data (JSON-able), or None when it has
            nothing to report. ``conn`` is a read connection to the store, ``window`` the
            report's ``Window`` (``since``, ``until``, ``as_of``).
        rows: ``rows(data)`` -> ``(label, value)`` lines shown in the terminal and the HTML file.
        charts: ``charts(data)`` -> Altair charts for the HTML file (may be empty).
    """

    name: str
    title: str
    collect: Callable[[Any, Any], Any]
    rows: Callable[[Any], list[tuple[str, str]]]
    charts: Callable[[Any], list[Any]] = lambda data: []


@attrs.frozen(kw_only=True)
class CompensationPolicy:
    """A named rule that proposes a compensation for a delayed order.

    ``propose`` is called with keyword arguments ``order`` (Order), ``assessment``
    (DelayAssessment), ``given`` (the CompensationProposals already given for the order,
    oldest first) and ``settings`` (the ``[compensation]`` table as written), and returns
    a CompensationProposal for what the whole delay deserves, or None. The engine gives
    at most the difference to what was given (the top-up rule; see
    ``fulfilhub.engines.compensation``).
    """

    name: str
    propose: Callable[..., CompensationProposal | None]
    description: str = ""
