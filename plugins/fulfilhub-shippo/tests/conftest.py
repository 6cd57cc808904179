"""Shared fixtures of the Shippo plugin tests: golden payloads, a shipment request, a sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfilhub import Address, Parcel, ShipmentRequest, SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """``payload("track_lost")``: a golden Shippo payload from ``tests/payloads``."""

    def load(name: str) -> Any:
        return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def shipment_request() -> ShipmentRequest:
    return ShipmentRequest(
        reference="fh-shp-000123",
        ship_from=Address(name="Shawn Ippotle", company="Shippo", line1="215 Clayton St.", city="San Francisco",
                          province="CA", postal_code="94117", country="US", phone="+1 555 341 9393"),
        ship_to=Address(name="Mr Hippo", line1="965 Mission St", line2="Ste 480", city="San Francisco", province="CA",
                        postal_code="94103", country="US", email="mrhippo@shippo.com"),
        parcel=Parcel(weight_g="1200", length_cm="20", width_cm="14", height_cm="10"),
    )


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """``sandbox(seed=1, clock=SimClock(), **options)``: a started sandbox serving the Shippo simulator."""
    from fulfilhub_shippo.simulator import ShippoSimulator

    servers: list[SandboxServer] = []

    def start(*, seed: int = 1, clock: SimClock | None = None, **options: Any) -> SandboxServer:
        context = SandboxContext(clock=clock or SimClock(), seed=seed, options={"shippo": options})
        server = SandboxServer({"shippo": Simulator(name="shippo", factory=ShippoSimulator)}, context)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
