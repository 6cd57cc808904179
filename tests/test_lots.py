"""The lot and order-accuracy decisions without a store: first expiry first out, what a
recall list shows of a customer, and the accuracy figures."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace as Row

import pytest

from fulfilhub.engines import lots
from fulfilhub.models import FulfillmentUpdate, LotPick, ShortPick
from fulfilhub.store.lots import fefo

T0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


def lot(name: str, on_hand: int, expires: date | None, received_day: int = 1) -> Row:
    return Row(lot=name, on_hand=on_hand, expires=expires, received_at=datetime(2026, 1, received_day, tzinfo=timezone.utc))


def test_first_expiry_first_out_skips_expired_and_takes_lots_without_expiry_last():
    rows = [lot("NOEXP", 5, None), lot("LATE", 2, date(2026, 9, 1)), lot("SOON", 1, date(2026, 4, 1)),
            lot("GONE", 4, date(2026, 2, 27))]
    taken, short, expired = fefo(rows, 6, date(2026, 3, 1))
    assert [(r.lot, n) for r, n in taken] == [("SOON", 1), ("LATE", 2), ("NOEXP", 3)]
    assert short == 0
    assert [r.lot for r in expired] == ["GONE"]
    taken, short, _ = fefo([lot("GONE", 4, date(2026, 2, 27)), lot("OK", 1, date(2026, 3, 1))], 3, date(2026, 3, 1))
    assert [(r.lot, n) for r, n in taken] == [("OK", 1)]  # expiring today is still good today
    assert short == 2


def test_older_receipts_of_the_same_expiry_go_first():
    taken, _, _ = fefo([lot("B", 1, None, received_day=5), lot("A", 1, None, received_day=9)], 1, date(2026, 3, 1))
    assert [r.lot for r, _ in taken] == ["B"]


@pytest.mark.parametrize(("email", "shown"), [
    ("jane.doe@example.com", "j•••@example.com"), ("", ""), ("not-an-address", "•••"), ("@x.com", "•••"),
])
def test_a_recall_list_shows_an_email_shortened(email, shown):
    assert lots.redacted_email(email) == shown


@pytest.mark.parametrize(("phone", "shown"), [("+886 912 345 678", "•••• 5678"), ("", ""), ("123", "••••")])
def test_a_recall_list_shows_the_last_four_digits_of_a_phone(phone, shown):
    assert lots.redacted_phone(phone) == shown


def test_the_packed_answer_carries_lots_and_short_picks_and_defaults_to_none():
    plain = FulfillmentUpdate(ref="r", status="packed", at=T0)
    assert (plain.lots, plain.short) == ((), ())
    full = FulfillmentUpdate(ref="r", status="packed", at=T0, lots=[LotPick(sku="A", lot="L1", quantity=2)],
                             short=[ShortPick(sku="B", quantity=1, reason="expired")])
    assert isinstance(full.lots, tuple)
    assert full.short[0].quantity == 1
    with pytest.raises(ValueError):
        LotPick(sku="A", lot="L1", quantity=0)
    with pytest.raises(ValueError):
        LotPick(sku="A", lot="", quantity=1)


def test_accuracy_per_warehouse_and_sku():
    lines = [Row(shipment_id="o1/1", warehouse="east", sku="A", quantity=2),
             Row(shipment_id="o2/1", warehouse="east", sku="A", quantity=1),
             Row(shipment_id="o2/1", warehouse="east", sku="B", quantity=1),
             Row(shipment_id="o3/1", warehouse="west", sku="B", quantity=4)]
    issues = [Row(shipment_id="o2/1", warehouse="east", sku="B", quantity=1, kind="short_pick"),
              Row(shipment_id=None, warehouse=None, sku="C", quantity=1, kind="missing_item")]
    got = lots.accuracy(lines, issues)
    assert (got["shipments"], got["accurate"], got["accuracy"]) == (3, 2, 0.6667)
    assert got["by_kind"] == {"missing_item": 1, "short_pick": 1}
    assert got["warehouses"] == [
        {"warehouse": "east", "shipments": 2, "accurate": 1, "accuracy": 0.5, "units": 4, "units_wrong": 1},
        {"warehouse": "west", "shipments": 1, "accurate": 1, "accuracy": 1.0, "units": 4, "units_wrong": 0}]
    assert [(k["sku"], k["accuracy"]) for k in got["skus"]] == [("B", 0.8), ("A", 1.0)]
    assert lots.accuracy([], []) is None
