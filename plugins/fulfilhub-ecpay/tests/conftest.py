"""Shared fixtures of the ECPay plugin tests: golden payloads, Taiwan shipment requests, a sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fulfilhub import Address, Parcel, PickupPoint, ShipmentRequest, SimClock, Simulator
from fulfilhub.sandbox import SandboxContext, SandboxServer

import fulfilhub_ecpay

PAYLOADS = Path(__file__).parent / "payloads"
#: ECPay's public test merchant (logistics B2C/home), as its documentation publishes it.
MERCHANT, HASH_KEY, HASH_IV = fulfilhub_ecpay.TEST_MERCHANT
STORE = PickupPoint(network="7-ELEVEN", store_id="131386", store_name="高雄四維店", store_address="高雄市苓雅區四維三路6號")


@pytest.fixture
def payload() -> Callable[[str], str]:
    """``payload("push_arrived")``: a golden ECPay form (or answer text) from ``tests/payloads``."""

    def load(name: str) -> str:
        return (PAYLOADS / f"{name}.txt").read_text(encoding="utf-8").strip()

    return load


def request(reference: str = "fh-shp-000123", *, pickup: PickupPoint | None = STORE) -> ShipmentRequest:
    return ShipmentRequest(
        reference=reference,
        ship_from=Address(name="好物倉庫", line1="南港區三重路19-2號", city="台北市", postal_code="11560", country="TW",
                          phone="0911222333"),
        ship_to=Address(name="林小姐", line1="" if pickup else "西區一二路34號", city="" if pickup else "台中市",
                        postal_code="" if pickup else "403", country="TW", phone="+886 933 222 111",
                        email="lin@example.tw", pickup=pickup),
        parcel=Parcel(weight_g="1200", length_cm="20", width_cm="14", height_cm="10"),
    )


@pytest.fixture
def make_request() -> Callable[..., ShipmentRequest]:
    """``make_request("fh-shp-1")`` to the store ``STORE``; ``pickup=None`` to a door in Taichung."""
    return request


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """``sandbox(seed=1, clock=SimClock(), **options)``: a started sandbox serving the ECPay simulator."""
    from fulfilhub_ecpay.simulator import EcpaySimulator

    servers: list[SandboxServer] = []

    def start(*, seed: int = 1, clock: SimClock | None = None, **options: Any) -> SandboxServer:
        context = SandboxContext(clock=clock or SimClock(), seed=seed, options={"ecpay": options})
        server = SandboxServer({"ecpay": Simulator(name="ecpay", factory=EcpaySimulator)}, context)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
