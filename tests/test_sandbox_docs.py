"""The complete simulator in docs/sandbox.md works as the page says, over loopback."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fulfilhub import SimClock
from fulfilhub.plugins import PluginManager
from fulfilhub.sandbox import OptionError, SandboxContext, SandboxServer

from .test_docs import as_module, fenced, read

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def acme(monkeypatch):
    """The page's example, importable as ``acme_post_sim`` (its registered factory path)."""
    source = fenced(read("sandbox.md"), "python")[0]  # the complete simulator (the disruptions example follows)
    module = as_module("acme_post_sim", source)
    monkeypatch.setitem(sys.modules, "acme_post_sim", module)
    return module


def test_the_sandbox_md_simulator_registers_lazily_and_serves_its_api(acme):
    pm = PluginManager(load_installed=False, extra=[acme])
    record = pm.registry.simulators["acme-post"]
    assert record.factory == "acme_post_sim:AcmePostSimulator"
    assert record.load() is acme.AcmePostSimulator
    assert record.demo.kind == "carriers"
    assert record.demo.secrets["api_key"].env == "ACME_DEMO_KEY"
    clock = SimClock(T0)
    context = SandboxContext(clock=clock, seed=5, options={"acme-post": {"api_key": "k1", "transit_hours": 10}})
    with SandboxServer(pm.registry.simulators, context) as sandbox, httpx.Client(
        base_url=sandbox.url_for("acme-post"), headers={"x-acme-key": "k1"}
    ) as http:
        assert httpx.post(sandbox.url_for("acme-post") + "/parcels", json={"to": "x"}).status_code == 401
        assert http.post("/parcels", content=b"{").json() == {"message": "send JSON"}
        assert http.post("/parcels", json={}).status_code == 422
        created = http.post("/parcels", json={"to": "Taipei"})
        assert created.status_code == 201
        parcel = created.json()["id"]
        assert http.get(f"/parcels/{parcel}").json()["scans"] == ["label_created"]
        clock.advance(timedelta(hours=5))
        assert http.get(f"/parcels/{parcel}").json()["status"] == "in_transit"
        clock.advance(timedelta(hours=30))
        assert http.get(f"/parcels/{parcel}").json()["status"] == "delivered"
        assert http.get("/parcels/prcl_nope").status_code == 404
        codes = [http.post("/parcels", json={"to": "y"}).status_code for _ in range(6)]
        assert codes == [201] * 5 + [429]  # the clock stood still: five calls fill the bucket


def test_the_sandbox_md_simulator_refuses_unknown_options(acme):
    with pytest.raises(OptionError, match="unknown acme-post simulator option"):
        acme.AcmePostSimulator(SandboxContext(clock=SimClock(T0), options={"acme-post": {"transit_hour": 3}}))
