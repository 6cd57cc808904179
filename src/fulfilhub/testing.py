"""Helpers for testing plugins: build an instance context without a config file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from .adapters import InstanceContext
from .clock import Clock, SimClock
from .http import RetryPolicy, client_factory

#: Retries without real waiting, for tests: three tries, tiny backoff, short timeout.
FAST_RETRIES = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=0.1, timeout=2.0)


def instance_context(
    name: str,
    settings: Mapping[str, Any],
    *,
    clock: Clock | None = None,
    secrets: Iterable[str] = (),
    policy: RetryPolicy | None = FAST_RETRIES,
    transport: httpx.BaseTransport | None = None,
    store: Any = None,
) -> InstanceContext:
    """An :class:`InstanceContext` as the runner would build it, for one adapter under test."""
    clock = clock or SimClock()
    secrets = tuple(secrets)
    return InstanceContext(
        name=name,
        settings=dict(settings),
        clock=clock,
        http=client_factory(name, clock=clock, secrets=secrets, policy=policy, transport=transport),
        secrets=secrets,
        store=store,
    )
