"""The plugin toolkit simulators are built with (``fulfilhub.sandbox``), helper by helper."""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fulfilhub import ConfigError, PluginError, SimClock
from fulfilhub.sandbox import (
    AuthGuard,
    LeakyBucket,
    LockedState,
    Option,
    OptionError,
    Rejected,
    SandboxContext,
    SandboxServer,
    SeededIds,
    Simulator,
    Timeline,
    answering,
    basic_user,
    header_credential,
    json_body,
    read_options,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)

# --------------------------------------------------------------------------- options

SPEC = {
    "rate": Option(0.5, (int, float), low=0, high=1),
    "count": Option(3, int, low=0),
    "token": Option(None, str),
    "names": Option(("a",), (list, tuple), convert=lambda v: tuple(str(x).upper() for x in v)),
}


def test_options_fill_defaults_and_convert():
    assert read_options("acme", {}, SPEC) == {"rate": 0.5, "count": 3, "token": None, "names": ("A",)}
    got = read_options("acme", {"rate": 1, "token": "t", "names": ["x", "y"]}, SPEC)
    assert got == {"rate": 1, "count": 3, "token": "t", "names": ("X", "Y")}


def test_an_unknown_option_is_an_error_naming_the_simulator_and_the_key():
    with pytest.raises(OptionError, match=r"unknown acme simulator option\(s\) rte; known: rate, count") as caught:
        read_options("acme", {"rte": 0.1}, SPEC)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.key == "sandbox.acme"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"rate": 1.5}, "rate must be a number from 0 to 1, got 1.5"),
        ({"rate": "0.1"}, "rate must be int or float, got '0.1'"),
        ({"count": True}, "count must be int, got True"),
        ({"count": -1}, "count must be a number from 0 to inf"),
        ({"names": 5}, "names must be list or tuple"),
    ],
)
def test_a_wrong_value_is_an_error_saying_what_it_should_be(given, message):
    with pytest.raises(OptionError, match=message):
        read_options("acme", given, SPEC)


def test_a_failing_converter_names_the_option():
    spec = {"price": Option("1.00", str, convert=lambda v: float(v))}
    with pytest.raises(OptionError, match="acme simulator: price: could not convert"):
        read_options("acme", {"price": "ten"}, spec)


# --------------------------------------------------------------------------- answers and auth


def _app(guard: AuthGuard) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise Rejected(422, {"error": "body must be an object"})
        return JSONResponse({"got": body})

    async def lenient(request: Request) -> JSONResponse:
        return JSONResponse({"got": await json_body(request, default=None)})

    return Starlette(routes=[
        Route("/echo", guard(answering(echo)), methods=["POST"]),
        Route("/lenient", answering(lenient), methods=["POST"]),
    ])



@pytest.fixture
def served():
    """Serve one app through a real SandboxServer on loopback; return its base URL."""
    servers = []

    def serve(app: Starlette) -> str:
        sim = Simulator(name="acme", factory=lambda context: type("Sim", (), {"app": app})())
        server = SandboxServer({"acme": sim}, SandboxContext(clock=SimClock(T0))).start()
        servers.append(server)
        return server.url_for("acme")

    yield serve
    for server in servers:
        server.stop()


def test_the_auth_guard_answers_the_vendor_401_and_json_body_answers_400_and_422(served):
    guard = AuthGuard("sekret", header_credential("x-api-token"),
                      lambda: JSONResponse({"errors": "Invalid API key"}, status_code=401))
    url = served(_app(guard))
    with httpx.Client(base_url=url) as http:
        assert http.post("/echo", json={"a": 1}).status_code == 401
        denied = http.post("/echo", json={"a": 1}, headers={"x-api-token": "wrong"})
        assert denied.status_code == 401
        assert denied.json() == {"errors": "Invalid API key"}
        ok = http.post("/echo", json={"a": 1}, headers={"x-api-token": "sekret"})
        assert ok.status_code == 200
        assert ok.json() == {"got": {"a": 1}}
        bad = http.post("/echo", content=b"{not json", headers={"x-api-token": "sekret"})
        assert bad.status_code == 400
        assert bad.json() == {"error": "The request body is not valid JSON."}
        wrong = http.post("/echo", json=[1], headers={"x-api-token": "sekret"})
        assert wrong.status_code == 422
        assert wrong.json() == {"error": "body must be an object"}
        assert http.post("/lenient", content=b"nope").json() == {"got": None}


def test_a_guard_without_a_credential_lets_everyone_in(served):
    url = served(_app(AuthGuard(None, header_credential("x-api-token"), lambda: JSONResponse({}, status_code=401))))
    assert httpx.post(f"{url}/echo", json={"a": 2}).json() == {"got": {"a": 2}}


def test_basic_user_reads_the_basic_auth_user_name(served):
    async def who(request: Request) -> JSONResponse:
        return JSONResponse({"user": basic_user(request)})

    url = served(Starlette(routes=[Route("/who", who)]))
    assert httpx.get(f"{url}/who", auth=("EZTK123", "")).json() == {"user": "EZTK123"}
    assert httpx.get(f"{url}/who", headers={"authorization": "Basic !!!"}).json() == {"user": None}
    assert httpx.get(f"{url}/who", headers={"authorization": "Bearer x"}).json() == {"user": None}
    token = base64.b64encode(b"k:secret").decode()
    assert httpx.get(f"{url}/who", headers={"authorization": f"Basic {token}"}).json() == {"user": "k"}


# --------------------------------------------------------------------------- state


def test_locked_state_snapshots_are_deep_copies_and_the_lock_serialises_writers():
    state = LockedState({"orders": [], "n": 0})
    with state as s:
        s["orders"].append({"id": 1})
    snap = state.snapshot()
    snap["orders"][0]["id"] = 99
    assert state.snapshot() == {"orders": [{"id": 1}], "n": 0}

    def bump() -> None:
        for _ in range(2000):
            with state as s:
                n = s["n"]
                s["n"] = n + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.snapshot()["n"] == 8000
    with state, state as s:  # re-entrant: a helper called with the lock held may take it again
        assert s["n"] == 8000


def test_seeded_ids_repeat_with_the_seed_and_differ_between_seeds():
    a, b, c = SeededIds(7), SeededIds(7), SeededIds(8)
    first = [a.new("shp"), a.new("shp"), a.new("rate")]
    assert first == [b.new("shp"), b.new("shp"), b.new("rate")]
    assert first[0] != c.new("shp")
    assert first[0] != first[1]
    assert first[0].startswith("shp_")
    assert len(first[0]) == 4 + 32
    assert a.stable("ca", "USPS") == b.stable("ca", "USPS") != a.stable("ca", "UPS")
    assert a.rng("fate", "x").random() == b.rng("fate", "x").random()
    assert [a.next("f", 100), a.next("f", 100), a.next("g")] == [100, 101, 1]


def test_a_timeline_shows_what_the_clock_has_reached():
    line = Timeline([(T0 + timedelta(hours=2), "b"), (T0, "a")])
    line.add(T0 + timedelta(hours=5), "c")
    line.add(T0 + timedelta(hours=2), "b2")  # same time: after the one added first
    assert line.visible(T0 - timedelta(seconds=1)) == []
    assert line.visible(T0) == ["a"]
    assert line.visible(T0 + timedelta(hours=2)) == ["a", "b", "b2"]
    assert line.pending(T0 + timedelta(hours=2)) == ["c"]
    line.truncate(T0 + timedelta(hours=3))
    assert list(line) == ["a", "b", "b2"]
    assert len(line) == 3
    assert [t.at for t in line.timed()] == [T0, T0 + timedelta(hours=2), T0 + timedelta(hours=2)]


def test_the_leaky_bucket_refuses_when_full_and_leaks_on_the_scenario_clock():
    clock = SimClock(T0)
    bucket = LeakyBucket(clock, size=3, leak_per_second=0.5)
    assert [bucket.take()[:2] for _ in range(3)] == [(True, 1), (True, 2), (True, 3)]
    allowed, level, wait = bucket.take()
    assert (allowed, level, wait) == (False, 3, 2.0)
    assert bucket.refused == 1
    clock.advance(2)  # one call leaked out
    assert bucket.take() == (True, 3, 0.0)
    clock.advance(60)
    assert bucket.take() == (True, 1, 0.0)
    with pytest.raises(ValueError):
        LeakyBucket(clock, size=0, leak_per_second=1)


# --------------------------------------------------------------------------- lazy simulators


def test_a_simulator_factory_given_as_a_path_is_imported_on_load():
    sim = Simulator(name="x", factory="fulfilhub.sandbox.toolkit:LeakyBucket")
    from fulfilhub.sandbox.toolkit import LeakyBucket as loaded

    assert sim.load() is loaded
    assert Simulator(name="y", factory=LeakyBucket).load() is LeakyBucket


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_such_module_xyz:Sim", "cannot import 'no_such_module_xyz'"),
        ("fulfilhub.sandbox.toolkit:Nope", "has no 'Nope'"),
        ("fulfilhub.sandbox.toolkit", "must be 'package.module:attribute'"),
        ("fulfilhub.sandbox.toolkit:T", "is not callable"),
    ],
)
def test_a_factory_path_that_cannot_load_is_a_clear_plugin_error(factory, message):
    with pytest.raises(PluginError, match=message) as caught:
        Simulator(name="acme", factory=factory).load()
    assert "simulator 'acme'" in str(caught.value)


def test_importing_the_whole_sandbox_loads_no_plugin_manager_runner_or_cli():
    import subprocess
    import sys

    probe = (
        "import sys, fulfilhub.sandbox as s; s.SandboxServer; s.read_options; "
        "print(sorted(m for m in sys.modules if m.startswith(('fulfilhub.plugins', 'fulfilhub.runner', "
        "'fulfilhub.cli', 'fulfilhub.scenarios', 'fulfilhub.engines', 'fulfilhub.store'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
