"""The whole command surface against one convention (docs/cli.md, "Conventions" and
"Exit codes"): every command in ``fulfilhub --help``, recursively, is in ``CASES`` with
the exit code each invocation must give; every listing prints TSV with a header in a
pipe (empty cells empty, never ``None``), JSON with ``--json``, nothing with ``-q``.

A command added without a line here fails ``test_every_command_is_in_the_table``.
``sandbox``, ``run`` and ``serve`` run until Ctrl-C: their clean stop is
``test_ctrl_c_stops_sandbox_run_and_serve_with_exit_0_and_one_line`` (a real SIGINT to
a subprocess), their usage errors are here.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub.cli import EXIT_CODES, GLOBAL_OPTIONS, main

from .conftest import ENV, make_plugins

OK, FAILED, USAGE, STORE, PLUGIN, NOT_FOUND = 0, 1, 2, 3, 4, 5

#: Listings: their TSV header in a pipe. Each must also take --json.
LISTINGS = {
    "orders list": "id number status placed_at total currency hold_reason channel",
    "shipments list": "id order_id warehouse status carrier_name service tracking_code modified_at",
    "events": "id at order_id kind from_status to_status source reason",
    "jobs": "job last_run trigger duration_ms outcome errors first_error backlog counts",
    "delays": "order_id number status state days_late reason revised_eta detail",
    "outbox list": "id kind target status attempts next_attempt_at last_error",
    "quarantine list": "id source kind external_id status attempts error",
    "notices list": "id key order_id order_number event locale to sent created_at subject",
    "notices drafts": "id key order_id order_number event locale to approved_at approved_by reason subject",
    "compensations list": "id key order_id tier kind amount currency status code policy reason created_at",
    "stock list": "warehouse sku on_hand reserved safety_stock available restock_on",
    "stock lots": "warehouse sku lot expires received on_hand received_at",
    "webhooks list": "id instance delivery_id received_at status result error",
    "plugins": "name source hooks error",
}

#: Every command: a list of (arguments after the command, expected exit code). ``{...}``
#: are filled from the world (``{held}``: an order on hold, ``{shipped}``: one shipped,
#: ``{tracking}``: its tracking number, ``{tmp}``: an empty folder, ``{csv}``: a history).
CASES: dict[str, list[tuple[str, int]]] = {
    "channels reset-cursor": [("shop", USAGE), ("nope --yes", USAGE), ("shop --yes", OK)],
    "compensations approve": [("999999", NOT_FOUND), ("", USAGE)],
    "compensations list": [("", OK), ("--json", OK), ("--status bogus", USAGE), ("--order nope", NOT_FOUND)],
    "compensations reject": [("999999", NOT_FOUND)],
    "compensations show": [("999999", NOT_FOUND)],
    "db copy": [("sqlite:///{tmp}/a.sqlite sqlite:///{tmp}/a.sqlite", USAGE), ("bogus://x sqlite:///{tmp}/b.sqlite", STORE)],
    "db upgrade": [("", OK)],
    "delays": [("", OK), ("--json", OK)],
    "demo": [("--orders 0", USAGE), ("--days 99", USAGE), ("--warehouse nosuch3pl", USAGE)],
    "doctor": [("--json", OK)],
    "events": [("", OK), ("--json", OK), ("--order {held}", OK), ("--order nope", NOT_FOUND), ("--since x", USAGE)],
    "init": [("--path {tmp}/fulfilhub.toml", OK), ("--path {tmp}/fulfilhub.toml", USAGE)],
    "jobs": [("", OK), ("--json", OK)],
    "new": [("carrier Bad-Name --dir {tmp}/p", USAGE), ("bogus x", USAGE)],
    "notices approve": [("999999", NOT_FOUND), ("", USAGE)],
    "notices drafts": [("", OK), ("--json", OK), ("--all", OK)],
    "notices list": [("", OK), ("--json", OK), ("--order nope", NOT_FOUND)],
    "notices retry": [("nope", NOT_FOUND), ("", USAGE)],
    "notices show": [("nope", NOT_FOUND)],
    "orders cancel": [("nope --reason x", NOT_FOUND), ("{held}", USAGE)],
    "orders hold": [("{held} --reason again", OK), ("nope --reason x", NOT_FOUND)],
    "orders list": [("", OK), ("--json", OK), ("--channel nope", NOT_FOUND), ("--channel shop", OK),
                    ("--status bogus", USAGE)],
    "orders report-issue": [("nope --line X:1 --kind wrong_item", NOT_FOUND), ("{shipped} --line X --kind wrong_item", USAGE),
                            ("{shipped} --line X:1 --kind bogus", USAGE)],
    "orders release": [("{shipped} --reason x", FAILED), ("nope --reason x", NOT_FOUND)],
    "orders show": [("{shipped}", OK), ("{shipped} --json", OK), ("nope", NOT_FOUND)],
    "outbox list": [("", OK), ("--json", OK), ("--status bogus", USAGE)],
    "outbox retry": [("999999", NOT_FOUND), ("", USAGE), ("--failed", OK)],
    "plugins": [("", OK), ("--json", OK)],
    "promise backtest": [("{csv}", OK), ("{csv} --json", OK), ("{tmp}/missing.csv", USAGE),
                         ("{csv} --plot {tmp}/nofolder/p.svg", USAGE)],
    "promise quote": [("--country USA --sku x", USAGE), ("--country US", USAGE)],
    "promise show": [("{shipped}", OK), ("{shipped} --json", OK), ("nope", NOT_FOUND)],
    "quarantine list": [("", OK), ("--json", OK)],
    "quarantine retry": [("999999", NOT_FOUND), ("", USAGE)],
    "quarantine show": [("999999", NOT_FOUND)],
    "report": [("--json --no-backtest", OK), ("--since x", USAGE)],
    "run": [("--bogus", USAGE)],
    "sandbox": [("--option nope.x=1", USAGE), ("--port 70000", USAGE)],
    "serve": [("--port 0", USAGE)],
    "shipments attach-code": [("nope --carrier x --code SF1", NOT_FOUND), ("{shipped} --carrier x --code SF1", FAILED),
                              ("{held} --code SF1", USAGE)],
    "shipments list": [("", OK), ("--json", OK), ("--order nope", NOT_FOUND)],
    "shipments show": [("nope", NOT_FOUND)],
    "stock list": [("", OK), ("--json", OK)],
    "stock lots": [("", OK), ("--json", OK)],
    "stock receive": [("nope SKU 3 --lot L1", USAGE), ("east SKU-NEW 0 --lot L1", USAGE),
                      ("east SKU-NEW 3 --lot L1 --expires 2027-01-31", OK)],
    "stock set": [("nope SKU 3", USAGE), ("east SKU-NEW 3", OK)],
    "sync": [("", OK), ("--json", OK), ("--channel nope", USAGE)],
    "trace": [("NOPE-LOT", NOT_FOUND), ("NOPE-LOT --json", NOT_FOUND), ("NOPE-LOT --notify", USAGE),
              ("NOPE-LOT --notify --reason x", NOT_FOUND)],
    "track": [("{tracking}", OK), ("NOPE123", NOT_FOUND)],
    "webhooks list": [("", OK), ("--json", OK), ("--status bogus", USAGE)],
    "webhooks replay": [("999999", NOT_FOUND)],
    "webhooks show": [("999999", NOT_FOUND)],
    "worker": [("--burst", USAGE)],
}


def every_command(group: click.Group = main, path: tuple[str, ...] = ()) -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            out += every_command(command, (*path, name))
        else:
            out.append(" ".join((*path, name)))
    return out


@pytest.fixture(autouse=True)
def only_first_party_plugins(monkeypatch):
    monkeypatch.setattr(cli_mod, "_MANAGER", make_plugins())
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_every_command_is_in_the_table():
    commands = every_command()
    assert sorted(set(commands) - set(CASES)) == [], "commands with no exit codes in CASES"
    assert sorted(set(CASES) - set(commands)) == [], "CASES names commands that do not exist"
    assert set(LISTINGS) <= set(commands)
    assert {code for cases in CASES.values() for _, code in cases} <= set(EXIT_CODES)
    for command in commands:  # and each answers --help with 0, the global options after it too
        helped = run([*command.split(), "--help", "-q"])
        assert helped.exit_code == 0 and helped.stdout.startswith("Usage: "), (command, helped.output)


def test_no_command_has_an_option_spelled_like_a_global_one():
    spellings = {o for opts, _ in GLOBAL_OPTIONS for o in opts}
    ctx = click.Context(main)

    def resolve(path: str) -> click.Command:
        command: click.Command = main
        for part in path.split():
            command = command.get_command(ctx, part)  # type: ignore[attr-defined]
        return command

    clashes = {path: sorted(set(p.opts) & spellings) for path in every_command() for p in resolve(path).params
               if set(getattr(p, "opts", ())) & spellings}
    assert clashes == {}


@pytest.fixture
def surface(world, tmp_path):
    """A world with an order shipped and scanned, one on hold, and a small delivery history."""
    sku = world.shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    shipped = f"shop:{world.shop.add_order([{'sku': sku, 'quantity': 1}])['id']}"
    held = f"shop:{world.shop.add_order([{'sku': sku, 'quantity': 1}], note='ring twice')['id']}"
    for _ in range(8):
        world.sync(hours=1)
    tracking = world.shipments(shipped)[0].tracking_code
    csv = tmp_path / "history.csv"
    csv.write_text("purchase_ts,delivered_ts\n" + "".join(
        f"2026-01-{d:02d} 10:00:00,2026-01-{d + 3:02d} 12:00:00\n" for d in range(1, 25)))
    folder = tmp_path / "empty"
    folder.mkdir()
    return {"cfg": str(world.config_path), "held": held, "shipped": shipped, "tracking": tracking, "csv": str(csv),
            "tmp": str(folder)}


def test_every_command_gives_its_exit_code_and_every_listing_pipes_tsv(surface):
    wrong = []
    for command, cases in CASES.items():
        for args, expected in cases:
            argv = [*command.split(), *args.format(**surface).split()]
            result = run(["-c", surface["cfg"], *argv])
            if result.exit_code != expected:
                wrong.append(f"fulfilhub {' '.join(argv)}: exit {result.exit_code}, expected {expected}: "
                             f"{result.stderr.strip()[:200]}")
            if expected == NOT_FOUND and "no " not in result.stderr and "nothing matched" not in result.stderr:
                wrong.append(f"fulfilhub {' '.join(argv)}: does not say what was not found: {result.stderr!r}")
            if expected in (USAGE, STORE, PLUGIN, NOT_FOUND) and result.stdout:
                wrong.append(f"fulfilhub {' '.join(argv)}: an error also printed on stdout: {result.stdout[:200]!r}")
    assert wrong == []


def test_every_listing_in_a_pipe_is_tsv_with_a_header_and_json_with_json(surface):
    cfg = surface["cfg"]
    for command, header in LISTINGS.items():
        piped = run(["-c", cfg, *command.split()])  # CliRunner's stdout is not a terminal: a pipe
        assert piped.exit_code in (OK, FAILED), (command, piped.stderr)
        lines = piped.stdout.splitlines()
        assert lines[0].split("\t") == header.split(), command
        for line in lines[1:]:
            cells = line.split("\t")
            assert len(cells) == len(lines[0].split("\t")), (command, line)
            assert "None" not in cells, (command, line)
        json.loads(run(["-c", cfg, *command.split(), "--json"]).stdout)
        assert run(["-c", cfg, *command.split(), "--format", "tsv"]).stdout == piped.stdout, command
        table = run(["-c", cfg, *command.split(), "--format", "table"])  # the terminal's view, in a pipe
        assert table.stdout and "\t" not in table.stdout and table.stdout != piped.stdout, command
        quiet = run(["-c", cfg, *command.split(), "-q"])  # a global option after the command
        assert quiet.stdout == "" and quiet.exit_code == piped.exit_code, command


def test_the_listings_show_rows_from_the_world(surface):
    cfg = surface["cfg"]
    for command in ("orders list", "shipments list", "events", "stock list", "outbox list", "jobs", "plugins"):
        assert len(run(["-c", cfg, *command.split()]).stdout.splitlines()) > 1, command
    orders = run(["-c", cfg, "orders", "list"]).stdout
    assert surface["held"] in orders  # the note is not a hold reason column
    assert "\tring twice" not in orders


def test_global_options_work_after_the_command(surface, tmp_path):
    cfg = surface["cfg"]
    assert run(["orders", "list", "-c", cfg]).stdout == run(["-c", cfg, "orders", "list"]).stdout
    assert run(["orders", "list", f"--config={cfg}", "--json"]).exit_code == 0
    verbose = run(["sync", "-c", cfg, "-v"])
    assert verbose.exit_code == 0
    assert "INFO" in verbose.stderr
    quiet = run(["sync", "-c", cfg, "-q"])
    assert quiet.exit_code == 0
    assert quiet.stdout == ""
    both = run(["sync", "-c", cfg, "-q", "-v"])
    assert both.exit_code == USAGE
    assert "contradict" in both.stderr


def test_nothing_matched_says_so_and_changes_nothing(surface):
    cfg = surface["cfg"]
    retry = run(["-c", cfg, "outbox", "retry", "999999"])
    assert retry.exit_code == NOT_FOUND
    assert "nothing matched" in retry.stderr
    assert "999999" in retry.stderr
    nope = run(["-c", cfg, "orders", "list", "--channel", "nope"])
    assert nope.exit_code == NOT_FOUND
    assert "nothing matched" in nope.stderr
    assert "shop" in nope.stderr
    assert nope.stdout == ""


def test_hold_on_a_held_order_says_it_is_already_on_hold(surface):
    again = run(["-c", surface["cfg"], "orders", "hold", surface["held"], "--reason", "again"])
    assert again.exit_code == 0
    assert "already on_hold" in again.stdout
    assert "nothing changed" in again.stdout
    assert "cannot go from on_hold to on_hold" not in again.output
    released = run(["-c", surface["cfg"], "orders", "release", surface["shipped"], "--reason", "x"])
    assert released.exit_code == FAILED
    assert "not on hold" in released.stderr


def test_store_errors_keep_exit_3(tmp_path):
    config = tmp_path / "fulfilhub.toml"
    config.write_text('[warehouses.main]\ntype = "local"\n')
    result = run(["orders", "list", "-c", str(config)])
    assert result.exit_code == STORE


# --------------------------------------------------------------------------- Ctrl-C, real processes


def _process(args: list[str], env_extra: dict[str, str] | None = None):
    import os
    import subprocess
    import sys

    env = {**os.environ, **ENV, "FULFILHUB_PLUGINS": "shopify,easypost", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "fulfilhub", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _interrupt_after(proc, ready: str, url: str | None = None) -> tuple[int, list[str], list[str]]:
    """Wait for the line on stderr starting with ``ready`` (and for ``url`` to answer), send
    SIGINT; (exit code, stderr lines before, after)."""
    import signal
    import time

    import httpx

    before = []
    while True:
        line = proc.stderr.readline()
        assert line, f"ended before {ready!r}: {before} {proc.stdout.read()}"
        before.append(line.rstrip("\n"))
        if line.startswith(ready):
            break
    deadline = time.monotonic() + 15
    while url is not None:  # the line is printed as the server starts: wait until it answers
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, before, err.splitlines()


def test_ctrl_c_stops_sandbox_run_and_serve_with_exit_0_and_one_line(world):
    cfg = str(world.config_path)
    port = _free_port()
    code, _, after = _interrupt_after(_process(["sandbox", "--port", str(port)]), "serving the simulators",
                                      f"http://127.0.0.1:{port}/_sandbox/clock")
    assert (code, after) == (0, ["sandbox stopped cleanly (the simulators' state is gone)"])

    port = _free_port()
    code, _, after = _interrupt_after(_process(["-c", cfg, "serve", "--port", str(port)]), "serving on",
                                      f"http://127.0.0.1:{port}/healthz")
    assert code == 0 and after == ["stopped cleanly"], after

    code, _, after = _interrupt_after(_process(["-c", cfg, "run"]), "running")
    assert code == 0 and after[-1].startswith("stopped cleanly after "), after
    assert not [line for line in after if "SIGINT" in line or "Traceback" in line or "error" in line], after


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_on_another_port_advertises_that_port_when_no_public_url_is_configured(world):
    port = _free_port()
    code, before, _ = _interrupt_after(_process(["-c", str(world.config_path), "serve", "--port", str(port)]),
                                       "serving on", f"http://127.0.0.1:{port}/healthz")
    assert code == 0 and f"(public URL http://127.0.0.1:{port})" in before[-1], before


# --------------------------------------------------------------------------- the demo's closing lines


def test_a_piped_demo_prints_progress_and_closing_commands_that_work_as_printed(tmp_path, monkeypatch):
    import os
    import shlex
    import subprocess
    import sys

    for name in ("FULFILHUB_DEMO_SHOPIFY_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = run(["demo", "--orders", "8", "--days", "1", "--settle-days", "1", "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()  # stderr is not a terminal here: lines, not a bar
    assert progress[0].startswith("simulating 2 days") and progress[-1].startswith("simulated 2 of 2 days"), progress
    commands = [line.split(":", 1)[1].strip() for line in result.stdout.splitlines()
                if line.startswith(("one notice:", "look at one:", "or all:", "the KPIs:", "who got the recalled lot:"))]
    assert len(commands) == 5, result.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("FULFILHUB_")}  # no credential, any folder
    done = subprocess.run(shlex.split(commands[1]), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (commands[1], done.stderr)  # the program as printed starts (a real process)
    for command in commands:  # and each command's arguments work (in this process: faster)
        words = shlex.split(command)
        assert words[:3] == [sys.executable, "-m", "fulfilhub"], words  # pytest is not `fulfilhub`
        assert run(words[3:]).exit_code == 0, command
    assert (tmp_path / "ws" / "report.html").is_file()


def test_the_demo_names_fulfilhub_as_it_was_started(tmp_path, monkeypatch):
    import sys

    from fulfilhub.cli.sandbox_and_demo import invocation

    script = tmp_path / ".venv" / "bin" / "fulfilhub"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/fulfilhub", "demo"])
    assert invocation() == str(script)  # started by path: that path, from any folder
    monkeypatch.setenv("PATH", str(script.parent))
    monkeypatch.setattr(sys, "argv", ["fulfilhub", "demo"])
    assert invocation() == "fulfilhub"  # found on PATH
    monkeypatch.setattr(sys, "argv", ["/x/fulfilhub/__main__.py", "demo"])
    assert invocation().endswith(" -m fulfilhub")


def test_ctrl_c_in_a_command_that_does_one_thing_exits_130_with_one_line(surface, monkeypatch):
    from fulfilhub.store import orders as order_store

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(order_store, "listing", interrupted)
    result = run(["-c", surface["cfg"], "orders", "list"])
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted\n"
    assert result.stdout == ""
