"""The ``push_stock`` job: tell each channel that takes stock what it may sell.

Each channel whose adapter has the ``push_stock`` capability (:class:`fulfilhub.StockPusher`)
is told the sellable quantity (on hand - reserved - safety stock, summed over the
warehouses of the stock table: :func:`fulfilhub.engines.inventory.sellable`) of every SKU
whose quantity changed since it was last told. What a channel was last told is kept in
``plugin_state`` (namespace ``jobs.push_stock.<channel>``) and saved only after the
channel took the push, so a push that failed is sent again on the next run, and one
that did not change is not sent at all. Setting a quantity is absolute, so sending it
twice is harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ..adapters import StockPusher
from ..engines import inventory
from ..errors import ExternalError
from ..store import stock as stock_store
from ..store.ports import StatePort, namespace, state_value
from .reports import JobReport, concurrently, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

#: The ``plugin_state`` key holding ``{sku: quantity}`` as the channel was last told.
TOLD = "told"


def push_stock(rt: Runtime) -> JobReport:
    """Push the changed sellable quantities to every channel that takes them."""
    names = [name for name in rt.config.channels if isinstance(rt.channel(name), StockPusher)]
    if not names:
        return JobReport("push_stock")
    with rt.store.read() as conn:  # the levels and what each channel was told, in one read
        now = inventory.sellable(stock_store.levels(conn))
        told = {name: state_value(conn, namespace("jobs.push_stock", name), TOLD) for name in names}
    return concurrently(names, lambda name: _push(rt, name, now, told[name]), "push_stock")


def told_state(rt: Runtime, channel: str) -> StatePort:
    """Where what ``channel`` was last told is kept."""
    return StatePort(rt.store, namespace("jobs.push_stock", channel), rt.clock)


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
