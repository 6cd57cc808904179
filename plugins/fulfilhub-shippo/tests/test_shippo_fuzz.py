"""Every Shippo mapping turns any input into a model or a PayloadError, never another exception.

Mutated copies of the golden payloads (``fulfilhub.testing.fuzz``) go through each
function that reads Shippo's JSON; a model that does come out is checked for values the
store could not keep.
"""

from __future__ import annotations

import json

import pytest
from fulfilhub import Money, Rate
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_shippo import mapping

RATE = Rate(carrier="shippo", carrier_name="USPS", service="usps_priority", amount=Money(amount="7.87", currency="USD"),
            rate_id="adcfdddf8ec64b84ad22772bce3ea37a", shipment_ref="5e40ead7cffe4cc1ad45108696162e42")


@pytest.mark.parametrize("golden", ["track_transit", "track_delivered", "track_lost", "track_failed_attempt",
                                    "track_address_issue"])
def test_parse_track_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(mapping.parse_track, mutations(payload(golden), seed=6, count=600), check=check_model)
    assert result.mapped > 100
    assert result.refused > 20  # the mutations reach both outcomes


def test_parse_rates_maps_or_refuses_every_mutation(payload):
    result = assert_maps_or_refuses(lambda s: mapping.parse_rates(s, "shippo"),
                                    mutations(payload("shipment_rates"), seed=7, count=1500), check=check_model)
    assert result.mapped > 100
    assert result.refused > 100


def test_parse_label_maps_or_refuses_every_mutation(payload):
    result = assert_maps_or_refuses(lambda t: mapping.parse_label(t, RATE),
                                    mutations(payload("transaction_success"), seed=8, count=800), check=check_model)
    assert result.mapped > 100
    assert result.refused > 20


def test_bought_before_reads_or_refuses_every_mutation(payload):
    def read(listing):
        found = mapping.bought_before(listing, RATE.rate_id)
        return None if found is None else mapping.parse_label(found, RATE)

    assert_maps_or_refuses(read, mutations(payload("transactions_list"), seed=9, count=800), check=check_model)


@pytest.mark.parametrize("golden", ["webhook_track_updated", "webhook_transaction_created"])
def test_webhooks_map_or_refuse_every_mutation(payload, golden):
    def parse(value):
        return mapping.parse_webhook(json.dumps(value).encode("utf-8", "surrogatepass"))

    result = assert_maps_or_refuses(parse, mutations(payload(golden), seed=10, count=800), check=check_model)
    assert result.mapped > 100
    assert result.refused > 10
