"""The ``push_stock`` job: tell each channel that takes stock what it may sell, and warn when a SKU runs low.

Each channel whose adapter has the ``push_stock`` capability (:class:`fulfilhub.StockPusher`)
is told the sellable quantity (on hand - reserved - safety stock, summed over the
warehouses that serve that channel: ``[stock.channels]``, default every warehouse;
:func:`fulfilhub.engines.inventory.sellable`) of every SKU whose quantity changed since it
was last told. What a channel was last told is kept in ``plugin_state`` (namespace
``jobs.push_stock.<channel>``) and saved only after the channel took the push, so a push
that failed is sent again on the next run, and one that did not change is not sent at
all. Setting a quantity is absolute, so sending it twice is harmless.

The same pass compares each SKU's sellable quantity over every warehouse with its
``[stock.reorder_points]``: a SKU that falls to or below its point is a ``low_stock``
notice to the operator (the notifiers whose ``events`` name it), once per crossing
(namespace ``jobs.low_stock``: the SKUs low now and how often each crossed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from typing import Any

from ..adapters import StockPusher
from ..engines import inventory, notify
from ..errors import ExternalError
from ..models import NoticeEvent, StockLevel
from ..store import stock as stock_store
from ..store.ports import StatePort, namespace, state_value
from .reports import JobReport, concurrently, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

#: The ``plugin_state`` key holding ``{sku: quantity}`` as the channel was last told.
TOLD = "told"
#: Where the low-stock warnings keep ``{"low": [sku...], "crossings": {sku: n}}``.
LOW_NAMESPACE, LOW = "jobs.low_stock", "state"


def push_stock(rt: Runtime) -> JobReport:
    """Push the changed sellable quantities to every channel that takes them; warn of low stock."""
    names = [name for name in rt.config.channels if isinstance(rt.channel(name), StockPusher)]
    with rt.store.read() as conn:  # the levels, what each channel was told and what is low, in one read
        levels = stock_store.levels(conn)
        told = {name: state_value(conn, namespace("jobs.push_stock", name), TOLD) for name in names}
        low_before = state_value(conn, LOW_NAMESPACE, LOW)
    warned = _warn_low(rt, levels, low_before)
    if not names:
        return warned
    report = concurrently(names, lambda name: _push(rt, name, inventory.sellable(
        levels, rt.config.stock.warehouses_for(name)), told[name]), "push_stock")
    report.counts.update(warned.counts)
    report.errors.extend(warned.errors)
    return report


def told_state(rt: Runtime, channel: str) -> StatePort:
    """Where what ``channel`` was last told is kept."""
    return StatePort(rt.store, namespace("jobs.push_stock", channel), rt.clock)


def _warn_low(rt: Runtime, levels: list[StockLevel], saved: Any) -> JobReport:
    """A ``low_stock`` notice for each SKU that fell to its reorder point since the last pass."""
    report = JobReport("push_stock")
    points = rt.config.stock.reorder_points
    before = saved if isinstance(saved, dict) else {}
    if not points and not before.get("low"):
        return report
    total = inventory.sellable(levels)
    crossed, low_now = inventory.low_stock(total, points, before.get("low", []))
    if not crossed and low_now == set(before.get("low", [])):
        return report
    crossings = dict(before.get("crossings", {}))
    by_warehouse: dict[str, dict[str, int]] = defaultdict(dict)
    for level in levels:
        by_warehouse[level.sku][level.warehouse] = level.available
    routed = notify.routes(rt.config.notifiers, NoticeEvent.LOW_STOCK, "")
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        for sku in crossed:
            crossings[sku] = crossings.get(sku, 0) + 1
            notice = inventory.low_stock_notice(sku, total.get(sku, 0), points[sku], by_warehouse.get(sku, {}),
                                                crossing=crossings[sku], locale=rt.config.stock.locale, at=now)
            if notify.emit(tx, notice, notifiers=routed, due=now):  # kept (and listed) even when no notifier takes it
                report.counts["low_stock"] += 1
            log.warning("%s", notice.subject)
    new = {"low": sorted(low_now), "crossings": crossings}
    state = StatePort(rt.store, LOW_NAMESPACE, rt.clock)
    if not (state.insert(LOW, new) if saved is None else state.compare_and_set(LOW, saved, new)):
        log.info("another runner saved the low-stock state meanwhile; the next run compares again")
    if crossed and not routed:  # kept all the same: `notices list` and `doctor` show it
        report.counts["low_stock_unrouted"] += len(crossed)
        log.warning('%d SKUs fell to their reorder point (%s), but no notifier names "low_stock" in its events: '
                    "see `fulfilhub notices list --event low_stock`", len(crossed), ", ".join(crossed[:5]))
    return report


def _push(rt: Runtime, name: str, now: dict[str, int], saved: Any) -> JobReport:
    report = JobReport("push_stock")
    state = told_state(rt, name)
    told = saved if isinstance(saved, dict) else {}
    changes = inventory.stock_changes(now, told)
    if not changes:
        report.counts["unchanged"] += 1
        return report
    key = f"push_stock:{name}:" + hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()[:16]
    try:
        unlisted = set(rt.channel(name).push_stock(changes, key, attempt=None))
    except ExternalError as exc:
        report.errors.append(f"channel {name}: stock not pushed ({len(changes)} SKUs), will try again: "
                             f"{describe_error(exc)}")
        return report
    # Unlisted SKUs are remembered as told too: asked again only when their quantity changes.
    new = {**told, **changes}
    stored = state.insert(TOLD, new) if saved is None else state.compare_and_set(TOLD, saved, new)
    if not stored:
        log.info("channel %s: another runner saved its stock meanwhile; the next run compares again", name)
    report.counts["skus_pushed"] += len(changes) - len(unlisted & set(changes))
    if unlisted:
        report.counts["not_listed"] += len(unlisted & set(changes))
        log.info("channel %s has no listing for %s", name, ", ".join(sorted(unlisted)[:10]))
    return report
