"""The pure mapping, with the golden EasyPost payloads of fulfilhub-easypost (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fulfilhub import ExceptionReason, TrackingStatus
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_easypost_kit import mapping

PAYLOADS = Path(__file__).resolve().parents[3] / "plugins" / "fulfilhub-easypost" / "tests" / "payloads"


def payload(name: str):
    if not PAYLOADS.is_dir():
        pytest.skip(f"the golden payloads of fulfilhub-easypost are not at {PAYLOADS}")
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_a_lost_parcel_is_an_exception_with_the_lost_reason():
    update = mapping.parse_tracking(payload("tracker_lost"))
    assert update.status is TrackingStatus.EXCEPTION and update.reason is ExceptionReason.LOST


def test_rates_and_a_label_map():
    assert mapping.parse_rates(payload("shipment_rated"), carrier="ep")
    assert mapping.parse_label(payload("shipment_bought"), carrier="ep").tracking_code


@pytest.mark.parametrize("name", ["tracker_delivered", "shipment_bought"])
def test_the_mappings_map_or_refuse_every_mutation(name):
    parse = mapping.parse_tracking if name.startswith("tracker") else (lambda p: mapping.parse_label(p, carrier="ep"))
    assert_maps_or_refuses(parse, mutations(payload(name), seed=1, count=1000), check=check_model)
