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


def test_ask_many_answers_a_batch_at_once_and_what_it_leaves_out_is_asked_alone(store):
    due = [SimpleNamespace(id=f"shop:1/{n}") for n in (1, 2, 3)]
    asked_alone, batches, applied = [], [], []

    def ask_many(batch):
        batches.append([s.id for s in batch])
        return {s.id: f"many {s.id}" for s in batch if not s.id.endswith("/2")}

    def ask(shipment):
        asked_alone.append(shipment.id)
        return f"alone {shipment.id}"

    report = poll_shipments(store, "poll_warehouses", "warehouse main", due, ask=ask, ask_many=ask_many,
                            apply=lambda tx, shipment, answer: applied.append(answer) or {"packed": 1})
    assert batches == [["shop:1/1", "shop:1/2", "shop:1/3"]]
    assert asked_alone == ["shop:1/2"]
    assert applied == ["many shop:1/1", "alone shop:1/2", "many shop:1/3"]
    assert report.counts == {"packed": 3}


def test_an_ask_many_that_raises_falls_back_to_asking_each(store):
    due = [SimpleNamespace(id=f"shop:1/{n}") for n in (1, 2)]

    def ask_many(batch):
        raise RuntimeError("batch endpoint broke")

    applied = []
    report = poll_shipments(store, "poll_warehouses", "warehouse main", due, ask=lambda s: f"alone {s.id}",
                            ask_many=ask_many, apply=lambda tx, s, answer: applied.append(answer) or {"packed": 1})
    assert applied == ["alone shop:1/1", "alone shop:1/2"]
    assert report.errors == []
