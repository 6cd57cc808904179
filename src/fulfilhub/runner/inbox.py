"""``process_inbox``: the webhooks the server stored, handed to the same engines as polling.

An order a channel pushed goes through :func:`fulfilhub.engines.intake.ingest` exactly
as a pulled one (deduplicated by id and version); a carrier's tracking goes through
:func:`fulfilhub.engines.fulfilment.apply_tracking` exactly as a polled answer (scans
stored once, each milestone pushed once). A webhook and a poll that see the same change
therefore converge on one state, with no duplicate events or effects. Each delivery is
marked in the transaction that stores what it did, so it is processed exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..adapters import WebhookReceiver
from ..engines import fulfilment, intake
from ..errors import FulfilhubError, StoreError
from ..models import FulfillmentUpdate, Order, TrackingUpdate
from ..store import inbox as inbox_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store
from .reports import JobReport, describe_error
from .runtime import Runtime

log = logging.getLogger("fulfilhub.runner")

#: Deliveries handled per run (the rest wait for the next run).
BATCH = 1000


class _Lost(Exception):
    """Someone else finished the delivery first; this transaction is rolled back."""


def process_inbox(rt: Runtime, *, ids: list[int] | None = None) -> JobReport:
    """Process pending deliveries oldest first (or just ``ids``); one failing delivery is
    marked ``failed`` with its error and the others go on."""
    report = JobReport("process_inbox")
    with rt.store.read() as conn:
        rows = [inbox_store.get(conn, i) for i in ids] if ids is not None else inbox_store.pending(conn, limit=BATCH)
        rows = [r for r in rows if r is not None and r.status == inbox_store.PENDING]
        known_skus = stock_store.known_skus(conn) if rows else set()
    for row in rows:
        try:
            outcome = _process(rt, row, known_skus)
        except _Lost:
            report.counts["already_done"] += 1
            continue
        except Exception as exc:  # the store itself failed: the delivery stays pending for the next run
            report.errors.append(f"webhook {row.id} ({row.instance}): {describe_error(exc)} (kept; retried next run)")
            continue
        report.counts[outcome] += 1
    return report


def _process(rt: Runtime, row: Any, known_skus: set[str]) -> str:
    headers: Mapping[str, str] = row.headers or {}
    body = bytes(row.body)
    try:
        adapter = {"channels": rt.channel, "carriers": rt.carrier, "warehouses": rt.warehouse}[row.kind](row.instance)
        if not isinstance(adapter, WebhookReceiver):
            raise FulfilhubError(f"{row.kind[:-1]} {row.instance} no longer takes webhooks")
        parsed = adapter.parse_webhook(headers, body)
        if parsed is not None and not isinstance(parsed, (Order, TrackingUpdate, FulfillmentUpdate)):
            raise FulfilhubError(f"parse_webhook returned a {type(parsed).__name__}, not an Order, a TrackingUpdate "
                                 "or a FulfillmentUpdate")
    except Exception as exc:  # the plugin's trouble (or a bug in it) stays with this delivery
        return _finish(rt, row, inbox_store.FAILED, error=describe_error(exc))
    if parsed is None:
        return _finish(rt, row, inbox_store.IGNORED, result="a topic fulfilhub does not act on")
    now = rt.clock.now()
    with rt.store.transaction() as tx:
        if isinstance(parsed, Order):
            if parsed.channel != row.instance:
                raise StoreError(f"webhook {row.id}: order {parsed.id} is not of channel {row.instance}")
            result = intake.ingest(tx, rt.hooks, [parsed], at=now, known_skus=known_skus, intake=rt.config.intake,
                                   source=f"webhook:{row.instance}")
            what = "new" if result.new else "updated" if result.updated else "unchanged (already stored)"
            status, text = inbox_store.PROCESSED, f"order {parsed.id}: {what}"
        elif row.kind == "warehouses":
            status, text = _from_warehouse(rt, tx, row.instance, parsed, now)
        else:
            shipment = shipment_store.by_tracking_code(tx.conn, row.instance, parsed.tracking_code)
            if shipment is None:
                status, text = inbox_store.IGNORED, (f"no shipment of carrier {row.instance} with tracking code "
                                                     f"{parsed.tracking_code} (polling covers it once there is)")
            else:
                outcome = fulfilment.apply_tracking(tx, rt.hooks, shipment, parsed, Order.channel_of(shipment.order_id),
                                                    now)
                moved = f"now {outcome.moved_to}" if outcome.moved_to else f"still {outcome.shipment.status}"
                status, text = inbox_store.PROCESSED, f"shipment {shipment.id}: {moved}, {outcome.new_scans} new scans"
        if not inbox_store.finish(tx, row.id, status, now, result=text):
            raise _Lost
    log.info("webhook %s (%s): %s", row.id, row.instance, text)
    return status


def _from_warehouse(rt: Runtime, tx: Any, warehouse: str, parsed: TrackingUpdate | FulfillmentUpdate,
                    now: Any) -> tuple[str, str]:
    """A warehouse's webhook, handed to the engine as its polled answer would be."""
    if isinstance(parsed, FulfillmentUpdate):
        shipment = shipment_store.of_warehouse(tx.conn, warehouse, fulfillment_ref=parsed.ref)
        if shipment is None:
            return inbox_store.IGNORED, f"no shipment of warehouse {warehouse} with reference {parsed.ref}"
        saved = fulfilment.apply_warehouse_update(
            tx, rt.hooks, shipment, parsed, now, source=f"webhook:{warehouse}",
            tracked_by=fulfilment.tracking_carrier(parsed.carrier, rt.tracking_carriers()))
        return inbox_store.PROCESSED, f"shipment {shipment.id}: " + (f"now {saved.status}" if saved else "unchanged")
    shipment = shipment_store.of_warehouse(tx.conn, warehouse, tracking_code=parsed.tracking_code)
    if shipment is None:
        return inbox_store.IGNORED, (f"no shipment of warehouse {warehouse} with tracking code {parsed.tracking_code} "
                                     "(polling covers it once there is)")
    outcome = fulfilment.apply_tracking(tx, rt.hooks, shipment, parsed, Order.channel_of(shipment.order_id), now)
    moved = f"now {outcome.moved_to}" if outcome.moved_to else f"still {outcome.shipment.status}"
    return inbox_store.PROCESSED, f"shipment {shipment.id}: {moved}, {outcome.new_scans} new scans"


def _finish(rt: Runtime, row: Any, status: str, *, result: str | None = None, error: str | None = None) -> str:
    with rt.store.transaction() as tx:
        if not inbox_store.finish(tx, row.id, status, rt.clock.now(), result=result, error=error):
            raise _Lost
    if error:
        log.warning("webhook %s (%s) failed: %s", row.id, row.instance, error)
    return status

