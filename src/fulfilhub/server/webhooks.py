"""``POST /webhooks/{instance}``: verify, store in the inbox, answer at once.

In this order, and nothing is stored unless every step passes:

1. The instance is a configured channel or carrier whose adapter takes webhooks (404).
2. The body is at most ``[server] max_body_bytes`` (413), read without trusting
   ``Content-Length``.
3. The signature verifies (``verify_webhook``, in constant time) before anything is
   parsed (401; 503 when the instance has no webhook secret configured).
4. The delivery has an id (the adapter's ``webhook_delivery``; else the SHA-256 of the
   body), and its sent time (where the adapter gives one) is within
   ``webhook_tolerance_seconds`` of now (400 ``malformed`` / ``stale``).
5. The delivery id was not seen before for this instance (200 ``duplicate``: the vendor
   stops retrying and nothing is processed again).

Then the delivery is written to the inbox (by one writer thread, many deliveries per
transaction) and answered 202 once committed; the runner's ``process_inbox`` job does
the rest. A store that cannot be written answers 503, so the vendor retries.

The answers are the server's JSON, unless the adapter defines ``webhook_reply(outcome)``
(its vendor expects its own words, ``1|OK`` or ``{"result": true, ...}``): then
``accepted`` and ``duplicate`` and a refusal of the delivery itself (too large, bad
signature, malformed, stale: ``refused``) are answered with its (status, media type,
body). A refusal for the server's own state (no secret configured, store unavailable:
503) keeps the JSON answer, so the vendor retries it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
from concurrent.futures import Future
from datetime import timedelta
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..adapters import WebhookDelivery, WebhookReceiver
from ..errors import ConfigError, PayloadError
from ..runner.runtime import Runtime
from ..store import Store
from ..store import inbox as inbox_store

log = logging.getLogger("fulfilhub.server")

#: Why a webhook was refused, as counted in ``/metrics``.
REASONS = ("unknown_instance", "too_large", "not_configured", "signature", "malformed", "stale", "duplicate",
           "store_unavailable")
#: The refusals an adapter's ``webhook_reply`` answers as ``refused`` (the delivery itself is
#: wrong); the others (503: the server cannot take it now) keep the server's JSON.
REFUSED_BY_DELIVERY = frozenset({"too_large", "signature", "malformed", "stale"})
#: The outcomes ``webhook_reply`` is asked to answer.
OUTCOMES = ("accepted", "duplicate", "refused")


class _TooLarge(Exception):
    pass


def delivery_of(receiver: WebhookReceiver, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """The adapter's ``webhook_delivery`` where it has one; else the delivery is known by
    the SHA-256 of its body (the same body twice is one delivery) and has no sent time."""
    read = getattr(receiver, "webhook_delivery", None)
    if read is None:
        return WebhookDelivery(id="sha256:" + hashlib.sha256(body).hexdigest())
    delivery = read(headers, body)
    if not isinstance(delivery, WebhookDelivery):
        raise PayloadError(f"webhook_delivery returned {type(delivery).__name__}, not a WebhookDelivery")
    return delivery


def reply_of(receiver: WebhookReceiver | None, outcome: str) -> Response | None:
    """The adapter's own answer to ``outcome`` where it defines ``webhook_reply``, else None.

    A reply that is not ``(status, media type, body bytes)`` is logged and ignored (the
    server's JSON answers instead): a plugin's bug must not turn an accepted delivery
    into a 500 the vendor retries forever.
    """
    reply = getattr(receiver, "webhook_reply", None)
    if reply is None:
        return None
    try:
        status, media_type, body = reply(outcome)
        valid = isinstance(status, int) and 100 <= status <= 599 and isinstance(media_type, str) \
            and isinstance(body, bytes)
    except Exception as exc:  # noqa: BLE001 - reported, the JSON answer stands
        log.warning("webhook_reply(%r) raised %s; the server's JSON answers instead", outcome, type(exc).__name__)
        return None
    if not valid:
        log.warning("webhook_reply(%r) is not (status, media type, bytes); the server's JSON answers instead", outcome)
        return None
    return Response(body, status_code=status, media_type=media_type)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (``_TooLarge``) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class InboxWriter:
    """One thread that writes verified deliveries to the inbox, many per transaction.

    Requests hand their delivery over and wait; the thread takes whatever has queued up
    (up to :attr:`BATCH`) and stores it in one transaction, then answers each: True if
    stored, False if its delivery id was there already. One commit for many deliveries
    keeps the answers fast under load, and a delivery is answered only once committed.
    """

    BATCH = 200

    def __init__(self, store: Store):
        self.store = store
        self.queue: queue.SimpleQueue[tuple[dict[str, Any], Future[bool]] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="fulfilhub-inbox-writer", daemon=True)
        self.thread.start()

    def add(self, row: dict[str, Any]) -> Future[bool]:
        done: Future[bool] = Future()
        self.queue.put((row, done))
        return done

    def close(self) -> None:
        """Store what is queued, then end the thread."""
        self.queue.put(None)
        self.thread.join(timeout=30)

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.BATCH:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            try:
                with self.store.transaction() as tx:
                    stored = [inbox_store.add(tx, **row) for row, _ in batch]
            except Exception as exc:  # nothing of the batch is stored; each request says so
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), added in zip(batch, stored):
                done.set_result(added)


class WebhookEndpoint:
    """The endpoint over one runtime; ``count(outcome, instance)`` feeds the metrics."""

    def __init__(self, rt: Runtime, count: Any):
        self.rt = rt
        self.count = count
        self.writer = InboxWriter(rt.store)
        self.kinds = ({name: "warehouses" for name in rt.config.warehouses}
                      | {name: "channels" for name in rt.config.channels}
                      | {name: "carriers" for name in rt.config.carriers})

    def receiver(self, instance: str) -> WebhookReceiver | None:
        kind = self.kinds.get(instance)
        if kind is None:
            return None
        adapter = {"channels": self.rt.channel, "carriers": self.rt.carrier, "warehouses": self.rt.warehouse}[kind](instance)
        return adapter if isinstance(adapter, WebhookReceiver) else None

    def refuse(self, instance: str, reason: str, status: int, detail: str,
               receiver: WebhookReceiver | None = None) -> Response:
        self.count(reason, instance)
        log.info("webhook for %s refused (%s): %s", instance, reason, detail)
        own = reply_of(receiver, "refused") if reason in REFUSED_BY_DELIVERY else None
        return own or JSONResponse({"error": reason, "detail": detail}, status_code=status)

    async def handle(self, request: Request) -> Response:
        instance = request.path_params["instance"]
        receiver = self.receiver(instance)
        if receiver is None:
            return self.refuse("-", "unknown_instance", 404,
                               "no configured channel, carrier or warehouse of that name takes webhooks")
        try:
            body = await read_body(request, self.rt.config.server.max_body_bytes)
        except _TooLarge:
            return self.refuse(instance, "too_large", 413,
                               f"the body is larger than {self.rt.config.server.max_body_bytes} bytes", receiver)
        headers = dict(request.headers)
        try:
            verified = receiver.verify_webhook(headers, body)
        except ConfigError as exc:
            return self.refuse(instance, "not_configured", 503, f"{exc.key or instance}: no webhook secret configured",
                               receiver)
        if not verified:
            return self.refuse(instance, "signature", 401, "missing or wrong signature", receiver)
        try:
            delivery = delivery_of(receiver, headers, body)
        except Exception as exc:  # a plugin's bug must not become a 500 that the vendor retries forever
            return self.refuse(instance, "malformed", 400, str(exc)[:300], receiver)
        now = self.rt.clock.now()
        tolerance = timedelta(seconds=self.rt.config.server.webhook_tolerance_seconds)
        if delivery.sent_at is not None and abs(now - delivery.sent_at) > tolerance:
            return self.refuse(instance, "stale", 400,
                               f"sent at {delivery.sent_at.isoformat()}, more than {tolerance} from now", receiver)
        try:
            stored = await asyncio.wrap_future(self.writer.add(dict(
                instance=instance, kind=self.kinds[instance], delivery_id=delivery.id, received_at=now,
                sent_at=delivery.sent_at, headers=headers, body=body)))
        except Exception as exc:  # the store is down or locked: the vendor retries later
            log.warning("webhook for %s not stored: %s", instance, type(exc).__name__)
            return self.refuse(instance, "store_unavailable", 503, "the store is unavailable; retry later")
        if not stored:
            self.count("duplicate", instance)
            return reply_of(receiver, "duplicate") or JSONResponse({"status": "duplicate", "delivery": delivery.id},
                                                                   status_code=200)
        self.count("accepted", instance)
        return reply_of(receiver, "accepted") or JSONResponse({"status": "accepted", "delivery": delivery.id},
                                                              status_code=202)

