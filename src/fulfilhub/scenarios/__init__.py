"""Scenarios: whole worlds on a scenario clock, for ``fulfilhub demo`` and the slice tests.

A world is a :class:`~fulfilhub.clock.SimClock`, a sandbox serving every registered
simulator, a workspace config written from the simulators' own descriptions
(:class:`~fulfilhub.sandbox.DemoPart`) plus local warehouses, a migrated SQLite store,
the runtime and a scheduler (:func:`build_world`). :func:`run_demo` drives one through
a few simulated days.

This room sits above the runner: it imports the runner, the sandbox, the store and the
config; nothing below imports it.
"""

from __future__ import annotations

from .demo import DemoResult, run_demo
from .world import LocalWarehouse, World, build_world

__all__ = ["DemoResult", "LocalWarehouse", "World", "build_world", "run_demo"]
