"""TrackingEvent / TrackingUpdate: the validating constructors and the ``checked`` fast path."""

from __future__ import annotations

from datetime import datetime, timezone

import attrs
import pytest

from fulfilhub import ExceptionReason, TrackingEvent, TrackingStatus, TrackingUpdate

AT = datetime(2026, 1, 5, 17, 41, tzinfo=timezone.utc)
NAIVE = datetime(2026, 1, 5, 17, 41)


def test_the_class_converts_the_status_and_refuses_naive_times():
    event = TrackingEvent(at=AT, status="in_transit")
    assert event.status is TrackingStatus.IN_TRANSIT
    with pytest.raises(ValueError, match="timezone-aware"):
        TrackingEvent(at=NAIVE, status="in_transit")
    with pytest.raises(ValueError):
        TrackingEvent(at=AT, status="teleported")
    with pytest.raises(ValueError, match="timezone-aware"):
        TrackingUpdate(tracking_code="1Z", status="delivered", est_delivery=NAIVE)


def test_checked_builds_the_same_frozen_values_as_the_class():
    kwargs = dict(at=AT, status=TrackingStatus.FAILED_ATTEMPT, description="Notice left", location="Reno, NV, US",
                  reason=ExceptionReason.FAILED_ATTEMPT, source="in_transit/delivery_exception")
    fast, slow = TrackingEvent.checked(**kwargs), TrackingEvent(**kwargs)
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert TrackingEvent.checked(at=AT, status=TrackingStatus.PRE_TRANSIT) == TrackingEvent(at=AT, status="pre_transit")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.status = TrackingStatus.DELIVERED  # type: ignore[misc]
    raw = {"id": "trk_1"}
    update = TrackingUpdate.checked(tracking_code="1Z", status=TrackingStatus.IN_TRANSIT, events=(fast,), raw=raw)
    assert update == TrackingUpdate(tracking_code="1Z", status="in_transit", events=[slow], raw=raw)
    raw["id"] = "changed"
    assert update.raw == {"id": "trk_1"}  # copied, as the class does
    assert attrs.evolve(update, status="delivered").status is TrackingStatus.DELIVERED


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (dict(at=NAIVE, status=TrackingStatus.IN_TRANSIT), ValueError),
        (dict(at=AT, status="in_transit"), TypeError),
        (dict(at=AT, status=TrackingStatus.EXCEPTION, reason="lost"), TypeError),
    ],
)
def test_checked_still_refuses_what_the_model_forbids(kwargs, error):
    with pytest.raises(error):
        TrackingEvent.checked(**kwargs)


def test_checked_update_refuses_a_naive_eta_a_string_status_or_a_list_of_events():
    event = TrackingEvent(at=AT, status="in_transit")
    with pytest.raises(ValueError, match="timezone-aware"):
        TrackingUpdate.checked(tracking_code="1Z", status=TrackingStatus.IN_TRANSIT, est_delivery=NAIVE)
    with pytest.raises(TypeError):
        TrackingUpdate.checked(tracking_code="1Z", status="in_transit")
    with pytest.raises(TypeError):
        TrackingUpdate.checked(tracking_code="1Z", status=TrackingStatus.IN_TRANSIT, events=[event])
