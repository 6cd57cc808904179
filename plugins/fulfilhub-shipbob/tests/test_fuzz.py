"""Every ShipBob mapping turns any input into a model or a PayloadError, never another exception."""

from __future__ import annotations

import pytest
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_shipbob import mapping


@pytest.mark.parametrize("golden", ["shipments_completed", "shipments_split_both_left", "shipments_split_one_left",
                                    "shipments_exception_out_of_stock", "shipments_processing_packed"])
def test_shipments_map_or_refuse_every_mutation(payload, golden):
    result = assert_maps_or_refuses(lambda s: mapping.parse_shipments(s, ref="7001"),
                                    mutations(payload(golden), seed=3, count=500), check=check_model)
    assert result.mapped > 50
    assert result.refused > 20
    tracked = assert_maps_or_refuses(lambda s: mapping.parse_tracking(s, tracking_code="9400111206213456789012"),
                                     mutations(payload(golden), seed=4, count=500), check=check_model)
    assert tracked.mapped > 50


def test_stock_maps_or_refuses_every_mutation(payload):
    products = assert_maps_or_refuses(lambda p: mapping.inventory_of_products(p, ["MUG-BLUE", "GIFT-SET"]),
                                      mutations(payload("products"), seed=5, count=500))
    assert products.refused > 20
    inventory = assert_maps_or_refuses(mapping.parse_inventory, mutations(payload("inventory"), seed=6, count=500))
    assert inventory.refused > 20
    centers = assert_maps_or_refuses(lambda i: mapping.parse_inventory(i, fulfillment_center=5),
                                     mutations(payload("inventory"), seed=7, count=500))
    assert centers.mapped > 50


@pytest.mark.parametrize(("topic", "golden"), [("order_shipped", "webhook_order_shipped"),
                                              ("shipment_delivered", "webhook_shipment_delivered")])
def test_webhook_bodies_map_or_refuse_every_mutation(payload, topic, golden):
    def parse(body):
        subject = mapping.webhook_subject(topic, body)
        if subject is not None and subject[2] is not None:
            return mapping.from_webhook(subject[0], subject[1], subject[2])
        return subject

    result = assert_maps_or_refuses(parse, mutations(payload(golden), seed=8, count=500))
    assert result.mapped > 50
