"""``GET /api/v1/promise``: the delivery promise for a product page, fast enough for every view.

``?sku=TEE-ORG-M&qty=1&country=US&region=CA&postal_code=94107`` answers the ship-by and
the deliver-by range (the destination's days), the confidence of each end, what the
promise rests on, and one sentence in the language ``Accept-Language`` (or ``?lang=``)
asks for: English, Traditional or Simplified Chinese. The promise engine is the
runtime's warm one (transit models learned from the store once, then kept current);
each request reads only the stock of its SKU.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..engines.promise import CannotPromise, QuoteRequest
from ..engines.transit import Level
from ..models import Address, Promise
from ..runner.runtime import Runtime
from ..store import shipments as shipment_store
from . import i18n

log = logging.getLogger("fulfilhub.server")

_COUNTRY = re.compile(r"[A-Za-z]{2}")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")
PARAMS = {"sku": 100, "country": 10, "region": 50, "postal_code": 20, "lang": 10, "qty": 10}
#: qty as ASCII digits only: str.isdigit() is true for "²" and "①", which int() refuses.
_ASCII_NUMBER = re.compile(r"[0-9]{1,6}")

PATH = "/api/v1/promise"
#: Printable text (what the handler takes), and a SKU: printable with at least one non-space.
_TEXT_PATTERN = "^[^\\x00-\\x1f\\x7f]*$"
_SKU_PATTERN = "^[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$"

_PROMISE_SCHEMA = {
    "type": "object",
    "required": ["sku", "qty", "ship_by", "deliver_from", "deliver_by", "timezone", "confidence", "basis",
                 "sentence", "locale"],
    "properties": {
        "sku": {"type": "string"}, "qty": {"type": "integer"},
        "ship_by": {"type": "string", "format": "date-time"},
        "deliver_from": {"type": "string", "format": "date-time"},
        "deliver_by": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
        "confidence": {"type": "object", "required": ["from", "by"],
                       "description": "The learned share delivered by each end; null when nothing is learned "
                                      "for the lane yet (a stated or default transit time)",
                       "properties": {"from": {"type": ["number", "null"]}, "by": {"type": ["number", "null"]}}},
        "basis": {"type": "string"}, "level": {"type": "string"},
        "carrier": {"type": "string"}, "service": {"type": "string"},
        "sentence": {"type": "string"}, "locale": {"enum": list(i18n.LOCALES)},
        "explain": {"type": "array", "items": {"type": "string"}},
    },
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                                                                  "detail": {"type": "string"}}}

#: This API's part of ``/openapi.json``.
PATHS = {PATH: {"get": {
    "summary": "The delivery promise for a product, to a destination",
    "operationId": "promise",
    "parameters": [
        {"name": "sku", "in": "query", "required": True,
         "schema": {"type": "string", "maxLength": 100, "pattern": _SKU_PATTERN}},
        {"name": "qty", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": 10000, "default": 1}},
        {"name": "country", "in": "query", "required": True,
         "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}},
        {"name": "region", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": 50, "pattern": _TEXT_PATTERN}},
        {"name": "postal_code", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": 20, "pattern": _TEXT_PATTERN}},
        {"name": "lang", "in": "query", "required": False, "schema": {"enum": list(i18n.LOCALES)}},
        {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    "responses": {
        "200": {"description": "The promise", "content": {"application/json": {"schema": _PROMISE_SCHEMA}}},
        "400": {"description": "A parameter is missing or wrong",
                "content": {"application/json": {"schema": _ERROR}}},
        "409": {"description": "No promise can be made now (a SKU no warehouse has, nothing in stock and no "
                               "restock date...)",
                "content": {"application/json": {"schema": _ERROR}}},
        "429": {"description": "Too many requests from this client",
                "content": {"application/json": {"schema": _ERROR}}},
    },
}}}


#: Levels of a learned transit time: any other (a carrier's stated time, the default) has no confidence.
_LEARNED = frozenset(level.value for level in Level)
#: "(`fulfilhub stock set ...`)": what an operator is told to run, never shown to a storefront.
_OPERATOR_HINT = re.compile(r"\s*\(`fulfilhub [^`]*`\)")


def _bad(detail: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "detail": detail}, status_code=400)


def sentence(promise: Promise, locale: str) -> str:
    """"Order now: ships by Tue, Jan 6; arrives Thu, Jan 8 – Sat, Jan 10." in ``locale``."""
    zone = i18n.zone_named(promise.timezone)
    first, last = i18n.day(promise.deliver_from, locale, zone), i18n.day(promise.deliver_by, locale, zone)
    arrives = first if first == last else i18n.t(locale, "promise_range", first=first, last=last)
    return i18n.t(locale, "promise_sentence", ships=i18n.day(promise.ship_by, locale, zone), arrives=arrives)


class PromiseApi:
    """The endpoint over one runtime: its promise engine is built (learned from the store)
    when the app is, and every ``refresh`` seconds a background thread has it learn the
    shipment changes committed since (``PromiseCache.catch_up``), since the shipments it
    learns from move in the runner's process, not this one."""

    def __init__(self, rt: Runtime, *, refresh: float = 30.0):
        self.rt = rt
        self.engine = rt.promise_engine()
        self._stop = threading.Event()
        self._refresher = threading.Thread(target=self._refresh, args=(refresh,), name="fulfilhub-promise-refresh",
                                           daemon=True)
        self._refresher.start()

    def _refresh(self, every: float) -> None:
        while not self._stop.wait(every):
            self.catch_up()

    def catch_up(self) -> int:
        """Learn the shipment changes committed since the last round; the deliveries learned."""
        def changed(since):
            with self.rt.store.read() as conn:
                return shipment_store.moved_since(conn, since)

        try:
            return self.rt.promises.catch_up(changed)
        except Exception:  # the engine keeps what it knows; the next round tries again
            log.exception("could not learn the latest shipment changes")
            return 0

    def close(self) -> None:
        self._stop.set()

    def _quote(self, request: QuoteRequest) -> tuple[Promise, float]:
        """The promise, and the CPU time this thread spent on it (ms)."""
        began = time.thread_time()
        with self.rt.store.read() as conn:
            promise = self.engine.quote(request, conn=conn)
        return promise, (time.thread_time() - began) * 1000

    async def handle(self, request: Request) -> JSONResponse:
        began = time.perf_counter()
        query = request.query_params
        for name, value in query.items():
            if name in PARAMS and (len(value) > PARAMS[name] or not _TEXT.fullmatch(value)):
                return _bad(f"{name} must be printable text of at most {PARAMS[name]} characters")
        sku = query.get("sku", "").strip()
        if not sku:
            return _bad("sku is required (the product's SKU)")
        raw_qty = query.get("qty", "1")
        if not _ASCII_NUMBER.fullmatch(raw_qty) or not 1 <= int(raw_qty) <= 10000:  # not isdigit(): "²" is one
            return _bad(f"qty must be a whole number from 1 to 10000, got {raw_qty!r}")
        country = query.get("country", "")
        if not _COUNTRY.fullmatch(country):
            return _bad(f"country must be an ISO 3166 alpha-2 code like US or TW, got {country!r}")
        locale = i18n.negotiate(query.get("lang"), request.headers.get("accept-language"))
        ship_to = Address(country=country, province=query.get("region", "").strip(),
                          postal_code=query.get("postal_code", "").strip())
        try:
            quote = QuoteRequest(lines=((sku, int(raw_qty)),), ship_to=ship_to, at=self.rt.clock.now())
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        try:
            promise, cpu = await run_in_threadpool(self._quote, quote)
        except CannotPromise as exc:  # a storefront's answer: the operator's hint (a command) stays out
            return JSONResponse({"error": "cannot_promise", "detail": _OPERATOR_HINT.sub("", str(exc))}, status_code=409)
        body: dict[str, Any] = {
            "sku": sku, "qty": int(raw_qty),
            "ship_by": promise.ship_by.isoformat(), "deliver_from": promise.deliver_from.isoformat(),
            "deliver_by": promise.deliver_by.isoformat(), "timezone": promise.timezone,
            "confidence": ({"from": promise.confidence_from, "by": promise.confidence_by}
                           if promise.level in _LEARNED else {"from": None, "by": None}),
            "basis": promise.basis, "level": promise.level, "carrier": promise.carrier, "service": promise.service,
            "sentence": sentence(promise, locale), "locale": locale,
            "explain": self.engine.explain(promise),  # the basis, one fact a line (PromiseEngine.explain)
        }
        took = (time.perf_counter() - began) * 1000
        return JSONResponse(body, headers={
            "Content-Language": locale, "Vary": "Accept-Language", "Cache-Control": "private, max-age=60",
            # the handler's wall time, and the CPU time of the quote (what the code costs
            # when a busy machine's scheduler takes the CPU away mid-request)
            "Server-Timing": f"app;dur={took:.3f}, quote-cpu;dur={cpu:.3f}"})
