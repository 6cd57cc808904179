"""One world builder: clock, sandbox, workspace config, store, runtime, scheduler.

Nothing in here names a plugin. The channels and carriers of the config are the
registered simulators that describe a part (:class:`~fulfilhub.sandbox.DemoPart`):
which config section and type they stand in for, the instance settings they need and
the credentials they check. The warehouses are ``local`` ones, and the 3PL simulators
named (``fulfilhub demo --warehouse shipbob``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from .. import config as config_mod
from ..clock import SimClock
from ..errors import PluginError
from ..http import RetryPolicy
from ..plugins import PluginManager
from ..runner import jobs
from ..runner.runtime import Runtime
from ..runner.scheduler import Scheduler
from ..sandbox import DemoPart, Disruption, DisruptionPlan, SandboxContext, SandboxServer, Simulator
from ..store import Store
from ..store import orders as order_store
from ..store import shipments as shipment_store
from ..store import stock as stock_store


@attrs.frozen(kw_only=True)
class LocalWarehouse:
    """A ``local`` warehouse of the world: its name, address, handling minutes and the
    working calendar its promises are made with (``[promise.warehouses.NAME]``)."""

    name: str
    address: Mapping[str, str]
    pick_minutes: int = 60
    pack_minutes: int = 120
    timezone: str = "UTC"
    holidays: str = ""
    working_days: str = "Mon-Sun"  # the simulated warehouses pick and pack every day


#: Two warehouses, one on each coast (the demo's; the slice tests change the minutes).
WAREHOUSES = (
    LocalWarehouse(
        name="east",
        pick_minutes=90,
        pack_minutes=180,
        timezone="America/New_York",
        holidays="US-NJ",
        address={"name": "East DC", "line1": "200 Harbor Way", "city": "Newark", "province": "NJ",
                 "postal_code": "07114", "country": "US"},
    ),
    LocalWarehouse(
        name="west",
        pick_minutes=60,
        pack_minutes=150,
        timezone="America/Los_Angeles",
        holidays="US-NV",
        address={"name": "West DC", "line1": "55 Logistics Pkwy", "city": "Reno", "province": "NV",
                 "postal_code": "89502", "country": "US"},
    ),
)

#: What a world needs at least, by config section.
NEEDED_KINDS = ("channels", "carriers")


@attrs.define
class World:
    """A running world. ``close()`` (or ``with``) stops the runtime, store and sandbox."""

    clock: SimClock
    sandbox: SandboxServer
    context: SandboxContext
    plugins: PluginManager
    config: config_mod.Config
    config_path: Path
    store: Store
    rt: Runtime
    #: simulator name -> (config kind, instance name), for the simulators in the config.
    parts: dict[str, tuple[str, str]]
    #: stock_out disruptions under way: the units each took off the shelf, by (warehouse, sku).
    stocked_out: dict[Disruption, dict[tuple[str, str], int] | None] = attrs.Factory(dict)  # None: put back

    @property
    def disruptions(self) -> DisruptionPlan:
        """The disruptions scripted for this world (every simulator reads the same plan)."""
        return self.context.disruptions

    def apply_stock_disruptions(self) -> list[str]:
        """Start and end the ``stock_out`` disruptions the clock has reached: at the start the
        SKUs' available stock goes to zero (what is reserved stays) with the end as restock
        date; at the end the units come back. Returns what it did, for people."""
        now, done = self.clock.now(), []
        for disruption in self.disruptions.all():
            if disruption.kind != "stock_out":
                continue
            if disruption.active(now) and disruption not in self.stocked_out:
                where = [disruption.warehouse] if disruption.warehouse else sorted(self.config.warehouses)
                taken: dict[tuple[str, str], int] = {}
                with self.store.read() as conn:
                    levels = stock_store.levels(conn, warehouses=where, skus=disruption.skus)
                with self.store.transaction() as tx:
                    for level in levels:
                        taken[(level.warehouse, level.sku)] = level.on_hand - level.reserved
                        stock_store.set_level(tx, level.warehouse, level.sku, level.reserved, now,
                                              restock_on=disruption.end.date())
                self.stocked_out[disruption] = taken
                done.append(f"stock out of {', '.join(disruption.skus)} in {', '.join(where)} until {disruption.end:%Y-%m-%d %H:%M}")
            elif now >= disruption.end and disruption in self.stocked_out and self.stocked_out[disruption] is not None:
                with self.store.transaction() as tx:
                    for (warehouse, sku), units in (self.stocked_out[disruption] or {}).items():
                        stock_store.restock(tx, warehouse, {sku: max(0, units)}, now)
                self.stocked_out[disruption] = None
                done.append(f"{', '.join(disruption.skus)} back in stock")
        return done

    def simulators(self, kind: str) -> dict[str, Any]:
        """The built simulators standing in for ``kind`` (``"channels"``...), by name."""
        return {name: self.sandbox.simulators[name] for name, (k, _) in sorted(self.parts.items()) if k == kind}

    def scheduler(
        self, schedule: Mapping[str, timedelta], on_report: Callable[[jobs.JobReport], None] | None = None
    ) -> Scheduler:
        """The scheduler ``fulfilhub run`` uses, on this world's runtime."""
        return Scheduler(self.rt, schedule, on_report=on_report)

    def deliver_webhooks(self, server_url: str) -> dict[int | str, int]:
        """Send what the simulators would have pushed since last asked to ``fulfilhub
        serve`` at ``server_url`` (each to ``/webhooks/<its instance>``); answers by status."""
        targets = {name: f"{server_url.rstrip('/')}/webhooks/{instance}" for name, (_, instance) in self.parts.items()}
        return self.sandbox.deliver_webhooks(targets)

    def stock(self, warehouse: str, sku: str, on_hand: int, *, safety: int = 0, unit_weight_g: int = 300) -> None:
        with self.store.transaction() as tx:
            stock_store.set_level(
                tx, warehouse, sku, on_hand, self.clock.now(), safety_stock=safety, unit_weight_g=unit_weight_g
            )

    def sync(self, hours: float = 0) -> jobs.JobReport:
        """Move the clock ``hours`` on, then run every job once (``fulfilhub sync``)."""
        if hours:
            self.clock.advance(timedelta(hours=hours))
        return jobs.summarize(jobs.sync_once(self.rt))

    def order(self, order_id: str):
        with self.store.read() as conn:
            return order_store.load(conn, order_id)

    def shipments(self, order_id: str):
        with self.store.read() as conn:
            return shipment_store.of_order(conn, order_id)

    def events(self, order_id: str):
        with self.store.read() as conn:
            return order_store.events_of(conn, order_id)

    def close(self) -> None:
        try:
            self.rt.close()
        finally:
            try:
                self.store.close()
            finally:
                self.sandbox.stop()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_world(
    plugins: PluginManager,
    workspace: Path,
    *,
    start: datetime,
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    instances: Mapping[str, str] | None = None,
    warehouses: Iterable[LocalWarehouse] = WAREHOUSES,
    extra_config: str | Callable[[SandboxServer], str] = "",
    store_url: str = "sqlite:///fulfilhub.sqlite",
    env: Mapping[str, str] | None = None,
    env_names: Mapping[str, str] | None = None,
    policy: RetryPolicy | None = None,
    wrap_app: Callable[[Any], Any] | None = None,
    webhooks: bool = False,
    channels: Iterable[str] | None = None,
    carriers: Iterable[str] | None = None,
    third_party: Iterable[str] = (),
) -> World:
    """Start a world in ``workspace`` (created if missing).

    ``options`` are the simulator options by simulator name; a simulator left out runs
    with the options its :class:`~fulfilhub.sandbox.DemoPart` names. Each credential a
    simulator checks is added to its options and written as ``${ENV}`` in the config.
    ``settings`` add instance settings, ``instances`` rename instances (both by
    simulator name). ``extra_config`` is appended to the config (given the sandbox, to
    point at its URLs). ``env`` holds the credentials' values by variable name (None:
    ``os.environ``, with each simulator's demo value set where unset); ``env_names``
    renames a simulator's variables. ``policy`` overrides every adapter's retries.
    ``wrap_app`` wraps the sandbox's ASGI app before it starts (a benchmark's counters).
    ``webhooks`` adds each part's webhook secrets (:attr:`DemoPart.webhooks`) to the
    config and the simulators, so that :meth:`World.deliver_webhooks` can send them.
    ``channels`` names the channel simulators to run (None: every registered one).
    ``carriers`` names the carrier simulators that take part (None: every one), besides
    those of ``tracks_only`` types, which always do; an unknown name is a PluginError
    naming the ones there are. ``third_party`` names the warehouse simulators (3PLs) that
    take part beside the ``local`` ``warehouses`` (none unless named).
    """
    workspace.mkdir(parents=True, exist_ok=True)
    options, settings, instances, env_names = options or {}, settings or {}, instances or {}, env_names or {}
    registered = plugins.registry.simulators
    if channels is not None:
        chosen = set(channels)
        registered = {name: sim for name, sim in registered.items()
                      if name in chosen or sim.demo is None or sim.demo.kind != "channels"}
    parts = demo_parts(registered)
    if carriers is not None:  # a carrier that only tracks sells no label and stays (it follows outside labels)
        tracking = [name for name, part in parts.items() if part.kind == "carriers"
                    and getattr(plugins.registry.carriers.get(part.type), "tracks_only", False)]
        parts = choose_carriers(parts, [*carriers, *(name for name in tracking if name not in carriers)])
    parts = choose_warehouses(parts, third_party)
    if webhooks:
        parts = {name: attrs.evolve(part, secrets={**part.secrets, **part.webhooks}) for name, part in parts.items()}
    if env is None:
        for part in parts.values():
            for secret in part.secrets.values():
                os.environ.setdefault(env_names.get(secret.env, secret.env), secret.value)
        values: Mapping[str, str] = os.environ
    else:
        values = env
    sim_options: dict[str, dict[str, Any]] = {}
    for name, sim in registered.items():
        part = parts.get(name, sim.demo)
        given = dict(options[name]) if name in options else dict(part.options if part else {})
        if part:
            for secret in part.secrets.values():
                variable = env_names.get(secret.env, secret.env)
                given.setdefault(secret.option, values.get(variable, secret.value))
        sim_options[name] = given
    clock = SimClock(start)
    context = SandboxContext(clock=clock, seed=seed, options=sim_options)
    sandbox = SandboxServer(registered, context)
    if wrap_app is not None:
        sandbox.app = wrap_app(sandbox.app)
    sandbox.start()
    try:
        config_path = workspace / "fulfilhub.toml"
        extra = extra_config(sandbox) if callable(extra_config) else extra_config
        config_path.write_text(
            config_text(sandbox, parts, settings, instances, env_names, warehouses, extra, store_url),
            encoding="utf-8",
        )
        config = config_mod.load(config_path, env=env)
        store = Store.open(config.store_url, migrate=True)
    except BaseException:
        sandbox.stop()
        raise
    try:
        rt = Runtime(config, store, plugins, clock=clock, policy=policy)
    except BaseException:
        store.close()
        sandbox.stop()
        raise
    placed = {name: (part.kind, instances.get(name, part.instance)) for name, part in parts.items()}
    return World(clock, sandbox, context, plugins, config, config_path, store, rt, placed)


def demo_parts(registered: Mapping[str, Simulator]) -> dict[str, DemoPart]:
    """The parts the registered simulators describe, by simulator name; PluginError
    naming the kinds missing."""
    parts = {name: sim.demo for name, sim in sorted(registered.items()) if sim.demo is not None}
    have = {part.kind for part in parts.values()}
    missing = [kind for kind in NEEDED_KINDS if kind not in have]
    if missing:
        known = ", ".join(f"{name} ({part.kind})" for name, part in parts.items()) or "none"
        raise PluginError(
            f"a scenario needs a simulator for each of {', '.join(NEEDED_KINDS)}; missing: {', '.join(missing)} "
            f"(registered simulators with a demo part: {known}). Install plugins that bring them, e.g. "
            "`pip install -e plugins/fulfilhub-shopify -e plugins/fulfilhub-easypost`"
        )
    return parts


def choose_carriers(parts: Mapping[str, DemoPart], names: Iterable[str]) -> dict[str, DemoPart]:
    """``parts`` with only the carrier simulators named (the other kinds all stay)."""
    chosen, known = set(names), sorted(name for name, part in parts.items() if part.kind == "carriers")
    unknown = sorted(chosen - set(known))
    if unknown or not chosen:
        raise PluginError(f"no carrier simulator named {', '.join(unknown) or '(none given)'}; "
                          f"the installed ones: {', '.join(known) or 'none'}")
    return {name: part for name, part in parts.items() if part.kind != "carriers" or name in chosen}


def choose_warehouses(parts: Mapping[str, DemoPart], names: Iterable[str]) -> dict[str, DemoPart]:
    """``parts`` with only the warehouse simulators named (none by default: the world's
    warehouses are ``local`` ones unless a 3PL is asked for)."""
    chosen, known = set(names), sorted(name for name, part in parts.items() if part.kind == "warehouses")
    unknown = sorted(chosen - set(known))
    if unknown:
        raise PluginError(f"no warehouse simulator named {', '.join(unknown)}; "
                          f"the installed ones: {', '.join(known) or 'none'}")
    return {name: part for name, part in parts.items() if part.kind != "warehouses" or name in chosen}


def config_text(
    sandbox: SandboxServer,
    parts: Mapping[str, DemoPart],
    settings: Mapping[str, Mapping[str, Any]],
    instances: Mapping[str, str],
    env_names: Mapping[str, str],
    warehouses: Iterable[LocalWarehouse],
    extra: str,
    store_url: str,
) -> str:
    """The ``fulfilhub.toml`` of a world: the simulators' parts pointed at ``sandbox``, the
    ``local`` warehouses and the store (also what ``fulfilhub sandbox --quickstart`` writes)."""
    out = [
        "# Written by a fulfilhub scenario (`fulfilhub demo` or the slice tests). The sandbox it",
        "# points at is gone when the scenario ends; the store stays for `fulfilhub orders ...`.",
        "[store]",
        f"url = {_toml(store_url)}",
        "",
    ]
    for name, part in parts.items():
        out.append(f"[{part.kind}.{instances.get(name, part.instance)}]")
        values: dict[str, Any] = {"type": part.type, **part.settings, "base_url": sandbox.url_for(name)}
        for setting, secret in part.secrets.items():
            values[setting] = f"${{{env_names.get(secret.env, secret.env)}}}"
        values.update(settings.get(name, {}))
        out += [f"{key} = {_toml(value)}" for key, value in values.items() if not isinstance(value, Mapping)]
        for key, table in values.items():  # a table setting (a warehouse's address) after the plain ones
            if isinstance(table, Mapping):
                out.append(f"[{part.kind}.{instances.get(name, part.instance)}.{key}]")
                out += [f"{k} = {_toml(v)}" for k, v in table.items()]
        out.append("")
    for wh in warehouses:
        out += [f"[warehouses.{wh.name}]", 'type = "local"', f"pick_minutes = {wh.pick_minutes}",
                f"pack_minutes = {wh.pack_minutes}", f"[warehouses.{wh.name}.address]"]
        out += [f"{key} = {_toml(value)}" for key, value in wh.address.items()]
        out += ["", f"[promise.warehouses.{wh.name}]", f"timezone = {_toml(wh.timezone)}",
                f"working_days = {_toml(wh.working_days)}"]
        out += [f"holidays = {_toml(wh.holidays)}"] if wh.holidays else []
        out.append("")
    if extra:
        out.append(extra.strip() + "\n")
    return "\n".join(out)


def _toml(value: Any) -> str:
    """A TOML value for a string, number or boolean, or a list of them (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"a scenario writes only strings, numbers and booleans (or lists of them) into the config, "
                    f"not {value!r}")
