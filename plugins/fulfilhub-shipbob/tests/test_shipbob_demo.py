"""The demo world with ShipBob standing in for the warehouses: its stock is synced into
fulfilhub's table, it ships with its own carrier and tracking codes, fulfilhub follows the
parcels through it to delivery, and its signed webhooks go through `fulfilhub serve`."""

from __future__ import annotations

import sqlite3

import pytest
from fulfilhub.plugins import PluginManager

import fulfilhub_shipbob

shopify = pytest.importorskip("fulfilhub_shopify", reason="the demo needs a channel simulator: fulfilhub-shopify")
easypost = pytest.importorskip("fulfilhub_easypost", reason="the demo needs a carrier simulator: fulfilhub-easypost")


def test_the_demo_ships_through_shipbob_with_its_own_labels(tmp_path):
    from fulfilhub.scenarios import run_demo

    plugins = PluginManager(load_installed=False, extra=[shopify, easypost, fulfilhub_shipbob])
    result = run_demo(orders=20, days=1, settle_days=5, seed=5, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["easypost"], warehouses=["shipbob"], serve=True)
    shipbob = result.third_party["shipbob"]
    assert shipbob["shipped"] > 5
    assert shipbob["delivered"] == shipbob["shipped"]
    assert shipbob["couriers"] == {"USPS": shipbob["shipped"]}  # ShipBob's carrier, not one fulfilhub bought
    assert shipbob["followed_by"] == {"shipbob": shipbob["shipped"]}  # no carrier of ours is named after USPS
    assert set(result.carriers) == {"shipbob"}  # no label was bought from EasyPost
    assert result.carriers["shipbob"]["cost"] == "0"
    assert result.effects.get("failed", 0) == 0
    assert set(result.webhooks) == {"202"}
    with sqlite3.connect(result.workspace / "fulfilhub.sqlite") as db:
        inbox = dict(db.execute("select status, count(*) from webhook_inbox where instance = 'shipbob' "
                                "group by status"))
        pushed = db.execute("select count(*) from outbox where kind = 'channel.push_fulfillment' "
                            "and status = 'done'").fetchone()[0]
        synced = dict(db.execute("select sku, on_hand from stock where warehouse = 'shipbob'"))
    assert inbox.get("processed", 0) > 5
    assert set(inbox) <= {"processed", "ignored"}, inbox
    assert pushed == shipbob["shipped"]  # every parcel ShipBob shipped was told to the shop, with its code
    assert any(on_hand > 0 for on_hand in synced.values())  # the table holds ShipBob's stock, synced
