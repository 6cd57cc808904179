"""The demo's lots and order accuracy: stock received by lot, a wrong pick a customer
reports, and ``fulfilhub trace`` on the demo store listing the recalled lot's orders."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.scenarios import run_demo
from fulfilhub.scenarios.lots import RECALLED

from .conftest import ENV, make_plugins


def test_the_demo_reports_accuracy_and_its_recalled_lot_is_traced_to_its_orders(tmp_path):
    result = run_demo(orders=40, days=1, settle_days=4, seed=7, workspace=tmp_path / "demo", plugins=make_plugins())
    after = result.after_sale
    assert after["issues"]["wrong_item"] == 1
    assert after["wrong_pick_order"]
    accuracy = after["accuracy"]
    assert accuracy["shipments"] > accuracy["accurate"]
    assert accuracy["accurate"] > 0
    assert accuracy["by_kind"]["wrong_item"] == 1
    recalled = after["recalled_lot"]
    assert recalled["lot"] == RECALLED
    assert recalled["orders"] >= 1

    traced = CliRunner().invoke(main, ["-c", str(result.config_path), "trace", RECALLED, "--json"], env=ENV)
    assert traced.exit_code == 0, traced.output
    doc = json.loads(traced.stdout)
    assert (doc["orders"], doc["units"]) == (recalled["orders"], recalled["units"])
    assert {r["lot"] for r in doc["receivers"]} == {RECALLED}
    assert all(r["customer"] for r in doc["receivers"])
