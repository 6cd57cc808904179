"""What a pass costs the store, and that skipping the jobs with nothing waiting never
skips work: the gate of ``sync_once`` and the scheduler (``runner.jobs.Gate``), and the
job runs kept per pass (``store.job_runs.record_many``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa

from fulfilhub.runner import jobs
from fulfilhub.store import job_runs, schema

from .test_operator_cli import placed


class Counted:
    def __init__(self) -> None:
        self.statements = self.transactions = 0


@contextlib.contextmanager
def counting(engine: sa.Engine) -> Iterator[Counted]:
    seen = Counted()

    def statement(_c, _cur, text, *_a):
        if not text.startswith("BEGIN"):
            seen.statements += 1

    def begin(_c):
        seen.transactions += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "begin", begin)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "begin", begin)


def test_a_skipped_job_had_nothing_to_do_and_an_idle_pass_costs_three_transactions(world):
    for item in world.shop.catalog:
        world.stock("east", item["sku"], 50)
    orders = [placed(world) for _ in range(3)]
    checked = set()
    for _ in range(60):
        world.clock.advance(timedelta(hours=3))
        gate = jobs.Gate(world.rt)
        skipped = [name for name in sorted(jobs.GATED) if gate.skips(name)]
        for name in skipped:  # the gate said nothing waits: the job itself finds nothing either
            report = jobs.JOBS[name](world.rt)
            assert not report.errors and not {k: n for k, n in report.counts.items() if n and k != "unchanged"}, name
            checked.add(name)
        jobs.sync_once(world.rt)
        if all(world.order(o)[1].status == "delivered" for o in orders):
            break
    assert [world.order(o)[1].status for o in orders] == ["delivered"] * 3, [world.shipments(o) for o in orders]
    assert checked == jobs.GATED  # each gated job was skipped at least once along the way
    with counting(world.store.engine) as idle:
        reports = jobs.sync_once(world.rt)
    assert idle.transactions <= 3, idle.transactions  # pull_orders, the gate, push_stock
    assert [r.job for r in reports] == ["pull_orders", "process_inbox", "allocate", "deliver_effects",
                                        "poll_warehouses", "buy_labels", "deliver_effects", "poll_tracking",
                                        "push_stock", "assess_delays", "notices", "deliver_effects"]


def test_work_that_comes_due_is_not_skipped(world):
    for item in world.shop.catalog:
        world.stock("east", item["sku"], 50)
    world.sync(hours=1)
    assert jobs.Gate(world.rt).skips("allocate")
    placed(world)
    world.clock.advance(timedelta(hours=1))
    jobs.pull_orders(world.rt)
    gate = jobs.Gate(world.rt)
    assert not gate.skips("allocate")
    assert gate.skips("deliver_effects")
    jobs.allocate(world.rt)
    assert not jobs.Gate(world.rt).skips("deliver_effects")  # the submission waits in the outbox


def test_a_pass_keeps_its_runs_in_one_transaction_and_each_job_keeps_its_newest(world, monkeypatch):
    monkeypatch.setattr(job_runs, "KEEP", 3)
    monkeypatch.setattr(job_runs, "_PRUNE", job_runs.job_runs.delete().where(
        job_runs.job_runs.c.job == sa.bindparam("pruned"), job_runs.job_runs.c.id <= (
            sa.select(job_runs.job_runs.c.id).where(job_runs.job_runs.c.job == sa.bindparam("pruned"))
            .order_by(job_runs.job_runs.c.id.desc()).offset(3).limit(1).scalar_subquery())))
    jobs.sync_once(world.rt)  # the first pass starts the notices' cursors
    with counting(world.store.engine) as seen:
        jobs.sync_once(world.rt, record=True)
    with world.store.read() as conn:
        rows = conn.execute(sa.select(schema.job_runs).order_by(schema.job_runs.c.id)).all()
    assert len(rows) == 12
    assert {r.trigger for r in rows} == {"sync"}
    assert seen.transactions <= 4  # pull, gate, push_stock and the runs
    for _ in range(3):
        jobs.sync_once(world.rt, record=True)
    with world.store.read() as conn:
        kept = conn.execute(sa.select(schema.job_runs.c.job, sa.func.count()).group_by(schema.job_runs.c.job)).all()
        newest = job_runs.last_runs(conn)
    assert dict(kept) == {"pull_orders": 3, "process_inbox": 3, "allocate": 3, "deliver_effects": 3,
                          "poll_warehouses": 3, "buy_labels": 3, "poll_tracking": 3, "push_stock": 3,
                          "assess_delays": 3, "notices": 3}
    assert newest["pull_orders"].id > rows[-1].id


def test_delivered_effects_are_recorded_together_and_one_that_cannot_be_stays_with_its_error(world, monkeypatch):
    from fulfilhub.engines import fulfilment
    from fulfilhub.errors import PermanentError
    from fulfilhub.store import outbox

    for item in world.shop.catalog:
        world.stock("east", item["sku"], 50)
    first, second = placed(world), placed(world)
    world.clock.advance(timedelta(hours=1))
    jobs.pull_orders(world.rt)
    jobs.allocate(world.rt)
    real = fulfilment.record_submission

    def record_submission(tx, shipment, ref, now):
        if shipment.order_id == second:
            raise PermanentError("the engine refuses this one")
        return real(tx, shipment, ref, now)

    monkeypatch.setattr(fulfilment, "record_submission", record_submission)
    with counting(world.store.engine) as seen:
        report = jobs.deliver_effects(world.rt)
    assert report.counts["warehouse.submit"] == 1
    assert report.counts["failed"] == 1
    (error,) = report.errors
    assert error.startswith("warehouse.submit ")
    assert error.endswith("failed: the engine refuses this one")
    assert world.shipments(first)[0].status == "submitted"
    assert world.shipments(second)[0].status == "pending"
    with world.store.read() as conn:
        assert sorted(e.status for e in outbox.listing(conn, limit=10)) == ["done", "failed"]
    # claim, read, the local warehouse's two submissions (one write: submit_many), the batch (rolled back),
    # each alone, the failure
    assert seen.transactions == 7
