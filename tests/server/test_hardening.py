"""The server attacked from outside, on loopback: half-sent requests (slowloris), too many
connections, /metrics on the public port, forged X-Forwarded-For, a resent Shopify body
without its trigger time; and the security headers on every answer."""

from __future__ import annotations

import socket
import statistics
import time

import httpx
import pytest
import sqlalchemy as sa

from fulfilhub.store import schema

from .conftest import METRICS_TOKEN, serving

FAST = "rate_limit_per_minute = 100000\nheader_timeout_seconds = 2\nbody_timeout_seconds = 2\n"


def _post_timings(served, n: int) -> list[float]:
    """Seconds each of ``n`` valid, new Shopify webhooks takes to be answered 202."""
    took = []
    for _ in range(n):
        headers, body = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]))
        began = time.perf_counter()
        answer = served.post("shop", headers, body)
        took.append(time.perf_counter() - began)
        assert answer.status_code == 202, answer.text
    return took


def _half_open(url: str, n: int, *, body: bool = False) -> list[socket.socket]:
    """``n`` connections that send part of a webhook request (its head, or its head and part
    of its body) and then nothing."""
    host, port = url.removeprefix("http://").split(":")
    out = []
    for _ in range(n):
        sock = socket.create_connection((host, int(port)), timeout=5)
        if body:
            sock.sendall(b"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"id\": ")
        else:
            sock.sendall(b"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        out.append(sock)
    return out


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_a_hundred_half_sent_requests_do_not_delay_a_valid_webhook_and_are_closed_in_time(tmp_path):
    with serving(tmp_path, server_extra=FAST) as served:
        served.world.stock("east", "TEE-ORG-M", 500)
        _post_timings(served, 3)  # warm up: the adapter built, the writer running
        before = statistics.median(_post_timings(served, 7))
        heads = _half_open(served.server.url, 50)
        bodies = _half_open(served.server.url, 50, body=True)
        try:
            during = statistics.median(_post_timings(served, 7))
            print(f"valid webhook: {before * 1000:.1f} ms alone, {during * 1000:.1f} ms beside 100 half-sent requests")
            assert during - before <= 0.100, (before, during)
            opened = time.monotonic()
            # the server closes each one once its head (or body) has taken longer than 2 s
            assert all(_closed_by_server(s, 6) for s in heads + bodies)
            assert time.monotonic() - opened < 6
            print(f"all 100 closed by the server {time.monotonic() - opened:.1f} s after the measurement")
        finally:
            for sock in heads + bodies:
                sock.close()
        with served.world.store.read() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(schema.webhook_inbox)).scalar()
        assert stored == 17  # the valid ones only


def test_connections_beyond_max_connections_are_closed_as_they_arrive(tmp_path):
    with serving(tmp_path, server_extra=FAST + "max_connections = 5\n") as served:
        held = _half_open(served.server.url, 5)
        extra: list[socket.socket] = []
        try:
            extra = _half_open(served.server.url, 3)
            assert all(_closed_by_server(s, 2) for s in extra)
            assert not any(_closed_by_server(s, 0.3) for s in held)  # the first five stay until their time is up
            held.pop().close()
            time.sleep(0.2)
            host, port = served.server.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=5) as fifth:  # a slot is free again: answered
                fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert fifth.recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for sock in held + extra:
                sock.close()
        assert served.client.get("/healthz").status_code == 200  # once they are gone, the server answers


def test_metrics_are_not_public_without_the_token(served):
    assert served.client.get("/metrics").status_code == 404
    wrong = served.client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 404
    assert "fulfilhub_" not in wrong.text
    assert "fulfilhub_orders" in served.metrics()


def test_metrics_on_their_own_port_and_nothing_else_there(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with serving(tmp_path, server_extra=f"rate_limit_per_minute = 100000\nmetrics_port = {port}\n") as served:
        assert served.server.metrics_url == f"http://127.0.0.1:{port}"
        scraped = httpx.get(f"{served.server.metrics_url}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert "fulfilhub_orders" in scraped.text
        assert httpx.get(f"{served.server.metrics_url}/healthz", timeout=5).status_code == 404
        headers, body = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]))
        assert httpx.post(f"{served.server.metrics_url}/webhooks/shop", headers=headers, content=body,
                          timeout=5).status_code == 404
        assert served.client.get("/metrics").status_code == 404  # still not on the public port


@pytest.mark.parametrize(("trusted", "limited"), [(None, True), ("127.0.0.1", False)])
def test_forwarded_for_is_believed_only_from_configured_proxies(tmp_path, trusted, limited):
    extra = "rate_limit_per_minute = 3\n" + (f'trusted_proxies = ["{trusted}"]\n' if trusted else "")
    with serving(tmp_path, server_extra=extra) as served:
        answers = [served.client.get("/t/AAAAAAAAAAAAAAAAAAAAAA", headers={"X-Forwarded-For": f"203.0.113.{n}"})
                   .status_code for n in range(6)]
    # from loopback, not a configured proxy: the header is ignored and all six are one client
    assert (429 in answers) is limited, answers


def test_every_answer_carries_the_security_headers(served):
    headers, body = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]))
    answers = [served.client.get("/healthz"), served.client.get("/t/AAAAAAAAAAAAAAAAAAAAAA"),
               served.client.get("/openapi.json"), served.client.get("/nowhere"), served.post("shop", headers, body),
               served.client.get("/api/v1/promise", params={"sku": "TEE-ORG-M", "qty": "²", "country": "US"})]
    for answer in answers:
        assert answer.headers["X-Frame-Options"] == "DENY", answer.request.url
        assert answer.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=()" in answer.headers["Permissions-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")  # public_url is https here
        assert "server" not in answer.headers


def test_no_hsts_when_the_public_url_is_plain_http():
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from fulfilhub.server.app import SecurityHeaders

    async def hello(request):
        return PlainTextResponse("hi")

    async def get(app) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get("/")

    inner = Starlette(routes=[Route("/", hello)])
    for hsts in (False, True):
        answer = asyncio.run(get(SecurityHeaders(inner, hsts=hsts, metrics_only=lambda scope: False)))
        assert answer.status_code == 200
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert ("Strict-Transport-Security" in answer.headers) is hsts


def test_a_shopify_body_resent_with_a_fresh_id_and_no_trigger_time_is_refused(served):
    """Shopify always sends X-Shopify-Triggered-At; a copy of a signed body with a new
    delivery id and the time left out (so that it cannot be stale) is refused, and nothing
    is stored. (Were it stored, processing would still be idempotent: see docs/configuration.md.)"""
    order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    headers, body = served.order_webhook(order)
    assert served.post("shop", headers, body).status_code == 202
    resent = {k: v for k, v in headers.items() if k != "X-Shopify-Triggered-At"}
    resent["X-Shopify-Webhook-Id"] = "fresh-id-0001"
    answer = served.post("shop", resent, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed"
    assert "X-Shopify-Triggered-At" in answer.json()["detail"]
    with served.world.store.read() as conn:
        ids = [r.delivery_id for r in conn.execute(sa.select(schema.webhook_inbox.c.delivery_id))]
    assert "fresh-id-0001" not in ids
    assert len(ids) == 1
    assert METRICS_TOKEN not in answer.text
