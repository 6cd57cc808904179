"""The demo world with Shippo as its only carrier: orders reach delivery through it, and
its signed webhooks go through `fulfilhub serve` (verified, stored, processed)."""

from __future__ import annotations

import sqlite3

import pytest
from fulfilhub.plugins import PluginManager

import fulfilhub_shippo

shopify = pytest.importorskip("fulfilhub_shopify", reason="the demo needs a channel simulator: fulfilhub-shopify")


def test_the_demo_delivers_through_shippo_alone(tmp_path):
    from fulfilhub.scenarios import run_demo

    plugins = PluginManager(load_installed=False, extra=[shopify, fulfilhub_shippo])
    result = run_demo(orders=20, days=1, settle_days=5, seed=11, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["shippo"], serve=True)
    assert set(result.carriers) == {"shippo"}
    shippo = result.carriers["shippo"]
    assert shippo["labels"] > 5
    assert shippo["delivered"] > 0
    assert float(shippo["cost"]) > 0
    assert result.counts.get("delivered", 0) > 0
    # the demo's injected 503s on POST /transactions are not resent at once: the outbox
    # retries them later (looking first), and none is left failed
    assert result.effects.get("failed", 0) == 0
    assert result.faults_injected > 0
    # every webhook (Shopify's orders, Shippo's transaction_created / track_updated) was
    # verified and accepted; the inbox processed each of Shippo's (the shop simulator
    # sends a malformed order on purpose, which fails alone)
    assert set(result.webhooks) == {"202"}
    assert result.inbox.get("processed", 0) > 20
    with sqlite3.connect(result.workspace / "fulfilhub.sqlite") as db:
        shippo = dict(db.execute("select status, count(*) from webhook_inbox where instance = 'shippo' group by status"))
    assert shippo.get("processed", 0) > 20 and set(shippo) == {"processed"}, shippo
