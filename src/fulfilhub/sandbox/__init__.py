"""Local simulators of foreign APIs, served over loopback HTTP on a scenario clock.

Each plugin brings the simulator of its own API through the ``register_simulators``
hook, as a :class:`Simulator` record whose factory is loaded only when a sandbox builds
it. A factory gets a :class:`SandboxContext` and returns an object with an ``app``
attribute (an ASGI app); :class:`SandboxServer` mounts it at ``/<name>``, wraps it in
the fault injector and serves everything with uvicorn on 127.0.0.1.

The toolkit simulators are built with (typed options, an auth guard, JSON bodies,
locked state, seeded ids, timelines, a leaky bucket) is in
:mod:`fulfilhub.sandbox.toolkit` and re-exported here. See ``docs/sandbox.md``.

Faults (429 with Retry-After, 5xx, slow answers that time a client out, malformed
bodies) are injected per path through :class:`FaultPlan`, from Python or over HTTP:
``POST /_sandbox/faults {"kind": "429", "path": "/shopify/", "times": 2}``.

This package imports nothing above the plugin level of fulfilhub (no adapters, plugin
manager, runner or CLI). Importing it is cheap: the server (uvicorn) and the toolkit
(starlette) are imported when first named.
"""

from __future__ import annotations

import importlib
from typing import Any

from .disruptions import Disruption, DisruptionPlan
from .faults import Fault, FaultPlan
from .simulator import DemoPart, DemoSecret, SandboxContext, Simulator

_LAZY = {
    "SandboxServer": "server",
    "AuthGuard": "toolkit",
    "LeakyBucket": "toolkit",
    "LockedState": "toolkit",
    "Option": "toolkit",
    "OptionError": "toolkit",
    "Rejected": "toolkit",
    "SeededIds": "toolkit",
    "ShopSimulator": "toolkit",
    "Timeline": "toolkit",
    "answering": "toolkit",
    "basic_user": "toolkit",
    "header_credential": "toolkit",
    "json_body": "toolkit",
    "read_options": "toolkit",
}

__all__ = sorted(["DemoPart", "DemoSecret", "Disruption", "DisruptionPlan", "Fault", "FaultPlan", "SandboxContext", "Simulator", *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fulfilhub.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
