"""Through the runner: without restricted data, seller-fulfilled orders are held saying why; FBA ones ship nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import fulfilhub_easypost
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import build_world

import fulfilhub_amazon
from fulfilhub_amazon import mapping


def test_a_sync_without_restricted_data_holds_mfn_orders_with_amazons_reason(tmp_path):
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_easypost, fulfilhub_amazon])
    start = datetime(2026, 3, 2, 1, tzinfo=timezone.utc)
    options = {"amazon": {"orders_per_day": 48, "afn_rate": 0.3,
                          "pending_rate": 0.0, "update_rate": 0.0, "cancel_rate": 0.0,
                          "client_id": fulfilhub_amazon.DEMO_CLIENT_ID, "seller_id": fulfilhub_amazon.DEMO_SELLER_ID,
                          "marketplaces": fulfilhub_amazon.DEMO_MARKETPLACES}}
    with build_world(plugins, tmp_path / "w", start=start, seed=2, options=options, channels=["amazon"],
                     settings={"amazon": {"restricted_data": False}}) as world:
        world.clock.advance(timedelta(hours=6))
        world.scheduler({"pull_orders": timedelta(hours=1), "allocate": timedelta(hours=1)}).tick()
    db = sqlite3.connect(tmp_path / "w" / "fulfilhub.sqlite")
    rows = db.execute("select json_extract(raw, '$.FulfillmentChannel'), status, hold_reason from orders").fetchall()
    mfn = [(status, reason) for channel, status, reason in rows if channel == "MFN"]
    fba = [status for channel, status, _ in rows if channel == "AFN"]
    assert mfn
    assert fba
    assert {status for status, _ in mfn} == {"on_hold"}
    assert all(reason.startswith(mapping.WITHHELD) for _, reason in mfn)
    assert "on_hold" not in fba
    shipped = db.execute("select count(*) from shipments").fetchone()
    assert shipped == (0,)  # nothing sent to a warehouse: the MFN orders wait for a person, FBA ones for nobody
