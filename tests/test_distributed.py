"""Scale-out on PostgreSQL: procrastinate workers, their locks, kill -9, the shared
token bucket and ``db copy``, against the real local PostgreSQL (skipped, saying why,
where there is none) and the sandbox's simulators over loopback.

The workers are real ``fulfilhub worker`` processes; what they did is checked against
the simulators' own state (orders, labels bought, fulfilments created).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("procrastinate", reason="the worker tests need the postgres extra: pip install -e '.[postgres]'")
pytest.importorskip("fulfilhub_shopify", reason="the worker tests need fulfilhub-shopify installed")
pytest.importorskip("fulfilhub_easypost", reason="the worker tests need fulfilhub-easypost installed")

from fulfilhub.errors import ConfigError, StoreError  # noqa: E402
from fulfilhub.runner.distributed import Distributed, RateLimit, conninfo, part_of  # noqa: E402
from fulfilhub.store import Store, rate_limits  # noqa: E402
from fulfilhub.store import copy as store_copy  # noqa: E402
from fulfilhub.store import job_runs  # noqa: E402

pytestmark = pytest.mark.postgres

_spec = importlib.util.spec_from_file_location("scale_bench", Path(__file__).parents[1] / "benchmarks" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


# --------------------------------------------------------------------------- plain values


def test_slices_are_stable_and_cover_every_part():
    ids = [f"shop:{n}/1" for n in range(400)]
    parts = [part_of(i, 4) for i in ids]
    assert parts == [part_of(i, 4) for i in ids]  # the same in every process: crc32, not hash()
    assert set(parts) == {0, 1, 2, 3}


def test_conninfo_and_rate_limit_parsing_say_what_is_wrong():
    assert conninfo("postgresql+psycopg://u:p@h:5432/db") == "postgresql://u:p@h:5432/db"
    with pytest.raises(ConfigError, match="needs the store on PostgreSQL"):
        conninfo("sqlite:///fulfilhub.sqlite")
    assert RateLimit.parse("channels:shop=2/5") == ("channels:shop", RateLimit(rate=2.0, burst=5.0))
    with pytest.raises(ConfigError, match="KIND:NAME=RATE"):
        RateLimit.parse("shop=fast")


# --------------------------------------------------------------------------- the token bucket


def test_the_token_bucket_is_shared_between_processes(postgres_store):
    rate_limits.ensure(postgres_store.engine)
    other = Store.open(postgres_store.url)  # another engine: another worker's connections
    try:
        takes = []
        for s in (postgres_store, other, postgres_store):
            with s.transaction() as tx:
                takes.append(rate_limits.take(tx, "channels:shop", rate=0.5, burst=2))
        assert takes[:2] == [0.0, 0.0]
        assert 1.5 < takes[2] <= 2.0  # empty after two: one token every 2 s
        with pytest.raises(ValueError, match="rate > 0"):
            with other.transaction() as tx:
                rate_limits.take(tx, "channels:shop", rate=0, burst=2)
    finally:
        other.close()


def test_two_workers_transports_share_one_instance_rate_limit(postgres_store):
    import httpx

    from fulfilhub.runner.distributed import RateLimitedTransport

    rate_limits.ensure(postgres_store.engine)
    other = Store.open(postgres_store.url)
    answered = []
    inner = httpx.MockTransport(lambda request: answered.append(time.monotonic()) or httpx.Response(200))
    limit = RateLimit(rate=4.0, burst=1.0)
    clients = [httpx.Client(transport=RateLimitedTransport(s, "carriers:easypost", limit, inner)) for s in (postgres_store, other)]
    try:
        for i in range(6):  # the two "workers" take turns: together at most 4 calls a second
            clients[i % 2].get("http://carrier.test/track")
        assert len(answered) == 6
        assert answered[-1] - answered[0] >= 5 / 4 - 0.1  # 6 calls, the first free: 5 waits of 1/4 s
    finally:
        for c in clients:
            c.close()
        other.close()


# --------------------------------------------------------------------------- db copy


def test_db_copy_round_trip_sqlite_postgres_sqlite(tmp_path, postgres_url):
    world = scale.build(tmp_path / "world", channels=1, orders=6, latency=0.0, store_url="sqlite:///fulfilhub.sqlite")
    try:
        from fulfilhub.runner.jobs import sync_once

        for _ in range(3):
            sync_once(world.rt)
        source = world.config.store_url
    finally:
        world.close()
    copied = store_copy.copy(source, postgres_url)
    by_table = {r.table: r for r in copied}
    assert all(r.verified for r in copied)
    assert by_table["orders"].rows == 6
    assert by_table["outbox"].rows > 0
    assert by_table["order_events"].rows > 6
    with pytest.raises(StoreError, match="not empty"):
        store_copy.copy(source, postgres_url)
    back = f"sqlite:///{tmp_path / 'back.sqlite'}"
    again = store_copy.copy(postgres_url, back)
    assert [(r.table, r.rows, r.digest) for r in again] == [(r.table, r.rows, r.digest) for r in copied]
    pg = Store.open(postgres_url)
    try:  # the sequences moved past the copied ids: a new row does not collide
        with pg.transaction() as tx:
            job_runs.record(tx, job="x", trigger="test", started_at=world.clock.now(), finished_at=world.clock.now(),
                            outcome="ok", counts={}, errors=[])
    finally:
        pg.close()


# --------------------------------------------------------------------------- workers


class InFlight:
    """ASGI middleware: how many order-list requests each shop has in flight, at most."""

    def __init__(self, app: Any, latency: float):
        self.app, self.latency = app, latency
        self.now: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        import asyncio

        if scope["type"] != "http" or not scope["path"].endswith("/orders.json"):
            await self.app(scope, receive, send)
            return
        shop = scope["path"].split("/")[1]
        with self.lock:
            self.now[shop] = self.now.get(shop, 0) + 1
            self.most[shop] = max(self.most.get(shop, 0), self.now[shop])
            self.calls[shop] = self.calls.get(shop, 0) + 1
        try:
            await asyncio.sleep(self.latency)
            await self.app(scope, receive, send)
        finally:
            with self.lock:
                self.now[shop] -= 1


def _drain(store: Store, config: Path, queues: list[str], workers: int, log: Path) -> None:
    """Run ``workers`` worker processes on ``queues`` until those queues are empty, then stop them."""
    env = {**os.environ, "FULFILHUB_CONFIG": str(config)}
    args = [sys.executable, "-m", "fulfilhub", "-q", "worker", "--concurrency", "4"]
    args += [a for q in queues for a in ("--queue", q)]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab")) for _ in range(workers)]
    try:
        started = time.monotonic()
        while _jobs(store, "todo", "doing", queues=queues):
            assert time.monotonic() - started < 90, log.read_text()
            assert all(p.poll() is None for p in procs), log.read_text()
            time.sleep(0.3)
    finally:
        scale.stop(procs)


def test_two_workers_never_pull_one_channel_at_once(tmp_path, postgres_url):
    box: dict[str, InFlight] = {}

    def wrap(app: Any) -> InFlight:
        box["app"] = InFlight(app, latency=0.3)
        return box["app"]

    world = scale.build(tmp_path / "world", channels=1, orders=5, latency=0.0, store_url=postgres_url, wrap=wrap)
    try:
        dist = Distributed(world.config.store_url, lambda: world.rt)
        dist.apply_schema()
        with dist.app.open():
            for i in range(6):  # six pulls of one channel, all waiting at once: one lock
                dist.app.configure_task("fulfilhub.pull", lock="pull:shop1").defer(channel="shop1")
        _drain(world.store, world.config_path, ["pull"], 2, tmp_path / "workers.log")
        counted = box["app"]
        assert counted.calls["shop1"] >= 6  # every pull asked the shop
        assert counted.most["shop1"] == 1  # and never two at once
        with dist.app.open():  # the control: the same six pulls without a shared lock do overlap
            for i in range(6):
                dist.app.configure_task("fulfilhub.pull", lock=f"other:{i}").defer(channel="shop1")
        _drain(world.store, world.config_path, ["pull"], 2, tmp_path / "workers.log")
        assert counted.most["shop1"] >= 2
    finally:
        world.close()


def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(tmp_path, postgres_url):
    box: dict[str, InFlight] = {}

    def wrap(app: Any) -> InFlight:
        box["app"] = InFlight(app, latency=2.0)  # each page of orders takes 2 s to come
        return box["app"]

    world = scale.build(tmp_path / "world", channels=1, orders=5, latency=0.0, store_url=postgres_url, wrap=wrap)
    log = tmp_path / "worker.log"
    try:
        dist = Distributed(world.config.store_url, lambda: world.rt)
        dist.apply_schema()
        with dist.app.open():
            dist.app.configure_task("fulfilhub.pull", lock="pull:shop1").defer(channel="shop1")
        env = {**os.environ, "FULFILHUB_CONFIG": str(world.config_path)}
        proc = subprocess.Popen([sys.executable, "-m", "fulfilhub", "-q", "worker", "--queue", "pull",
                                 "--shutdown-timeout", "20"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
        started = time.monotonic()
        while not box["app"].now.get("shop1"):  # the pull is waiting on the shop
            assert time.monotonic() - started < 30, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=25) == 0, log.read_text()
        assert _jobs(world.store, "todo", "doing", "failed", "aborted", queues=["pull"]) == 0  # finished, not dropped
        with world.store.read() as conn:
            from fulfilhub.store import cursors

            assert cursors.get(conn, "shop1") is not None  # the page it was fetching was stored
        shown = subprocess.run([sys.executable, "-m", "fulfilhub", "worker", "--status", "--json"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        assert status["workers"] == []
        assert status["stalled"] == []  # the worker left cleanly
        assert all({"name", "todo", "doing", "failed"} <= set(q) for q in status["queues"])
    finally:
        world.close()


def test_workers_killed_mid_job_lose_nothing_and_do_nothing_twice(tmp_path, postgres_url):
    expected = 2 * 15
    world = scale.build(tmp_path / "world", channels=2, orders=15, latency=0.1, store_url=postgres_url)
    log = tmp_path / "workers.log"
    try:
        scale.prepare_schema(world)
        procs = [scale.spawn_worker(world.config_path, 4, log) for _ in range(2)]
        kills, started = 0, time.monotonic()
        try:
            while not scale.finished(world.store, expected):
                assert time.monotonic() - started < 150, f"not done: {scale.progress(world.store)}\n{log.read_text()[-3000:]}"
                time.sleep(0.7)
                if kills < 4 and _jobs(world.store, "doing") > 0:
                    victim = kills % 2
                    procs[victim].send_signal(signal.SIGKILL)
                    procs[victim].wait()
                    procs[victim] = scale.spawn_worker(world.config_path, 4, log)
                    kills += 1
        finally:
            scale.stop(procs)
        assert kills == 4
        found = scale.check(world, expected)
        assert found["orders_lost"] == 0
        assert found["labels_bought"] >= expected
        assert (found["labels_doubled"], found["fulfilments_doubled"], found["notices_doubled"]) == (0, 0, 0)
        assert "stalled with its worker; handing it back" in log.read_text()  # a killed job was handed back
    finally:
        world.close()


def _jobs(store: Store, *statuses: str, queues: list[str] | None = None) -> int:
    """How many procrastinate jobs are in ``statuses`` (in ``queues``)."""
    sql = "SELECT count(*) FROM procrastinate_jobs WHERE status::text = ANY(%(s)s)"
    params: dict[str, Any] = {"s": list(statuses)}
    if queues:
        sql += " AND queue_name = ANY(%(q)s)"
        params["q"] = list(queues)
    with store.read() as conn:
        return conn.exec_driver_sql(sql, params).scalar()


# --------------------------------------------------------------------------- docs/deploy.md


def test_the_deploy_recipes_in_the_docs_are_the_files_and_name_real_options():
    import re
    import shlex

    import click
    import yaml

    from fulfilhub.cli import main

    repo = Path(__file__).parents[1]
    text = (repo / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:ini|yaml)\n(.*?)```", text, re.S)
    files = [repo / "contrib/deploy/systemd/fulfilhub-worker@.service", repo / "contrib/deploy/systemd/fulfilhub-serve.service",
             repo / "contrib/deploy/compose/compose.yaml"]
    assert blocks == [f.read_text(encoding="utf-8") for f in files]
    compose = yaml.safe_load(files[2].read_text(encoding="utf-8"))
    lines = [line.partition("=")[2] for f in files[:2] for line in f.read_text().splitlines() if line.startswith("Exec")]
    lines += [" ".join(compose["services"]["worker"]["command"])]
    lines += compose["services"]["serve"]["command"][2].split(" && exec ")
    for line in lines:
        args = shlex.split(line)[1:]
        while args and args[0].startswith("-"):  # the global options
            args = args[2:] if args[0] in ("-c", "--config") else args[1:]
        command: click.Command = main
        while isinstance(command, click.Group):
            command, args = command.commands[args[0]], args[1:]
        command.make_context(command.name, list(args))  # an unknown option raises here
