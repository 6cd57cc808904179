"""The pure mapping, with golden payloads in the API's shape (no network)."""

from __future__ import annotations

import pytest
from fulfilhub import ExceptionReason, PayloadError, TrackingStatus
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_easypost_kit import mapping

TRACKING = {"tracking_number": "T1", "eta": "2026-01-08T00:00:00+00:00", "events": [
    {"status": "label_created", "reason": None, "message": "Label created", "at": "2026-01-05T08:00:00+00:00",
     "location": "Depot"},
    {"status": "exception", "reason": "damaged", "message": "Damaged", "at": "2026-01-06T08:00:00+00:00",
     "location": "Hub"},
]}


def test_tracking_maps_status_and_reason():
    update = mapping.parse_tracking(TRACKING)
    assert update.status is TrackingStatus.EXCEPTION and update.reason is ExceptionReason.DAMAGED
    assert [event.source for event in update.events] == ["label_created", "exception"]


def test_an_unknown_status_word_is_refused_naming_the_field():
    broken = {**TRACKING, "events": [{**TRACKING["events"][0], "status": "teleported"}]}
    with pytest.raises(PayloadError) as info:
        mapping.parse_tracking(broken)
    assert info.value.field == "events[0].status"


def test_tracking_maps_or_refuses_every_mutation():
    assert_maps_or_refuses(mapping.parse_tracking, mutations(TRACKING, seed=1, count=1000), check=check_model)
