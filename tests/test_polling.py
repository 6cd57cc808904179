"""runner.polling.poll_shipments: the one polling loop of poll_warehouses and poll_tracking."""

from __future__ import annotations

from types import SimpleNamespace

from fulfilhub.runner.polling import poll_shipments


def test_each_answer_is_applied_and_one_shipments_trouble_stays_with_it(store):
    due = [SimpleNamespace(id=f"shop:1/{n}") for n in (1, 2, 3)]
    applied, failed = [], []

    def ask(shipment):
        if shipment.id.endswith("/2"):
            raise TimeoutError("the carrier did not answer")
        return f"answer for {shipment.id}"

    def apply(tx, shipment, answer):
        applied.append((shipment.id, answer, tx is not None))
        return {"to_in_transit": 1, "scans_new": 2}

    report = poll_shipments(store, "poll_tracking", "carrier ep", due, ask=ask, apply=apply,
                            failed=lambda tx, shipment: failed.append(shipment.id))
    assert applied == [("shop:1/1", "answer for shop:1/1", True), ("shop:1/3", "answer for shop:1/3", True)]
    assert failed == ["shop:1/2"]
    assert report.errors == ["carrier ep, shipment shop:1/2: TimeoutError: the carrier did not answer"]
    assert report.counts == {"to_in_transit": 2, "scans_new": 4}
    assert report.job == "poll_tracking"


def test_an_apply_that_raises_is_reported_too_and_without_failed_nothing_else_is_written(store):
    def apply(tx, shipment, answer):
        raise ValueError("no such status")

    report = poll_shipments(store, "poll_warehouses", "warehouse main", [SimpleNamespace(id="shop:1/1")],
                            ask=lambda shipment: "packed", apply=apply)
    assert report.errors == ["warehouse main, shipment shop:1/1: ValueError: no such status"]
    assert not report.counts
