"""EasyPost webhooks: signature verification and event parsing, pure (no I/O).

EasyPost signs each webhook it sends with the webhook's secret: the ``X-Hmac-Signature``
header holds ``hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>``, keyed with the
secret NFKD-normalized and encoded as UTF-8. The body must be verified exactly as it
arrived, before any parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from fulfilhub import PayloadError, WebhookDelivery
from fulfilhub.sdk import parse_time

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hmac-Signature`` value EasyPost sends for ``body`` under ``secret``."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header_value: str | None) -> bool:
    """True when ``header_value`` is EasyPost's signature of exactly ``body``.

    The comparison takes constant time, so the answer does not leak how many leading
    characters of a forged signature were right. An empty secret verifies nothing.
    """
    if not secret or not header_value:
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header_value.strip().encode("utf-8"))



def tracker_from_event(body: bytes) -> Mapping[str, Any]:
    """The Tracker inside a ``tracker.created`` / ``tracker.updated`` Event body.

    Raises PayloadError for a body that is not JSON, not an Event, or an event about
    something other than a tracker (EasyPost sends batch, refund, report... events to
    the same webhook URL).
    """
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"EasyPost webhook body is not JSON: {exc}") from None
    if not isinstance(event, Mapping) or event.get("object") != "Event":
        raise PayloadError("EasyPost webhook body is not an Event object", field="object")
    description = event.get("description") or ""
    if not isinstance(description, str):
        raise PayloadError(f"EasyPost event description must be text, got {type(description).__name__}", field="description")
    result = event.get("result")
    if not description.startswith("tracker.") or not isinstance(result, Mapping) or result.get("object") != "Tracker":
        raise PayloadError(
            f"EasyPost event {str(event.get('id', '?'))[:60]} is {description or 'untyped'!r}, not a tracker event; "
            "only tracker.created and tracker.updated carry tracking",
            field="description",
        )
    return result


def delivery(body: bytes) -> WebhookDelivery:
    """The Event's id and its ``updated_at`` (else ``created_at``): both inside the signed
    body, so ``signed`` is True. EasyPost sends a retry of an event with the same id.

    Raises PayloadError for a body that is not an Event with an id.
    """
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"EasyPost webhook body is not JSON: {exc}") from None
    if not isinstance(event, Mapping) or event.get("object") != "Event":
        raise PayloadError("EasyPost webhook body is not an Event object", field="object")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 200 or not event_id.isprintable():
        raise PayloadError("EasyPost event without a usable id (printable text of 1 to 200 characters)", field="id")
    sent_at = None
    for field in ("updated_at", "created_at"):
        raw = event.get(field)
        if raw is None:
            continue
        try:
            sent_at = parse_time(raw, field=field)
        except PayloadError:
            raise PayloadError(f"EasyPost event {field} {str(raw)[:60]!r} is not an ISO 8601 time with an offset "
                               "(within 1900-2200)",
                               field=field) from None
        break
    return WebhookDelivery(id=event_id.strip(), sent_at=sent_at, signed=True)
