"""fulfilhub's conformance suite, run against the ShipBob warehouse and its simulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import fulfilhub_shipbob
from fulfilhub.testing.conformance import WarehouseSuite
from fulfilhub_shipbob import mapping
from fulfilhub_shipbob.warehouse import sign

PAYLOADS = Path(__file__).parent / "payloads"


class TestShipbobConformance(WarehouseSuite):
    plugin = fulfilhub_shipbob
    entry_point = "shipbob"
    type_name = "shipbob"
    skus = ("MUG-BLUE", "TEA-50G")
    status_table = mapping.STATUSES
    # The 1.0 ShipmentStatus enum, as the API reference lists it.
    documented_statuses = ("None", "Processing", "Completed", "Exception", "OnHold", "Cancelled", "CleanSweeped",
                           "LabeledCreated", "ImportReview")
    signature_header = "webhook-signature"
    reason_table = mapping.HOLD_REASONS
    # The Exception and On Hold status details of the status reference (ids 300-308, 400-404).
    documented_reasons = ("Bundle", "MergedItem", "InactiveSku", "OutOfStock", "UnknownSku",
                          "InternalTransferInProgress", "BinTransferInProgress", "InventoryInNonPickableLocation",
                          "InventoryPartiallyCommitted", "PaymentDeclined", "InvalidAddress", "ReserveDateNotMet",
                          "MissingTarriffInformation")

    def submission_count(self, sim: Any) -> int:
        return sim.submissions()

    def stock_truth(self, sim: Any) -> Mapping[str, int]:
        return sim.stock()

    def set_stock(self, sim: Any, sku: str, quantity: int) -> bool:
        sim.set_stock(sku, quantity)
        return True

    def submitted_lines(self, sim: Any, ref: str) -> Sequence[tuple[str, int]]:
        return sim.lines_of(ref)

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        """An ``order_shipped`` delivery (the order with its shipments), signed as ShipBob signs."""
        body = (PAYLOADS / "webhook_order_shipped.json").read_bytes()
        stamp = int(at.timestamp())
        return {"webhook-id": "msg_conformance_1", "webhook-timestamp": str(stamp), "shipbob-topic": "order_shipped",
                "webhook-signature": sign(secret, "msg_conformance_1", stamp, body)}, body

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
        stamp = int(headers["webhook-timestamp"])
        return {"webhook-signature": sign(secret, headers["webhook-id"], stamp, body)}
