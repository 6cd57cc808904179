"""The runtime: a loaded config, an open store, the plugins, and the configured adapters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..adapters import Carrier, Channel, InstanceContext, Notifier, Warehouse
from ..clock import Clock, SystemClock
from ..config import Config, InstanceConfig
from ..engines import choice, compensation, notify
from ..engines.promise_cache import PromiseCache
from ..errors import ConfigError
from ..http import CircuitBreaker, RetryPolicy, client_factory
from ..models import Address
from ..plugins import Hooks, PluginManager
from ..store import Store, ports
from ..store import breakers as breaker_store

if TYPE_CHECKING:
    from ..engines.promise import PromiseEngine
    from ..models import Shipment


class Runtime:
    """Everything a job needs. Adapters are built on first use, once per instance.

    ``policy`` overrides the HTTP retry policy of every adapter (tests use fast retries).
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        plugins: PluginManager,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.config = config
        self.store = store
        self.plugins = plugins
        self.hooks = Hooks(plugins)
        self.clock = clock or SystemClock()
        self.policy = policy
        #: How often each job runs (the config's, or the Scheduler's that drives this runtime).
        self.schedule: dict[str, timedelta] = dict(config.schedule)
        #: When this runtime last polled each ``(kind, instance)`` (the poll back-off reads it).
        self.polled: dict[tuple[str, str], datetime] = {}
        #: Each instance's circuit breaker (see fulfilhub.http.CircuitBreaker), by (kind, name).
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}
        #: An HTTP transport per ``(kind, name)`` for the instance's clients, or None for
        #: httpx's own (the procrastinate worker's shared rate limits set this).
        self.transports: Callable[[str, str], Any] | None = None
        self._adapters: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        #: The promise engine and the transit it learned (see :mod:`fulfilhub.engines.promise_cache`).
        self.promises = PromiseCache(self._build_promise_engine, self._learn, now=lambda: self.clock.now())
        self.check()
        path = str(config.path)
        notify.check_routes(config.notifiers, path)
        #: ``[notices]`` and ``[compensation]``, typed once when the runtime starts (a
        #: mistake is a ConfigError naming the key and the file, before any job runs).
        self.notice_settings: notify.Settings = notify.settings(config.notices, path=path)
        self.compensation_settings: compensation.Settings = compensation.settings(config.compensation, path=path)
        #: ``[carrier_choice]``: the scorecard floors and penalty the carrier choice applies.
        self.choice_settings: choice.Settings = choice.settings(config.carrier_choice, path=path)

    def check(self) -> None:
        """Every configured instance names a registered type (ConfigError if not)."""
        registry = self.plugins.registry
        tables = {"channels": registry.channels, "carriers": registry.carriers, "warehouses": registry.warehouses,
                  "notifiers": registry.notifiers}
        for kind, types in tables.items():
            for inst in getattr(self.config, kind).values():
                if inst.type not in types:
                    known = ", ".join(sorted(types)) or "none installed"
                    raise ConfigError(
                        f"unknown {kind[:-1]} type {inst.type!r}; registered types: {known} "
                        f"(is the plugin installed? see `fulfilhub plugins`)",
                        path=str(self.config.path),
                        key=f"{kind}.{inst.name}.type",
                    )
        if not self.config.warehouses:
            raise ConfigError("no warehouse configured; add at least one [warehouses.NAME]", path=str(self.config.path))

    def build_all(self) -> None:
        """Build every configured adapter now, so that a bad setting fails before any work.

        Raises the first ConfigError an adapter's factory raises (no I/O is done).
        """
        for kind in ("channels", "carriers", "warehouses", "notifiers"):
            for name in getattr(self.config, kind):
                self._adapter(kind, name)
        for warehouse in self.config.warehouses:
            self.ship_from(warehouse)

    def context(self, inst: InstanceConfig) -> InstanceContext:
        """The context an instance's factory gets: its settings checked against its type's
        declared ones (an unknown key is a ConfigError), and the narrow ports to the store
        (its own state; the stock table for warehouses)."""
        registered = getattr(self.plugins.registry, inst.kind)[inst.type]
        breaker = self.breakers.setdefault((inst.kind, inst.name), CircuitBreaker(inst.name, clock=self.clock))
        context = InstanceContext(
            name=inst.name,
            settings=inst.settings,
            clock=self.clock,
            http=client_factory(inst.name, clock=self.clock, secrets=inst.secrets, policy=self.policy,
                                breaker=breaker,
                                transport=self.transports(inst.kind, inst.name) if self.transports else None),
            secrets=inst.secrets,
            kind=inst.kind,
            schema=registered.settings,
            state=ports.StatePort(self.store, ports.namespace(inst.kind, inst.name), self.clock),
            stock=ports.StockPort(self.store, inst.name) if inst.kind == "warehouses" else None,
        )
        context.check_settings()
        return context

    def _adapter(self, kind: str, name: str) -> Any:
        with self._lock:
            key = (kind, name)
            if key not in self._adapters:
                instances: Mapping[str, InstanceConfig] = getattr(self.config, kind)
                if name not in instances:
                    raise ConfigError(f"no {kind[:-1]} instance named {name!r}", path=str(self.config.path), key=kind)
                inst = instances[name]
                registered = getattr(self.plugins.registry, kind)[inst.type]
                try:
                    self._adapters[key] = registered.factory(self.context(inst))
                except ConfigError as exc:  # a plugin knows the key; we know the file
                    if exc.path is not None:
                        raise
                    raise ConfigError(exc.detail, path=str(self.config.path), key=exc.key) from None
            return self._adapters[key]

    def save_breakers(self, tx: Any) -> None:
        """Store the breakers that changed since last saved (in the caller's transaction)."""
        changed = {}
        for (kind, name), breaker in list(self.breakers.items()):
            if breaker.changed:
                breaker.changed = False
                changed[ports.namespace(kind, name)] = breaker.snapshot()
        if changed:
            breaker_store.save(tx, changed, self.clock.now())

    def channel(self, name: str) -> Channel:
        return self._adapter("channels", name)

    def carrier(self, name: str) -> Carrier:
        return self._adapter("carriers", name)

    def warehouse(self, name: str) -> Warehouse:
        return self._adapter("warehouses", name)

    def notifier(self, name: str) -> Notifier:
        return self._adapter("notifiers", name)

    def warehouses_that(self, flag: str) -> list[str]:
        """The configured warehouses whose registered type sets ``flag`` (``"ships_own_labels"``,
        ``"keeps_stock"``: see :class:`fulfilhub.WarehouseType`)."""
        types = self.plugins.registry.warehouses
        return [name for name, inst in self.config.warehouses.items() if getattr(types.get(inst.type), flag, False)]

    def tracking_carriers(self) -> list[str]:
        """The configured carrier instances that can follow a parcel (every carrier tracks)."""
        return list(self.config.carriers)

    def ship_from(self, warehouse: str) -> Address:
        inst = self.config.warehouses[warehouse]
        table = inst.settings.get("address", {})
        try:
            return Address(**table)
        except TypeError as exc:
            raise ConfigError(f"bad address: {exc}", path=str(self.config.path), key=f"warehouses.{warehouse}.address") from None

    def _build_promise_engine(self) -> PromiseEngine:
        from ..engines.promise import PromiseEngine

        return PromiseEngine(self.config.promise, {name: self.ship_from(name) for name in self.config.warehouses},
                             hooks=self.hooks)

    def _learn(self, engine: PromiseEngine) -> None:
        with self.store.read() as conn:
            engine.load(conn)

    def promise_engine(self) -> PromiseEngine:
        """The promise engine (:attr:`promises` owns it: learned from the store on first
        use, kept warm by :meth:`shipment_moved` after)."""
        return self.promises.engine()

    def shipment_moved(self, shipment: Shipment, ship_to: Address | None = None) -> None:
        """Tell the promise engine, if it is built, of a committed shipment change."""
        self.promises.shipment_moved(shipment, ship_to)

    def close(self) -> None:
        with self._lock:
            for adapter in self._adapters.values():
                adapter.close()
            self._adapters.clear()
