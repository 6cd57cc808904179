"""Shared fixtures of the ShipBob plugin tests: golden payloads, a sandbox serving the simulator, an adapter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfilhub import RetryPolicy, SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.testing import instance_context

from fulfilhub_shipbob import warehouse

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "pat-test-0123456789"
SECRET = "whsec_dGVzdC1zaWduaW5nLWtleS0wMTIz"


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """``payload("shipments_completed")``: a golden ShipBob payload from ``tests/payloads``."""

    def load(name: str) -> Any:
        return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def shipbob(clock: SimClock) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """``shipbob(**options)``: ``(adapter, simulator)``, the adapter over loopback HTTP to a started simulator."""
    from fulfilhub_shipbob.simulator import ShipbobSimulator

    servers: list[SandboxServer] = []
    adapters: list[Any] = []

    def start(*, settings: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any]:
        context = SandboxContext(clock=clock, seed=1,
                                 options={"shipbob": {"access_token": TOKEN, "webhook_secret": SECRET, **options}})
        server = SandboxServer({"shipbob": Simulator(name="shipbob", factory=ShipbobSimulator)}, context).start()
        servers.append(server)
        ctx = instance_context("main", {"access_token": TOKEN, "channel_id": 100102, "webhook_secret": SECRET,
                                        "base_url": server.url_for("shipbob"), **(settings or {})},
                               schema=warehouse.SETTINGS, kind="warehouses", clock=clock, secrets=[TOKEN, SECRET],
                               policy=RetryPolicy(attempts=4, initial=0.01, maximum=0.05, max_wait=120, timeout=5.0))
        adapter = warehouse.ShipbobWarehouse(ctx)
        adapters.append(adapter)
        return adapter, server.simulators["shipbob"]

    yield start
    for adapter in adapters:
        adapter.close()
    for server in servers:
        server.stop()
