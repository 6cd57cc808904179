"""The shared HTTP helper: timeouts, retries on 429/5xx/connection errors only, redaction.

Waits run on a SimClock, so a ``Retry-After: 7`` moves simulated time by 7 s and the
tests never sleep.
"""

from __future__ import annotations

import email.utils
import logging
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fulfilhub.clock import SimClock
from fulfilhub.errors import PermanentError, TransientError
from fulfilhub.http import REDACTED, HttpClient, Redactor, RetryPolicy

BASE = "https://api.example.test"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
POLICY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02)
TOKEN = "shpat_SECRET_4f8a1c9e2b7d"


@pytest.fixture
def clock():
    return SimClock(T0)


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client(clock):
    with HttpClient(BASE, service="acme-shop", secrets=[TOKEN], policy=POLICY, clock=clock,
                    headers={"X-Shopify-Access-Token": TOKEN}) as c:
        yield c


def waited(clock: SimClock) -> timedelta:
    return clock.now() - T0


# ------------------------------------------------------------------ Retry-After


def test_429_with_retry_after_seconds_waits_exactly_that_long(api, client, clock):
    route = api.get("/orders.json").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"orders": []})]
    )
    response = client.get("/orders.json")
    assert response.json() == {"orders": []}
    assert route.call_count == 2
    assert client.requests_sent == 2
    assert waited(clock) == timedelta(seconds=7)


def test_429_with_x_retry_after_as_shipbob_names_it_waits_that_long(api, client, clock):
    route = api.get("/inventory").mock(side_effect=[
        httpx.Response(429, headers={"x-retry-after": "25", "x-remaining-calls": "0"}), httpx.Response(200, json=[])])
    assert client.get("/inventory").json() == []
    assert route.call_count == 2
    assert waited(clock) == timedelta(seconds=25)


def test_retry_after_as_http_date(api, client, clock):
    when = email.utils.format_datetime(T0 + timedelta(seconds=30), usegmt=True)
    route = api.get("/orders.json").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200)]
    )
    assert client.get("/orders.json").status_code == 200
    assert route.call_count == 2
    assert waited(clock) == timedelta(seconds=30)


def test_retry_after_in_the_past_does_not_wait(api, client, clock):
    when = email.utils.format_datetime(T0 - timedelta(minutes=5), usegmt=True)
    api.get("/x").mock(side_effect=[httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200)])
    assert client.get("/x").status_code == 200
    assert waited(clock) == timedelta(0)


def test_retry_after_is_capped_by_max_wait(api, clock):
    policy = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, max_wait=60)
    api.get("/x").mock(side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200)])
    with HttpClient(BASE, service="s", policy=policy, clock=clock) as client:
        assert client.get("/x").status_code == 200
    assert waited(clock) == timedelta(seconds=60)


# ------------------------------------------------------------------ retries


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_are_retried_then_succeed(api, client, clock, status, method):
    route = api.route(method=method, path="/fulfillments.json").mock(
        side_effect=[httpx.Response(status), httpx.Response(status), httpx.Response(200, json={"id": 9})]
    )
    assert client.request(method, "/fulfillments.json").json() == {"id": 9}
    assert route.call_count == 3
    # exponential backoff with jitter, on the simulated clock: 0.005-0.01 s, then 0.01-0.02 s
    assert timedelta(seconds=0.015) <= waited(clock) <= timedelta(seconds=0.03)


def test_backoff_grows_and_is_capped_by_maximum(api, clock):
    policy = RetryPolicy(attempts=6, initial=1, maximum=4)
    api.get("/x").mock(return_value=httpx.Response(500))
    with HttpClient(BASE, service="s", policy=policy, clock=clock) as client, pytest.raises(TransientError):
        client.get("/x")
    # waits of 1, 2, 4, 4, 4 s with "equal jitter": between half and all of each
    assert timedelta(seconds=7.5) <= waited(clock) <= timedelta(seconds=15)


# A POST or PATCH that met a 5xx or a read timeout may have been acted on: not resent at once.


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(503), httpx.ReadTimeout("timed out")],
                         ids=["500", "503", "read-timeout"])
def test_unsafe_method_is_not_resent_after_it_may_have_acted(api, client, clock, method, answer):
    route = api.route(method=method, path="/fulfillments.json").mock(side_effect=[answer, httpx.Response(201)])
    with pytest.raises(TransientError, match="not resent at once, since the server may have acted on it"):
        client.request(method, "/fulfillments.json", json={"x": 1})
    assert route.call_count == 1
    assert waited(clock) == timedelta(0)


@pytest.mark.parametrize(
    "answer", [httpx.Response(429, headers={"Retry-After": "2"}), httpx.ConnectError("refused")], ids=["429", "connect"]
)
def test_unsafe_method_is_resent_when_it_surely_did_not_act(api, client, answer):
    route = api.post("/fulfillments.json").mock(side_effect=[answer, httpx.Response(201, json={"id": 9})])
    assert client.post("/fulfillments.json", json={"x": 1}).json() == {"id": 9}
    assert route.call_count == 2


def test_unsafe_method_marked_idempotent_is_retried(api, client):
    route = api.post("/fulfillments.json").mock(side_effect=[httpx.Response(502), httpx.Response(201)])
    assert client.post("/fulfillments.json", json={"x": 1}, idempotent=True).status_code == 201
    assert route.call_count == 2


@pytest.mark.parametrize("status", [500, 503, 429])
def test_all_tries_failing_raises_transient_error(api, client, status):
    route = api.get("/orders.json").mock(return_value=httpx.Response(status))
    with pytest.raises(TransientError) as info:
        client.get("/orders.json")
    assert route.call_count == 3
    error = info.value
    assert error.status_code == status and error.service == "acme-shop"
    assert f"HTTP {status}" in str(error)
    assert "failed after 3 tries" in str(error)
    assert str(error).startswith("acme-shop: GET /orders.json")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_fail_at_once(api, client, clock, status):
    route = api.put("/orders/1.json").mock(return_value=httpx.Response(status, json={"errors": "not allowed"}))
    with pytest.raises(PermanentError) as info:
        client.put("/orders/1.json", json={})
    assert route.call_count == 1
    assert waited(clock) == timedelta(0)
    error = info.value
    assert error.status_code == status
    assert f"refused with HTTP {status}" in str(error)
    assert error.body == '{"errors":"not allowed"}'


def test_permanent_error_body_is_shortened(api, client):
    api.get("/x").mock(return_value=httpx.Response(400, text="e" * 5000))
    with pytest.raises(PermanentError) as info:
        client.get("/x")
    assert len(info.value.body) == 500


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out"), httpx.ConnectTimeout("slow")]
)
def test_connection_errors_and_timeouts_are_retried(api, client, error):
    route = api.get("/x").mock(side_effect=[error, httpx.Response(200, text="ok")])
    assert client.get("/x").text == "ok"
    assert route.call_count == 2


def test_connection_refused_every_time_raises_transient_error(api, client):
    route = api.get("/x").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TransientError, match=r"failed after 3 tries: ConnectError: connection refused") as info:
        client.get("/x")
    assert route.call_count == 3
    assert info.value.status_code is None


def test_retries_are_logged_as_warnings(api, client, caplog):
    api.get("/x").mock(side_effect=[httpx.Response(502), httpx.Response(200)])
    with caplog.at_level(logging.DEBUG, logger="fulfilhub"):
        client.get("/x")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "acme-shop: retrying after HTTP 502 (try 1 of 3" in warnings[0]


# ------------------------------------------------------------------ timeouts


def test_every_request_carries_the_policy_timeout(api, client):
    route = api.get("/x").mock(return_value=httpx.Response(200))
    client.get("/x")
    # connecting is capped by the policy's connect_timeout: a host that never answers is given up in seconds
    assert route.calls.last.request.extensions["timeout"] == {"connect": 5.0, "read": 15.0, "write": 15.0, "pool": 15.0}


def test_a_request_may_shorten_its_timeout(api, client):
    route = api.get("/x").mock(return_value=httpx.Response(200))
    client.get("/x", timeout=3)
    assert route.calls.last.request.extensions["timeout"]["read"] == 3


def test_timeout_none_still_sends_a_timeout(api, client):
    route = api.get("/x").mock(return_value=httpx.Response(200))
    client.get("/x", timeout=None)
    assert route.calls.last.request.extensions["timeout"]["read"] is not None


# ------------------------------------------------------------------ secrets


def _failures(api, client):
    """Every way a request can fail with the token in the URL, a header, a body or an exception."""
    api.get("/q404").mock(return_value=httpx.Response(404, text=f"no order for access_token={TOKEN}"))
    api.get("/q401").mock(return_value=httpx.Response(401, json={"error": f"bad X-Shopify-Access-Token {TOKEN}"}))
    api.get("/q503").mock(return_value=httpx.Response(503, text=f"upstream {TOKEN} down"))
    api.get("/conn").mock(side_effect=httpx.ConnectError(f"cannot reach {BASE}/conn?access_token={TOKEN}"))
    api.get("/ok").mock(return_value=httpx.Response(200, text=f"hello {TOKEN}"))
    api.post("/p502").mock(return_value=httpx.Response(502, text=f"upstream {TOKEN} down"))
    errors = []
    for method, path in (("GET", "/q404"), ("GET", "/q401"), ("GET", "/q503"), ("GET", "/conn"), ("POST", "/p502")):
        with pytest.raises((PermanentError, TransientError)) as info:
            client.request(method, f"{path}?access_token={TOKEN}")
        errors.append(info.value)
    client.get("/ok", params={"access_token": TOKEN})
    return errors


def test_secrets_never_appear_in_errors(api, client):
    errors = _failures(api, client)
    assert [type(e) for e in errors] == [PermanentError, PermanentError, TransientError, TransientError, TransientError]
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error.args)
        assert TOKEN not in getattr(error, "body", "")
        assert REDACTED in str(error)
    assert errors[0].body == f"no order for access_token={REDACTED}"
    # the token was really sent, in the query and in the header
    request = api.calls.last.request
    assert request.headers["X-Shopify-Access-Token"] == TOKEN and TOKEN in str(request.url)


def test_secrets_never_appear_in_fulfilhub_logs(api, client, caplog):
    with caplog.at_level(logging.DEBUG):
        _failures(api, client)
    ours = [r for r in caplog.records if r.name.startswith("fulfilhub")]
    assert any("access_token=***" in r.getMessage() for r in ours)  # the URL is logged, redacted
    for record in ours:
        assert TOKEN not in record.getMessage()


def test_secrets_never_appear_in_any_log_record(api, client, caplog):
    with caplog.at_level(logging.DEBUG):
        _failures(api, client)
    assert caplog.records
    leaked = [f"{r.name}: {r.getMessage()}" for r in caplog.records if TOKEN in r.getMessage()]
    assert leaked == []


def test_redactor_hides_sensitive_headers():
    redactor = Redactor([TOKEN])
    headers = {
        "Authorization": "Bearer abc.def",
        "x-api-key": "k-123",
        "X-Shopify-Access-Token": "anything",
        "Cookie": "session=1",
        "Set-Cookie": "session=2",
        "Proxy-Authorization": "Basic Zm9v",
        "Accept": "application/json",
        "X-Echo": f"token is {TOKEN}",
    }
    out = redactor.headers(headers)
    assert out == {
        "Authorization": REDACTED,
        "x-api-key": REDACTED,
        "X-Shopify-Access-Token": REDACTED,
        "Cookie": REDACTED,
        "Set-Cookie": REDACTED,
        "Proxy-Authorization": REDACTED,
        "Accept": "application/json",
        "X-Echo": f"token is {REDACTED}",
    }
    assert redactor.headers(httpx.Headers({"authorization": "x"})) == {"authorization": REDACTED}


@pytest.mark.parametrize("param", ["api_key", "apikey", "access_token", "token", "secret", "password", "key"])
def test_redactor_hides_sensitive_query_parameters_it_was_not_told_about(param):
    assert Redactor().text(f"/v1?page=2&{param}=unknown-value&x=1") == f"/v1?page=2&{param}={REDACTED}&x=1"


def test_redactor_prefers_the_longest_secret():
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.text("id abcdefgh") == f"id {REDACTED}"


# ------------------------------------------------------------------ json(): the body, or TransientError


def test_json_returns_the_object_or_the_field(api, client):
    api.get("/orders").respond(200, json={"orders": [{"id": 1}], "count": 1})
    response = client.get("/orders")
    assert client.json(response) == {"orders": [{"id": 1}], "count": 1}
    assert client.json(response, "orders", list) == [{"id": 1}]


@pytest.mark.parametrize(
    ("body", "key", "kind", "words"),
    [
        (b'{"orders": [{"id": 1', None, dict, "not valid JSON (20 bytes, starting '{\"orders\": [{\"id\": 1'); it may have been cut off"),
        (b"[1, 2]", None, dict, "with a JSON list, not a JSON object"),
        (b'{"errors": "busy"}', "orders", list, "without a 'orders' list (got ['errors'])"),
        (b'{"orders": {"id": 1}}', "orders", list, "without a 'orders' list (got ['orders'])"),
        (b'{"fulfillment": []}', "fulfillment", dict, "without a 'fulfillment' object"),
    ],
)
def test_json_turns_a_body_that_is_not_what_was_expected_into_a_transient_error(api, client, body, key, kind, words):
    api.get("/orders").respond(200, content=body)
    with pytest.raises(TransientError) as info:
        client.json(client.get("/orders"), key, kind)
    assert words in str(info.value)
    assert info.value.service == "acme-shop" and info.value.status_code == 200
    assert f"acme-shop: GET {BASE}/orders answered HTTP 200" in str(info.value)


def test_json_errors_redact_secrets(api, client):
    api.get("/orders").respond(200, content=f"<html>token {TOKEN} refused".encode())
    with pytest.raises(TransientError) as info:
        client.json(client.get("/orders", params={"access_token": TOKEN}))
    assert TOKEN not in str(info.value) and REDACTED in str(info.value)


# ------------------------------------------------------------------ circuit breaker


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_instance_is_given_up_after_three_connection_failures_not_35_times_5(clock):
    from fulfilhub.errors import Unreachable
    from fulfilhub.http import CircuitBreaker, client_factory

    breaker = CircuitBreaker("easypost", clock=clock, threshold=3, cooldown=60)
    make = client_factory("easypost", clock=clock, policy=RetryPolicy(attempts=5, initial=0.01, maximum=0.02),
                          breaker=breaker)
    tracker, labels = make(f"http://127.0.0.1:{_closed_port()}"), make(f"http://127.0.0.1:{_closed_port()}")
    errors = []
    for n in range(35):  # 35 trackers, as a pass polls them
        with pytest.raises(Unreachable) as caught:
            (tracker if n % 2 else labels).get(f"/trackers/{n}")
        errors.append(str(caught.value))
    assert tracker.requests_sent + labels.requests_sent == 3  # not 35 x 5
    assert breaker.state == "open" and breaker.failures == 3 and "ConnectError" in breaker.last_error
    assert "easypost: unreachable (3 connection failures in a row" in errors[0] and len(set(errors)) == 1
    clock.advance(61)  # after the cool-down one request goes out; refused again, the breaker opens again
    with pytest.raises(Unreachable):
        tracker.get("/trackers/again")
    assert tracker.requests_sent + labels.requests_sent == 4 and breaker.state == "open"


def test_after_the_cool_down_one_probe_goes_out_and_its_answer_closes_the_breaker(clock, api):
    from fulfilhub.errors import Unreachable
    from fulfilhub.http import CircuitBreaker

    breaker = CircuitBreaker("acme-shop", clock=clock, threshold=2, cooldown=60)
    route = api.get("/x").mock(side_effect=[httpx.ConnectError("refused"), httpx.ConnectError("refused"),
                                            httpx.ReadTimeout("slow"), httpx.Response(200)])
    with HttpClient(BASE, service="acme-shop", policy=RetryPolicy(attempts=5, initial=0.01, maximum=0.02),
                    clock=clock, breaker=breaker) as c:
        with pytest.raises(Unreachable):
            c.get("/x")
        assert route.call_count == 2 and breaker.is_open
        clock.advance(60)
        breaker.check()  # the probe's turn: half-open now
        assert breaker.state == "half-open"
        with pytest.raises(Unreachable):  # while the probe is out, nothing else goes
            breaker.check()
        breaker.state, breaker.opened_at = "open", clock.now() - timedelta(seconds=61)
        assert c.get("/x").status_code == 200  # the probe connected (a read timeout, then an answer)
        assert breaker.state == "closed" and route.call_count == 4


def test_any_answer_closes_the_breaker_and_resets_the_count(clock, api):
    from fulfilhub.http import CircuitBreaker

    breaker = CircuitBreaker("acme-shop", clock=clock, threshold=3)
    api.get("/flaky").mock(side_effect=[httpx.ConnectError("refused"), httpx.ConnectError("refused"),
                                        httpx.Response(503), httpx.Response(200)])
    with HttpClient(BASE, service="acme-shop", policy=RetryPolicy(attempts=4, initial=0.01, maximum=0.02),
                    clock=clock, breaker=breaker) as c:
        assert c.get("/flaky").status_code == 200
    assert breaker.state == "closed" and breaker.failures == 0  # the 503 was an answer: two in a row, not three


def test_a_connection_that_is_never_answered_is_given_up_after_the_connect_timeout(clock):
    policy = RetryPolicy(timeout=15.0, connect_timeout=0.5)
    with HttpClient(BASE, service="x", policy=policy, clock=clock) as c:
        timeout = c._client.timeout
    assert timeout.connect == 0.5 and timeout.read == 15.0


def test_a_host_that_never_answers_a_connection_opens_the_breaker_after_ten_seconds_of_waiting(clock):
    """A firewall that drops packets costs a whole connect timeout per try: the breaker
    opens once the failures in a row have waited max_waited in all, not after three."""
    import time as real_time

    from fulfilhub.errors import Unreachable
    from fulfilhub.http import CircuitBreaker

    def dropped(request: httpx.Request) -> httpx.Response:
        real_time.sleep(0.15)  # the connect timeout, shortened
        raise httpx.ConnectTimeout("timed out", request=request)

    breaker = CircuitBreaker("blackholed", clock=clock, threshold=5, max_waited=0.25)
    with HttpClient(BASE, service="blackholed", policy=RetryPolicy(attempts=5, initial=0.01, maximum=0.02),
                    clock=clock, breaker=breaker, transport=httpx.MockTransport(dropped)) as c:
        with pytest.raises(Unreachable):
            c.get("/x")
        assert c.requests_sent == 2 and breaker.is_open  # 0.3 s waited: given up before the third try
