"""Operating the server: health, metrics, the CLI (serve, webhooks list/show/replay), and a
clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
from alembic import command
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.runner import jobs
from fulfilhub.store import alembic_config

from .conftest import ENV, SHOP_SECRET


def test_healthz_says_ok_and_then_that_migrations_are_behind(served):
    ok = served.client.get("/healthz")
    assert (ok.status_code, ok.json()["status"]) == (200, "ok")
    url = served.world.store.url
    cfg = alembic_config(url)
    command.downgrade(cfg, "-1")
    behind = served.client.get("/healthz")
    assert behind.status_code == 503
    assert behind.json()["status"] == "migrations_pending"
    assert "sqlite" not in behind.text  # no store URL (which may carry a password) in the answer


def test_metrics_report_orders_outbox_inbox_webhooks_and_job_lag(served):
    served.ship_order()
    jobs.sync_once(served.world.rt, record=True)  # as `fulfilhub run` does: each run kept
    headers, body = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]))
    assert served.post("shop", headers, body).status_code == 202
    assert served.post("shop", {**headers, "X-Shopify-Hmac-Sha256": "forged"}, body).status_code == 401
    text = served.metrics()
    assert 'fulfilhub_orders{status="in_transit"} 1.0' in text or 'fulfilhub_orders{status="shipped"} 1.0' in text
    assert "fulfilhub_inbox_backlog 1.0" in text
    assert "fulfilhub_outbox_backlog" in text and "fulfilhub_outbox_oldest_age_seconds" in text
    assert 'fulfilhub_webhooks_total{instance="shop",outcome="accepted"} 1.0' in text
    assert 'fulfilhub_webhooks_total{instance="shop",outcome="signature"} 1.0' in text
    assert 'fulfilhub_job_lag_seconds{job="pull_orders"}' in text
    assert 'fulfilhub_channel_lag_seconds{channel="shop"}' in text
    for secret in ENV.values():
        assert secret not in text


def test_webhooks_list_show_and_replay(served):
    served.world.stock("east", "TEE-ORG-M", 5)
    order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    assert served.post("shop", *served.order_webhook({**order, "line_items": None})).status_code == 202
    runner = CliRunner(env=ENV)
    cfg = str(served.world.config_path)
    synced = runner.invoke(main, ["-c", cfg, "sync", "--json"])
    listed = json.loads(runner.invoke(main, ["-c", cfg, "webhooks", "list", "--json"]).output)
    assert [(w["instance"], w["status"]) for w in listed] == [("shop", "failed")], synced.output
    assert "line_items" in listed[0]["error"]
    shown = json.loads(runner.invoke(main, ["-c", cfg, "webhooks", "show", str(listed[0]["id"])]).output)
    assert shown["headers"]["x-shopify-topic"] == "orders/create" and '"line_items": null' in shown["body"]
    replayed = runner.invoke(main, ["-c", cfg, "webhooks", "replay", str(listed[0]["id"])])
    assert replayed.exit_code == 1 and "failed" in replayed.output  # still broken: said so, kept
    missing = runner.invoke(main, ["-c", cfg, "webhooks", "replay", "999"])
    assert missing.exit_code != 0 and "no webhook 999" in missing.output
    doctor = runner.invoke(main, ["-c", cfg, "doctor", "--json"])
    checks = {c["check"]: c for c in json.loads(doctor.output)}
    assert doctor.exit_code == 1 and checks["webhooks"]["ok"] == "NO" and "failed 1" in checks["webhooks"]["detail"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_takes_webhooks_and_stops_cleanly_on_sigterm_finishing_requests_in_flight(served):
    port = _free_port()
    env = {**os.environ, **ENV}
    proc = subprocess.Popen([sys.executable, "-m", "fulfilhub", "-c", str(served.world.config_path), "serve",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.1)
        served.world.stock("east", "TEE-ORG-M", 5)
        headers, body = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]),
                                             sent_at=datetime.now(timezone.utc))
        # the CLI's server runs on the wall clock: a delivery sent now is fresh
        answer = httpx.post(f"{base}/webhooks/shop", headers=headers, content=body, timeout=5)
        assert answer.status_code == 202, answer.text
        # a request in flight when SIGTERM arrives (half its body sent) is still answered
        later = served.order_webhook(served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}]),
                                     sent_at=datetime.now(timezone.utc))
        head = "".join(f"{k}: {v}\r\n" for k, v in later[0].items())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(f"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nContent-Length: {len(later[1])}\r\n{head}\r\n"
                         .encode() + later[1][:100])
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            conn.sendall(later[1][100:])
            reply = conn.recv(65536).decode("latin-1")
        assert reply.startswith("HTTP/1.1 202"), reply
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
    assert "metrics: /metrics with the bearer token" in err  # says where /metrics is, never the token
    assert SHOP_SECRET not in err + out and ENV["METRICS_TOKEN"] not in err + out


def test_the_rate_limit_is_per_client_and_says_when_to_come_back():
    from fulfilhub.server.app import RateLimit

    limit = RateLimit(None, per_minute=2, prefixes=("/api/",))
    assert limit.allow("10.0.0.1") == 0 and limit.allow("10.0.0.1") == 0
    wait = limit.allow("10.0.0.1")
    assert 0 < wait <= 30  # one more token in 30 s at 2 a minute
    assert limit.allow("10.0.0.2") == 0  # another client has its own bucket


def test_the_tracking_page_is_rate_limited_per_client(tmp_path):
    from .conftest import serving

    with serving(tmp_path, server_extra="rate_limit_per_minute = 3\n") as served:
        answers = [served.client.get("/t/AAAAAAAAAAAAAAAAAAAAAA").status_code for _ in range(5)]
        assert answers[:3] == [404, 404, 404] and answers[3:] == [429, 429]
        assert int(served.client.get("/t/x").headers["Retry-After"]) >= 1
        assert served.client.get("/healthz").status_code == 200  # only /api/ and /t/ are limited


def test_healthz_never_waits_on_a_runner_holding_the_write_lock(served):
    """A runner in the middle of a write transaction (SQLite's write lock, BEGIN IMMEDIATE)
    must not stall /healthz: it reads without the lock, in well under a second."""
    import threading

    from fulfilhub.store import schema

    holding, release = threading.Event(), threading.Event()

    def runner() -> None:
        with served.world.store.transaction() as tx:
            tx.execute(schema.plugin_state.delete().where(schema.plugin_state.c.namespace == "nothing"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=runner)
    thread.start()
    try:
        assert holding.wait(5)
        times = []
        for _ in range(3):
            began = time.monotonic()
            answer = served.client.get("/healthz", timeout=5)
            times.append(time.monotonic() - began)
            assert (answer.status_code, answer.json()["status"]) == (200, "ok")
        assert max(times) < 0.5, times
    finally:
        release.set()
        thread.join()
