"""Webhook signatures against EasyPost's published test vector, and event parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from fulfilhub import ConfigError, PayloadError, TrackingStatus, WebhookReceiver, capabilities
from fulfilhub.testing import instance_context

from fulfilhub_easypost import EasyPostCarrier, webhooks
from fulfilhub_easypost.carrier import SETTINGS

SECRET = "sécret"  # as published: with an accented e, in NFC
SIGNATURE = "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"


def _vectors() -> Path:
    """The shared test vectors: beside the repository in CI (``../shared/data/vectors``).

    ``FULFILHUB_TEST_VECTORS`` points elsewhere. Never raises: when they are missing,
    only the tests that need them skip.
    """
    if os.environ.get("FULFILHUB_TEST_VECTORS"):
        return Path(os.environ["FULFILHUB_TEST_VECTORS"])
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "plugins").is_dir() and (parent / "pyproject.toml").is_file():
            return parent.parent / "shared" / "data" / "vectors"
    return here.parent / "vectors-not-found"


VECTOR = _vectors() / "easypost-webhook" / "event-body.json"


@pytest.fixture
def body() -> bytes:
    if not VECTOR.is_file():
        pytest.skip(f"shared test vectors not found at {VECTOR} (they sit beside the repo in CI)")
    return VECTOR.read_bytes()


@pytest.fixture
def carrier() -> Iterator[EasyPostCarrier]:
    context = instance_context(
        "ep", {"api_key": "EZTK_x", "base_url": "https://api.easypost.test", "webhook_secret": SECRET}, schema=SETTINGS
    )
    adapter = EasyPostCarrier(context)
    yield adapter
    adapter.close()


def test_the_published_signature_verifies(body):
    assert webhooks.sign(body, SECRET) == SIGNATURE
    assert webhooks.verify_signature(body, SECRET, SIGNATURE) is True


def test_the_secret_is_nfkd_normalized(body):
    decomposed = "se\u0301cret"  # e + combining acute: the same secret, typed differently
    assert webhooks.verify_signature(body, decomposed, SIGNATURE) is True


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.replace(b'"status":"in_transit"', b'"status":"delivered"', 1),
        lambda b: b + b"\n",
        lambda b: b[:-1],
    ],
    ids=["edited", "trailing-newline", "truncated"],
)
def test_a_changed_body_is_rejected(body, change):
    changed = change(body)
    assert changed != body
    assert webhooks.verify_signature(changed, SECRET, SIGNATURE) is False


@pytest.mark.parametrize("secret", ["secret", "sécret ", "SÉCRET", ""])
def test_another_secret_is_rejected(body, secret):
    assert webhooks.verify_signature(body, secret, SIGNATURE) is False


@pytest.mark.parametrize(
    "header_value",
    [
        SIGNATURE[:-1] + "c",  # last hex digit changed
        SIGNATURE.upper(),
        SIGNATURE.removeprefix("hmac-sha256-hex="),  # bare digest, no scheme
        "hmac-sha1-hex=" + SIGNATURE.removeprefix("hmac-sha256-hex="),
        "",
        None,
    ],
    ids=["digit", "uppercase", "no-prefix", "other-scheme", "empty", "missing"],
)
def test_a_changed_or_missing_header_is_rejected(body, header_value):
    assert webhooks.verify_signature(body, SECRET, header_value) is False


@pytest.mark.parametrize("name", ["X-Hmac-Signature", "x-hmac-signature", "X-HMAC-SIGNATURE"])
def test_the_adapter_finds_the_header_whatever_its_case(carrier, body, name):
    assert carrier.verify_webhook({"Content-Type": "application/json", name: SIGNATURE}, body) is True


def test_the_adapter_rejects_a_request_without_signature(carrier, body):
    assert carrier.verify_webhook({"Content-Type": "application/json"}, body) is False


def test_without_a_webhook_secret_verification_is_a_config_error(body):
    adapter = EasyPostCarrier(instance_context("ep", {"api_key": "EZTK_x"}, schema=SETTINGS))
    with pytest.raises(ConfigError, match="webhook_secret is not set"):
        adapter.verify_webhook({"X-Hmac-Signature": SIGNATURE}, body)


def test_parse_webhook_maps_the_events_tracker(carrier, body):
    update = carrier.parse_webhook({}, body)
    assert update.tracking_code == "1"
    assert (update.status, update.reason) == (TrackingStatus.IN_TRANSIT, None)
    assert (update.eta_date, update.est_delivery) == (date(2024, 8, 5), None)  # a day, not an instant
    assert update.tracking_url == "https://track.easypost.com/1"
    assert len(update.events) == 7
    first, last = update.events[0], update.events[-1]
    assert (first.status, first.source, first.location) == (
        TrackingStatus.PRE_TRANSIT,
        "pre_transit/label_created",
        "US",
    )
    assert first.description == "Shipment information sent to FedEx"
    assert (last.at, last.location) == (datetime(2024, 8, 2, 18, 50, tzinfo=timezone.utc), "EDISON, NJ, US")
    assert update.raw["id"] == "trk_1"


def test_an_event_about_something_else_is_a_payload_error(carrier, body):
    event = json.loads(body)
    event["description"] = "batch.updated"
    event["result"] = {"id": "batch_1", "object": "Batch"}
    with pytest.raises(PayloadError, match="'batch.updated', not a tracker event"):
        carrier.parse_webhook({}, json.dumps(event).encode())


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"object": "Tracker"}'])
def test_a_body_that_is_not_an_event_is_a_payload_error(carrier, raw):
    with pytest.raises(PayloadError):
        carrier.parse_webhook({}, raw)


# --------------------------------------------------------------------------- without the shared vectors


def tracker_event(status: str = "delivered") -> bytes:
    """A small ``tracker.updated`` Event in EasyPost's shape, built here (no shared file)."""
    return json.dumps({
        "object": "Event", "id": "evt_1", "description": "tracker.updated", "mode": "test",
        "result": {
            "object": "Tracker", "id": "trk_9", "tracking_code": "EZ9", "status": status, "status_detail": "arrived_at_destination",
            "carrier": "USPS", "public_url": "https://track.easypost.com/9", "est_delivery_date": None,
            "tracking_details": [{"object": "TrackingDetail", "status": status, "status_detail": "arrived_at_destination",
                                  "message": "Delivered", "datetime": "2026-01-07T15:00:00Z",
                                  "tracking_location": {"city": "RENO", "state": "NV", "country": "US", "zip": None}}],
        },
    }).encode()


def test_the_carrier_declares_the_webhook_capability(carrier):
    assert isinstance(carrier, WebhookReceiver)
    assert capabilities(carrier) == {"webhooks"}


def test_a_self_signed_event_verifies_and_parses(carrier):
    event = tracker_event()
    sent = {"X-Hmac-Signature": webhooks.sign(event, SECRET)}
    assert carrier.verify_webhook(sent, event) is True
    assert carrier.verify_webhook({"X-Hmac-Signature": webhooks.sign(event, "another")}, event) is False
    assert carrier.verify_webhook(sent, event.replace(b"delivered", b"in_transit", 1)) is False
    update = carrier.parse_webhook(sent, event)
    assert (update.tracking_code, update.status) == ("EZ9", TrackingStatus.DELIVERED)


def test_only_the_tests_that_need_the_shared_vector_skip_without_it(tmp_path):
    """Run this module with the vectors pointed at an empty folder: exactly the tests that
    take the ``body`` fixture skip, saying why; every other test still runs and passes."""
    import inspect

    report = tmp_path / "report.xml"
    env = {**os.environ, "FULFILHUB_TEST_VECTORS": str(tmp_path / "empty")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", __file__,
         "-k", "not test_only_the_tests_that_need_the_shared_vector_skip_without_it"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    needs_body = {name for name, fn in globals().items()
                  if name.startswith("test_") and callable(fn) and "body" in inspect.signature(fn).parameters}
    skipped, passed = set(), set()
    for case in ET.parse(report).iter("testcase"):
        name = case.get("name").split("[")[0]
        skip = case.find("skipped")
        if skip is not None:
            assert "shared test vectors not found" in (skip.get("message") or ""), name
            skipped.add(name)
        elif case.find("failure") is None and case.find("error") is None:
            passed.add(name)
    assert skipped == needs_body
    assert passed
    assert passed.isdisjoint(needs_body)


def test_the_delivery_is_the_events_id_and_signed_time(carrier, body):
    delivery = carrier.webhook_delivery({}, body)
    assert delivery.id == "evt_1"
    assert delivery.sent_at == datetime(2024, 8, 2, 19, 26, 52, tzinfo=timezone.utc)
    assert delivery.signed is True


@pytest.mark.parametrize("event", [{"object": "Event"}, {"object": "Event", "id": ""}, {"object": "Tracker", "id": "x"},
                                   {"object": "Event", "id": "evt_2", "updated_at": "yesterday"}])
def test_an_event_without_a_usable_id_or_time_has_no_delivery(carrier, event):
    with pytest.raises(PayloadError):
        carrier.webhook_delivery({}, json.dumps(event).encode())
