"""Local simulators of foreign APIs, served over loopback HTTP on a scenario clock.

Each plugin brings the simulator of its own API through the ``register_simulators``
hook. A simulator factory gets a :class:`SandboxContext` and returns an object with an
``app`` attribute (an ASGI app); the sandbox mounts it at ``/<name>``, wraps it in the
fault injector and serves everything with uvicorn on 127.0.0.1.

Faults (429 with Retry-After, 5xx, slow answers that time a client out, malformed
bodies) are injected per path through :class:`FaultPlan`, from Python or over HTTP:
``POST /_sandbox/faults {"kind": "429", "path": "/shopify/", "times": 2}``.
"""

from __future__ import annotations

from .faults import Fault, FaultPlan
from .server import SandboxContext, SandboxServer

__all__ = ["Fault", "FaultPlan", "SandboxContext", "SandboxServer"]
