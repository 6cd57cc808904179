"""Shared fixtures of the Kuaidi100 plugin tests: golden payloads and a sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfilhub import SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """``payload("query_delivered")``: a golden Kuaidi100 payload from ``tests/payloads``."""

    def load(name: str) -> Any:
        return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """``sandbox(seed=1, clock=SimClock(), **options)``: a started sandbox serving the Kuaidi100 simulator."""
    from fulfilhub_kuaidi100.simulator import Kuaidi100Simulator

    servers: list[SandboxServer] = []

    def start(*, seed: int = 1, clock: SimClock | None = None, **options: Any) -> SandboxServer:
        context = SandboxContext(clock=clock or SimClock(), seed=seed, options={"kuaidi100": options})
        server = SandboxServer({"kuaidi100": Simulator(name="kuaidi100", factory=Kuaidi100Simulator)}, context)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
