"""The plugin manager: discovery, registration and the typed way to call hooks.

Installed plugins are found through the ``fulfilhub`` entry-point group. The built-in
default plugins are registered after them (pluggy calls later-registered plugins first
unless they are ``trylast``; the defaults mark their fallbacks ``trylast``), so what the
core ships, a user can replace.

Environment:

- ``FULFILHUB_PLUGINS=a,b``: load only these installed plugins (entry-point names).
- ``FULFILHUB_DISABLE_PLUGINS=a,b``: never load these (default plugins included, by name).
- ``FULFILHUB_STRICT_PLUGINS=1``: a plugin that fails to load is fatal, not skipped.
- ``FULFILHUB_TRACE_HOOKS=1``: print every hook call and result to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from . import hookspecs
from .adapters import CarrierType, ChannelType, CompensationPolicy, NotifierType, ReportSection, WarehouseType
from .errors import PluginError
from .sandbox.simulator import Simulator

if TYPE_CHECKING:
    import click

    from .models import CompensationProposal, DelayAssessment, Order, OrderStatus, Promise, Rate, Standing, StockLevel

log = logging.getLogger("fulfilhub.plugins")

ENTRY_POINT_GROUP = "fulfilhub"

DEFAULT_PLUGINS = (
    "fulfilhub.default_plugins.local_warehouse",
    "fulfilhub.default_plugins.decisions",
    "fulfilhub.default_plugins.notifiers",
    "fulfilhub.default_plugins.compensation_rules",
)


@attrs.define
class LoadFailure:
    name: str
    error: str


@attrs.define
class Registry:
    """The types plugins registered, by name."""

    channels: dict[str, ChannelType] = attrs.Factory(dict)
    carriers: dict[str, CarrierType] = attrs.Factory(dict)
    warehouses: dict[str, WarehouseType] = attrs.Factory(dict)
    notifiers: dict[str, NotifierType] = attrs.Factory(dict)
    policies: dict[str, CompensationPolicy] = attrs.Factory(dict)
    simulators: dict[str, Simulator] = attrs.Factory(dict)
    report_sections: dict[str, ReportSection] = attrs.Factory(dict)


#: Each registration hook, with the registry table it fills and the record type it takes.
REGISTRATION_HOOKS: dict[str, tuple[str, type]] = {
    "register_channel_types": ("channels", ChannelType),
    "register_carrier_types": ("carriers", CarrierType),
    "register_warehouse_types": ("warehouses", WarehouseType),
    "register_notifier_types": ("notifiers", NotifierType),
    "register_compensation_policies": ("policies", CompensationPolicy),
    "register_simulators": ("simulators", Simulator),
    "register_report_sections": ("report_sections", ReportSection),
}


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginManager:
    """fulfilhub's pluggy manager with its registries.

    ``PluginManager(load_installed=False)`` gives only the default plugins: what tests
    use, so that whatever happens to be installed does not leak into them.
    """

    def __init__(
        self,
        *,
        load_installed: bool = True,
        load_defaults: bool = True,
        strict: bool | None = None,
        extra: Iterable[object] = (),
    ):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict if strict is not None else os.environ.get("FULFILHUB_STRICT_PLUGINS") == "1"
        self.failures: list[LoadFailure] = []
        self.sources: dict[str, str] = {}  # plugin name -> "dist-name version" or "built-in"
        self._denied = _env_list("FULFILHUB_DISABLE_PLUGINS") or set()
        self._owners: dict[tuple[str, str], str] = {}  # (registry table, item name) -> plugin name
        if load_installed:
            self._load_entry_points()
        for plugin in extra:
            self.register(plugin)
        if load_defaults:
            for modname in DEFAULT_PLUGINS:
                short = modname.rsplit(".", 1)[-1]
                if short in self._denied or modname in self._denied:
                    continue
                self.register(importlib.import_module(modname), name=modname, source="built-in")
        self.check()
        if os.environ.get("FULFILHUB_TRACE_HOOKS") == "1":
            self.enable_trace()
        self.registry = self._collect()

    # -- loading

    def _load_entry_points(self) -> None:
        allowed = _env_list("FULFILHUB_PLUGINS")
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self._denied or (allowed is not None and ep.name not in allowed):
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            dist = getattr(ep, "dist", None)
            source = f"{dist.name} {dist.version}" if dist else ep.value
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the others down
                message = f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
                if self.strict:
                    raise PluginError(message + " (strict mode: FULFILHUB_STRICT_PLUGINS=1)") from exc
                log.error("%s; skipped it (set FULFILHUB_STRICT_PLUGINS=1 to make this fatal)", message)
                self.failures.append(LoadFailure(ep.name, message))
                continue
            self.sources[ep.name] = source

    def register(self, plugin: object, name: str | None = None, source: str = "registered") -> str:
        """Register a plugin object (a module or an instance with hookimpls)."""
        try:
            registered = self.pm.register(plugin, name=name)
        except ValueError as exc:  # pluggy: the same object or name twice
            raise PluginError(f"cannot register plugin {name or plugin!r}: {exc}") from None
        if registered is None:
            raise PluginError(f"plugin {name or plugin!r} is blocked")
        self.sources[registered] = source
        if hasattr(self, "registry"):  # after construction: add what this plugin registers
            try:
                self.check()
                self._collect([plugin])
            except Exception:  # refused as a whole: nothing of it stays registered
                self.pm.unregister(name=registered)
                self.sources.pop(registered, None)
                raise
        return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin and the types it registered."""
        self.pm.unregister(name=name)
        self.sources.pop(name, None)
        for table, item in [key for key, owner in self._owners.items() if owner == name]:
            getattr(self.registry, table).pop(item, None)
            del self._owners[(table, item)]

    def check(self) -> None:
        """Fail loudly on a hookimpl that matches no hookspec (usually a misspelling)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"{exc}. Is the hook name misspelt? See docs/hooks.md for the list.") from exc

    def enable_trace(self, write: Callable[[str], Any] | None = None) -> None:
        """Print every hook call and its result (once, however often it is asked for)."""
        if getattr(self, "_tracing", False):
            return
        self._tracing = True
        out = write or (lambda s: sys.stderr.write(s))

        def before(hook_name: str, impls: list, kwargs: dict) -> None:
            out(f"[hook] {hook_name}({', '.join(f'{k}=' + _short(v) for k, v in kwargs.items())}) "
                f"-> {len(impls)} impl(s)\n")

        def after(outcome: Any, hook_name: str, impls: list, kwargs: dict) -> None:
            exc = outcome.exception
            out(f"[hook] {hook_name} {'raised ' + repr(exc) if exc else '= ' + _short(outcome.get_result())}\n")

        self.pm.add_hookcall_monitoring(before, after)

    # -- registries

    def _collect(self, plugins: Iterable[object] | None = None) -> Registry:
        """Call the registration hooks through pluggy and file what each plugin registers.

        Each plugin's implementation is called through a subset of the hook (pluggy's
        ``subset_hook_caller``) that leaves out the other plugins' plain implementations
        but keeps every ``wrapper=True`` one: tracing sees the calls, wrappers wrap them,
        and every registered item is attributed to the plugin that registered it. With
        ``plugins`` only those are collected, into the existing registry (a later
        :meth:`register`); nothing is filed unless the whole batch is valid.
        """
        if plugins is None:
            self._owners = {}
            registry = Registry()
            targets = [plugin for _, plugin in self.pm.list_name_plugin()]
        else:
            registry = self.registry
            targets = list(plugins)
        staged: list[tuple[str, str, object, str]] = []  # (table, item name, item, owner)
        pending: dict[tuple[str, str], str] = {}
        for hook_name, (table, kind) in REGISTRATION_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            plain = [impl for impl in caller.get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
            # pluggy calls later-registered implementations first; register in registration order
            for impl in reversed(plain):
                if not any(impl.plugin is target for target in targets):
                    continue
                owner = impl.plugin_name
                others = [other.plugin for other in plain if other.plugin is not impl.plugin]
                subset = self.pm.subset_hook_caller(hook_name, remove_plugins=others) if others else caller

                def register(item: Any, _table=table, _kind=kind, _owner=owner, _hook=hook_name) -> None:
                    if not isinstance(item, _kind):
                        raise PluginError(f"plugin {_owner!r} passed {item!r} to {_hook}; expected a {_kind.__name__}")
                    key = (_table, item.name)
                    first = pending.get(key) or self._owners.get(key)
                    if first is not None:
                        raise PluginError(
                            f"{_kind.__name__} {item.name!r} is registered twice, by plugins "
                            f"{first!r} and {_owner!r}; uninstall or disable one of them"
                        )
                    pending[key] = _owner
                    staged.append((_table, item.name, item, _owner))

                subset(register=register)
        for table, name, item, owner in staged:
            getattr(registry, table)[name] = item
            self._owners[(table, name)] = owner
        return registry

    def owner(self, table: str, name: str) -> str | None:
        """The plugin that registered ``name`` in ``table`` (``"carriers"``, ``"simulators"``...)."""
        return self._owners.get((table, name))

    # -- typed hook calls (keyword arguments only)

    @property
    def hook(self) -> pluggy.HookRelay:
        """pluggy's hook relay; the core calls hooks through :class:`Hooks` instead."""
        return self.pm.hook

    def plugin_info(self) -> list[dict[str, Any]]:
        """What ``fulfilhub plugins`` prints: name, source/version and hooks, per plugin."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda item: str(item[0])):
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append({"name": name, "source": self.sources.get(name, ""), "hooks": hooks})
        return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Hooks:
    """The one typed way the core calls hooks: keyword arguments, typed results."""

    def __init__(self, manager: PluginManager):
        self._hook = manager.pm.hook

    def wants(self, name: str) -> bool:
        """Whether any plugin implements hook ``name`` (to skip building its arguments)."""
        return bool(getattr(self._hook, name).get_hookimpls())

    def choose_rate(self, *, order: Order, shipment_id: str, rates: Iterable[Rate], promise: Promise | None = None,
                    arrive_by: Mapping[str, datetime] | None = None, standing: Mapping[str, Standing] | None = None,
                    skipped: Mapping[str, str] | None = None) -> Rate | None:
        return self._hook.choose_rate(order=order, shipment_id=shipment_id, rates=list(rates), promise=promise,
                                      arrive_by=dict(arrive_by or {}), standing=dict(standing or {}),
                                      skipped=dict(skipped or {}))

    def adjust_promise(self, *, order: Order | None, promise: Promise) -> Promise | bool | None:
        return self._hook.adjust_promise(order=order, promise=promise)

    def allocate_order(self, *, order: Order, stock: Iterable[StockLevel]) -> list[tuple[str, str, int]] | None:
        return self._hook.allocate_order(order=order, stock=list(stock))

    def delay_detected(self, *, assessment: DelayAssessment, previous: DelayAssessment | None) -> None:
        self._hook.delay_detected(assessment=assessment, previous=previous)

    def compensation_issued(self, *, order_id: str, compensation: CompensationProposal, code: str, ref: str) -> None:
        self._hook.compensation_issued(order_id=order_id, compensation=compensation, code=code, ref=ref)

    def order_received(self, *, order: Order) -> None:
        self._hook.order_received(order=order)

    def order_status_changed(
        self, *, order_id: str, old: OrderStatus | None, new: OrderStatus, reason: str, source: str
    ) -> None:
        self._hook.order_status_changed(order_id=order_id, old=old, new=new, reason=reason, source=source)

    def shipment_delivered(self, *, order_id: str, shipment_id: str, delivered_at: datetime) -> None:
        self._hook.shipment_delivered(order_id=order_id, shipment_id=shipment_id, delivered_at=delivered_at)

    def register_commands(self, *, cli: click.Group) -> None:
        self._hook.register_commands(cli=cli)
