"""Real processes: a pull killed with SIGKILL mid-pagination resumes; `run` stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from fulfilhub.store import schema
from fulfilhub.store import cursors

from .conftest import ENV


def fulfilhub(world, *args: str) -> subprocess.Popen:
    env = {**os.environ, **ENV, "FULFILHUB_PLUGINS": "shopify,easypost"}
    return subprocess.Popen(
        [sys.executable, "-m", "fulfilhub", "-c", str(world.config_path), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stored(world) -> int:
    with world.store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.orders)).scalar_one()


def test_a_pull_killed_mid_pagination_resumes_without_loss_or_duplicates(world_factory):
    world = world_factory(page_size=20, shopify={"preload": 1500, "rate_limit": False})
    world.context.faults.add("timeout", path="/shopify/admin/api", times=10_000, delay=0.04)  # slow pages
    proc = fulfilhub(world, "sync", "--channel", "shop")
    deadline = time.monotonic() + 60
    while stored(world) < 300 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    at_kill = stored(world)
    assert 0 < at_kill < 1500, f"the kill should land mid-pull (stored {at_kill})"
    with world.store.read() as conn:
        cursor = cursors.get(conn, "shop")
    assert cursor
    assert "page_info" in cursor  # saved with the last stored page

    world.context.faults.clear()
    proc = fulfilhub(world, "sync", "--channel", "shop", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert stored(world) == 1500
    with world.store.read() as conn:
        received = conn.execute(
            sa.select(sa.func.count()).select_from(schema.order_events).where(schema.order_events.c.to_status == "received")
        ).scalar_one()
    assert received == 1500  # nothing stored twice


def test_run_stops_cleanly_on_sigterm(world_factory):
    world = world_factory(orders_per_day=500)
    world.clock.advance(3600 * 6)
    proc = fulfilhub(world, "run")
    deadline = time.monotonic() + 30
    while stored(world) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert stored(world) > 0, proc.stderr.read() if proc.poll() is not None else "run stored nothing in 30 s"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err


def test_the_sandbox_command_serves_every_simulator_with_faults_and_clock(tmp_path):
    env = {**os.environ, "FULFILHUB_PLUGINS": "shopify,easypost"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fulfilhub", "sandbox", "--port", "0", "--speed", "60",
         "--option", "shopify.orders_per_day=2000", "--option", 'shopify.access_token="shpat_x"'],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        urls = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(2))
        assert set(urls) == {"easypost", "shopify"}
        import httpx

        root = urls["shopify"].rsplit("/", 1)[0]
        assert "now" in httpx.get(f"{root}/_sandbox/clock").json()
        httpx.post(f"{root}/_sandbox/faults", json={"kind": "429", "path": "/shopify/", "times": 1})
        orders_url = f"{urls['shopify']}/admin/api/2024-10/orders.json?status=any"
        headers = {"X-Shopify-Access-Token": "shpat_x"}
        assert httpx.get(orders_url, headers=headers).status_code == 429
        assert httpx.get(orders_url, headers=headers).status_code == 200
        assert httpx.get(orders_url).status_code == 401
        bad = httpx.post(f"{root}/_sandbox/faults", json={"kind": "teapot"})
        assert bad.status_code == 422
        assert "kind" in bad.json()["error"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    noise = proc.stderr.read()
    assert "Uvicorn running" not in noise and "INFO" not in noise, noise  # foreign libraries stay quiet
