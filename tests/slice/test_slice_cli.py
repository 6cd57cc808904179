"""The command line as an operator uses it: output, --json, exit codes, error messages."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub.cli import main
from fulfilhub.store import head_revision

from .conftest import ENV, make_plugins


@pytest.fixture(autouse=True)
def only_first_party_plugins(monkeypatch):
    """The CLI's plugin manager holds the two first-party plugins, never what is installed."""
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def test_init_writes_a_config_and_migrates_its_store(tmp_path):
    target = tmp_path / "fulfilhub.toml"
    result = run("init", "--path", str(target))
    assert result.exit_code == 0, result.output
    assert "[channels.my-shop]" in target.read_text()
    assert (tmp_path / "fulfilhub.sqlite").exists()
    again = run("init", "--path", str(target))
    assert again.exit_code == 2 and "--force" in again.output
    upgraded = run("-c", str(target), "db", "upgrade")
    assert upgraded.exit_code == 0 and head_revision() in upgraded.output


def test_plugins_json_lists_types_hooks_and_versions():
    result = run("plugins", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["types"]["channels"] == ["shopify"]
    assert data["types"]["carriers"] == ["easypost"]
    assert "local" in data["types"]["warehouses"]
    hooks = {p["name"]: p["hooks"] for p in data["plugins"]}
    assert any("register_channel_types" in h for h in hooks.values())


def test_a_config_naming_an_unknown_type_exits_2_naming_the_key(world):
    text = world.config_path.read_text().replace('type = "easypost"', 'type = "easypots"')
    world.config_path.write_text(text)
    result = run("-c", str(world.config_path), "sync")
    assert result.exit_code == 2
    assert "carriers.easypost.type" in result.output and "easypots" in result.output and "easypost" in result.output


def test_a_missing_secret_exits_2_naming_the_variable_and_key(world, monkeypatch):
    monkeypatch.delenv("EP_KEY")
    result = run("-c", str(world.config_path), "sync")
    assert result.exit_code == 2
    assert "EP_KEY" in result.output and "carriers.easypost.api_key" in result.output
    assert ENV["SHOP_TOKEN"] not in result.output


def test_an_unmigrated_store_exits_3_saying_what_to_run(tmp_path):
    config = tmp_path / "fulfilhub.toml"
    config.write_text('[warehouses.main]\ntype = "local"\n')
    result = run("-c", str(config), "orders", "list")
    assert result.exit_code == 3
    assert "fulfilhub db upgrade" in result.output


def test_sync_then_orders_list_and_show(world):
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    placed = world.shop.add_order([{"sku": sku, "quantity": 1}])
    world.clock.advance(3600)
    result = run("-c", str(world.config_path), "sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["orders_new"] == 1

    listed = json.loads(run("-c", str(world.config_path), "orders", "list", "--json").stdout)
    assert [o["id"] for o in listed["orders"]] == [f"shop:{placed['id']}"]
    shown = run("-c", str(world.config_path), "orders", "show", f"shop:{placed['id']}")
    assert shown.exit_code == 0
    assert "received -> accepted" in shown.output and "accepted -> allocated" in shown.output
    as_json = json.loads(run("-c", str(world.config_path), "orders", "show", f"shop:{placed['id']}", "--json").stdout)
    assert [e["to_status"] for e in as_json["events"] if e["kind"] == "status"][:3] == ["received", "accepted", "allocated"]
    missing = run("-c", str(world.config_path), "orders", "show", "shop:404")
    assert missing.exit_code == 5 and "no order 'shop:404'" in missing.output


def test_a_sync_with_failures_exits_1_lists_them_and_hides_secrets(world):
    world.context.faults.add("503", path="/shopify/", times=10)
    result = run("-c", str(world.config_path), "sync")
    assert result.exit_code == 1
    assert "cursor kept" in result.output
    assert ENV["SHOP_TOKEN"] not in result.output and ENV["EP_KEY"] not in result.output


def test_quarantine_list_show_and_retry(world):
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    bad = world.shop.add_order([{"sku": sku, "quantity": 1}], malformed="price_comma")
    run("-c", str(world.config_path), "sync")
    entries = json.loads(run("-c", str(world.config_path), "quarantine", "list", "--json").stdout)
    assert [e["external_id"] for e in entries] == [str(bad["id"])]
    shown = json.loads(run("-c", str(world.config_path), "quarantine", "show", str(entries[0]["id"])).stdout)
    assert shown["payload"]["id"] == bad["id"] and shown["error"]
    retried = run("-c", str(world.config_path), "quarantine", "retry", str(entries[0]["id"]))
    assert retried.exit_code == 1 and "still fails" in retried.output
    assert run("-c", str(world.config_path), "quarantine", "retry").exit_code == 2  # nothing named


def test_stock_set_and_list(world):
    result = run("-c", str(world.config_path), "stock", "set", "east", "SKU-9", "12", "--safety", "2")
    assert result.exit_code == 0, result.output
    levels = json.loads(run("-c", str(world.config_path), "stock", "list", "--json").stdout)
    assert {"warehouse": "east", "sku": "SKU-9", "on_hand": 12, "reserved": 0, "safety_stock": 2, "available": 10,
            "restock_on": None} in levels
    wrong = run("-c", str(world.config_path), "stock", "set", "north", "SKU-9", "1")
    assert wrong.exit_code == 2 and "north" in wrong.output


def test_doctor_is_green_on_a_healthy_setup_and_points_at_quarantine(world):
    ok = run("-c", str(world.config_path), "doctor", "--json")
    assert ok.exit_code == 0, ok.output
    world.shop.add_order([{"sku": world.shop.catalog[0]["sku"], "quantity": 1}], malformed="missing_updated_at")
    run("-c", str(world.config_path), "sync")
    checks = {c["check"]: c for c in json.loads(run("-c", str(world.config_path), "doctor", "--json").stdout)}
    assert checks["quarantine"]["ok"] == "NO"


def test_demo_runs_small_and_leaves_a_workspace_to_inspect(tmp_path, monkeypatch):
    for name in ("FULFILHUB_DEMO_SHOPIFY_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = run("demo", "--orders", "30", "--days", "1", "--settle-days", "6", "--seed", "5",
                 "--workspace", str(tmp_path / "ws"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pulled"] > 10 and data["shipments"] > 0 and data["faults_injected"] > 0
    assert data["counts"].get("delivered", 0) > 0
    delays = data["delays"]  # the disruption and the delay figures, from the run's ground truth
    assert "Typhoon" in delays["disruption"] and delays["promised"] > 0
    assert {"flagged_early_share", "precision", "median_lead_days", "late", "flagged"} <= set(delays)
    told = data["notices"]  # what customers were told and given: each once
    assert told["notices_total"] > 0 and told["notices_sent_twice"] == 0 and told["given_twice"] == 0
    assert any(what.startswith("confirmed ") for what in told["notices"])
    assert told["notice_file_lines"] <= told["notices_total"]
    # the workspace is usable afterwards, without the demo's tokens in the environment
    monkeypatch.delenv("FULFILHUB_DEMO_SHOPIFY_TOKEN")
    monkeypatch.delenv("FULFILHUB_DEMO_EASYPOST_KEY")
    listed = run("-c", data["config"], "orders", "list", "--json")
    assert listed.exit_code == 0
    assert sum(json.loads(listed.stdout)["counts"].values()) == data["pulled"]
    notices = json.loads(run("-c", data["config"], "notices", "list", "--json").stdout)
    shown = run("-c", data["config"], "notices", "show", str(notices[0]["id"]))
    assert shown.exit_code == 0 and notices[0]["subject"] in shown.stdout
    same = run("demo", "--orders", "30", "--days", "1", "--settle-days", "6", "--seed", "5",
               "--workspace", str(tmp_path / "ws2"), "--json")
    again = json.loads(same.stdout)
    assert {k: again[k] for k in ("pulled", "counts", "shipments", "delays", "notices")} == {
        k: data[k] for k in ("pulled", "counts", "shipments", "delays", "notices")}


def test_init_into_a_missing_folder_is_a_clear_error(tmp_path):
    result = run("init", "--path", str(tmp_path / "nope" / "fulfilhub.toml"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_bad_adapter_setting_fails_sync_before_any_work_and_doctor_says_so(world):
    text = world.config_path.read_text().replace("page_size = 50", "page_size = 5000")
    world.config_path.write_text(text)
    result = run("-c", str(world.config_path), "sync")
    assert result.exit_code == 2 and f"{world.config_path}: [channels.shop.page_size]" in result.output
    checks = {c["check"]: c for c in json.loads(run("-c", str(world.config_path), "doctor", "--json").stdout)}
    assert checks["store/instances"]["ok"] == "NO" and "page_size" in checks["store/instances"]["detail"]


def test_failed_effects_are_listed_and_can_be_queued_again(world, monkeypatch):
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    world.shop.add_order([{"sku": sku, "quantity": 1}])
    world.clock.advance(600)
    warehouse = world.rt.warehouse("east")

    def broken(request):
        raise RuntimeError("label printer on fire")

    monkeypatch.setattr(warehouse, "submit", broken)
    monkeypatch.setattr(warehouse, "submit_many", broken)  # the batch call first, then each alone
    from fulfilhub.runner import jobs

    jobs.sync_once(world.rt)
    failed = json.loads(run("-c", str(world.config_path), "outbox", "list", "--status", "failed", "--json").stdout)
    assert [e["kind"] for e in failed] == ["warehouse.submit"] and "label printer on fire" in failed[0]["last_error"]
    monkeypatch.undo()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    assert run("-c", str(world.config_path), "outbox", "retry", "--failed").exit_code == 0
    jobs.sync_once(world.rt)
    done = json.loads(run("-c", str(world.config_path), "outbox", "list", "--json").stdout)
    assert {e["kind"]: e["status"] for e in done}["warehouse.submit"] == "done"
