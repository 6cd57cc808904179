"""The operator's command line (issue 6): each item driven through the real CLI against a
real SQLite store and, where it matters, the sandbox on loopback."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub.cli import main
from fulfilhub.store import schema

from .conftest import ENV, make_plugins


@pytest.fixture(autouse=True)
def only_first_party_plugins(monkeypatch):
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run(*args: str):
    """The CLI as a user runs it: any exception that is not a clean exit is a failure here."""
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def placed(world, *, note: str | None = None, quantity: int = 1) -> str:
    sku = world.shop.catalog[0]["sku"]
    order = world.shop.add_order([{"sku": sku, "quantity": quantity}], note=note)
    return f"shop:{order['id']}"


# --------------------------------------------------------------------------- hold / release / cancel


def test_hold_release_and_cancel_are_recorded_with_reason_and_source(world):
    cfg = str(world.config_path)
    world.stock("east", world.shop.catalog[0]["sku"], 0)  # a known SKU, none in stock
    held = placed(world, note="leave at the back door")  # held by intake for its note
    other = placed(world)
    world.clock.advance(3600)
    assert run("-c", cfg, "sync").exit_code == 0
    assert world.order(held)[1].status == "on_hold"
    assert world.order(other)[1].status == "backordered"
    number = world.order(held)[0].number

    released = run("-c", cfg, "orders", "release", number, "--reason", "note read, fine")
    assert released.exit_code == 0, released.output
    assert world.order(held)[1].status == "accepted"
    again = run("-c", cfg, "orders", "release", held, "--reason", "twice")
    assert again.exit_code == 1 and len(error_lines(again)) == 1 and held in again.stderr

    assert run("-c", cfg, "orders", "hold", other, "--reason", "fraud check").exit_code == 0
    assert world.order(other)[1].status == "on_hold"
    assert "fraud check" in world.order(other)[1].hold_reason
    assert run("-c", cfg, "orders", "cancel", other, "--reason", "customer asked").exit_code == 0
    assert world.order(other)[1].status == "cancelled"

    events = json.loads(run("-c", cfg, "events", "--order", other, "--json").stdout)
    manual = [(e["to_status"], e["reason"]) for e in events if e["source"] == "cli" and e["kind"] == "status"]
    assert [status for status, _ in manual] == ["on_hold", "cancelled"]
    assert "fraud check" in manual[0][1] and "customer asked" in manual[1][1]
    assert run("-c", cfg, "orders", "hold", other, "--reason", "x").exit_code == 1  # cancelled is final
    missing = run("-c", cfg, "orders", "cancel", "shop:404", "--reason", "x")
    assert missing.exit_code == 5 and "shop:404" in missing.stderr  # not found
    assert run("-c", cfg, "orders", "hold", other).exit_code == 2  # --reason is required


def test_a_released_order_is_allocated_on_the_next_sync(world):
    cfg = str(world.config_path)
    held = placed(world, note="gift wrap please")
    world.stock("east", world.shop.catalog[0]["sku"], 5)
    world.clock.advance(3600)
    run("-c", cfg, "sync")
    assert world.order(held)[1].status == "on_hold"
    run("-c", cfg, "orders", "release", held, "--reason", "wrapped")
    assert run("-c", cfg, "sync").exit_code == 0
    assert world.order(held)[1].status == "allocated"


# --------------------------------------------------------------------------- no traceback


def test_db_upgrade_against_an_unreachable_postgresql_is_one_error_line(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "fulfilhub.toml"
    config.write_text(f'[store]\nurl = "postgresql+psycopg://fh:pw@127.0.0.1:{port}/fulfilhub"\n')
    result = run("-c", str(config), "db", "upgrade")
    assert result.exit_code == 3
    assert len(error_lines(result)) == 1 and result.stderr.count("\n") == 1
    assert "pw" not in result.stderr.replace("postgresql+psycopg://fh:***@", "")
    assert error_lines(result)[0].startswith(f"error: cannot reach store postgresql+psycopg://fh:***@127.0.0.1:{port}/fulfilhub: ")


def test_a_config_that_is_not_utf8_is_one_error_line(tmp_path):
    config = tmp_path / "fulfilhub.toml"
    config.write_bytes('[warehouses.main]\ntype = "local"\n# caf\xe9\n'.encode("latin-1"))
    result = run("-c", str(config), "orders", "list")
    assert result.exit_code == 2
    assert error_lines(result) == [error_lines(result)[0]] and "not UTF-8" in result.stderr and "byte" in result.stderr


def test_a_config_with_a_byte_order_mark_loads(tmp_path):
    config = tmp_path / "fulfilhub.toml"
    config.write_bytes(b"\xef\xbb\xbf" + b'[warehouses.main]\ntype = "local"\n')
    result = run("-c", str(config), "db", "upgrade")
    assert result.exit_code == 0, result.output


def test_an_unreadable_default_config_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FULFILHUB_CONFIG", raising=False)
    (tmp_path / "fulfilhub.toml").write_text('[warehouses.main]\ntype = "local"\n')
    real = type(tmp_path).read_bytes

    def refuse(self):
        if self.name == "fulfilhub.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(type(tmp_path), "read_bytes", refuse)  # root ignores chmod 000
    result = run("orders", "list")
    assert result.exit_code == 2
    assert error_lines(result) == ["error: fulfilhub.toml: cannot read it: Permission denied"]


def test_a_folder_named_like_the_config_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FULFILHUB_CONFIG", raising=False)
    (tmp_path / "fulfilhub.toml").mkdir()
    result = run("orders", "list")
    assert result.exit_code == 2 and "not a file" in result.stderr and len(error_lines(result)) == 1


def test_sandbox_on_a_port_in_use_is_one_error_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("sandbox", "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 2
    assert len(error_lines(result)) == 1 and "--port" in result.stderr


def test_an_unexpected_exception_is_one_line_and_its_traceback_only_at_vv(world, monkeypatch):
    from fulfilhub.store import orders as order_store

    def broken(*args, **kwargs):
        raise RuntimeError("something odd\nsecond line")

    monkeypatch.setattr(order_store, "listing", broken)
    quiet = run("-c", str(world.config_path), "orders", "list")
    assert quiet.exit_code == 1
    assert error_lines(quiet) == ["error: unexpected RuntimeError: something odd (run with -vv to see where)"]
    def leaky(*args, **kwargs):
        raise RuntimeError(f"token {ENV['SHOP_TOKEN']} rejected")

    monkeypatch.setattr(order_store, "count_by_status", leaky)
    monkeypatch.setattr(order_store, "listing", lambda *a, **k: [])
    leaked = run("-c", str(world.config_path), "orders", "list")
    assert leaked.exit_code == 1 and ENV["SHOP_TOKEN"] not in leaked.output and "***" in leaked.stderr
    monkeypatch.setattr(order_store, "listing", broken)
    loud = CliRunner().invoke(main, ["-vv", "-c", str(world.config_path), "orders", "list"])
    assert loud.exit_code == 1 and "Traceback" in loud.stderr  # asked for with -vv
    assert error_lines(loud)[-1].startswith("error: unexpected RuntimeError")


# --------------------------------------------------------------------------- unknown config keys


@pytest.mark.parametrize("text, key, hint", [
    ('[store]\nuri = "sqlite:///x.sqlite"\n', "store.uri", "did you mean 'url'?"),
    ('[schedule]\npull_order = "5m"\n', "schedule.pull_order", "did you mean 'pull_orders'?"),
    ('[intake]\nhold_on_notes = true\n', "intake.hold_on_notes", "did you mean 'hold_on_note'?"),
    ('[stores]\nurl = "sqlite:///x.sqlite"\n', "stores", "did you mean 'store'?"),
])
def test_an_unknown_config_key_is_an_error_naming_it(tmp_path, text, key, hint):
    config = tmp_path / "fulfilhub.toml"
    config.write_text(text + '[warehouses.main]\ntype = "local"\n')
    result = run("-c", str(config), "db", "upgrade")
    assert result.exit_code == 2
    assert f"[{key}]" in result.stderr and hint in result.stderr
    assert not (tmp_path / "fulfilhub.sqlite").exists()  # no second store created


def test_an_unknown_instance_setting_is_an_error_naming_it(world):
    text = world.config_path.read_text().replace('type = "shopify"', 'type = "shopify"\npage_sise = 10', 1)
    world.config_path.write_text(text)
    result = run("-c", str(world.config_path), "sync")
    assert result.exit_code == 2 and "page_sise" in result.stderr and "did you mean 'page_size'?" in result.stderr


# --------------------------------------------------------------------------- channels reset-cursor


def test_reset_cursor_needs_yes_and_pulls_again_without_duplicates(world):
    cfg = str(world.config_path)
    placed(world)
    placed(world)
    world.clock.advance(3600)
    first = json.loads(run("-c", cfg, "sync", "--json").stdout)
    assert first["counts"]["orders_new"] == 2
    with world.store.read() as conn:
        assert conn.execute(sa.select(schema.cursors.c.value)).scalar() is not None

    refused = run("-c", cfg, "channels", "reset-cursor", "shop")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert run("-c", cfg, "channels", "reset-cursor", "nope", "--yes").exit_code == 2
    done = run("-c", cfg, "channels", "reset-cursor", "shop", "--yes")
    assert done.exit_code == 0, done.output
    with world.store.read() as conn:
        assert conn.execute(sa.select(schema.cursors.c.value)).scalar() is None
    again = json.loads(run("-c", cfg, "sync", "--json").stdout)
    assert again["counts"].get("orders_new", 0) == 0  # pulled again, recognised, not stored twice
    assert again["counts"]["orders_unchanged"] == 2  # both seen again from the start
    listed = json.loads(run("-c", cfg, "orders", "list", "--json").stdout)
    assert len(listed["orders"]) == 2


# --------------------------------------------------------------------------- looking around


def _shipped_world(world):
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    order_id = placed(world)
    for _ in range(8):  # on the scenario clock, so that the warehouse packs and the parcel moves
        world.sync(hours=1)
    return str(world.config_path), order_id


def test_shipments_list_show_and_track(world):
    cfg, order_id = _shipped_world(world)
    listed = json.loads(run("-c", cfg, "shipments", "list", "--json").stdout)
    assert [s["order_id"] for s in listed] == [order_id]
    ship = listed[0]
    assert ship["tracking_code"], ship
    shown = run("-c", cfg, "shipments", "show", ship["id"])
    assert shown.exit_code == 0 and ship["tracking_code"] in shown.stdout
    tracked = json.loads(run("-c", cfg, "track", ship["tracking_code"], "--json").stdout)
    assert tracked["id"] == ship["id"] and tracked["lines"] and tracked["scans"] is not None
    assert run("-c", cfg, "track", "NOPE123").exit_code == 5  # not found
    assert run("-c", cfg, "shipments", "show", "nope").exit_code == 5
    piped = run("-c", cfg, "shipments", "list").stdout.splitlines()  # not a terminal: full ids, tab-separated
    assert piped[1].split("\t")[0] == ship["id"]
    by_order = json.loads(run("-c", cfg, "shipments", "list", "--order", order_id, "--json").stdout)
    assert len(by_order) == 1
    assert run("-c", cfg, "shipments", "list", "--status", "bogus").exit_code == 2


def test_events_timeline_across_orders_since_a_date(world):
    cfg, order_id = _shipped_world(world)
    everything = json.loads(run("-c", cfg, "events", "--json").stdout)
    assert [e["to_status"] for e in everything if e["kind"] == "status"][:3] == ["received", "accepted", "allocated"]
    assert any(e["kind"] == "promise" for e in everything)  # the promise made at acceptance is on the timeline
    assert all(e["order_id"] == order_id for e in everything)
    future = (world.clock.now() + timedelta(days=1)).date().isoformat()
    assert json.loads(run("-c", cfg, "events", "--since", future, "--json").stdout) == []
    last = everything[-1]["at"]
    since = json.loads(run("-c", cfg, "events", "--since", str(last), "--json").stdout)
    assert since and all(e["at"] >= last for e in since)
    assert run("-c", cfg, "events", "--since", "yesterday").exit_code == 2
    text = run("-c", cfg, "events").stdout  # a pipe: TSV
    assert text.splitlines()[0] == "id\tat\torder_id\tkind\tfrom_status\tto_status\tsource\treason"
    assert "\treceived\taccepted\t" in text


def test_jobs_shows_last_run_duration_outcome_and_backlog(world):
    cfg = str(world.config_path)
    never = json.loads(run("-c", cfg, "jobs", "--json").stdout)
    assert {j["outcome"] for j in never} == {"never run"}
    world.stock("east", world.shop.catalog[0]["sku"], 0)
    placed(world)
    world.clock.advance(3600)
    run("-c", cfg, "sync")  # nothing in stock: the order is backordered
    jobs = {j["job"]: j for j in json.loads(run("-c", cfg, "jobs", "--json").stdout)}
    assert set(jobs) == {"pull_orders", "allocate", "poll_warehouses", "buy_labels", "deliver_effects", "poll_tracking",
                         "process_inbox", "assess_delays", "notices", "push_stock", "sync_stock"}
    assert jobs["sync_stock"]["outcome"] == "never run"  # listed, but a pass without a 3PL does not run it
    assert jobs["pull_orders"]["outcome"] == "ok" and jobs["pull_orders"]["counts"]["orders_new"] == 1
    assert jobs["pull_orders"]["trigger"] == "sync" and jobs["pull_orders"]["duration_ms"] >= 0
    assert jobs["allocate"]["backlog"] == 1  # the backordered order waits for stock
    assert jobs["allocate"]["backlog_by_instance"] == {"shop": 1}
    assert jobs["pull_orders"]["backlog"] is None and jobs["poll_tracking"]["backlog_by_instance"] == {}
    assert jobs["assess_delays"]["backlog"] is not None  # open orders with a promise, by channel
    world.context.faults.add("503", path="/shopify/", times=10)
    failing = run("-c", cfg, "jobs")
    assert failing.exit_code == 0
    run("-c", cfg, "sync")
    after = run("-c", cfg, "jobs", "--json")
    assert after.exit_code == 1
    assert {j["job"]: j for j in json.loads(after.stdout)}["pull_orders"]["outcome"] == "errors"


def test_the_scheduler_records_its_runs(world):
    world.scheduler({"pull_orders": timedelta(minutes=5)}).tick()
    with world.store.read() as conn:
        rows = conn.execute(sa.select(schema.job_runs)).all()
    assert [(r.job, r.trigger, r.outcome) for r in rows] == [("pull_orders", "run", "ok")]
    # the scenario clock stands still during a job: the duration is real time, not clock time
    assert rows[0].duration_ms >= 1 and rows[0].finished_at > rows[0].started_at == world.clock.now()


def test_orders_show_by_number_and_list_never_truncates_in_a_pipe(world):
    cfg = str(world.config_path)
    order_id = placed(world)
    world.clock.advance(3600)
    run("-c", cfg, "sync")
    number = world.order(order_id)[0].number
    assert number.startswith("#")
    by_number = run("-c", cfg, "orders", "show", number)
    assert by_number.exit_code == 0 and order_id in by_number.stdout
    assert run("-c", cfg, "orders", "show", number.lstrip("#")).exit_code == 0
    tsv = run("-c", cfg, "orders", "list", "--format", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[:3] == ["id", "number", "status"]
    assert tsv[1].split("\t")[:2] == [order_id, number]
    assert run("-c", cfg, "orders", "list").stdout == run("-c", cfg, "orders", "list", "--format", "tsv").stdout
    assert json.loads(run("-c", cfg, "orders", "list", "--json").stdout)["orders"][0]["id"] == order_id
    bogus = run("-c", cfg, "orders", "list", "--status", "bogus")
    assert bogus.exit_code == 2 and "bogus" in bogus.stderr
    nope = run("-c", cfg, "sync", "--channel", "nope")
    assert nope.exit_code == 2 and "nope" in nope.stderr


# --------------------------------------------------------------------------- doctor


def test_doctor_reports_stuck_effects(world):
    cfg = str(world.config_path)
    now = datetime.now(timezone.utc)
    with world.store.transaction() as tx:
        tx.execute(schema.outbox.insert().values(
            key="push_tracking:x", kind="push_tracking", target="shop", payload={}, status="pending", attempts=3,
            last_error="waiting", created_at=now - timedelta(days=3), next_attempt_at=now + timedelta(hours=1)))
    result = run("-c", cfg, "doctor", "--json")
    assert result.exit_code == 1
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    assert checks["stuck"]["ok"] == "NO" and "push_tracking" in checks["stuck"]["detail"]


# --------------------------------------------------------------------------- logging


def _logged(*args: str) -> str:
    return run(*args).stderr


def test_v_shows_progress_vv_debug_and_http_libraries_only_with_debug_http(world):
    cfg = str(world.config_path)
    world.stock("east", world.shop.catalog[0]["sku"], 5)
    placed(world)
    world.clock.advance(3600)
    info = _logged("-v", "-c", cfg, "sync")
    assert "INFO fulfilhub.runner: channel shop: pulled page 1" in info
    assert "allocated to east" in info and "delivered " in info
    assert " DEBUG " not in info and "\x1b[" not in info and "│" not in info  # plain text, no rich columns
    default = _logged("-c", cfg, "sync")
    assert " INFO " not in default
    debug = _logged("-vv", "-c", cfg, "sync")
    assert " DEBUG fulfilhub" in debug and "httpx" not in debug and "httpcore" not in debug
    http = _logged("-vv", "--debug-http", "-c", cfg, "sync")
    assert "DEBUG httpcore" in http or "DEBUG httpx" in http
    assert ENV["SHOP_TOKEN"] not in http


def test_q_prints_errors_only(world):
    cfg = str(world.config_path)
    world.context.faults.add("503", path="/shopify/", times=10)
    quiet = run("-q", "-c", cfg, "sync")
    assert quiet.exit_code == 1
    assert " WARNING " not in quiet.stderr
    assert run("-q", "-v", "sync").exit_code == 2


def test_setup_logging_levels():
    cli_mod.setup_logging(0)
    assert logging.getLogger("fulfilhub").level == logging.WARNING
    cli_mod.setup_logging(1)
    assert logging.getLogger("fulfilhub").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    cli_mod.setup_logging(2, debug_http=True)
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG
    cli_mod.setup_logging(0, quiet=True)
    assert logging.getLogger("fulfilhub").getEffectiveLevel() == logging.ERROR
    cli_mod.setup_logging(0)


# --------------------------------------------------------------------------- demo, help, options, plugins


def test_demo_refuses_a_used_workspace_unless_fresh(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "fulfilhub.sqlite").write_text("an earlier run")
    refused = run("demo", "--orders", "5", "--days", "1", "--settle-days", "0", "--workspace", str(ws))
    assert refused.exit_code == 2 and "--fresh" in refused.stderr
    assert (ws / "fulfilhub.sqlite").read_text() == "an earlier run"
    fresh = run("demo", "--orders", "5", "--days", "1", "--settle-days", "0", "--workspace", str(ws), "--fresh", "--json")
    assert fresh.exit_code == 0, fresh.output
    assert json.loads(fresh.stdout)["pulled"] >= 1
    (ws / "thesis.tex").write_text("not the demo's")
    mine = run("demo", "--orders", "5", "--days", "1", "--workspace", str(ws), "--fresh")
    assert mine.exit_code == 2 and "thesis.tex" in mine.stderr
    assert (ws / "thesis.tex").exists() and (ws / "fulfilhub.toml").exists()


def test_demo_channel_runs_only_the_named_channel_simulators(tmp_path):
    refused = run("demo", "--channel", "no-such-shop", "--orders", "5", "--days", "1", "--settle-days", "0")
    assert refused.exit_code == 2 and "no-such-shop" in refused.stderr and "shopify" in refused.stderr
    only = run("demo", "--channel", "shopify", "--orders", "5", "--days", "1", "--settle-days", "0",
               "--workspace", str(tmp_path / "ws"), "--json")
    assert only.exit_code == 0, only.output
    config = Path(json.loads(only.stdout)["config"]).read_text()
    assert re.findall(r"^\[channels\.[^.\]]+\]$", config, re.M) == ["[channels.demo-shop]"]


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, path + (name,))


def test_every_command_and_every_json_option_has_help_text():
    seen = 0
    for path, command in _walk(main):
        seen += 1
        assert (command.help or "").strip(), f"`fulfilhub {' '.join(path)}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help", "version"):
                assert (param.help or "").strip(), f"`fulfilhub {' '.join(path)}` {param.opts[0]} has no help text"
    assert seen > 25


def test_sandbox_refuses_an_option_of_an_unknown_simulator():
    result = run("sandbox", "--port", "0", "--option", "nosuch.key=1")
    assert result.exit_code == 2 and "nosuch" in result.stderr
    typo = run("sandbox", "--port", "0", "--option", "shopfy.orders_per_day=1")
    assert typo.exit_code == 2 and "did you mean 'shopify'?" in typo.stderr
    unknown_key = run("sandbox", "--port", "0", "--option", "shopify.nosuch=1")
    assert unknown_key.exit_code == 2 and "nosuch" in unknown_key.stderr


def test_a_plugin_that_fails_to_load_is_reported_once(monkeypatch):
    import importlib.metadata

    from fulfilhub.plugins import PluginManager

    broken = importlib.metadata.EntryPoint(name="broken", value="fulfilhub_no_such_module_xyz", group="fulfilhub")
    monkeypatch.setattr("fulfilhub.plugins.importlib.metadata.entry_points", lambda group: [broken])
    monkeypatch.setattr(cli_mod, "_MANAGER", None)
    cli_mod.setup_logging(0)
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    assert result.stderr.count("failed to load") == 1  # reported once, when it failed
    assert "FAILED" in result.stdout and "failed to load" not in result.stdout.replace("\n", " ").split("FAILED")[0]
    assert isinstance(cli_mod._MANAGER, PluginManager)


# --------------------------------------------------------------------------- sandbox --quickstart


def test_sandbox_quickstart_writes_a_working_setup_and_sync_pulls_and_allocates(tmp_path, monkeypatch):
    import os
    import subprocess
    import time

    folder = tmp_path / "try"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULFILHUB_")}
    env["FULFILHUB_PLUGINS"] = "shopify,easypost"
    proc = subprocess.Popen([sys.executable, "-m", "fulfilhub", "sandbox", "--port", "0", "--quickstart", str(folder),
                             "--preload", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if " sync && " in line:
                break
        assert any(" sync && " in line for line in lines), (lines, proc.stderr.read() if proc.poll() is not None else "")
        exports = dict(line.strip().removeprefix("export ").split("=", 1) for line in lines if line.strip().startswith("export "))
        assert set(exports) == {"FULFILHUB_DEMO_SHOPIFY_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY"}
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        config = folder / "fulfilhub.toml"
        stocked = json.loads(run("-c", str(config), "stock", "list", "--json").stdout)
        assert {s["warehouse"] for s in stocked} == {"east", "west"} and all(s["on_hand"] == 100 for s in stocked)
        synced = run("-c", str(config), "sync", "--json")
        assert synced.exit_code == 0, synced.output
        counts = json.loads(synced.stdout)["counts"]
        assert counts["orders_new"] == 8
        assert counts.get("allocated", 0) + counts.get("allocated_split", 0) >= 5  # some may be held for a note
        again = run("sandbox", "--port", "0", "--quickstart", str(folder))
        assert again.exit_code == 2 and "already exists" in again.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_sandbox_catalog_documented_in_cli_md_is_the_simulators():
    import re
    from pathlib import Path

    from fulfilhub_shopify.sim.state import DEFAULT_CATALOG

    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z0-9-]+)` \| (.+?) \| ([\d.]+) \| (\d+) \|$", text, re.M)
    assert rows == [(c["sku"], c["title"], c["price"], str(c["grams"])) for c in DEFAULT_CATALOG]


def test_run_q_prints_only_the_errors_and_records_its_runs(world):
    import os
    import signal
    import subprocess
    import time

    world.context.faults.add("503", path="/shopify/", times=1000)
    env = {**os.environ, **ENV, "FULFILHUB_PLUGINS": "shopify,easypost"}
    proc = subprocess.Popen([sys.executable, "-m", "fulfilhub", "-q", "-c", str(world.config_path), "run"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def runs() -> list:
        with world.store.read() as conn:
            return conn.execute(sa.select(schema.job_runs.c.job, schema.job_runs.c.trigger,
                                          schema.job_runs.c.outcome)).all()

    deadline = time.monotonic() + 60
    while not any(r.job == "pull_orders" for r in runs()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert ("pull_orders", "run", "errors") in [tuple(r) for r in runs()]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(line.startswith("pull_orders: channel shop:") for line in lines), lines
    assert "stopped cleanly" not in err and "nothing to do" not in err


# --------------------------------------------------------------------------- an unreachable API


def test_sync_against_an_unreachable_api_gives_each_instance_up_in_seconds_and_says_so_once(world):
    """35 parcels in transit and a shop behind a closed port: the pass ends in seconds with
    one line per instance, and `jobs` and `doctor` show the open circuit breakers."""
    import re
    import time

    cfg = str(world.config_path)
    for item in world.shop.catalog:
        world.stock("east", item["sku"], 500)
    for _ in range(35):
        placed(world)
    for _ in range(4):
        world.sync(hours=6)
    with world.store.read() as conn:
        tracked = conn.execute(sa.select(sa.func.count()).select_from(schema.shipments)
                               .where(schema.shipments.c.status.in_(["label_purchased", "in_transit"]))).scalar()
    assert tracked >= 30, tracked
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    text = world.config_path.read_text()
    world.config_path.write_text(re.sub(r"http://127\.0\.0\.1:\d+", f"http://127.0.0.1:{closed}", text))

    began = time.monotonic()
    result = run("-c", cfg, "sync")  # the default retry policy, as a user runs it
    took = time.monotonic() - began
    print(f"sync against a closed port took {took:.2f} s")
    assert took < 30, took
    assert result.exit_code == 1
    said = [line for line in result.stderr.splitlines() if "unreachable" in line]
    assert len(said) == 2, result.stderr  # the shop and the carrier, once each
    assert any("shop: unreachable" in line for line in said) and any("easypost: unreachable" in line for line in said)
    assert "retrying after" not in result.stderr or result.stderr.count("retrying after") <= 4

    jobs_out = run("-c", cfg, "jobs", "--json")
    assert jobs_out.exit_code == 1
    by_job = {j["job"]: j for j in json.loads(jobs_out.stdout)}
    assert by_job["poll_tracking"]["breakers_open"]["easypost"]["state"] == "open"
    assert by_job["pull_orders"]["breakers_open"]["shop"]["state"] == "open"
    table = run("-c", cfg, "jobs", "--format", "table")
    assert "circuit breaker open: carriers.easypost" in table.stdout and "circuit breaker open: channels.shop" in table.stdout
    doctor = run("-c", cfg, "doctor", "--json")
    assert doctor.exit_code == 1
    breakers = next(c for c in json.loads(doctor.stdout) if c["check"] == "breakers")
    assert breakers["ok"] == "NO" and "carriers.easypost open" in breakers["detail"] and "channels.shop open" in breakers["detail"]


# --------------------------------------------------------------------------- db upgrade, stock set: usage errors


def test_db_upgrade_to_an_unknown_revision_is_a_usage_error_and_going_back_needs_a_flag(tmp_path):
    from fulfilhub.store import head_revision

    config = tmp_path / "fulfilhub.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/fh.sqlite"\n[warehouses.main]\ntype = "local"\n')
    cfg = str(config)
    assert run("-c", cfg, "db", "upgrade").exit_code == 0
    bogus = run("-c", cfg, "db", "upgrade", "--revision", "bogus")
    assert bogus.exit_code == 2, bogus.output
    assert "no schema revision 'bogus'" in bogus.stderr and "0001" in bogus.stderr and "unexpected" not in bogus.stderr

    back = run("-c", cfg, "db", "upgrade", "--revision", "0003")  # once: silently nothing
    assert back.exit_code == 2, back.output
    assert "newer than 0003" in back.stderr and "--downgrade" in back.stderr
    again = run("-c", cfg, "db", "upgrade")
    assert again.exit_code == 0 and "already" in again.stdout

    down = run("-c", cfg, "db", "upgrade", "--revision", "0003", "--downgrade")
    assert down.exit_code == 0, down.output
    assert "is at schema revision 0003" in down.stdout
    up = run("-c", cfg, "db", "upgrade")
    assert up.exit_code == 0
    assert f"is at schema revision {head_revision()}" in up.stdout  # the newest migration, whichever it is


@pytest.mark.parametrize(("args", "words"), [
    (["east", "", "3"], "the SKU is empty"),
    (["east", "  ", "3"], "the SKU is empty"),
    (["east", " TEE ", "3"], "spaces around it"),
    (["east", "TEE-ORG-M", "-5"], "-5 is negative: stock levels are 0 or more"),
    (["east", "TEE-ORG-M", "3", "--safety", "-1"], "-1 is negative"),
])
def test_stock_set_refuses_an_empty_sku_and_a_negative_level_saying_which(world, args, words):
    result = run("-c", str(world.config_path), "stock", "set", *args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "No such option" not in result.stderr
    with world.store.read() as conn:
        skus = [row.sku for row in conn.execute(sa.select(schema.stock.c.sku))]
    assert "" not in skus and " TEE " not in skus
