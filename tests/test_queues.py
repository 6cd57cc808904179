"""The procrastinate queues as the operator sees them (`doctor`, `jobs`, `/metrics`), the
queue tables through `db upgrade`, and `run --engine procrastinate`: against the real
local PostgreSQL (skipped, saying why, where there is none)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from fulfilhub.clock import SystemClock
from fulfilhub.store import Store
from fulfilhub.store import queues as queue_store

_spec = importlib.util.spec_from_file_location("scale_bench", Path(__file__).parents[1] / "benchmarks" / "scale.py")
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def test_a_units_lock_names_its_instance_and_its_job():
    assert queue_store.instance_of("track:easypost:3") == "track:easypost"
    assert queue_store.instance_of("pull:shop_eu") == "pull:shop_eu"
    assert queue_store.instance_of("labels:3") is None  # every carrier's: no single instance
    assert queue_store.instance_of("pass:notices") is None
    assert queue_store.instance_of(None) is None
    assert queue_store.job_of("track:easypost:3") == "poll_tracking"
    assert queue_store.job_of("deliver:shop_eu:0") == "deliver_effects"
    assert queue_store.job_of("pass:assess_delays") == "assess_delays"
    assert queue_store.job_of("dispatch") is None


def test_sqlite_has_no_queues(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'q.sqlite'}", migrate=True)
    try:
        with store.read() as conn:
            assert queue_store.status(conn) is None
    finally:
        store.close()


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "fulfilhub.toml"
    path.write_text(f'[store]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return path


def _cli(config: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = {**os.environ, "FULFILHUB_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "fulfilhub", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


WAREHOUSE = """
[warehouses.main]
type = "local"

[warehouses.main.address]
name = "Main warehouse"
line1 = "1 Dock Road"
city = "Reno"
province = "NV"
postal_code = "89501"
country = "US"
"""


def test_an_unknown_schedule_engine_is_a_config_error(tmp_path):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite'}", '[schedule]\nengine = "celery"\n')
    done = _cli(config, "run")
    assert done.returncode == 2, done.stderr
    assert "schedule.engine" in done.stderr
    assert "'procrastinate'" in done.stderr


def test_run_with_the_procrastinate_engine_refuses_sqlite_saying_why(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    Store.open(url, migrate=True).close()
    done = _cli(_config(tmp_path, url), "run", "--engine", "procrastinate")
    assert done.returncode == 2, done.stderr
    assert "needs the store on PostgreSQL" in done.stderr
    assert "db copy" in done.stderr


@pytest.mark.postgres
def test_db_upgrade_creates_the_queue_tables_and_doctor_jobs_metrics_show_them(tmp_path, postgres_url):
    pytest.importorskip("procrastinate", reason="needs the postgres extra: pip install -e '.[postgres]'")
    config = _config(tmp_path, postgres_url, WAREHOUSE)
    done = _cli(config, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "procrastinate's queue tables created" in done.stdout
    again = _cli(config, "db", "upgrade")
    assert "queue tables are in place" in again.stdout

    store = Store.open(postgres_url)
    try:
        with store.transaction() as tx:  # a worker that died an hour ago mid-job, and two jobs waiting
            silent = tx.conn.execute(sa.text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                             "VALUES (now() - interval '1 hour') RETURNING id")).scalar()
            tx.conn.execute(sa.text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now())"))
            tx.conn.execute(sa.text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, status, worker_id) "
                "VALUES ('poll', 'fulfilhub.track', 'track:easypost:1', 'track:easypost:1', 'doing', :w)"),
                {"w": silent})
            for lock, queue, task, age in (("track:easypost:2", "poll", "fulfilhub.track", "20 minutes"),
                                           ("pull:shop_eu", "pull", "fulfilhub.pull", "30 seconds")):
                job = tx.conn.execute(sa.text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, status) "
                    "VALUES (:q, :t, :l, :l, 'todo') RETURNING id"), {"q": queue, "t": task, "l": lock}).scalar()
                tx.conn.execute(sa.text("INSERT INTO procrastinate_events (job_id, type, at) "
                                        f"VALUES (:j, 'deferred', now() - interval '{age}')"), {"j": job})
        with store.read() as conn:
            status = queue_store.status(conn)
        assert status is not None
        assert status.workers_alive == 1
        assert status.workers_silent == 1
        assert [j.lock for j in status.stalled] == ["track:easypost:1"]
        assert 1190 < status.lag["track:easypost"] < 1300
        assert 25 < status.lag["pull:shop_eu"] < 120
        assert status.by_job["poll_tracking"] == {"todo": 1, "doing": 1}
        assert {q.name: (q.todo, q.doing) for q in status.queues} == {"poll": (1, 1), "pull": (1, 0)}

        doctor = _cli(config, "doctor", "--json")
        checks = {c["check"]: c for c in json.loads(doctor.stdout)}
        assert doctor.returncode == 1, doctor.stdout  # a stalled job and a lagging instance need attention
        assert checks["workers"]["ok"] == "yes"
        assert "1 alive, 1 silent" in checks["workers"]["detail"]
        assert checks["stalled jobs"]["ok"] == "NO"
        assert "track:easypost:1" in checks["stalled jobs"]["detail"]
        assert checks["lag"]["ok"] == "NO"
        assert "track:easypost" in checks["lag"]["detail"]
        assert "pull:shop_eu" not in checks["lag"]["detail"]

        jobs = _cli(config, "jobs", "--json")
        rows = {r["job"]: r for r in json.loads(jobs.stdout)}
        assert rows["poll_tracking"]["queued"]["todo"] == 1
        assert rows["poll_tracking"]["queued"]["doing"] == 1
        assert set(rows["poll_tracking"]["queued"]["lag_seconds"]) == {"easypost"}
        assert rows["pull_orders"]["queued"]["lag_seconds"]["shop_eu"] < 120
        assert jobs.returncode == 1  # the stalled job

        from fulfilhub.server.metrics import Metrics

        text = Metrics(store, SystemClock()).render().decode()
        assert "fulfilhub_workers_alive 1.0" in text
        assert "fulfilhub_stalled_jobs 1.0" in text
        assert 'fulfilhub_queue_jobs{queue="poll",status="doing"} 1.0' in text
        assert 'fulfilhub_queue_lag_seconds{unit="track:easypost"}' in text
    finally:
        store.close()


@pytest.mark.postgres
def test_run_with_the_procrastinate_engine_runs_the_passes_as_a_worker(tmp_path, postgres_url):
    pytest.importorskip("procrastinate", reason="needs the postgres extra: pip install -e '.[postgres]'")
    pytest.importorskip("fulfilhub_shopify", reason="the world's shop is fulfilhub-shopify's simulator")
    pytest.importorskip("fulfilhub_easypost", reason="the world's carrier is fulfilhub-easypost's simulator")
    world = scale.build(tmp_path / "world", channels=1, orders=6, latency=0.0, store_url=postgres_url)
    log = tmp_path / "run.log"
    env = {**os.environ, "FULFILHUB_CONFIG": str(world.config_path)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "fulfilhub", "run", "--engine", "procrastinate"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log.open("ab"))
        try:
            started = time.monotonic()
            while scale.progress(world.store)[0] < 6:  # the dispatcher deferred the pull, a job ran it
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() - started < 90, log.read_text()
                time.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=40) == 0, log.read_text()
        assert "procrastinate worker" in log.read_text()
    finally:
        world.close()
