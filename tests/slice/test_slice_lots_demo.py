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

    def cli(*args: str):
        out = CliRunner().invoke(main, ["-c", str(result.config_path), *args], env=ENV)
        assert "Traceback" not in out.output
        return out

    assert cli("trace", RECALLED, "--notify").exit_code == 2  # a recall says why
    drafted = cli("trace", RECALLED, "--notify", "--reason", "a supplier found glass in the batch", "--json")
    assert drafted.exit_code == 0, drafted.output
    keys = json.loads(drafted.stdout)["drafted"]
    assert len(keys) == recalled["orders"]
    again = json.loads(cli("trace", RECALLED, "--notify", "--reason", "again", "--json").stdout)
    assert again["drafted"] == []  # one draft per order and lot
    waiting = json.loads(cli("notices", "drafts", "--json").stdout)
    assert sorted(d["key"] for d in waiting) == sorted(keys)
    first = waiting[-1]
    assert RECALLED in first["text"]
    assert "glass" in first["text"]
    assert first["notifiers"] == ["customers"]
    assert cli("notices", "show", first["key"]).exit_code == 5  # a draft is not a notice until approved
    assert cli("notices", "approve", "999999").exit_code == 5
    assert cli("notices", "approve", str(first["id"]), "--by", "qa-lead").exit_code == 0
    assert cli("notices", "approve", str(first["id"])).exit_code == 0  # approved twice: sent once
    sent = json.loads(cli("notices", "show", first["key"], "--json").stdout)
    assert [s["notifier"] for s in sent["sends"]] == ["customers"]
    assert [d["key"] for d in json.loads(cli("notices", "drafts", "--json").stdout)] == \
        sorted(set(keys) - {first["key"]}, key=keys.index, reverse=True)
    approved = json.loads(cli("notices", "drafts", "--all", "--json").stdout)
    assert [d["approved_by"] for d in approved if d["key"] == first["key"]] == ["qa-lead"]
