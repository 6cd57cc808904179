"""What a plugin registers to bring a simulator, and what the simulator is built with.

This module imports nothing from fulfilhub but the clock, the errors, the fault plan and
the disruption plan:
the plugin manager reads :class:`Simulator` records without pulling in a web server or
any simulator code. A simulator's module is imported only when a sandbox builds it
(:meth:`Simulator.load`), so ``fulfilhub run`` and ``fulfilhub sync`` never import it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..clock import Clock
from ..errors import PluginError
from .disruptions import DisruptionPlan
from .faults import FaultPlan

#: The config sections a simulator can stand in for (``[channels.x]``, ``[carriers.x]``...).
KINDS = ("channels", "carriers", "warehouses")


@attrs.define(kw_only=True)
class SandboxContext:
    """What every simulator factory receives.

    ``options`` holds per-simulator settings by simulator name (``{"shopify":
    {"orders_per_day": 200}}``). The server gives each simulator its own copy with
    ``name``, the name it is mounted under, and ``base_url``, its public URL. A
    simulator reads its options with ``context.options_for(context.name or "<its usual
    name>")``, so that it can be registered twice under two names. ``disruptions`` is
    the plan of disruptions scripted on the scenario clock (a typhoon closing a
    region's hub, a slow carrier...), shared by every simulator of the sandbox.
    """

    clock: Clock
    seed: int = 0
    faults: FaultPlan = attrs.Factory(FaultPlan)
    disruptions: DisruptionPlan = attrs.Factory(DisruptionPlan)
    options: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    base_url: str = ""
    name: str = ""

    def options_for(self, name: str) -> Mapping[str, Any]:
        return self.options.get(name, {})


@attrs.frozen(kw_only=True)
class DemoSecret:
    """A credential the simulator checks and the instance sends.

    The scenario writes ``setting = "${env}"`` in the config, sets ``env`` to ``value``
    (when unset) and gives the same value to the simulator as its option ``option``.
    """

    env: str
    value: str
    option: str


@attrs.frozen(kw_only=True)
class DemoPart:
    """How a simulator takes part in a scenario (``fulfilhub demo``, the slice tests).

    ``kind`` and ``type`` say which config section and registered type the simulator
    stands in for (``"channels"``, ``"shopify"``); ``instance`` is the instance name the
    scenario gives it. ``settings`` are the instance settings it needs besides
    ``base_url``, ``secrets`` maps a setting to a :class:`DemoSecret`, ``options`` are
    the simulator options a demo runs it with. A ``channels`` simulator must take the
    option ``orders_per_day`` and offer ``catalog`` and ``stop_arrivals()`` (see
    :class:`fulfilhub.sandbox.toolkit.ShopSimulator`).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    type: str
    instance: str
    settings: Mapping[str, Any] = attrs.Factory(dict)
    secrets: Mapping[str, DemoSecret] = attrs.Factory(dict)
    options: Mapping[str, Any] = attrs.Factory(dict)
    #: The secrets a scenario adds when the simulators deliver webhooks to ``fulfilhub
    #: serve`` (``fulfilhub demo --serve``): the instance setting that verifies them and
    #: the simulator option that signs them. A simulator that delivers webhooks offers
    #: ``pending_webhooks() -> [(headers, body)]``: what changed since it was last asked,
    #: signed as its vendor signs.
    webhooks: Mapping[str, DemoSecret] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Simulator:
    """A local simulator of a foreign API, served by ``fulfilhub sandbox``.

    ``factory(context)`` gets a :class:`SandboxContext` and returns the simulator
    object: anything with an ``app`` attribute holding an ASGI app (the rest of the
    object is the simulator's state, for tests and the demo). The app is mounted at
    ``/<name>``; the type's instances point their ``base_url`` at it.

    ``factory`` may be the callable itself or, better, its import path as
    ``"package.module:attribute"``: then nothing is imported until a sandbox builds the
    simulator, and a plugin's ``__init__`` stays free of simulator code. ``demo`` says
    how the simulator takes part in ``fulfilhub demo`` (None: it does not).
    """

    name: str
    factory: Callable[[SandboxContext], Any] | str  # -> an object with an ``app`` (ASGI)
    description: str = ""
    demo: DemoPart | None = None

    def load(self) -> Callable[[SandboxContext], Any]:
        """The factory, importing its module first when it was given as a path."""
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        if not module_name or not attribute:
            raise PluginError(
                f"simulator {self.name!r}: factory {self.factory!r} must be 'package.module:attribute'"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(
                f"simulator {self.name!r}: cannot import {module_name!r} for factory {self.factory!r}: {exc}"
            ) from exc
        try:
            found = getattr(module, attribute)
        except AttributeError:
            raise PluginError(
                f"simulator {self.name!r}: module {module_name!r} has no {attribute!r} (factory {self.factory!r})"
            ) from None
        if not callable(found):
            raise PluginError(f"simulator {self.name!r}: {self.factory!r} is not callable")
        return found
