"""Every hook fulfilhub calls, with what it is for.

Implement hooks with ``@fulfilhub.hookimpl`` in a module that your package names in the
``fulfilhub`` entry-point group. Hooks are always called with keyword arguments; never
give an implementation's argument a default (pluggy would silently not pass it).

Hooks marked *first result* stop at the first implementation that returns something
other than None; all others are broadcast to every implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    import click

    from .adapters import (
        CarrierType,
        ChannelType,
        CompensationPolicy,
        NotifierType,
        ReportSection,
        WarehouseType,
    )
    from .models import (
        CompensationProposal,
        DelayAssessment,
        Order,
        OrderStatus,
        Promise,
        Rate,
        Standing,
        StockLevel,
    )
    from .sandbox.simulator import Simulator

PROJECT = "fulfilhub"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ------------------------------------------------------------------ registration


@hookspec
def register_channel_types(register: Callable[[ChannelType], None]) -> None:
    """Register channel (marketplace / shop) types.

    Called through pluggy once per plugin: for every plugin implementing it when the
    plugin manager is built, and for a plugin registered later when it is registered.
    A ``wrapper=True`` implementation wraps each of those calls (audit, metrics), and
    ``FULFILHUB_TRACE_HOOKS=1`` shows them. Call ``register(ChannelType(...))`` for each
    type the plugin provides; config instances name it by ``type = "<name>"``.
    Registering a name twice is an error naming both plugins.
    """


@hookspec
def register_carrier_types(register: Callable[[CarrierType], None]) -> None:
    """Register carrier (courier API) types. Same contract as ``register_channel_types``."""


@hookspec
def register_warehouse_types(register: Callable[[WarehouseType], None]) -> None:
    """Register warehouse types (own stock, 3PLs). Same contract as ``register_channel_types``."""


@hookspec
def register_notifier_types(register: Callable[[NotifierType], None]) -> None:
    """Register notifier types (email, SMS, webhook, console...).

    Same contract as ``register_channel_types``. A ``[notifiers.NAME]`` instance names
    one; the type's factory builds a :class:`~fulfilhub.adapters.Notifier` whose
    ``send(notice, attempt=...)`` the runner calls for each ``notice.send`` outbox
    effect routed to that instance (``events`` and ``channels`` in its table). The
    built-in ``console``, ``jsonl``, ``smtp`` and ``webhook`` types come after
    installed ones.
    """


@hookspec
def register_compensation_policies(register: Callable[[CompensationPolicy], None]) -> None:
    """Register compensation policies that propose a compensation for a delayed order.

    Same contract as ``register_channel_types``. The compensation engine asks the
    policy named by ``[compensation] policy`` (default: the built-in ``rules``) about each
    delay of a day or more: ``propose(order=, assessment=, given=, settings=)`` returns a
    :class:`~fulfilhub.models.CompensationProposal` for what the whole delay deserves, or
    None. ``given`` holds what the order was already given; the engine gives at most
    the difference (the top-up rule), capped and within the budget.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``fulfilhub`` command line: ``cli.command()(fn)`` or ``cli.add_command``.

    Called once, lazily: the first time the CLI needs a command that is not a built-in
    one, or lists its commands (``--help``). Importing ``fulfilhub.cli`` or running a
    built-in command loads no plugin.
    """


@hookspec
def register_simulators(register: Callable[[Simulator], None]) -> None:
    """Register a local simulator of the foreign API your plugin adapts.

    ``fulfilhub sandbox`` and ``fulfilhub demo`` serve every registered simulator on
    loopback, mounted at ``/<name>``, on the scenario clock.
    """


@hookspec
def register_report_sections(register: Callable[[ReportSection], None]) -> None:
    """Add a part to ``fulfilhub report``: ``register(ReportSection(...))``.

    Called once per implementing plugin, when the plugin manager is built. Each section
    gathers its own data from the store for the report's window (``collect``), or
    answers None and is left out; its ``name`` is its key in ``--json`` and must not be a
    KPI key or another section's. The report shows the built-in sections (the promise
    backtest, compensation cost against budget) first, then the plugins', in the order
    they were registered.
    """


# ------------------------------------------------------------------ decisions


@hookspec(firstresult=True)
def choose_rate(
    order: Order, shipment_id: str, rates: Sequence[Rate], promise: Promise | None, arrive_by: Mapping[str, datetime],
    standing: Mapping[str, Standing], skipped: Mapping[str, str],
) -> Rate | None:
    """Choose the carrier service for a shipment among the quoted ``rates``.

    ``rates`` holds every rate from every configured carrier that serves the lane and
    answered. ``promise`` is the order's promise in force (None when it has none).
    ``arrive_by`` maps each rate's ``rate_id`` to when a parcel sent with it now would
    arrive (the end of that day in the destination's time zone), by the promise
    engine: the transit learned for that carrier service on the lane at the promise's
    target share, else the carrier's stated transit, else the configured default.
    ``standing`` maps each carrier instance to its
    :class:`~fulfilhub.models.Standing`: its scorecard, ``excluded`` (why it must not
    be chosen, "" when it may) and ``penalty`` (to add to its rates' price when
    comparing), by ``[carrier_choice]``. ``skipped`` maps each carrier instance that
    was not quoted (or whose label purchase failed for this shipment) to why
    ("circuit open", "quote failed: ..."). Return the chosen
    :class:`~fulfilhub.models.Rate`, or None to let the next implementation decide (in
    the end the built-in: the cheapest rate, penalty included, of a carrier not
    excluded that arrives by the promise's deliver-by, else the fastest). First result.
    """


@hookspec(firstresult=True)
def allocate_order(order: Order, stock: Sequence[StockLevel]) -> list[tuple[str, str, int]] | None:
    """Split an order across warehouses.

    ``stock`` holds the stock level of each ordered SKU in each configured warehouse.
    Return a list of ``(warehouse, sku, quantity)`` covering every line, or an empty
    list when the order cannot be covered now (it is backordered), or None to let the
    next implementation decide. The built-in prefers one warehouse that has everything,
    then fewest warehouses. First result.
    """


# ------------------------------------------------------------------ promises and delays


@hookspec(firstresult=True)
def adjust_promise(order: Order | None, promise: Promise) -> Promise | bool | None:
    """Adjust or veto a delivery promise before it is stored or quoted.

    Called by the promise engine for every promise it makes: for an order (``order``
    given) when it is accepted or revised, and for a quote before checkout (``order``
    None). Return a :class:`~fulfilhub.models.Promise` (``attrs.evolve(promise, ...)``)
    to promise that instead (its ``reason`` says why: it goes on the revision and the
    order event), ``False`` to veto it (no promise is made; a quote fails saying so, an
    order gets a note), or None to let it stand. First result.
    """


@hookspec
def delay_detected(assessment: DelayAssessment, previous: DelayAssessment | None) -> None:
    """Called after a new delay assessment of an order is committed, once per stored change.

    ``assessment`` is the new finding (on track, at risk or late, with its reason, days
    late, revised ETA and plain-language detail); ``previous`` is the order's assessment
    before it (None the first time). The job ``assess_delays`` stores an assessment only
    when the finding changes, so an order that recovers gives one call with state
    ``on_track``. Broadcast; the return value is ignored.
    """


@hookspec
def compensation_issued(order_id: str, compensation: CompensationProposal, code: str, ref: str) -> None:
    """Called once after a compensation's issuance is committed (the channel issued it, or
    it was recorded for the shop to honour by hand).

    ``compensation`` is what was given now (``value``: the amount, a top-up's difference
    when it is one; ``kind``, ``tier``, ``reason``, ``policy``); ``code`` is the discount
    code the customer types (empty for a refund or a kind the channel does not issue);
    ``ref`` the channel's id for what it created. Broadcast; the return value is ignored.
    """


# ------------------------------------------------------------------ lifecycle events


@hookspec
def order_received(order: Order) -> None:
    """Called once per order, after a new order is stored (not again for new versions)."""


@hookspec
def order_status_changed(order_id: str, old: OrderStatus | None, new: OrderStatus, reason: str, source: str) -> None:
    """Called after an order's status change is committed, once per change."""


@hookspec
def shipment_delivered(order_id: str, shipment_id: str, delivered_at: datetime) -> None:
    """Called once when a shipment's tracking first says delivered (``delivered_at`` is aware)."""
