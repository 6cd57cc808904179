"""Shared fixtures of the EasyPost plugin tests: golden payloads, a shipment request, a sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfilhub import Address, Parcel, ShipmentRequest, SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer

from fulfilhub_easypost import EasyPostSimulator

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """``payload("tracker_lost")``: a golden EasyPost payload from ``tests/payloads``."""

    def load(name: str) -> Any:
        return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def shipment_request() -> ShipmentRequest:
    return ShipmentRequest(
        reference="fh-shp-000123",
        ship_from=Address(
            name="Harbor Goods Warehouse",
            company="Harbor Goods",
            line1="388 Townsend St",
            line2="Apt 20",
            city="San Francisco",
            province="CA",
            postal_code="94107",
            country="us",
            phone="4155550100",
        ),
        ship_to=Address(
            name="Elizabeth Swan",
            line1="179 N Harbor Dr",
            city="Redondo Beach",
            province="CA",
            postal_code="90277",
            country="US",
            email="liz@example.com",
        ),
        parcel=Parcel(weight_g="1200", length_cm="20", width_cm="14", height_cm="10"),
    )


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """``sandbox(seed=1, clock=SimClock(), **options)``: a started sandbox serving the EasyPost simulator.

    ``server.url_for("easypost")`` is its base URL and ``server.simulators["easypost"]``
    the simulator; every server is stopped after the test.
    """
    servers: list[SandboxServer] = []

    def start(*, seed: int = 1, clock: SimClock | None = None, **options: Any) -> SandboxServer:
        context = SandboxContext(clock=clock or SimClock(), seed=seed, options={"easypost": options})
        server = SandboxServer({"easypost": Simulator(name="easypost", factory=EasyPostSimulator)}, context)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
