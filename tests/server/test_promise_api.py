"""``GET /api/v1/promise``: a product page's promise, in the shopper's language, refusing bad
questions with a 400 that says what was wrong; CORS for the configured storefront only."""

from __future__ import annotations

from datetime import datetime

import pytest

PARAMS = {"sku": "TEE-ORG-M", "qty": "1", "country": "US", "region": "CA", "postal_code": "94107"}


@pytest.fixture(scope="module")
def api(served_module):
    for warehouse in ("east", "west"):
        served_module.world.stock(warehouse, "TEE-ORG-M", 40)
    return served_module


def test_the_promise_for_a_product_page(api):
    answer = api.client.get("/api/v1/promise", params=PARAMS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    ship_by, first, last = (datetime.fromisoformat(body[k]) for k in ("ship_by", "deliver_from", "deliver_by"))
    assert ship_by <= last and first <= last
    assert first >= api.world.clock.now().replace(hour=0, minute=0)  # never in the past
    if body["level"] in ("postal", "lane", "region", "service", "all"):  # learned from deliveries
        assert 0 <= body["confidence"]["from"] <= body["confidence"]["by"] <= 1
    else:  # a stated or default transit time: the confidence is unknown, not 0
        assert body["confidence"] == {"from": None, "by": None}
    assert body["basis"] and body["timezone"]
    assert body["explain"][0] == f"history: {body['basis'].split('; ')[0]}" or body["explain"][0].startswith(
        f"history: {body['basis'].split('; ')[0]}; ")
    assert [line.split(":")[0] for line in body["explain"]][-2:] == ["calendar", "applied"]
    assert body["sentence"].startswith("Order now: ships by ") and "arrives" in body["sentence"]
    assert (body["locale"], answer.headers["Content-Language"]) == ("en", "en")


@pytest.mark.parametrize(("header", "lang", "words"), [("zh-TW,zh;q=0.9", "zh-Hant", "現在下單"),
                                                       ("zh-CN", "zh-Hans", "现在下单"),
                                                       ("de-DE", "en", "Order now")])
def test_the_sentence_is_in_the_shoppers_language(api, header, lang, words):
    body = api.client.get("/api/v1/promise", params=PARAMS, headers={"Accept-Language": header}).json()
    assert body["locale"] == lang and body["sentence"].startswith(words)


@pytest.mark.parametrize(("change", "words"), [
    ({"qty": "0"}, "qty must be a whole number"),
    ({"qty": "many"}, "qty must be a whole number"),
    ({"qty": "²"}, "qty must be a whole number"),  # isdigit() is true for these, int() fails: once a 500
    ({"qty": "³"}, "qty must be a whole number"),
    ({"qty": "①"}, "qty must be a whole number"),
    ({"qty": "1²"}, "qty must be a whole number"),
    ({"qty": "١٢"}, "qty must be a whole number"),  # Arabic-Indic digits: int() takes them; ASCII only
    ({"country": "USA"}, "ISO 3166 alpha-2"),
    ({"sku": ""}, "sku is required"),
    ({"region": "x" * 51}, "at most 50 characters"),
])
def test_a_bad_question_is_a_400_saying_what_is_wrong(api, change, words):
    answer = api.client.get("/api/v1/promise", params={**PARAMS, **change})
    assert answer.status_code == 400 and words in answer.json()["detail"]


def test_cors_lets_the_configured_storefront_in_and_no_other(api):
    allowed = api.client.get("/api/v1/promise", params=PARAMS, headers={"Origin": "https://shop.example.test"})
    assert allowed.headers.get("access-control-allow-origin") == "https://shop.example.test"
    other = api.client.get("/api/v1/promise", params=PARAMS, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = api.client.options("/api/v1/promise", headers={
        "Origin": "https://shop.example.test", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200


def test_the_server_says_how_long_it_took(api):
    answer = api.client.get("/api/v1/promise", params=PARAMS)
    assert answer.headers["Server-Timing"].startswith("app;dur=")


def test_a_sku_no_warehouse_has_is_a_409_saying_why(api):
    answer = api.client.get("/api/v1/promise", params={**PARAMS, "sku": "NO-SUCH-SKU"})
    assert answer.status_code == 409
    assert answer.json()["error"] == "cannot_promise" and "NO-SUCH-SKU" in answer.json()["detail"]


def test_a_storefront_is_not_shown_the_operators_hint(api):
    api.world.stock("east", "TEE-GONE", 0)
    answer = api.client.get("/api/v1/promise", params={**PARAMS, "sku": "TEE-GONE"})
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert "no restock date" in detail
    assert "fulfilhub" not in detail  # `fulfilhub stock set ...` is for the operator, in the log and the CLI
