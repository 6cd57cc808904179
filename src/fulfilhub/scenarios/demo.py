"""``fulfilhub demo``: a few simulated days of the registered shops, two warehouses and couriers.

Builds a world (:func:`~.world.build_world`: every registered simulator on loopback on a
scenario clock, a workspace ``fulfilhub.toml`` + SQLite) and drives the real runner
through the days with the same scheduler ``fulfilhub run`` uses, injecting rate limits
(channels) and server errors (carriers) on the way. Nothing is faked between the runner
and the simulators: it is all HTTP over loopback. Nothing here names a plugin: the
simulators describe their own part.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ..engines import compensation, lifecycle
from ..models import OrderStatus
from ..plugins import PluginManager
from ..runner.jobs import JobReport
from ..server import ServerThread
from ..store import Store
from ..store import choices as choice_store
from ..store import compensation as ledger
from ..store import delays as delay_store
from ..store import inbox as inbox_store
from ..store import meta as meta_store
from ..store import notices as notice_store
from ..store import orders as order_store
from ..store import outbox
from ..store import quarantine as quarantine_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from ..store.ports import state_value
from .lots import after_sale, seed_lots
from .mainland import MainlandOrder
from .world import WAREHOUSES, World, build_world

START = datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc)

#: The demo's schedule, in simulated time.
SCHEDULE = {
    "pull_orders": timedelta(hours=1),
    "allocate": timedelta(hours=1),
    "deliver_effects": timedelta(hours=1),
    "poll_warehouses": timedelta(hours=1),
    "buy_labels": timedelta(hours=1),
    "poll_tracking": timedelta(hours=8),
    "assess_delays": timedelta(hours=1),
    "notices": timedelta(hours=1),
    "push_stock": timedelta(hours=1),
    "sync_stock": timedelta(hours=1),
}

#: The demo's disruption: a typhoon closes the hub serving Taiwan for three days, from
#: the second morning (its parcels wait; EasyPost scans ``weather_delay``).
TYPHOON = {"kind": "hub_closed", "after": timedelta(days=1), "days": 3, "region": "TW", "cause": "Typhoon Haikui"}

#: With two carriers or more that sell labels: the API of the one chosen most so far goes
#: down for this long, from the middle of the order days (every request answered 503),
#: so that the choice must switch away from it and back.
OUTAGE_HOURS = 12


@attrs.define
class DemoResult:
    workspace: Path
    config_path: Path
    counts: dict[str, int]
    pulled: int
    quarantined: int
    split_orders: int
    shipments: int
    scans: int
    effects: dict[str, int]
    faults_injected: int
    errors_survived: int
    sample_order: str | None
    simulated: timedelta
    settle: timedelta
    #: The disruption and how well delays were found, from the run's ground truth (:func:`delay_figures`).
    delays: dict[str, Any] = attrs.Factory(dict)
    #: Notices by event and locale, compensations and their cost (:func:`summary`).
    notices: dict[str, Any] = attrs.Factory(dict)
    #: Labels bought per carrier instance: how many, what they cost, how many delivered.
    carriers: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: The carrier choice (:func:`choice_figures`): promises met, cost against always-cheapest
    #: and always-fastest on the same quotes, and the switch away from a carrier during the outage.
    choice: dict[str, Any] = attrs.Factory(dict)
    #: Job runs that refused to work on the store's clock (the time base: none in a healthy run).
    refused: int = 0
    webhooks: dict[str, int] = attrs.Factory(dict)  # with --serve: answers by HTTP status
    inbox: dict[str, int] = attrs.Factory(dict)  # with --serve: deliveries by inbox status
    #: The mainland China order with a label bought elsewhere (:mod:`.mainland`): its parcels and scans.
    mainland: dict[str, Any] = attrs.Factory(dict)
    #: Per 3PL warehouse (``--warehouse``): its shipments, how many it shipped with its own
    #: label and delivered, by which courier, who followed them, and one tracking code.
    third_party: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: Per channel instance (:func:`channel_figures`): orders pulled, delivered, shipped by the
    #: marketplace, still open, and the stock it was told.
    channels: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: The SKU every channel sells from one limited stock, and whether it was oversold (:func:`shared_sku`).
    shared_sku: dict[str, Any] = attrs.Factory(dict)
    #: Order accuracy, line issues by kind, and the recalled lot (:func:`.lots.after_sale`).
    after_sale: dict[str, Any] = attrs.Factory(dict)


def run_demo(
    *,
    orders: int = 300,
    days: int = 3,
    seed: int = 7,
    settle_days: int = 5,
    workspace: Path | None = None,
    plugins: PluginManager | None = None,
    on_step: Callable[[int, int], None] | None = None,
    serve: bool = False,
    channels: Sequence[str] | None = None,
    carriers: Sequence[str] | None = None,
    warehouses: Sequence[str] | None = None,
) -> DemoResult:
    """Simulate ``days`` days with about ``orders`` orders; returns what happened.

    After the last order arrives the simulation goes on (at most ``settle_days`` more
    days, stopping early once no parcel is still on the way) so that orders can arrive.

    With ``serve``, ``fulfilhub serve``'s app runs on loopback over the world's runtime
    and the simulators push their webhooks to it every simulated hour (orders as they
    arrive or change, tracking as it moves); the ``process_inbox`` job processes them,
    and polling goes on beside them as the safety net.

    ``channels`` names the channel simulators to run (``["woocommerce", "shopify"]``);
    None runs every registered one. An unknown name is a ValueError naming the known ones.
    ``warehouses`` names 3PL warehouse simulators (``["shipbob"]``) that stand in for the
    two ``local`` warehouses: their stock is the simulator's (synced by ``sync_stock``),
    they ship with their own carrier, and the result's ``third_party`` says with what.
    """
    if orders < 1 or days < 1:
        raise ValueError("--orders and --days must be at least 1")
    pm = plugins or PluginManager()
    if channels is not None:
        known = sorted(name for name, sim in pm.registry.simulators.items()
                       if sim.demo is not None and sim.demo.kind == "channels")
        unknown = sorted(set(channels) - set(known))
        if unknown or not channels:
            raise ValueError(f"no channel simulator named {', '.join(unknown) or '(none given)'}; "
                             f"the installed ones are: {', '.join(known) or 'none'}")
    workspace = Path(workspace or tempfile.mkdtemp(prefix="fulfilhub-demo-")).resolve()
    rng = random.Random(seed)
    # Every registered simulator runs with its own demo options; channels get the pace.
    options = {
        name: {**sim.demo.options, **({"orders_per_day": orders / days} if sim.demo.kind == "channels" else {})}
        for name, sim in pm.registry.simulators.items()
        if sim.demo is not None and (channels is None or sim.demo.kind != "channels" or name in channels)
    }
    reports: list[JobReport] = []
    webhooks: dict[int | str, int] = {}
    third_party = list(warehouses or ())
    local = () if third_party else WAREHOUSES
    with build_world(pm, workspace, start=START, seed=seed, options=options, webhooks=serve, channels=channels,
                     carriers=carriers, third_party=third_party, warehouses=local,
                     extra_config=demo_config(workspace)) as world, contextlib.ExitStack() as serving:
        channels, carriers = world.simulators("channels"), world.simulators("carriers")
        shared = _shared(channels.values())
        if third_party:
            _seed_third_party(world, _catalog(channels.values()), rng, orders)
        else:
            _seed_stock(world, _catalog(channels.values()), rng, orders, limited=shared)
            seed_lots(world, _catalog(channels.values()))  # two SKUs by lot: one lot is recalled at the end
        seeded = _on_hand(world.store, shared)
        typhoon = dict(TYPHOON)
        disruption = world.disruptions.add(typhoon.pop("kind"), start=START + typhoon.pop("after"), **typhoon)
        server = serving.enter_context(ServerThread(world.rt)) if serve else None
        mainland = MainlandOrder.find(world)  # None without a shop that takes orders as asked, or a tracks-only courier
        scheduler = world.scheduler({**SCHEDULE, "process_inbox": timedelta(hours=1)} if serve else SCHEDULE,
                                    on_report=reports.append)
        steps = (days + settle_days) * 24
        settled_at = steps
        selling = _label_sellers(world)
        outage_step, outage = max(6, days * 12), None
        for step in range(steps):
            if step == outage_step and len(selling) >= 2:
                with world.store.read() as conn:
                    so_far = Counter(c["carrier"] for c in choice_store.every(conn))
                down = max(selling, key=lambda name: (so_far.get(selling[name], 0), name))
                outage = world.disruptions.add("api_outage", start=world.clock.now() + timedelta(hours=1),
                                               days=OUTAGE_HOURS / 24,
                                               service=down, cause="scripted outage")
            if step == days * 24:
                for shop in channels.values():
                    shop.stop_arrivals()
            if step % 12 == 5:  # rate limiting and server trouble, twice a day
                for name in channels:
                    world.context.faults.add("429", path=f"/{name}/", times=2, retry_after=2)
                for name in carriers:
                    world.context.faults.add("503", path=f"/{name}/", times=1)
                for name in world.simulators("warehouses"):
                    world.context.faults.add("429", path=f"/{name}/", times=1, retry_after=2)
            world.clock.advance(timedelta(hours=1))
            _time_base(world)  # the store knows the scenario's time, each hour (even if the run is cut short)
            world.apply_stock_disruptions()
            if server is not None:
                for status, n in world.deliver_webhooks(server.url).items():
                    webhooks[status] = webhooks.get(status, 0) + n
            if mainland is not None and step == 2:
                mainland.place()
            scheduler.tick()
            if mainland is not None:
                mainland.step()
            if on_step:
                on_step(step + 1, steps)
            if step >= days * 24 and step % 6 == 0 and not _moving(world.store):
                settled_at = step + 1
                break
        _time_base(world)
        lots_and_accuracy = after_sale(world)
        with world.store.read() as conn:
            counts = order_store.count_by_status(conn)
            ships = shipment_store.every(conn)
            scans = shipment_store.count_scans(conn)
            effects = outbox.count_by_status(conn)
            quarantined = quarantine_store.count_open(conn)
            inbox = inbox_store.count_by_status(conn) if serve else {}
            figures = delay_figures(conn, world.clock.now())
            told = summary(conn, world.config, world.clock.now())
            chose = choice_figures(choice_store.every(conn), ships,
                                   (outage.start, outage.end, selling[outage.service]) if outage else None)
            per_channel = channel_figures(conn, world.config.channels)
            one_stock = shared_sku(conn, shared, seeded, world.config.channels) if shared else {}
        mainland_figures = mainland.figures() if mainland is not None else {}
        figures["disruption"] = (f"{disruption.cause}: the hub serving {disruption.region} closed for "
                                 f"{disruption.days:g} days from {disruption.start:%Y-%m-%d %H:%M} UTC")
        config_path = world.config_path
        channel_names = set(world.config.channels)
        faults_injected = world.context.faults.injected
    per_order: dict[str, int] = {}
    for s in ships:
        per_order[s.order_id] = per_order.get(s.order_id, 0) + 1
    split = sorted(o for o, n in per_order.items() if n > 1)
    delivered = sorted(s.order_id for s in ships if s.status == "delivered")
    pulled = sum(r.counts.get("orders_new", 0) for r in reports)
    labels: dict[str, dict[str, Any]] = {}
    for s in ships:
        if s.tracking_code and s.carrier not in channel_names:  # a label was bought (not the marketplace's)
            mine = labels.setdefault(s.carrier, {"labels": 0, "delivered": 0, "cost": Decimal(0)})
            mine["labels"] += 1
            mine["delivered"] += s.status == "delivered"
            mine["cost"] += Decimal(s.rate_amount or 0)
    shipped_by: dict[str, dict[str, Any]] = {}
    for s in ships:
        if s.warehouse in third_party:
            mine = shipped_by.setdefault(s.warehouse, {"shipments": 0, "shipped": 0, "delivered": 0, "couriers": {},
                                                       "followed_by": {}, "sample": None})
            mine["shipments"] += 1
            if s.tracking_code:
                mine["shipped"] += 1
                mine["delivered"] += s.status == "delivered"
                mine["couriers"][s.carrier_name] = mine["couriers"].get(s.carrier_name, 0) + 1
                mine["followed_by"][s.carrier] = mine["followed_by"].get(s.carrier, 0) + 1
                mine["sample"] = mine["sample"] or f"{s.id}: {s.carrier_name} {s.tracking_code}"
    return DemoResult(
        workspace=workspace,
        config_path=config_path,
        counts=counts,
        pulled=pulled,
        quarantined=quarantined,
        split_orders=len(split),
        shipments=len(ships),
        scans=scans,
        effects=effects,
        faults_injected=faults_injected,
        errors_survived=sum(len(r.errors) for r in reports),
        refused=sum(r.counts.get("refused", 0) for r in reports),
        sample_order=(split or delivered or [None])[0],
        simulated=timedelta(hours=settled_at),
        settle=timedelta(hours=settled_at - days * 24),
        delays=figures,
        notices=told,
        choice=chose,
        carriers={name: {**figures_, "cost": str(figures_["cost"])} for name, figures_ in sorted(labels.items())},
        webhooks={str(k): v for k, v in sorted(webhooks.items(), key=str)},
        inbox=inbox,
        mainland=mainland_figures,
        third_party=shipped_by,
        channels=per_channel,
        shared_sku=one_stock,
        after_sale=lots_and_accuracy,
    )


def _label_sellers(world: World) -> dict[str, str]:
    """The carrier simulators whose instance sells labels: simulator name -> carrier instance."""
    out = {}
    for name in world.simulators("carriers"):
        kind, instance = world.parts[name]
        inst = world.config.carriers.get(instance)
        registered = world.plugins.registry.carriers.get(inst.type) if inst is not None else None
        if registered is not None and not getattr(registered, "tracks_only", False):
            out[name] = instance
    return out


def _policies(record: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """What each policy would have taken among one choice's quotes (carriers not excluded)."""
    options = [o for o in record.get("options", []) if not o.get("excluded")] or record.get("options", [])
    far = "9999-12-31T23:59:59+00:00"

    def when(o: Mapping[str, Any]) -> datetime:
        return datetime.fromisoformat(o.get("arrive_by") or far)

    mine = record.get("order_currency") or record.get("currency")  # no currency is converted: the order's first
    cheapest = min(options, key=lambda o: (o["currency"] != mine, Decimal(o["amount"]), when(o), o["carrier"],
                                           o["service"]))
    fastest = min(options, key=lambda o: (when(o), o["currency"] != mine, Decimal(o["amount"]), o["carrier"],
                                          o["service"]))
    chosen = next((o for o in options if o.get("chosen")), cheapest)
    return {"chosen": chosen, "always_cheapest": cheapest, "always_fastest": fastest}


def choice_figures(records: Sequence[Mapping[str, Any]], ships: Sequence[Any],
                   outage: tuple[datetime, datetime, str] | None) -> dict[str, Any]:
    """The carrier choice, from the recorded choices (their quotes and arrivals by the learned
    lane model) and what the parcels did.

    For each shipment's last choice (the one its label was bought on): what the chosen
    rate cost and whether it arrives by the promise's deliver-by, beside what always
    taking the cheapest quote and always the fastest would have cost and kept, on the
    same quotes. ``outage`` (start, end, carrier instance): the choices made while that
    carrier's API was down, the carrier each one took instead, and the purchases that
    failed on it and were chosen again.
    """
    last: dict[str, Mapping[str, Any]] = {}
    for record in records:
        if not record.get("failed"):
            last[record["shipment_id"]] = record
    delivered = {s.id: s.delivered_at for s in ships if getattr(s, "delivered_at", None) is not None}
    policies: dict[str, dict[str, Any]] = {name: {"cost": defaultdict(Decimal), "promises_kept": 0}
                                           for name in ("chosen", "always_cheapest", "always_fastest")}
    promised = met = 0
    per_carrier: dict[str, dict[str, int]] = defaultdict(lambda: {"chosen": 0, "promised": 0, "met": 0})
    for shipment_id, record in last.items():
        picks = _policies(record)
        for name, option in picks.items():
            policies[name]["cost"][option["currency"]] += Decimal(option["amount"])
            policies[name]["promises_kept"] += bool(option.get("meets"))
        mine = per_carrier[record["carrier"]]
        mine["chosen"] += 1
        if record.get("deliver_by"):
            promised += 1
            mine["promised"] += 1
            done = delivered.get(shipment_id)
            kept = done is not None and done <= datetime.fromisoformat(record["deliver_by"])
            met += kept
            mine["met"] += kept
    out: dict[str, Any] = {
        "choices": len(records), "shipments": len(last),
        "promised": promised, "promises_met": met,
        "per_carrier": {name: dict(n) for name, n in sorted(per_carrier.items())},
        "policies": {name: {"cost": {cur: str(v) for cur, v in sorted(p["cost"].items())},
                            "promises_kept": p["promises_kept"]} for name, p in policies.items()},
    }
    if outage is not None:
        start, end, down = outage
        during = [r for r in records if start <= datetime.fromisoformat(r["at"]) < end]
        before = [r for r in records if datetime.fromisoformat(r["at"]) < start]
        skipping = sorted((r for r in during if down in r.get("skipped", {})),
                          key=lambda r: not r["skipped"][down].startswith(("quote failed", "circuit open")))
        example = skipping[0] if skipping else None
        out["outage"] = {
            "carrier": down, "from": start.isoformat(), "until": end.isoformat(),
            "choices_before": len(before),
            "chosen_before": dict(sorted(Counter(r["carrier"] for r in before).items())),
            "choices_during": len(during),
            "skipped_during": sum(1 for r in during if down in r.get("skipped", {})),
            "chosen_during": dict(sorted(Counter(r["carrier"] for r in during).items())),
            "purchases_failed_and_chosen_again": sum(1 for r in records if r.get("failed") and r["carrier"] == down),
            "example": example["reason"] if example else None,
            "example_shipment": example["shipment_id"] if example else None,
        }
    return out


#: Order statuses a marketplace-carried order is "marketplace-shipped" in (its parcel left with the
#: marketplace's carrier, the marketplace's tracking not yet at delivered).
MARKETPLACE_SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.OUT_FOR_DELIVERY,
                                 OrderStatus.PARTIALLY_SHIPPED, OrderStatus.PARTIALLY_DELIVERED})


def channel_figures(conn: Any, channels: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per channel instance: its type, orders pulled, delivered (from the carrier's or, for an order
    the marketplace carries, the marketplace's tracking), marketplace-carried and marketplace-shipped,
    cancelled, still open, and the stock ``push_stock`` last told it (``stock_pushed``: SKUs told)."""
    counts = order_store.count_by_channel(conn)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(channels):
        mine = counts.get(name, {})
        by_status: dict[str, int] = {}
        for (_, status), n in mine.items():
            by_status[status] = by_status.get(status, 0) + n
        marketplace = {status: n for (by, status), n in mine.items() if by == "marketplace"}
        told = state_value(conn, f"jobs.push_stock.{name}", "told")
        out[name] = {
            "type": channels[name].type,
            "orders": sum(by_status.values()),
            "delivered": by_status.get(OrderStatus.DELIVERED, 0),
            "cancelled": by_status.get(OrderStatus.CANCELLED, 0),
            "open": sum(n for s, n in by_status.items() if OrderStatus(s) not in lifecycle.FINAL),
            "marketplace_orders": sum(marketplace.values()),
            "marketplace_delivered": marketplace.get(OrderStatus.DELIVERED, 0),
            "marketplace_shipped": sum(n for s, n in marketplace.items() if OrderStatus(s) in MARKETPLACE_SHIPPED),
            "statuses": dict(sorted(by_status.items())),
            "stock_pushed": len(told) if isinstance(told, dict) else 0,
            "stock_told": dict(sorted(told.items())) if isinstance(told, dict) else {},
        }
    return out


def shared_sku(conn: Any, sku: str, seeded: tuple[int, int], channels: Mapping[str, Any]) -> dict[str, Any]:
    """The SKU every channel sells from one limited stock: units seeded, units each channel's
    customers ordered (orders not cancelled), were allocated (shipments not cancelled) and
    shipped, what is left, and ``oversold``: more allocated than there ever was, or a stock row
    below zero or reserved beyond its units. ``seeded`` is ``(on hand, sellable)`` at the start;
    ``contended``: the channels' customers ordered more than was sellable."""
    allocated = stock_store.allocated_by_channel(conn, sku)
    ordered = order_store.units_ordered_by_channel(conn, sku)
    levels = stock_store.levels(conn, skus=[sku])
    left = sum(level.on_hand for level in levels)
    sold = {name: sum(n for status, n in allocated.get(name, {}).items() if status != "cancelled")
            for name in sorted(channels)}
    shipped = {name: sum(n for status, n in allocated.get(name, {}).items()
                         if status not in ("pending", "submitted", "picking", "packed", "cancelled"))
               for name in sorted(channels)}
    broken = [f"{level.warehouse}: on hand {level.on_hand}, reserved {level.reserved}" for level in levels
              if level.on_hand < 0 or level.reserved > level.on_hand]
    ordered_by = {name: ordered.get(name, 0) for name in sorted(channels)}
    on_hand, sellable = seeded
    return {"sku": sku, "seeded": on_hand, "sellable_at_start": sellable, "left_on_hand": left,
            "ordered_by_channel": ordered_by, "sold_by_channel": sold, "shipped_by_channel": shipped,
            "sold_on_every_channel": all(ordered_by.values()), "contended": sum(ordered_by.values()) > sellable,
            "oversold": sum(sold.values()) > on_hand or bool(broken), "broken_rows": broken}


def delay_figures(conn: Any, now: datetime) -> dict[str, Any]:
    """How well delays were found, from what really happened.

    Every order with a promise whose outcome is known by ``now`` counts: delivered (at
    its last parcel's delivery), or not delivered and past deliver-by (late). Cancelled
    orders do not count. An order is *flagged early* when an assessment found it at risk
    or late before its deliver-by and before it was delivered. Returns the late orders,
    the share of them flagged early, the precision of the early flags (the share of
    flagged orders that were late) and the median warning lead time in days
    (deliver-by minus the first flag), with the counts behind them; ``precision_late``
    is the precision of the stronger flag alone (found *late*, not only at risk, early).
    """
    promised, status, delivered, first_flag, first_late = delay_store.outcomes(conn)
    late = flagged = true_flags = called_late = called_late_right = 0
    leads: list[float] = []
    for order_id, promise in promised.items():
        state = status.get(order_id)
        if state in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            continue
        done = delivered.get(order_id) if state == OrderStatus.DELIVERED else None
        if done is None and now <= promise.deliver_by:
            continue  # not known yet
        was_late = done is None or done > promise.deliver_by
        flag = first_flag.get(order_id)
        early = flag is not None and flag <= promise.deliver_by and (done is None or flag < done)
        late += was_late
        flagged += early
        said_late = first_late.get(order_id)
        if said_late is not None and said_late <= promise.deliver_by and (done is None or said_late < done):
            called_late += 1
            called_late_right += was_late
        if early and was_late:
            true_flags += 1
            leads.append((promise.deliver_by - flag).total_seconds() / 86400)
    return {
        "promised": len(promised),
        "late": late,
        "flagged_early": true_flags,
        "flagged": flagged,
        "flagged_early_share": round(true_flags / late, 3) if late else None,
        "precision": round(true_flags / flagged, 3) if flagged else None,
        "median_lead_days": round(statistics.median(leads), 2) if leads else None,
        "called_late": called_late,
        "precision_late": round(called_late_right / called_late, 3) if called_late else None,
    }


def _time_base(world: World) -> None:
    """Record the scenario's time in the store: ``report`` and ``doctor`` judge the
    workspace as it ended, and the customer-facing jobs refuse the wall clock on it."""
    with world.store.transaction() as tx:
        meta_store.set_time_base(tx, world.clock.now(), "demo")


def _moving(store: Store) -> bool:
    """Whether any order can still progress by itself (not on hold, backordered or final)."""
    with store.read() as conn:
        counts = order_store.count_by_status(conn)
    waiting = lifecycle.FINAL | {OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.EXCEPTION}
    return any(n for status, n in counts.items() if status not in waiting)


def _shared(shops: Iterable[Any]) -> str | None:
    """The first SKU (in catalogue order) that every channel simulator sells, when two or more run."""
    catalogs = [[item["sku"] for item in shop.catalog] for shop in shops]
    if len(catalogs) < 2:
        return None
    common = set(catalogs[0]).intersection(*catalogs[1:])
    return next((sku for sku in catalogs[0] if sku in common), None)


def _on_hand(store: Store, sku: str | None) -> tuple[int, int]:
    """``(units on hand, units sellable)`` of ``sku`` over every warehouse."""
    if sku is None:
        return 0, 0
    with store.read() as conn:
        levels = stock_store.levels(conn, skus=[sku])
    return sum(level.on_hand for level in levels), sum(level.available for level in levels)


def _catalog(shops: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Every SKU the channel simulators sell, once, in their order."""
    seen: dict[str, Mapping[str, Any]] = {}
    for shop in shops:
        for item in shop.catalog:
            seen.setdefault(item["sku"], item)
    return list(seen.values())


def _seed_stock(world: World, catalog: list[Mapping[str, Any]], rng: random.Random, orders: int, *,
                limited: str | None = None) -> None:
    """Each warehouse carries part of the range, some SKUs both: splits happen, and a few
    fast sellers run out (backorders). ``limited``, the SKU every channel sells, gets less
    than the channels will order of it, in both warehouses: its last units are contended."""
    names = sorted(world.config.warehouses)
    first, second = names[0], names[-1]
    per_sku = max(10, 5 * orders // max(1, len(catalog)))
    at = world.clock.now()
    with world.store.transaction() as tx:
        for i, item in enumerate(catalog):
            weight = int(item.get("grams") or 400)
            where = (first,) if i % 3 == 0 else (second,) if i % 3 == 1 else (first, second)
            for warehouse in where:
                on_hand = rng.randint(per_sku // 2, per_sku * 2) if i % 7 else rng.randint(1, 4)
                stock_store.set_level(tx, warehouse, item["sku"], on_hand, at, safety_stock=1, unit_weight_g=weight)
        if limited is not None:
            weight = int(next(item.get("grams") or 400 for item in catalog if item["sku"] == limited))
            for warehouse in (first, second):
                stock_store.set_level(tx, warehouse, limited, max(3, orders // 12), at, safety_stock=1,
                                      unit_weight_g=weight)


def _seed_third_party(world: World, catalog: list[Mapping[str, Any]], rng: random.Random, orders: int) -> None:
    """A 3PL holds the stock itself: each simulator receives the range (a few fast sellers
    short), and the stock table lists the SKUs at 0 so that ``sync_stock`` asks for them."""
    per_sku = max(10, 5 * orders // max(1, len(catalog)))
    at = world.clock.now()
    for name, sim in world.simulators("warehouses").items():
        instance = world.parts[name][1]
        with world.store.transaction() as tx:
            for i, item in enumerate(catalog):
                sim.set_stock(item["sku"], rng.randint(per_sku, per_sku * 2) if i % 7 else rng.randint(1, 4))
                stock_store.set_level(tx, instance, item["sku"], 0, at, safety_stock=1,
                                      unit_weight_g=int(item.get("grams") or 400))


# --------------------------------------------------------------------------- what customers were told


def demo_config(workspace: Any, currency: str = "USD") -> str:
    """The ``[notices]``, notifier and ``[compensation]`` tables a demo world runs with:
    every notice lands in ``<workspace>/notices.jsonl``."""
    return f'''
[notifiers.customers]
type = "jsonl"
path = "{workspace}/notices.jsonl"

[notices]
shop_name = "The demo shop"
timezone = "America/New_York"
quiet_hours = "21:00-08:00"

[compensation]
auto_approve_below = "20"
max_per_order = "40"
max_share = 0.3
min_amount = "3"
budget = {{ amount = "150", currency = "{currency}" }}

[[compensation.tiers]]
name = "late-1d"
min_days = 1
kind = "shipping_refund"

[[compensation.tiers]]
name = "late-3d"
min_days = 3
kind = "discount"
percent = 10

[[compensation.tiers]]
name = "lost"
causes = ["lost_or_damaged"]
kind = "partial_refund"
percent = 50
'''


def summary(conn: Any, config: Any, now: datetime) -> dict[str, Any]:
    """What customers were told and given: notices by event and locale, compensations by
    status, the cost against the budget, and the checks that nothing was given or sent twice."""
    import json
    from collections import Counter, defaultdict
    from decimal import Decimal

    by = notice_store.count_by_event_and_locale(conn)
    policy = notice_figures(conn)
    conf = compensation.settings(config.compensation, path=str(config.path))
    rows = ledger.listing(conn, limit=1_000_000)
    per_order: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        per_order[row.order_id].append(row)
    given = [r for r in rows if r.status in ledger.SPENT]
    twice = sum(1 for items in per_order.values()
                if sum((r.amount for r in items if r.status in ledger.GIVEN), Decimal(0))
                > max(r.tier_value for r in items))
    keys: list[str] = []
    for inst in config.notifiers.values():
        if inst.type == "jsonl":
            path = Path(inst.settings.get("path", ""))
            if path.is_file():
                keys += [json.loads(line).get("key", "") for line in path.read_text(encoding="utf-8").splitlines()]
    costs = compensation.cost_against_budget(conn, conf, now)
    return {
        "notices": {f"{event} {locale}": n for (event, locale), n in sorted(by.items())},
        "notices_total": sum(by.values()),
        "notice_file_lines": len(keys),
        "notices_sent_twice": len(keys) - len(set(keys)),
        **policy,
        "compensations": dict(sorted(Counter(r.status for r in rows).items())),
        "compensated_orders": len({r.order_id for r in given}),
        "top_ups": sum(1 for items in per_order.values() if len([r for r in items if r.status in ledger.SPENT]) > 1),
        "given_twice": twice,
        "cost": [{"period": c.period, "currency": c.currency, "count": c.count, "total": str(c.total),
                  "budget": str(c.budget) if c.budget is not None else None, "waiting": c.pending} for c in costs
                 if c.count or c.pending],
    }


def summary_lines(told: Mapping[str, Any]) -> list[str]:
    """:func:`summary` for people, a few lines."""
    if not told:
        return []
    notices = ", ".join(f"{what} {n}" for what, n in told["notices"].items()) or "none"
    lines = [f"notices: {told['notices_total']} ({notices}); {told['notices_sent_twice']} sent twice"]
    suppressed = ", ".join(f"{why} {n}" for why, n in told["policy_suppressed"].items()) or "none"
    lines.append(f"delay notices: {told['delay_notices']} to {told['delay_notice_orders']} orders, at most "
                 f"{told['delay_notices_max_per_order']} per order, {told['delay_notices_repeated']} repeated word for "
                 f"word, {told['delay_notices_not_after_promise']} on or before the promised day; "
                 f"suppressed by the policy: {suppressed}")
    statuses = ", ".join(f"{status} {n}" for status, n in told["compensations"].items()) or "none"
    cost = "; ".join(f"{c['period']}: {c['count']} given, {c['total']} {c['currency']}"
                     + (f" of a {c['budget']} budget" if c["budget"] else "")
                     + (f", {c['waiting']} waiting for a person" if c["waiting"] else "") for c in told["cost"])
    lines.append(f"compensations: {statuses}; {told['compensated_orders']} orders compensated, "
                 f"{told['top_ups']} topped up, {told['given_twice']} given twice" + (f"; {cost}" if cost else ""))
    return lines


def notice_figures(conn: Any) -> dict[str, Any]:
    """The notice policy's figures: delay notices (``delayed`` + ``eta_revised``) per order,
    how many repeat an earlier one of the order word for word, how many give a new day on
    or before the promised one, and the policy's suppressions by reason."""
    from collections import Counter

    sent = notice_store.delay_notices(conn)
    per_order = Counter(row.order_id for row in sent)
    texts = Counter((row.order_id, row.text) for row in sent)
    early = sum(1 for row in sent if row.told.get("new_date") and row.told["new_date"] <= row.told["promised"])
    decided = notice_store.count_decisions(conn)
    return {
        "delay_notices": len(sent),
        "delay_notice_orders": len(per_order),
        "delay_notices_max_per_order": max(per_order.values(), default=0),
        "delay_notices_repeated": sum(n - 1 for n in texts.values()),
        "delay_notices_not_after_promise": early,
        "policy_suppressed": {reason: n for (action, reason), n in sorted(decided.items()) if action == "suppress"},
        "policy_waited": {reason: n for (action, reason), n in sorted(decided.items()) if action == "wait"},
    }
