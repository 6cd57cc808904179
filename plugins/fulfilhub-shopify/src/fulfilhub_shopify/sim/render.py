"""The simulated shop's records as Shopify's JSON: orders, line items, fulfillment orders.

Pure functions of the :class:`~.state.Shop` (called with its lock held).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .state import (
    CURRENCY,
    CUSTOMER_ID_BASE,
    FO_LINE_ITEM_ID_BASE,
    FREE_SHIPPING_FROM,
    FULFILLMENT_ORDER_ID_BASE,
    INVENTORY_ITEM_ID_BASE,
    LINE_ITEM_ID_BASE,
    LOCATION_ID,
    MALFORMATIONS,
    MAX_LINES,
    PRODUCT_ID_BASE,
    SHIPPING_PRICE,
    SHOP_ID,
    TAX_RATE,
    VARIANT_ID_BASE,
    Line,
    Record,
    Shop,
    iso,
)

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def customer_locale(who: dict[str, Any]) -> str:
    """The language the customer shops in: Taiwan's in Traditional Chinese; some others in Simplified."""
    country_code = who["place"][5]
    if country_code == "TW":
        return "zh-TW"
    if who["last"] in ("Chen", "Lin", "Wang") and who["number"] % 2 == 0:
        return "zh-CN"
    return "en"


def render_order(shop: Shop, rec: Record) -> dict[str, Any]:
    """The order as ``GET /admin/api/{v}/orders.json`` shows it."""
    lines, who = shop.content(rec)
    changes = rec.changes or {}
    order_id = rec.id
    number = 1001 + rec.seq
    created = iso(rec.created)
    updated = iso(rec.updated)
    email = changes.get("email", f"{who['first']}.{who['last']}{who['number']}@example.com".lower())
    city, province, province_code, zip_code, country, country_code = who["place"]
    address = {
        "first_name": who["first"],
        "last_name": who["last"],
        "name": f"{who['first']} {who['last']}",
        "company": None,
        "address1": who["street"],
        "address2": "",
        "city": city,
        "province": province,
        "province_code": province_code,
        "zip": zip_code,
        "country": country,
        "country_code": country_code,
        "phone": who["phone"],
        "latitude": None,
        "longitude": None,
    }
    address.update(changes.get("shipping_address", {}))
    fulfilled = rec.fulfilled or {}
    subtotal = sum((Decimal(line.price) * line.quantity for line in lines), Decimal("0"))
    shipping = Decimal("0.00") if subtotal >= FREE_SHIPPING_FROM else SHIPPING_PRICE
    tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"))
    shipped_units = sum(fulfilled.values())
    shippable_units = sum(line.quantity for line in lines if line.requires_shipping)
    customer_id = CUSTOMER_ID_BASE + who["number"]
    order: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "number": number - 1000,
        "email": email,
        "contact_email": email,
        "phone": None,
        "created_at": created,
        "updated_at": updated,
        "processed_at": created,
        "closed_at": None,
        "cancelled_at": iso(changes["cancelled_at"]) if rec.cancelled else None,
        "cancel_reason": changes.get("cancel_reason"),
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "subtotal_price": f"{subtotal:.2f}",
        "total_line_items_price": f"{subtotal:.2f}",
        "total_discounts": "0.00",
        "total_tax": f"{tax:.2f}",
        "taxes_included": False,
        "total_price": f"{subtotal + shipping + tax:.2f}",
        "total_weight": sum(line.grams * line.quantity for line in lines),
        "financial_status": "refunded" if rec.cancelled else "paid",
        "fulfillment_status": (
            None if shipped_units == 0 else "fulfilled" if shipped_units >= shippable_units else "partial"
        ),
        "confirmed": True,
        "test": False,
        "note": changes.get("note"),
        "note_attributes": [],
        "tags": changes.get("tags", ""),
        "source_name": "web",
        "customer_locale": customer_locale(who),
        "line_items": [line_item(rec, i, line, fulfilled.get(i, 0)) for i, line in enumerate(lines)],
        "shipping_address": address,
        "billing_address": dict(address),
        "customer": {
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": email,
            "first_name": who["first"],
            "last_name": who["last"],
            "phone": None,
            "state": "enabled",
            "verified_email": True,
            "tax_exempt": False,
            "tags": "",
            "currency": CURRENCY,
            "note": None,
            "created_at": created,
            "updated_at": created,
            "default_address": {**address, "id": customer_id + 1, "customer_id": customer_id, "default": True},
        },
        "shipping_lines": [
            {
                "id": order_id + 7,
                "code": "Standard",
                "title": "Standard Shipping",
                "source": "shopify",
                "price": f"{shipping:.2f}",
                "discounted_price": f"{shipping:.2f}",
                "carrier_identifier": None,
                "requested_fulfillment_service_id": None,
                "tax_lines": [],
                "discount_allocations": [],
            }
        ],
        "fulfillments": [dict(f) for f in shop.fulfillments.get(order_id, [])],
    }
    if rec.malformed >= 0:
        _break(order, MALFORMATIONS[rec.malformed])
    return order


def line_item(rec: Record, index: int, line: Line, done: int) -> dict[str, Any]:
    line_id = LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + index
    custom = line.catalog_index < 0
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "variant_id": None if custom else VARIANT_ID_BASE + line.catalog_index,
        "product_id": None if custom else PRODUCT_ID_BASE + line.catalog_index,
        "sku": line.sku,
        "title": line.title,
        "name": line.title,
        "variant_title": None,
        "vendor": "Northwind Outfitters",
        "quantity": line.quantity,
        "current_quantity": line.quantity,
        "price": line.price,
        "total_discount": "0.00",
        "grams": line.grams,
        "fulfillable_quantity": line.quantity - done,
        "fulfillment_status": None if done == 0 else "fulfilled" if done >= line.quantity else "partial",
        "fulfillment_service": "manual",
        "requires_shipping": line.requires_shipping,
        "taxable": True,
        "gift_card": False,
        "product_exists": not custom,
        "properties": [],
    }


def render_fulfillment_orders(shop: Shop, rec: Record) -> list[dict[str, Any]]:
    """The order's one fulfillment order, at the shop's one location."""
    lines = shop.lines(rec)
    shippable = [(i, line) for i, line in enumerate(lines) if line.requires_shipping]
    if not shippable:
        return []
    fulfilled = rec.fulfilled or {}
    remaining = sum(line.quantity - fulfilled.get(i, 0) for i, line in shippable)
    if rec.cancelled or remaining == 0:
        status = "closed"
    elif fulfilled:
        status = "in_progress"
    else:
        status = "open"
    fo_id = FULFILLMENT_ORDER_ID_BASE + rec.seq
    order = render_order(shop, rec)
    return [
        {
            "id": fo_id,
            "shop_id": SHOP_ID,
            "order_id": rec.id,
            "assigned_location_id": LOCATION_ID,
            "request_status": "unsubmitted",
            "status": status,
            "supported_actions": ["create_fulfillment", "move"] if status != "closed" else [],
            "destination": {
                key: order["shipping_address"].get(key)
                for key in ("first_name", "last_name", "company", "address1", "address2", "city",
                            "province", "zip", "country", "phone")
            }
            | {"id": fo_id + 3, "email": order["email"]},
            "line_items": [
                {
                    "id": FO_LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + i,
                    "shop_id": SHOP_ID,
                    "fulfillment_order_id": fo_id,
                    "quantity": line.quantity,
                    "line_item_id": LINE_ITEM_ID_BASE + rec.seq * MAX_LINES + i,
                    "inventory_item_id": (
                        None if line.catalog_index < 0 else INVENTORY_ITEM_ID_BASE + line.catalog_index
                    ),
                    "fulfillable_quantity": 0 if rec.cancelled else line.quantity - fulfilled.get(i, 0),
                    "variant_id": None if line.catalog_index < 0 else VARIANT_ID_BASE + line.catalog_index,
                }
                for i, line in shippable
            ],
            "fulfill_at": iso(rec.created),
            "fulfill_by": None,
            "international_duties": None,
            "fulfillment_holds": [],
            "delivery_method": {"id": fo_id + 5, "method_type": "shipping", "min_delivery_date_time": None,
                                "max_delivery_date_time": None},
            "created_at": iso(rec.created),
            "updated_at": iso(rec.updated),
            "assigned_location": {
                "location_id": LOCATION_ID, "name": "Main Warehouse", "address1": "1 Harbor Way",
                "address2": None, "city": "Oakland", "province": "California", "zip": "94607",
                "country_code": "US", "phone": None,
            },
            "merchant_requests": [],
        }
    ]


def _break(order: dict[str, Any], how: str) -> None:
    """Damage a rendered order the way ``how`` says (see :data:`MALFORMATIONS`)."""
    if how == "missing_updated_at":
        del order["updated_at"]
        return
    line = order["line_items"][-1]
    if how == "quantity_word":
        line["quantity"] = _NUMBER_WORDS[line["quantity"]] if line["quantity"] < 10 else "many"
    else:  # price_comma: a decimal comma from a badly localised export
        line["price"] = line["price"].replace(".", ",")
