"""The demo world with Shippo as its only carrier: orders reach delivery through it."""

from __future__ import annotations

import pytest
from fulfilhub.plugins import PluginManager

import fulfilhub_shippo

shopify = pytest.importorskip("fulfilhub_shopify", reason="the demo needs a channel simulator: fulfilhub-shopify")


def test_the_demo_delivers_through_shippo_alone(tmp_path):
    from fulfilhub.scenarios import run_demo

    plugins = PluginManager(load_installed=False, extra=[shopify, fulfilhub_shippo])
    result = run_demo(orders=20, days=1, settle_days=5, seed=11, workspace=tmp_path / "demo", plugins=plugins,
                      carriers=["shippo"])
    assert set(result.carriers) == {"shippo"}
    shippo = result.carriers["shippo"]
    assert shippo["labels"] > 5 and shippo["delivered"] > 0 and float(shippo["cost"]) > 0
    assert result.counts.get("delivered", 0) > 0
    # the demo's injected 503s on POST /transactions are not resent at once: the outbox
    # retries them later (looking first), and none is left failed
    assert result.effects.get("failed", 0) == 0 and result.faults_injected > 0
