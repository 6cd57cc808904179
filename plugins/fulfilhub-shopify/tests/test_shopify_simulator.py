"""The simulated Shopify on its own, through Starlette's test client (no sockets)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fulfilhub import ConfigError, SimClock
from fulfilhub.sandbox import SandboxContext
from fulfilhub_shopify import ShopifySimulator
from fulfilhub_shopify.sim import MALFORMATIONS

V = "/admin/api/2024-10"


def make(clock, seed=1, **options) -> ShopifySimulator:
    return ShopifySimulator(
        SandboxContext(clock=clock, seed=seed, options={"shopify": options}, base_url="http://testserver")
    )


class Api:
    """Synchronous requests into the simulator's ASGI app, in-process (no sockets)."""

    def __init__(self, app: Any):
        self.transport = httpx.ASGITransport(app=app)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://testserver") as api:
                return await api.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def client(sim: ShopifySimulator) -> Api:
    return Api(sim.app)


def next_page_info(response) -> str | None:
    for part in response.headers.get("link", "").split(", "):
        url, _, rel = part.partition("; ")
        if rel == 'rel="next"':
            return parse_qs(urlsplit(url.strip("<>")).query)["page_info"][0]
    return None


# --------------------------------------------------------------------------- arrivals


def test_orders_arrive_as_scenario_time_passes(clock):
    sim = make(clock, orders_per_day=240)
    assert sim.orders_visible() == []
    clock.advance(timedelta(days=1))
    orders = sim.orders_visible()
    assert 170 <= len(orders) <= 310  # a Poisson day of 240
    now = clock.now()
    for order in orders:
        assert datetime.fromisoformat(order["created_at"]) <= now
    assert sim.visible_count() == len(orders)


def test_the_same_seed_gives_the_same_shop(clock):
    clocks = [clock, SimClock(), SimClock()]
    first, second, other = (make(c, seed=s, update_rate=0.3) for c, s in zip(clocks, (7, 7, 8)))
    for step in (3600, 7200, 50_000):  # however time is cut, the history is the same
        for c in clocks[1:]:
            c.advance(step)
        clock.advance(step / 2)
        first.visible_count()
        clock.advance(step / 2)
        assert first.orders_visible() == second.orders_visible()
    assert len(first.orders_visible()) > 30
    assert other.orders_visible() != first.orders_visible()


def test_preload_spreads_orders_over_the_two_days_before_now(clock):
    sim = make(clock, preload=500, orders_per_day=0)
    orders = sim.orders_visible()
    assert len(orders) == 500
    created = [datetime.fromisoformat(o["created_at"]) for o in orders]
    assert min(created) >= clock.now() - timedelta(days=2)
    assert max(created) <= clock.now()
    assert max(created) - min(created) > timedelta(days=1)


def test_orders_have_shopify_shape(clock):
    sim = make(clock, preload=20, orders_per_day=0)
    catalog = {item["sku"]: item for item in sim.catalog}
    assert len(catalog) == 20
    for order in sim.orders_visible():
        assert isinstance(order["id"], int)
        assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
        assert order["name"] == f"#{order['order_number']}"
        assert datetime.fromisoformat(order["updated_at"]).utcoffset() is not None
        assert isinstance(order["total_price"], str)
        subtotal = sum(float(li["price"]) * li["quantity"] for li in order["line_items"])
        assert float(order["subtotal_price"]) == pytest.approx(subtotal)
        for line in order["line_items"]:
            assert line["price"] == catalog[line["sku"]]["price"]
            assert line["fulfillable_quantity"] == line["quantity"]
        assert set(order["shipping_address"]) >= {
            "first_name", "last_name", "name", "company", "address1", "address2", "city",
            "province", "province_code", "zip", "country", "country_code", "phone",
        }


@pytest.mark.parametrize("options", [{"preload": 200, "orders_per_day": 0}, {"orders_per_day": 200}])
def test_update_rate_changes_orders_later(clock, options):
    sim = make(clock, update_rate=1.0, **options)
    clock.advance(timedelta(days=1))
    arrived = {o["id"] for o in sim.orders_visible()}
    clock.advance(timedelta(days=1, minutes=1))  # every update lands within a day of arrival
    orders = [o for o in sim.orders_visible() if o["id"] in arrived]
    assert len(orders) > 100
    for order in orders:
        assert order["updated_at"] > order["created_at"]
        assert order["note"] or order["tags"]


@pytest.mark.parametrize("kind", MALFORMATIONS)
def test_malformed_orders_stay_valid_json_but_break_a_field(clock, kind):
    sim = make(clock, orders_per_day=0)
    order = sim.add_order([{"sku": "TEE-ORG-S", "quantity": 2}], malformed=kind)
    response = client(sim).get(f"{V}/orders/{order['id']}.json")
    listed = response.json()["order"]
    if kind == "missing_updated_at":
        assert "updated_at" not in listed
    elif kind == "quantity_word":
        assert listed["line_items"][0]["quantity"] == "two"
    else:
        assert listed["line_items"][0]["price"] == "24,00"


def test_malformed_rate_breaks_about_that_fraction(clock):
    sim = make(clock, preload=400, orders_per_day=0, malformed_rate=0.25)
    broken = [
        o for o in sim.orders_visible()
        if "updated_at" not in o
        or any(isinstance(li["quantity"], str) or "," in li["price"] for li in o["line_items"])
    ]
    assert 60 <= len(broken) <= 140


def test_unknown_options_are_refused(clock):
    with pytest.raises(ConfigError, match="orders_per_hour"):
        make(clock, orders_per_hour=5)
    with pytest.raises(ConfigError, match="catalog"):
        make(clock, catalog=[{"sku": "X", "title": "X", "price": 1.5, "grams": 1}])


# --------------------------------------------------------------------------- listing


def test_listing_pages_by_updated_at_with_link_headers(clock):
    sim = make(clock, preload=120, orders_per_day=0)
    api = client(sim)
    first = api.get(f"{V}/orders.json", params={"status": "any", "limit": 50})
    assert first.status_code == 200
    assert first.headers["link"].startswith(f"<http://testserver{V}/orders.json?limit=50&page_info=")
    assert 'rel="previous"' not in first.headers["link"]
    seen = [o["id"] for o in first.json()["orders"]]
    token = next_page_info(first)
    second = api.get(f"{V}/orders.json", params={"page_info": token, "limit": 50})
    assert 'rel="previous"' in second.headers["link"]
    seen += [o["id"] for o in second.json()["orders"]]
    third = api.get(f"{V}/orders.json", params={"page_info": next_page_info(second), "limit": 50})
    assert next_page_info(third) is None
    orders = third.json()["orders"]
    seen += [o["id"] for o in orders]
    assert len(orders) == 20
    assert sorted(seen) == sorted(o["id"] for o in sim.orders_visible())
    updated = [o["updated_at"] for o in first.json()["orders"]]
    assert updated == sorted(updated)

    previous_url = next(p for p in second.headers["link"].split(", ") if p.endswith('rel="previous"'))
    previous_token = parse_qs(urlsplit(previous_url.split(">;")[0].strip("<")).query)["page_info"][0]
    back = api.get(f"{V}/orders.json", params={"page_info": previous_token, "limit": 50})
    assert [o["id"] for o in back.json()["orders"]] == [o["id"] for o in first.json()["orders"]]


def test_updated_at_min_filters_inclusively(clock):
    sim = make(clock, preload=60, orders_per_day=0)
    orders = sorted(sim.orders_visible(), key=lambda o: o["updated_at"])
    pivot = orders[30]["updated_at"]
    listed = client(sim).get(
        f"{V}/orders.json", params={"status": "any", "limit": 250, "updated_at_min": pivot}
    ).json()["orders"]
    assert {o["id"] for o in listed} == {o["id"] for o in orders if o["updated_at"] >= pivot}


@pytest.mark.parametrize("extra", ["status", "updated_at_min"])
def test_page_info_with_another_filter_is_a_400(clock, extra):
    sim = make(clock, preload=10, orders_per_day=0)
    api = client(sim)
    token = next_page_info(api.get(f"{V}/orders.json", params={"status": "any", "limit": 3}))
    response = api.get(f"{V}/orders.json", params={"page_info": token, "limit": 3, extra: "any"})
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            extra: f"{extra} cannot be passed when page_info is present. "
            "See https://shopify.dev/api/usage/pagination-rest for more information."
        }
    }


def test_a_forged_page_info_is_a_400(clock):
    response = client(make(clock)).get(f"{V}/orders.json", params={"page_info": "bm9wZQ", "limit": 3})
    assert response.status_code == 400
    assert response.json() == {"errors": {"page_info": "Invalid value."}}


def test_cancelled_orders_are_listed_only_when_asked_for(clock):
    sim = make(clock, preload=5, orders_per_day=0)
    cancelled = sim.cancel_order(sim.orders_visible()[0]["id"], reason="inventory")
    assert cancelled["cancel_reason"] == "inventory"
    api = client(sim)
    default = {o["id"] for o in api.get(f"{V}/orders.json").json()["orders"]}
    every = {o["id"] for o in api.get(f"{V}/orders.json", params={"status": "any"}).json()["orders"]}
    only = [o["id"] for o in api.get(f"{V}/orders.json", params={"status": "cancelled"}).json()["orders"]]
    assert cancelled["id"] not in default
    assert cancelled["id"] in every
    assert only == [cancelled["id"]]


def test_fields_limits_what_each_order_shows(clock):
    sim = make(clock, preload=3, orders_per_day=0)
    orders = client(sim).get(f"{V}/orders.json", params={"fields": "id,updated_at"}).json()["orders"]
    assert [set(o) for o in orders] == [{"id", "updated_at"}] * 3


# --------------------------------------------------------------------------- gatekeeping


def test_wrong_or_missing_token_is_a_401(clock):
    sim = make(clock, access_token="shpat_right")
    api = client(sim)
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        response = api.get(f"{V}/orders.json", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
    assert api.get(f"{V}/orders.json", headers={"X-Shopify-Access-Token": "shpat_right"}).status_code == 200


def test_the_call_bucket_fills_and_leaks_on_the_scenario_clock(clock):
    sim = make(clock)
    api = client(sim)
    limits = [api.get(f"{V}/orders.json").headers["x-shopify-shop-api-call-limit"] for _ in range(40)]
    assert limits[0] == "1/40"
    assert limits[-1] == "40/40"
    refused = api.get(f"{V}/orders.json")
    assert refused.status_code == 429
    assert float(refused.headers["retry-after"]) == 0.5
    assert "Exceeded 2 calls per second" in refused.json()["errors"]
    assert sim.throttled == 1
    clock.advance(1.0)  # leaks 2 calls
    assert api.get(f"{V}/orders.json").headers["x-shopify-shop-api-call-limit"] == "39/40"


def test_rate_limit_can_be_switched_off(clock):
    api = client(make(clock, rate_limit=False))
    assert all(api.get(f"{V}/orders.json").status_code == 200 for _ in range(45))


def test_unknown_api_version_or_path_is_a_json_404(clock):
    api = client(make(clock))
    assert api.get("/admin/api/latest/orders.json").json() == {"errors": "Not Found"}
    missing = api.get(f"{V}/customers.json")
    assert missing.status_code == 404
    assert missing.json() == {"errors": "Not Found"}
    assert api.get(f"{V}/orders/123.json").status_code == 404


# --------------------------------------------------------------------------- fulfillments


def fulfil(api, fo_id, *items, number="TRK1"):
    return api.post(
        f"{V}/fulfillments.json",
        json={
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {
                        "fulfillment_order_id": fo_id,
                        "fulfillment_order_line_items": [{"id": i, "quantity": q} for i, q in items],
                    }
                ],
                "tracking_info": {"number": number, "url": f"https://t.example/{number}", "company": "UPS"},
                "notify_customer": True,
            }
        },
    )


def test_fulfilling_in_two_parts_moves_the_order_to_fulfilled(clock):
    sim = make(clock, orders_per_day=0)
    order = sim.add_order([{"sku": "TEE-ORG-S", "quantity": 2}, {"sku": "CAP-CAN-OS", "quantity": 1}])
    api = client(sim)
    (fo,) = api.get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    assert fo["status"] == "open"
    assert [(li["line_item_id"], li["fulfillable_quantity"]) for li in fo["line_items"]] == [
        (order["line_items"][0]["id"], 2),
        (order["line_items"][1]["id"], 1),
    ]
    tee, cap = fo["line_items"]

    clock.advance(60)
    first = fulfil(api, fo["id"], (tee["id"], 1), number="TRK1")
    assert first.status_code == 201
    created = first.json()["fulfillment"]
    assert (created["tracking_number"], created["tracking_company"], created["name"]) == ("TRK1", "UPS", "#1001.1")
    partial = sim.order(order["id"])
    assert partial["fulfillment_status"] == "partial"
    assert partial["updated_at"] > order["updated_at"]  # the change is visible to updated_at_min
    (fo,) = api.get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    assert fo["status"] == "in_progress"

    assert fulfil(api, fo["id"], (tee["id"], 1), (cap["id"], 1), number="TRK2").status_code == 201
    assert sim.order(order["id"])["fulfillment_status"] == "fulfilled"
    (fo,) = api.get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    assert fo["status"] == "closed"
    assert [f["tracking_number"] for f in sim.fulfillments_for(order["id"])] == ["TRK1", "TRK2"]
    listed = api.get(f"{V}/orders/{order['id']}/fulfillments.json").json()["fulfillments"]
    assert [f["id"] for f in listed] == [f["id"] for f in sim.fulfillments_for(order["id"])]


def test_bad_fulfillment_requests_get_shopify_errors(clock):
    sim = make(clock, orders_per_day=0)
    order = sim.add_order([{"sku": "TEE-ORG-S", "quantity": 1}])
    api = client(sim)
    (fo,) = api.get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    line = fo["line_items"][0]["id"]

    too_many = fulfil(api, fo["id"], (line, 2))
    assert too_many.status_code == 422
    assert too_many.json() == {"errors": ["Invalid fulfillment order line item quantity requested."]}
    assert fulfil(api, fo["id"], (line, 0)).status_code == 422
    assert fulfil(api, fo["id"], (line + 1, 1)).status_code == 422
    assert fulfil(api, 1, (line, 1)).status_code == 404
    missing = api.post(f"{V}/fulfillments.json", json={"fulfillment": {"tracking_info": {}}})
    assert missing.status_code == 400
    assert missing.json() == {"errors": {"fulfillment": "Required parameter missing or invalid"}}
    assert sim.fulfillments_for(order["id"]) == []

    assert fulfil(api, fo["id"], (line, 1)).status_code == 201
    closed = fulfil(api, fo["id"], (line, 1))
    assert closed.status_code == 422
    assert "unfulfillable status= closed" in closed.json()["errors"][0]


def test_fulfillment_events_are_stored_and_validated(clock):
    sim = make(clock, orders_per_day=0)
    order = sim.add_order([{"sku": "MUG-ENM-350", "quantity": 1}])
    api = client(sim)
    (fo,) = api.get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    fulfillment = fulfil(api, fo["id"], (fo["line_items"][0]["id"], 1)).json()["fulfillment"]
    path = f"{V}/orders/{order['id']}/fulfillments/{fulfillment['id']}/events.json"

    assert api.post(path, json={"event": {"status": "in_transit"}}).status_code == 201
    wrong = api.post(path, json={"event": {"status": "on_its_way"}})
    assert wrong.status_code == 422
    assert wrong.json() == {"errors": {"status": ["is not included in the list"]}}
    assert [e["status"] for e in api.get(path).json()["fulfillment_events"]] == ["in_transit"]
    assert [e["status"] for e in sim.events_for(fulfillment["id"])] == ["in_transit"]
    assert sim.fulfillments_for(order["id"])[0]["shipment_status"] == "in_transit"
    other_order = sim.add_order([{"sku": "MUG-ENM-350", "quantity": 1}])
    assert api.get(f"{V}/orders/{other_order['id']}/fulfillments/{fulfillment['id']}/events.json").status_code == 404


def test_custom_lines_and_lines_that_do_not_ship(clock):
    sim = make(clock, orders_per_day=0)
    order = sim.add_order(
        [
            {"sku": "", "title": "Engraving", "price": "5.00", "quantity": 1},
            {"sku": "GIFT-25", "title": "Gift card", "price": "25.00", "quantity": 1, "requires_shipping": False},
        ],
        note="engrave: A+B",
        shipping_address={"city": "Hsinchu", "country_code": "TW"},
    )
    assert [li["sku"] for li in order["line_items"]] == ["", "GIFT-25"]
    assert order["line_items"][0]["product_id"] is None
    assert (order["note"], order["shipping_address"]["city"]) == ("engrave: A+B", "Hsinchu")
    (fo,) = client(sim).get(f"{V}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    assert [li["line_item_id"] for li in fo["line_items"]] == [order["line_items"][0]["id"]]
    with pytest.raises(ValueError, match="title and price"):
        sim.add_order([{"sku": "UNKNOWN-SKU", "quantity": 1}])


def test_stop_arrivals_keeps_the_orders_already_placed(clock):
    sim = make(clock, orders_per_day=240)
    clock.advance(6 * 3600)
    placed = sim.visible_count()
    assert placed > 0
    sim.stop_arrivals()
    clock.advance(24 * 3600)
    assert sim.visible_count() == placed
