"""The adapter against a mocked Shopify (respx): what it sends, and what it makes of answers."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx

from fulfilhub import (
    ConfigError,
    PermanentError,
    RetryPolicy,
    ShipmentLine,
    ShipmentPush,
    TrackingStatus,
    TransientError,
)
from fulfilhub.testing import instance_context
from fulfilhub_shopify import ShopifyChannel, mapping
from fulfilhub_shopify.channel import SETTINGS

API = "https://acme.myshopify.com/admin/api/2024-10"
TOKEN = "shpat_0123456789abcdef"
TRACKING = "1Z999AA10123456784"


def make_channel(clock, policy=None, **settings) -> ShopifyChannel:
    extra = {"policy": policy} if policy is not None else {}
    context = instance_context(
        "acme", {"shop": "acme", "access_token": TOKEN, **settings}, clock=clock, secrets=[TOKEN], schema=SETTINGS, **extra
    )
    return ShopifyChannel(context)


@pytest.fixture
def channel(clock):
    adapter = make_channel(clock)
    yield adapter
    adapter.close()


@pytest.fixture
def shopify():
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def orders_response(*ids: int, link: str | None = None, calls: str = "1/40") -> httpx.Response:
    headers = {"X-Shopify-Shop-Api-Call-Limit": calls}
    if link:
        headers["Link"] = link
    return httpx.Response(200, json={"orders": [{"id": i} for i in ids]}, headers=headers)


def params(call) -> dict[str, str]:
    return dict(call.request.url.params)


# --------------------------------------------------------------------------- orders


def test_a_pass_follows_link_pages_and_the_next_pass_overlaps(channel, shopify, clock):
    started = clock.now()
    route = shopify.get("/orders.json").mock(
        side_effect=[
            orders_response(
                1, 2, link=f'<{API}/orders.json?limit=250&page_info=eyJwYWdlIjoy>; rel="next"'
            ),
            orders_response(
                3,
                link=f'<{API}/orders.json?limit=250&page_info=eyJwYWdlIjox>; rel="previous"',
            ),
            orders_response(),
        ]
    )

    first = channel.fetch_orders(None)
    assert [p["id"] for p in first.payloads] == [1, 2]
    assert first.has_more is True
    assert params(route.calls[0]) == {"status": "any", "limit": "250"}  # no since yet: everything
    assert json.loads(first.next_cursor) == {
        "since": None,
        "page_info": "eyJwYWdlIjoy",
        "pass_started": started.isoformat(),
    }

    clock.advance(timedelta(minutes=2))  # pages take time; orders may change meanwhile
    second = channel.fetch_orders(first.next_cursor)
    assert [p["id"] for p in second.payloads] == [3]
    assert second.has_more is False
    # a page_info request carries nothing but page_info and limit
    assert params(route.calls[1]) == {"page_info": "eyJwYWdlIjoy", "limit": "250"}
    # the next pass starts overlap_seconds before this pass *began*, not ended
    since = started - timedelta(seconds=300)
    assert json.loads(second.next_cursor) == {"since": since.isoformat(), "page_info": None, "pass_started": None}

    third = channel.fetch_orders(second.next_cursor)
    assert third.payloads == ()
    assert third.has_more is False
    assert params(route.calls[2]) == {"status": "any", "limit": "250", "updated_at_min": since.isoformat()}


def test_next_link_is_found_whatever_its_place_and_host(channel, shopify):
    shopify.get("/orders.json").mock(
        return_value=orders_response(
            1,
            link=(
                '<https://acme.myshopify.com/admin/api/2024-10/orders.json?page_info=prev1&limit=250>; rel="previous", '
                '<https://acme.myshopify.com/admin/api/2024-10/orders.json?page_info=next2&limit=250>; rel="next"'
            ),
        )
    )
    page = channel.fetch_orders(None)
    assert page.has_more is True
    assert json.loads(page.next_cursor)["page_info"] == "next2"


def test_page_size_and_overlap_settings_are_used(clock, shopify):
    adapter = make_channel(clock, page_size=50, overlap_seconds=60)
    route = shopify.get("/orders.json").mock(return_value=orders_response(1))
    page = adapter.fetch_orders(None)
    assert params(route.calls[0])["limit"] == "50"
    assert json.loads(page.next_cursor)["since"] == (clock.now() - timedelta(seconds=60)).isoformat()


def test_requests_carry_the_access_token_only_as_a_header(channel, shopify):
    route = shopify.get("/orders.json").mock(return_value=orders_response(1))
    channel.fetch_orders(None)
    request = route.calls[0].request
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert TOKEN not in str(request.url)


def test_throttles_on_the_clock_when_the_call_bucket_is_nearly_full(channel, shopify, clock):
    seen_at = []

    def answer(request, calls):
        seen_at.append(clock.now())
        return orders_response(1, calls=calls)

    shopify.get("/orders.json").mock(
        side_effect=[
            lambda request: answer(request, "36/40"),  # 36 >= 40 - 5: wait (36 - 35 + 1) / 2 = 1 s
            lambda request: answer(request, "20/40"),
            lambda request: answer(request, "21/40"),
        ]
    )
    channel.fetch_orders(None)
    channel.fetch_orders(None)
    channel.fetch_orders(None)
    assert seen_at[1] - seen_at[0] == timedelta(seconds=1)
    assert seen_at[2] == seen_at[1]  # bucket had room: no wait


def test_throttle_counts_time_already_passed_and_honours_settings(clock, shopify):
    adapter = make_channel(clock, bucket_headroom=10, leak_rate=4.0)
    seen_at = []

    def answer(request):
        seen_at.append(clock.now())
        return orders_response(1, calls="40/40")  # 40 - 30 + 1 = 11 calls to drain at 4/s

    shopify.get("/orders.json").mock(side_effect=answer)
    adapter.fetch_orders(None)
    clock.advance(1.0)  # the runner did other work meanwhile
    adapter.fetch_orders(None)
    assert seen_at[1] - seen_at[0] == timedelta(seconds=11 / 4)


def test_429_with_retry_after_then_success(clock, shopify):
    adapter = make_channel(clock, policy=RetryPolicy(attempts=3, initial=0.01, max_wait=60, timeout=2))
    before = clock.now()
    route = shopify.get("/orders.json").mock(
        side_effect=[
            httpx.Response(
                429,
                json={"errors": "Exceeded 2 calls per second for api client."},
                headers={"Retry-After": "2.0", "X-Shopify-Shop-Api-Call-Limit": "40/40"},
            ),
            orders_response(7, 8, calls="39/40"),
        ]
    )
    page = adapter.fetch_orders(None)
    assert [p["id"] for p in page.payloads] == [7, 8]
    assert route.call_count == 2
    assert clock.now() - before >= timedelta(seconds=2)  # waited as asked, on the scenario clock


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (httpx.Response(200, text='{"orders": [{"id": 1, "name": "#10'), "not valid JSON"),
        (httpx.Response(200, json={"errors": "Not Found"}), "without a 'orders' list"),
        (httpx.Response(200, json={"orders": {"id": 1}}), "without a 'orders' list"),
    ],
)
def test_a_truncated_or_shapeless_body_is_transient(channel, shopify, response, words):
    shopify.get("/orders.json").mock(return_value=response)
    with pytest.raises(TransientError) as caught:
        channel.fetch_orders(None)
    message = str(caught.value)
    assert words in message
    assert "/admin/api/2024-10/orders.json" in message
    assert caught.value.service == "acme"


def test_a_refused_request_is_permanent_and_does_not_leak_the_token(channel, shopify):
    shopify.get("/orders.json").mock(
        return_value=httpx.Response(
            401, json={"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        )
    )
    with pytest.raises(PermanentError, match="Invalid API key") as caught:
        channel.fetch_orders(None)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("cursor", ["not json", '{"page_info": "abc"}', '{"since": "last tuesday"}', "[]"])
def test_a_cursor_this_adapter_did_not_write_is_refused(channel, cursor):
    with pytest.raises(PermanentError, match="clear the channel's cursor"):
        channel.fetch_orders(cursor)


def test_parse_order_uses_the_instance_name(channel, payload):
    assert channel.parse_order(payload("order_two_lines")).id == "acme:5812345678901"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"access_token": TOKEN}, "set shop"),
        ({"shop": "acme"}, "access_token"),
        ({"shop": "acme", "access_token": TOKEN, "page_size": 500}, "page_size"),
        ({"shop": "acme", "access_token": TOKEN, "leak_rate": 0}, "leak_rate"),
        ({"shop": "acme", "access_token": TOKEN, "overlap_seconds": "5m"}, "overlap_seconds"),
        ({"shop": "acme", "access_token": TOKEN, "notify_customer": "no"}, "notify_customer"),
    ],
)
def test_bad_settings_are_config_errors(clock, settings, words):
    with pytest.raises(ConfigError, match=words):
        ShopifyChannel(instance_context("acme", settings, clock=clock, schema=SETTINGS))


@pytest.mark.parametrize("shop", ["acme", "acme.myshopify.com", "https://acme.myshopify.com/"])
def test_shop_names_the_myshopify_host(clock, shop):
    adapter = make_channel(clock, shop=shop)
    assert adapter.base_url == "https://acme.myshopify.com"


def test_notify_customer_can_be_switched_off(clock, shopify, payload):
    adapter = make_channel(clock, notify_customer=False)
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": []})
    )
    shopify.get("/orders/5812345678901/fulfillment_orders.json").mock(
        return_value=httpx.Response(200, json=payload("fulfillment_orders"))
    )
    post = shopify.post("/fulfillments.json").mock(return_value=httpx.Response(201, json=payload("fulfillment")))
    adapter.push_fulfillment(order, ship, "k")
    assert json.loads(post.calls[0].request.content)["fulfillment"]["notify_customer"] is False


def test_base_url_and_api_version_settings(clock):
    with respx.mock(base_url="http://127.0.0.1:8123/shopify/admin/api/2025-01") as router:
        route = router.get("/orders.json").mock(return_value=orders_response(1))
        adapter = make_channel(clock, base_url="http://127.0.0.1:8123/shopify/", api_version="2025-01")
        adapter.fetch_orders(None)
        assert route.called


# --------------------------------------------------------------------------- fulfillments


def order_and_shipment(payload, **changes) -> tuple:
    order = mapping.parse_order(payload("order_two_lines"), channel="acme")
    ship = ShipmentPush(
        shipment_id="shp_1",
        lines=(
            ShipmentLine(sku="HOOD-FLC-M", quantity=1, order_line_id="14012345678901"),
            ShipmentLine(sku="TEE-ORG-S", quantity=2, order_line_id="14012345678902"),
        ),
        tracking_code=TRACKING,
        tracking_url=f"https://www.ups.com/track?tracknum={TRACKING}",
        carrier_name="UPS",
        service="Ground",
        **changes,
    )
    return order, ship


def test_push_fulfillment_posts_the_fulfillment_orders_lines_with_tracking(channel, shopify, payload):
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": []})
    )
    shopify.get("/orders/5812345678901/fulfillment_orders.json").mock(
        return_value=httpx.Response(200, json=payload("fulfillment_orders"))
    )
    post = shopify.post("/fulfillments.json").mock(return_value=httpx.Response(201, json=payload("fulfillment")))

    assert channel.push_fulfillment(order, ship, "shp_1:fulfil") == "5112345678901"
    assert post.call_count == 1
    assert json.loads(post.calls[0].request.content) == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": 6412345678901,
                    "fulfillment_order_line_items": [
                        {"id": 15312345678901, "quantity": 1},
                        {"id": 15312345678902, "quantity": 2},
                    ],
                }
            ],
            "tracking_info": {
                "number": TRACKING,
                "url": f"https://www.ups.com/track?tracknum={TRACKING}",
                "company": "UPS",
            },
            "notify_customer": True,
        }
    }


def test_push_fulfillment_does_not_post_again_when_the_tracking_number_is_there(channel, shopify, payload):
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": [payload("fulfillment")["fulfillment"]]})
    )
    fulfillment_orders = shopify.get("/orders/5812345678901/fulfillment_orders.json")
    post = shopify.post("/fulfillments.json")

    assert channel.push_fulfillment(order, ship, "shp_1:fulfil") == "5112345678901"
    assert not post.called
    assert not fulfillment_orders.called


def test_push_fulfillment_refuses_what_shopify_cannot_fulfil(channel, shopify, payload):
    order, ship = order_and_shipment(payload)
    closed = payload("fulfillment_orders")
    closed["fulfillment_orders"][0].update(status="closed", supported_actions=[])
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": []})
    )
    shopify.get("/orders/5812345678901/fulfillment_orders.json").mock(return_value=httpx.Response(200, json=closed))
    post = shopify.post("/fulfillments.json")
    with pytest.raises(PermanentError, match="#1001") as caught:
        channel.push_fulfillment(order, ship, "shp_1:fulfil")
    assert "14012345678901" in str(caught.value)
    assert not post.called


def test_a_fulfillment_post_is_not_resent_blindly(channel, shopify, payload):
    # a 503 may come after Shopify created the fulfillment; the next outbox attempt
    # looks for it by tracking number instead of this call posting twice
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": []})
    )
    shopify.get("/orders/5812345678901/fulfillment_orders.json").mock(
        return_value=httpx.Response(200, json=payload("fulfillment_orders"))
    )
    post = shopify.post("/fulfillments.json").mock(return_value=httpx.Response(503, json={"errors": "Unavailable"}))
    with pytest.raises(TransientError):
        channel.push_fulfillment(order, ship, "shp_1:fulfil")
    assert post.call_count == 1


def test_push_tracking_posts_each_status_once(channel, shopify, payload):
    order, ship = order_and_shipment(payload, fulfillment_ref="5112345678901")
    posted: list[dict] = []
    path = "/orders/5812345678901/fulfillments/5112345678901/events.json"
    shopify.get(path).mock(side_effect=lambda request: httpx.Response(200, json={"fulfillment_events": posted}))

    def create(request):
        event = {"id": 27412345678900 + len(posted), **json.loads(request.content)["event"]}
        posted.append(event)
        return httpx.Response(201, json={"fulfillment_event": event})

    post = shopify.post(path).mock(side_effect=create)

    channel.push_tracking(order, ship, TrackingStatus.IN_TRANSIT, "shp_1:in_transit")
    channel.push_tracking(order, ship, TrackingStatus.IN_TRANSIT, "shp_1:in_transit")
    channel.push_tracking(order, ship, TrackingStatus.FAILED_ATTEMPT, "shp_1:failed_attempt")
    assert post.call_count == 2
    assert [json.loads(c.request.content) for c in post.calls] == [
        {"event": {"status": "in_transit"}},
        {"event": {"status": "attempted_delivery"}},
    ]


def test_push_tracking_skips_an_event_shopify_already_has(channel, shopify, payload):
    order, ship = order_and_shipment(payload, fulfillment_ref="5112345678901")
    path = "/orders/5812345678901/fulfillments/5112345678901/events.json"
    shopify.get(path).mock(return_value=httpx.Response(200, json=payload("fulfillment_events")))
    post = shopify.post(path)
    channel.push_tracking(order, ship, TrackingStatus.IN_TRANSIT, "k")
    assert not post.called


def test_push_tracking_without_a_shopify_event_makes_no_call(channel, shopify, payload):
    order, ship = order_and_shipment(payload, fulfillment_ref="5112345678901")
    channel.push_tracking(order, ship, TrackingStatus.UNKNOWN, "k")
    channel.push_tracking(order, ship, TrackingStatus.CANCELLED, "k")
    assert shopify.calls.call_count == 0


def test_push_tracking_finds_the_fulfillment_by_tracking_number(channel, shopify, payload):
    order, ship = order_and_shipment(payload)  # no fulfillment_ref
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": [payload("fulfillment")["fulfillment"]]})
    )
    path = "/orders/5812345678901/fulfillments/5112345678901/events.json"
    shopify.get(path).mock(return_value=httpx.Response(200, json={"fulfillment_events": []}))
    post = shopify.post(path).mock(return_value=httpx.Response(201, json={"fulfillment_event": {"id": 1}}))
    channel.push_tracking(order, ship, TrackingStatus.DELIVERED, "k")
    assert json.loads(post.calls[0].request.content) == {"event": {"status": "delivered"}}


def test_push_tracking_before_the_fulfillment_exists_is_transient(channel, shopify, payload):
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": []})
    )
    with pytest.raises(TransientError, match=TRACKING):
        channel.push_tracking(order, ship, TrackingStatus.IN_TRANSIT, "k")


# --------------------------------------------------------------------------- look only when retrying


def test_a_first_attempt_posts_the_fulfillment_without_looking_first(channel, shopify, payload):
    order, ship = order_and_shipment(payload)
    existing = shopify.get("/orders/5812345678901/fulfillments.json")
    shopify.get("/orders/5812345678901/fulfillment_orders.json").mock(
        return_value=httpx.Response(200, json=payload("fulfillment_orders"))
    )
    post = shopify.post("/fulfillments.json").mock(return_value=httpx.Response(201, json=payload("fulfillment")))

    assert channel.push_fulfillment(order, ship, "shp_1:fulfil", attempt=1) == "5112345678901"
    assert not existing.called
    assert post.call_count == 1
    assert [(c.request.method, c.request.url.path.rsplit("/", 1)[-1]) for c in shopify.calls] == [
        ("GET", "fulfillment_orders.json"),
        ("POST", "fulfillments.json"),
    ]


@pytest.mark.parametrize("attempt", [2, 5, None])
def test_a_retried_or_unknown_attempt_looks_before_posting_a_fulfillment(channel, shopify, payload, attempt):
    order, ship = order_and_shipment(payload)
    shopify.get("/orders/5812345678901/fulfillments.json").mock(
        return_value=httpx.Response(200, json={"fulfillments": [payload("fulfillment")["fulfillment"]]})
    )
    post = shopify.post("/fulfillments.json")
    assert channel.push_fulfillment(order, ship, "shp_1:fulfil", attempt=attempt) == "5112345678901"
    assert not post.called


def test_a_first_attempt_posts_the_event_without_reading_the_events(channel, shopify, payload):
    order, ship = order_and_shipment(payload, fulfillment_ref="5112345678901")
    path = "/orders/5812345678901/fulfillments/5112345678901/events.json"
    read = shopify.get(path)
    post = shopify.post(path).mock(return_value=httpx.Response(201, json={"fulfillment_event": {"id": 1}}))
    channel.push_tracking(order, ship, TrackingStatus.OUT_FOR_DELIVERY, "shp_1:out_for_delivery", attempt=1)
    assert not read.called
    assert post.call_count == 1
    assert shopify.calls.call_count == 1
    assert json.loads(post.calls[0].request.content) == {"event": {"status": "out_for_delivery"}}


@pytest.mark.parametrize("attempt", [2, None])
def test_a_retried_event_is_not_posted_when_shopify_has_it(channel, shopify, payload, attempt):
    order, ship = order_and_shipment(payload, fulfillment_ref="5112345678901")
    path = "/orders/5812345678901/fulfillments/5112345678901/events.json"
    shopify.get(path).mock(return_value=httpx.Response(200, json=payload("fulfillment_events")))
    post = shopify.post(path)
    channel.push_tracking(order, ship, TrackingStatus.IN_TRANSIT, "k", attempt=attempt)
    assert not post.called
