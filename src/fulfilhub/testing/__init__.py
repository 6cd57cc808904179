"""Helpers for testing plugins: build an instance context without a config file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ..adapters import InstanceContext, Setting
from ..clock import Clock, SimClock
from ..http import RetryPolicy, client_factory

if TYPE_CHECKING:
    from ..store import Store

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
    schema: Mapping[str, Setting] | None = None,
    kind: str = "",
    store: Store | None = None,
) -> InstanceContext:
    """An :class:`InstanceContext` as the runner would build it, for one adapter under test.

    ``schema`` is the type's declared settings (``ChannelType.settings``): with it,
    ``context.setting(name)`` reads by declaration and an undeclared key is refused as
    the runner refuses it. With a ``store`` (a migrated :class:`~fulfilhub.store.Store`)
    the context gets the ports the runner gives: ``state`` always, ``stock`` when
    ``kind`` is ``"warehouses"``.
    """
    clock = clock or SimClock()
    secrets = tuple(secrets)
    state = stock = None
    if store is not None:
        from ..store import ports

        state = ports.StatePort(store, ports.namespace(kind, name), clock)
        stock = ports.StockPort(store, name) if kind == "warehouses" else None
    context = InstanceContext(
        name=name,
        settings=dict(settings),
        clock=clock,
        http=client_factory(name, clock=clock, secrets=secrets, policy=policy, transport=transport),
        secrets=secrets,
        kind=kind,
        schema=schema,
        state=state,
        stock=stock,
    )
    context.check_settings()
    return context
