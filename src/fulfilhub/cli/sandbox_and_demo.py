"""Commands that start things: the sandbox and the demo."""

from __future__ import annotations

import difflib
import json
import logging
import re
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path

import attrs
import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..clock import SimClock, SystemClock
from ..engines import lifecycle
from ..errors import ConfigError
from ..sandbox import SandboxContext, SandboxServer
from .group import EXIT_OK, State, console, err_console, main
from . import quickstart

pass_state = click.make_pass_decorator(State)


@main.command()
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same orders.")
@click.option("--speed", default=0.0, show_default=True,
              help="Scenario clock speed (simulated seconds per real second); 0 = wall clock.")
@click.option("--option", "options", multiple=True, metavar="SIM.KEY=JSON",
              help='A simulator option, e.g. shopify.orders_per_day=500 (repeatable).')
@click.option("--quickstart", "quickstart_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write DIR/fulfilhub.toml pointed at this sandbox, create its store, stock the "
                   "simulated shops' catalog in its warehouses and preload orders; prints the next command.")
@click.option("--preload", default=20, show_default=True, type=click.IntRange(min=0),
              help="With --quickstart: orders each simulated shop already has (placed over the last two days).")
@click.option("--webhooks-to", "webhooks_to", metavar="URL",
              help="Push the simulators' webhooks (signed as their vendors sign) to `fulfilhub serve` at URL, "
                   "every 2 s, each to URL/webhooks/<instance>.")
@pass_state
def sandbox(state: State, port: int, seed: int, speed: float, options: tuple[str, ...], quickstart_dir: Path | None,
            preload: int, webhooks_to: str | None) -> None:
    """Serve every registered simulator on loopback until Ctrl-C.

    Point an instance's base_url at http://127.0.0.1:PORT/<simulator>, or let
    `--quickstart DIR` write a config that does. Faults:
    POST /_sandbox/faults {"kind": "429", "path": "/shopify/", "times": 3}; the clock:
    GET /_sandbox/clock, POST /_sandbox/clock {"seconds": 3600} (scenario clock only).
    """
    sims = state.plugins.registry.simulators
    parsed: dict[str, dict] = {}
    for item in options:
        try:
            key, raw = item.split("=", 1)
            sim, name = key.split(".", 1)
            value = json.loads(raw)
        except ValueError:
            raise click.BadParameter(f"expected SIM.KEY=JSON, got {item!r}", param_hint="--option") from None
        if sim not in sims:
            close = difflib.get_close_matches(sim, sorted(sims), n=1)
            raise click.BadParameter(f"no simulator {sim!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                                     + f" registered: {', '.join(sorted(sims)) or 'none'}", param_hint="--option")
        parsed.setdefault(sim, {})[name] = value
    if webhooks_to is not None and speed:
        raise click.UsageError("--webhooks-to needs the wall clock (no --speed): the server checks each delivery's "
                               "sent time against its own clock")
    if webhooks_to is not None and not webhooks_to.startswith(("http://", "https://")):
        raise click.BadParameter(f"expected the server's URL, like http://127.0.0.1:8080, got {webhooks_to!r}",
                                 param_hint="--webhooks-to")
    workspace = None
    if quickstart_dir is not None:
        workspace = quickstart.prepare(quickstart_dir, sims, parsed, preload=preload, webhooks=webhooks_to is not None)
    elif webhooks_to is not None:
        quickstart.webhook_options(sims, parsed)
    clock = SimClock(speed=speed) if speed else SystemClock()
    try:
        server = SandboxServer(sims, SandboxContext(clock=clock, seed=seed, options=parsed), port=port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                          f"pick another with --port (0: any free port)") from None
    for name in sorted(sims):
        console.print(f"{name}: {server.url_for(name)}")
    if webhooks_to is not None:
        targets = quickstart.webhook_targets(sims, webhooks_to)
        threading.Thread(target=_push_webhooks, args=(server, targets), name="fulfilhub-webhooks", daemon=True).start()
        console.print(f"pushing webhooks to {', '.join(targets.values())} every 2 s", markup=False)
    if workspace is not None:
        config_path = quickstart.finish(workspace, server, state.plugins, webhooks=webhooks_to is not None)
        console.print(f"wrote {config_path}; stocked the shops' catalog, {preload} order(s) waiting in each shop", markup=False)
        console.print("next, in another terminal:", markup=False)
        console.print(quickstart.next_command(config_path, sims, webhooks=webhooks_to is not None), markup=False)
    if not state.quiet:
        err_console.print("serving the simulators; Ctrl-C to stop", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C is how a sandbox is stopped: uvicorn has shut down, then re-raised it
        pass
    if not state.quiet:
        err_console.print("sandbox stopped cleanly (the simulators' state is gone)", markup=False)


def _push_webhooks(server: SandboxServer, targets: dict[str, str]) -> None:
    """Every 2 s, what changed in the simulators goes to the server (refusals are logged)."""
    while True:
        time.sleep(2)
        try:
            counts = server.deliver_webhooks(targets)
        except Exception as exc:  # the sandbox must keep serving whatever the server does
            logging.getLogger("fulfilhub.sandbox").warning("pushing webhooks failed: %s", exc)
            continue
        if any(k != 202 for k in counts):
            logging.getLogger("fulfilhub.sandbox").warning("webhooks pushed, answers by status: %s", counts)


@main.command()
@click.option("--orders", default=300, show_default=True, type=click.IntRange(min=1), help="About how many orders.")
@click.option("--days", default=3, show_default=True, type=click.IntRange(min=1, max=60), help="Simulated days.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same run.")
@click.option("--settle-days", default=5, show_default=True, type=click.IntRange(min=0, max=30),
              help="After the last order, keep simulating (at most this long) until parcels arrive.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep config + SQLite (default: a new temp folder). Must be empty unless --fresh.")
@click.option("--fresh", is_flag=True, help="Empty the --workspace folder first (everything in it is deleted).")
@click.option("--serve", is_flag=True,
              help="Also run `fulfilhub serve` on loopback; the simulators push their webhooks to it.")
@click.option("--channel", "channels", multiple=True, metavar="NAME",
              help="Run only this channel simulator (repeat for several); default: every installed one.")
@click.option("--carrier", "carriers", multiple=True, metavar="NAME",
              help="Only this carrier simulator takes part (repeat for several; default: every installed one).")
@click.option("--warehouse", "warehouses", multiple=True, metavar="NAME",
              help="A 3PL warehouse simulator (e.g. shipbob) stands in for the two local warehouses: it holds the "
                   "stock and ships with its own carrier (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@pass_state
def demo(state: State, orders: int, days: int, seed: int, settle_days: int, workspace: Path | None, fresh: bool,
         serve: bool, channels: tuple[str, ...], carriers: tuple[str, ...], warehouses: tuple[str, ...],
         as_json: bool) -> None:
    """Simulate a few days of a shop, two warehouses and a courier, over real HTTP on loopback."""
    from ..scenarios import run_demo

    if channels:
        known = sorted(name for name, sim in state.plugins.registry.simulators.items()
                       if sim.demo is not None and sim.demo.kind == "channels")
        unknown = sorted(set(channels) - set(known))
        if unknown:
            raise click.UsageError(f"--channel {', '.join(unknown)}: no such channel simulator is installed; "
                                   f"the installed ones are: {', '.join(known) or 'none'}")
    if warehouses:
        known = sorted(name for name, sim in state.plugins.registry.simulators.items()
                       if sim.demo is not None and sim.demo.kind == "warehouses")
        unknown = sorted(set(warehouses) - set(known))
        if unknown:
            raise click.UsageError(f"--warehouse {', '.join(unknown)}: no such warehouse simulator is installed; "
                                   f"the installed ones are: {', '.join(known) or 'none'}")

    if workspace is not None and workspace.exists() and any(workspace.iterdir()):
        if not fresh:
            raise click.UsageError(f"workspace {workspace} is not empty (a run there would mix with the earlier one); "
                                   f"pass --fresh to empty it first, or name another folder")
        foreign = sorted(p.name for p in workspace.iterdir() if not _DEMO_FILES.fullmatch(p.name))
        if foreign:
            raise click.UsageError(f"--fresh empties only a demo's workspace; {workspace} also holds "
                                   f"{', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}: name another folder")
        _empty(workspace)

    http_log = logging.getLogger("fulfilhub.http")
    level = http_log.level
    if not state.verbose:  # the demo injects faults on purpose; its table counts the retries
        http_log.setLevel(logging.ERROR)
    started = time.monotonic()
    try:
        result = _run_with_progress(run_demo, days + settle_days, orders=orders, days=days, seed=seed,
                                    settle_days=settle_days, workspace=workspace, plugins=state.plugins, serve=serve,
                                    channels=list(channels) or None, carriers=carriers or None,
                                    warehouses=list(warehouses) or None, quiet=as_json or state.quiet)
    finally:
        http_log.setLevel(level)
    elapsed = time.monotonic() - started
    _print_demo(result, elapsed, days, seed, as_json)


#: What a demo writes in its workspace: the config and the SQLite store (with its journal files).
_DEMO_FILES = re.compile(r"fulfilhub\.toml|fulfilhub\.sqlite(-wal|-shm|-journal)?|notices\.jsonl")


def _empty(folder: Path) -> None:
    """Delete everything inside ``folder`` (not the folder itself)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _run_with_progress(run_demo, total_days: int, *, quiet: bool, **kwargs):
    if not quiet and not err_console.is_terminal:  # a pipe or a log file: a line per simulated day, not a bar
        err_console.print(f"simulating {total_days} days of orders and parcels ...", markup=False)
        return run_demo(**kwargs, on_step=_ProgressLines(total_days * 24))
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("hours"),
                  TimeElapsedColumn(), console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("demo", total=total_days * 24)
        return run_demo(**kwargs, on_step=lambda done, total: bar.update(task, completed=done))


class _ProgressLines:
    """``on_step`` for a demo whose stderr is not a terminal: one plain line per simulated day."""

    def __init__(self, total_hours: int):
        self.total_hours = total_hours
        self.started = time.monotonic()
        self.day = 0

    def __call__(self, done: int, total: int) -> None:
        day = done // 24
        if day > self.day or (done >= total and self.day * 24 < done):
            self.day = day
            err_console.print(f"simulated {done / 24:g} of {total / 24:g} days "
                              f"({time.monotonic() - self.started:.1f} s)", markup=False)


def invocation() -> str:
    """How to run this same fulfilhub from a shell: ``fulfilhub`` when that is what the
    user typed (found on PATH), its path when started by path (``.venv/bin/fulfilhub``),
    ``python -m fulfilhub`` with this interpreter otherwise."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "fulfilhub":
        if len(argv0.parts) == 1 and shutil.which("fulfilhub"):
            return "fulfilhub"
        return shlex.quote(str(argv0.resolve()))
    return f"{shlex.quote(sys.executable)} -m fulfilhub"


def _print_delays(d: dict) -> None:
    """The disruption and how well delays were found (the run's ground truth)."""
    if not d:
        return
    console.print(f"disruption: {d['disruption']}", markup=False)
    if not d.get("promised"):
        console.print("delays: no order had a promise, so none could be found late", markup=False)
        return
    if not d.get("late"):
        console.print(f"delays: none of the {d['promised']} promised orders was delivered late", markup=False)
        return
    share, precision, lead = d["flagged_early_share"], d["precision"], d["median_lead_days"]
    console.print(f"delays: {d['flagged_early']} of {d['late']} late deliveries flagged before their deliver-by "
                  f"({share:.0%}); precision of the flags {precision:.2f} ({d['flagged_early']} of {d['flagged']} "
                  f"flagged orders were late)"
                  + (f", {d['precision_late']:.2f} for the {d['called_late']} found late rather than at risk"
                     if d.get("precision_late") is not None else "")
                  + f"; median warning {lead:.1f} days ahead" if precision is not None and lead
                  is not None else f"delays: {d['flagged_early']} of {d['late']} late deliveries flagged before their "
                  f"deliver-by", markup=False)


def _print_demo(result, elapsed: float, days: int, seed: int, as_json: bool) -> None:
    if as_json:
        skip = ("workspace", "config_path", "simulated", "settle")
        click.echo(json.dumps({**{k: v for k, v in attrs.asdict(result).items() if k not in skip},
                               "workspace": str(result.workspace), "config": str(result.config_path),
                               "simulated_hours": result.simulated.total_seconds() / 3600, "seconds": round(elapsed, 1)},
                              default=str, indent=2))
        sys.exit(EXIT_OK)
    c = result.counts
    open_ = sum(n for s, n in c.items() if s not in lifecycle.FINAL)
    hours = result.simulated.total_seconds() / 3600
    table = Table("what happened", "count", title=f"{hours / 24:.1f} simulated days ({days} of orders, then settling) "
                                                   f"in {elapsed:.1f} s, seed {seed}")
    for label, value in [
        ("orders pulled from the shop", result.pulled),
        ("quarantined (malformed payloads)", result.quarantined),
        ("on hold for a person", c.get("on_hold", 0)),
        ("backordered", c.get("backordered", 0)),
        ("allocated / picking / packed", c.get("allocated", 0) + c.get("picking", 0) + c.get("packed", 0)),
        ("split across warehouses", result.split_orders),
        ("shipments", result.shipments),
        *[(f"labels by {name} (delivered, cost)", f"{n['labels']} ({n['delivered']}, {n['cost']})")
          for name, n in result.carriers.items()],
        *[("mainland order, label bought elsewhere", f"{p['tracking_code']} ({p['courier']}) followed by "
           f"{p['carrier']}: {p['status']}, {p['scans']} scans") for p in result.mainland.get("parcels", [])],
        *[(f"shipped by {name} with its own labels (delivered)",
           f"{n['shipped']} ({n['delivered']}): " + ", ".join(f"{c} {k}" for c, k in n["couriers"].items())
           + (f"; e.g. {n['sample']}" if n["sample"] else ""))
          for name, n in result.third_party.items()],
        ("shipped, on the way", sum(c.get(s, 0) for s in ("shipped", "in_transit", "out_for_delivery", "partially_shipped", "partially_delivered"))),
        ("delivered", c.get("delivered", 0)),
        ("exception (weather, lost, failed attempt)", c.get("exception", 0)),
        ("cancelled by the shop", c.get("cancelled", 0)),
        ("still open", open_),
        ("carrier scans stored", result.scans),
        ("effects delivered / pending / failed", f"{result.effects.get('done', 0)} / {result.effects.get('pending', 0)} / {result.effects.get('failed', 0)}"),
        ("faults injected (429, 503) and survived", result.faults_injected),
        *([("webhooks pushed (answers by HTTP status)", ", ".join(f"{k}: {v}" for k, v in result.webhooks.items())),
           ("webhooks processed / ignored / failed / pending",
            " / ".join(str(result.inbox.get(s, 0)) for s in ("processed", "ignored", "failed", "pending")))]
          if result.webhooks else []),
    ]:
        table.add_row(label, str(value))
    console.print(table)
    _print_delays(result.delays)
    for line in choice_lines(result.choice):
        console.print(line, markup=False)
    from ..scenarios.demo import summary_lines  # what customers were told and given

    for line in summary_lines(result.notices):
        console.print(line, markup=False)
    from ..scenarios.lots import summary_lines as after_sale_lines

    for line in after_sale_lines(result.after_sale):
        console.print(line, markup=False)
    for line in closing_lines(result):
        console.print(line, markup=False)


def choice_lines(chose: dict) -> list[str]:
    """The carrier choice for people: what it paid and kept against the two plain policies, and the outage."""
    if not chose or not chose.get("shipments"):
        return []
    p = chose["policies"]

    def cost(name: str) -> str:
        return " + ".join(f"{v} {cur}" for cur, v in p[name]["cost"].items()) or "0"

    lines = [f"carrier choice: {chose['shipments']} shipments; chosen {cost('chosen')} keeping "
             f"{p['chosen']['promises_kept']} promises by the arrival model; always-cheapest {cost('always_cheapest')} "
             f"keeping {p['always_cheapest']['promises_kept']}; always-fastest {cost('always_fastest')} keeping "
             f"{p['always_fastest']['promises_kept']}; promises met on delivery {chose['promises_met']} of {chose['promised']}"]
    o = chose.get("outage")
    if o:
        lines.append(f"outage: {o['carrier']} down {o['from'][:16]} to {o['until'][:16]}: {o['skipped_during']} of "
                     f"{o['choices_during']} choices skipped it (chosen: "
                     f"{', '.join(f'{k} {v}' for k, v in o['chosen_during'].items()) or 'none'}); "
                     f"{o['purchases_failed_and_chosen_again']} label purchases failed on it and were chosen again")
    return lines


def closing_lines(result) -> list[str]:
    """The demo's last lines: commands that work as printed, in any folder, with no
    credential exported (they only read the workspace's store)."""
    run = f"{invocation()} -c {shlex.quote(str(result.config_path))}"
    lines = [f"workspace: {result.workspace} (the commands below read it; they need no credentials)",
             f"notices as customers saw them: {result.workspace / 'notices.jsonl'}"]
    if (result.notices or {}).get("notices_total"):
        lines.append(f"one notice:  {run} notices show 1")
    if result.sample_order:
        lines.append(f"look at one: {run} orders show {shlex.quote(result.sample_order)}")
    if result.after_sale:
        lines.append(f"who got the recalled lot: {run} trace {result.after_sale['recalled_lot']['lot']}")
    lines += [f"or all:      {run} orders list",
              f"the KPIs:    {run} report --html {shlex.quote(str(result.workspace / 'report.html'))}"]
    return lines
