"""The ASGI app of ``fulfilhub serve``: webhooks in, the tracking page, health and metrics.

One :class:`~fulfilhub.runner.runtime.Runtime` (config, store, plugins, adapters) serves
every request; the store work runs in Starlette's thread pool so the event loop only
parses and answers. Security headers keep the tracking page self-contained (a Content
Security Policy that allows no request anywhere) and its token out of referrers.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..runner.runtime import Runtime
from ..store import head_revision
from ..store import tracking as tracking_store
from . import i18n, openapi, tracking
from .metrics import Metrics
from .webhooks import WebhookEndpoint

log = logging.getLogger("fulfilhub.server")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


#: On every answer. ``Strict-Transport-Security`` is added too when ``public_url`` is https.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
                          "microphone=(), payment=(), usb=()",
    "X-Content-Type-Options": "nosniff",
}
HSTS = "max-age=31536000"


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` (and HSTS behind https) to every response; on the
    metrics listener, answers 404 to anything but ``/metrics``."""

    def __init__(self, app: ASGIApp, *, hsts: bool, metrics_only: Callable[[Scope], bool]):
        self.app = app
        self.metrics_only = metrics_only
        extra = {**SECURITY_HEADERS, **({"Strict-Transport-Security": HSTS} if hsts else {})}
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in self.headers if h[0] not in present)]}
            await send(message)

        if self.metrics_only(scope) and scope["path"] != "/metrics":
            await JSONResponse({"error": "not_found"}, status_code=404)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


class RateLimit:
    """Per client address, a bucket of ``per_minute`` requests refilled continuously, for the
    paths under ``prefixes``; over it, 429 with ``Retry-After``."""

    def __init__(self, app: ASGIApp, *, per_minute: int, prefixes: Sequence[str]):
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.prefixes = tuple(prefixes)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when the request may go on, else the seconds until it may."""
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[client] = (tokens - 1, now)
                return 0.0
            self.buckets[client] = (tokens, now)
            if len(self.buckets) > 100_000:  # forget the quiet ones rather than grow without end
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 120}
            return (1 - tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.allow(client)
            if wait:
                response = JSONResponse({"error": "rate_limited", "detail": "too many requests; slow down"},
                                        status_code=429, headers={"Retry-After": str(max(1, round(wait)))})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(rt: Runtime, *, routes: Sequence[Route] = (), api_paths: Mapping[str, Any] | None = None,
               page_extras: Sequence[Callable[..., dict]] = (), on_close: Sequence[Callable[[], None]] = ()) -> Starlette:
    """The server's app over ``rt``. ``routes`` add API routes (the promise API) and
    ``api_paths`` their part of the OpenAPI document; ``page_extras`` add fields to the
    tracking page (see :func:`tracking.build`)."""
    metrics = Metrics(rt.store, rt.clock)
    webhooks = WebhookEndpoint(rt, metrics.count_webhook)
    head = head_revision()
    server = rt.config.server

    async def tracking_page(request: Request) -> Response:
        token = request.path_params["token"]
        locale = i18n.negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))

        def build() -> tracking.Page | None:
            with rt.store.read() as conn:
                order_id = tracking_store.order_for(conn, token)
                return tracking.build(conn, order_id, locale, rt.clock.now(), page_extras) if order_id else None

        page = await run_in_threadpool(build)
        html = tracking.render(page, locale, request.url.path)
        headers = {**PAGE_HEADERS, "Content-Language": i18n.html_lang(locale), "Vary": "Accept-Language"}
        return HTMLResponse(html, status_code=200 if page else 404, headers=headers)

    async def healthz(request: Request) -> JSONResponse:
        def check() -> tuple[int, dict[str, Any]]:
            try:  # read-only connections: never the SQLite write lock, never waiting on a writer
                current = rt.store.ping()
            except Exception as exc:  # unreachable, locked, gone: say so, without the URL's secrets
                return 503, {"status": "unavailable", "store": f"unreachable ({type(exc).__name__})"}
            if current != head:
                return 503, {"status": "migrations_pending", "schema": current, "head": head}
            return 200, {"status": "ok", "schema": current}

        status, body = await run_in_threadpool(check)
        return JSONResponse(body, status_code=status)

    async def metrics_page(request: Request) -> Response:
        if not metrics_allowed(request):  # off the public port: it names instances and counts orders
            return JSONResponse({"error": "not_found"}, status_code=404)
        body = await run_in_threadpool(metrics.render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    def metrics_allowed(request: Request) -> bool:
        """On the metrics listener (``metrics_port``), or with ``Authorization: Bearer <metrics_token>``."""
        local = request.scope.get("server") or ("", 0)
        if server.metrics_port is not None and local[1] in app.state.metrics_ports:
            return True
        if server.metrics_token is None:
            return False
        sent = request.headers.get("authorization", "")
        scheme, _, token = sent.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), server.metrics_token.encode())

    document = openapi.document(rt, extra=api_paths)

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(document)

    all_routes = [
        Route("/webhooks/{instance}", webhooks.handle, methods=["POST"]),
        Route("/t/{token}", tracking_page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *routes,
    ]
    middleware = [
        Middleware(SecurityHeaders, hsts=server.public_url.startswith("https://"),
                   metrics_only=lambda scope: (scope.get("server") or ("", 0))[1] in app.state.metrics_ports),
        Middleware(RateLimit, per_minute=server.rate_limit_per_minute, prefixes=("/api/", "/t/")),
        Middleware(CORSMiddleware, allow_origins=list(server.cors_origins), allow_methods=["GET"],
                   allow_headers=["Accept-Language"], max_age=3600),
    ]
    app = Starlette(routes=all_routes, middleware=middleware)
    app.state.metrics = metrics
    app.state.runtime = rt
    #: The local ports of the metrics listener (set by whoever binds it: ``serve``, ServerThread).
    app.state.metrics_ports = set()
    def close() -> None:  # after the server has stopped: store what is queued, stop the helpers
        webhooks.writer.close()
        for callback in on_close:
            callback()

    app.state.close = close
    return app
