"""Labels bought elsewhere: a shipment takes the tracking code of a parcel whose label
fulfilhub did not buy (``fulfilhub shipments track-code``, a scenario), and the named
carrier follows it from then on, by polling and by its webhooks, like any other.

The carrier is one that can follow such a code: its type is registered ``tracks_only``
(Kuaidi100), or its adapter says how such a label looks (``outside_label``). The
shipment must be at its warehouse with no label yet; a rate already chosen for it is
then not bought (the purchase effect finds the label and is skipped).
"""

from __future__ import annotations

from ..engines import fulfilment
from ..errors import ConfigError, FulfilhubError, NotFound, PluginError
from ..models import Label, Money, Order, Shipment
from ..store import orders as order_store
from ..store import shipments as shipment_store
from .runtime import Runtime

#: The longest tracking code taken (the longest Kuaidi100 takes is 32 characters).
MAX_CODE = 64


def outside_label(rt: Runtime, carrier: str, code: str, courier: str, order: Order) -> Label:
    """The Label of ``code`` as ``carrier`` follows it: its adapter's ``outside_label(code,
    courier=, ship_to=)`` where it has one, else a plain one costing nothing (for a
    ``tracks_only`` type). ConfigError for a carrier that is not configured or cannot
    follow a code bought elsewhere; PluginError for an adapter's bad answer."""
    code, courier = code.strip(), courier.strip()
    if not code or len(code) > MAX_CODE or not code.isprintable() or any(c.isspace() for c in code):
        raise ConfigError(f"--code {code[:70]!r} is not a tracking code: 1 to {MAX_CODE} printable characters, "
                          "no spaces")
    inst = rt.config.carriers.get(carrier)
    if inst is None:
        raise ConfigError(f"no carrier {carrier!r} in the config; configured: {', '.join(rt.config.carriers) or 'none'}")
    adapter = rt.carrier(carrier)
    make = getattr(adapter, "outside_label", None)
    if make is None:
        if not getattr(rt.plugins.registry.carriers.get(inst.type), "tracks_only", False):
            raise ConfigError(f"carrier {carrier!r} ({inst.type}) sells labels and cannot follow one bought "
                              "elsewhere; name a carrier that only tracks (such as Kuaidi100)")
        return Label(carrier=carrier, carrier_name=courier, service="", tracking_code=code, shipment_ref="",
                     cost=Money(amount="0", currency=order.currency))
    label = make(code, courier=courier, ship_to=order.ship_to)
    if not isinstance(label, Label) or label.carrier != carrier or label.tracking_code != code:
        raise PluginError(f"carrier {carrier!r}: outside_label returned {label!r}, not a Label of {carrier!r} "
                          f"for {code!r}")
    return label


def attach(rt: Runtime, shipment_id: str, *, carrier: str, code: str, courier: str = "") -> Shipment:
    """Give ``shipment_id`` the tracking code of a label bought elsewhere, followed by
    ``carrier`` (``courier``: the courier's code where the carrier needs it, e.g.
    Kuaidi100's ``shunfeng``; empty: the carrier finds it). Returns the shipment as saved.

    NotFound for an unknown shipment; a FulfilhubError when it cannot take a label (it
    has one, or is not at its warehouse) or the code is another shipment's already.
    """
    with rt.store.read() as conn:
        shipment = shipment_store.load(conn, shipment_id)
        if shipment is None:
            raise NotFound(f"no shipment {shipment_id!r}; `fulfilhub shipments list` shows them")
        found = order_store.load(conn, shipment.order_id)
        taken = shipment_store.by_tracking_code(conn, carrier, code.strip())
    if found is None:
        raise NotFound(f"shipment {shipment_id}: its order {shipment.order_id!r} is not stored")
    order = found[0]
    if taken is not None and taken.id != shipment_id:
        raise FulfilhubError(f"{carrier} already follows {code.strip()!r} for shipment {taken.id}; "
                             "a tracking code belongs to one parcel")
    label = outside_label(rt, carrier, code, courier, order)
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        current = shipment_store.load(tx.conn, shipment_id) or shipment  # as it is now, inside the transaction
        saved = fulfilment.record_outside_label(tx, rt.hooks, current, label, order.channel, now)
    rt.shipment_moved(saved, order.ship_to)  # in flight for the promise engine
    return saved
