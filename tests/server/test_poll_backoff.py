"""``[server] poll_backoff``: polling stays the safety net, and backs off for an instance
whose webhooks are healthy; as soon as they stop, the normal schedule is back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.runner.scheduler import Scheduler
from fulfilhub.store import Store
from fulfilhub.store import inbox as inbox_store

from .conftest import serving

MINUTE = timedelta(minutes=1)


def _has(served, order_id: str) -> bool:
    from fulfilhub.store import orders as order_store

    with served.world.store.read() as conn:
        return order_store.load(conn, order_id) is not None


def _tick(served, scheduler, minutes: int) -> dict[str, dict[str, int]]:
    served.world.clock.advance(minutes * MINUTE)
    return {r.job: dict(r.counts) for r in scheduler.tick()}


def test_pull_orders_backs_off_while_webhooks_are_healthy_and_resumes_when_they_stop(tmp_path):
    with serving(tmp_path, 'rate_limit_per_minute = 100000\npoll_backoff = "30m"\n') as served:
        rt = served.world.rt
        served.world.stock("east", "TEE-ORG-M", 50)
        scheduler = Scheduler(rt, {"process_inbox": MINUTE, "pull_orders": 5 * MINUTE})
        ran = {r.job for r in scheduler.tick()}  # no webhook yet: polled on schedule
        assert ran == {"process_inbox", "pull_orders"}
        pushed = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
        assert served.post("shop", *served.order_webhook(pushed)).status_code == 202
        assert _tick(served, scheduler, 1)["process_inbox"]["processed"] == 1
        assert _has(served, f"shop:{pushed['id']}")  # by the webhook, at once
        quiet = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])  # a webhook the shop never sent
        for minute in range(6, 30, 5):  # the poll is due every 5 min and waits; a webhook 4 min before each
            served.world.clock.advance(MINUTE)
            assert served.post("shop", *served.order_webhook(served.shop.add_order(
                [{"sku": "TEE-ORG-M", "quantity": 1}]))).status_code == 202
            reports = _tick(served, scheduler, 4)
            assert reports["pull_orders"] == {"backed_off": 1}, minute
            assert not _has(served, f"shop:{quiet['id']}")
        # +31: 30 min after the last poll it polls anyway: the safety net catches what no webhook told
        reports = _tick(served, scheduler, 5)
        assert reports["pull_orders"].get("backed_off") is None and reports["pull_orders"]["orders_new"] >= 1
        assert _has(served, f"shop:{quiet['id']}")
        out = CliRunner().invoke(main, ["-c", str(served.world.config_path), "jobs", "--json"])
        pull = next(j for j in json.loads(out.output) if j["job"] == "pull_orders")
        assert pull["backing_off"] == {}  # the CLI's wall clock is months after the scenario's webhooks
        # the webhooks stop (the last arrived at +22 min, this poll ran at +31): backed off
        # while it is younger than 30 min, then every 5 min again
        later = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
        for _ in range(4):  # +36, +41, +46, +51
            assert _tick(served, scheduler, 5)["pull_orders"] == {"backed_off": 1}
        reports = _tick(served, scheduler, 5)  # +56: 34 min without a webhook
        assert "backed_off" not in reports["pull_orders"] and _has(served, f"shop:{later['id']}")
        again = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
        reports = _tick(served, scheduler, 5)  # webhooks quiet: the normal 5 min schedule
        assert "backed_off" not in reports["pull_orders"] and _has(served, f"shop:{again['id']}")


def test_off_by_default_and_jobs_and_doctor_say_who_backs_off(tmp_path):
    config = tmp_path / "fulfilhub.toml"
    db = tmp_path / "s.sqlite"
    base = f'[store]\nurl = "sqlite:///{db}"\n[warehouses.main]\ntype = "local"\n'
    config.write_text(base, encoding="utf-8")
    store = Store.open(f"sqlite:///{db}", migrate=True)
    now = datetime.now(timezone.utc)
    with store.transaction() as tx:
        for n, (instance, kind, ago) in enumerate([("shop", "channels", 3), ("ups", "carriers", 45),
                                                   ("old-shop", "channels", 90)]):
            inbox_store.add(tx, instance=instance, kind=kind, delivery_id=f"d{n}", received_at=now - ago * MINUTE,
                            sent_at=None, headers={}, body=b"{}")
            (row,) = inbox_store.listing(tx.conn, instance=instance)
            inbox_store.finish(tx, row.id, inbox_store.PROCESSED, now)
    store.close()
    cli = CliRunner()

    def jobs_json():
        return {j["job"]: j.get("backing_off") for j in json.loads(cli.invoke(main, ["-c", str(config), "jobs", "--json"]).output)}

    def doctor():
        checks = json.loads(cli.invoke(main, ["-c", str(config), "doctor", "--json"]).output)
        return next(c["detail"] for c in checks if c["check"] == "polling")

    assert jobs_json()["pull_orders"] is None
    assert doctor() == "poll_backoff off: every instance is polled on its schedule"
    config.write_text(base + '[server]\npoll_backoff = "1h"\n', encoding="utf-8")
    found = jobs_json()
    assert list(found["pull_orders"]) == ["shop"] and list(found["poll_tracking"]) == ["ups"]
    text = cli.invoke(main, ["-c", str(config), "jobs", "--format", "table"]).output
    assert "pull_orders backs off for shop (webhook 3m ago): polled at most every 1h" in " ".join(text.split())
    assert doctor() == "poll_backoff 1h: polled at most every 1h: ups (webhook 45m ago), shop (webhook 3m ago)"


@pytest.mark.parametrize("value", ['"soon"', "0", "true"])
def test_a_bad_poll_backoff_names_the_key(tmp_path, value):
    from fulfilhub.config import load
    from fulfilhub.errors import ConfigError

    path = tmp_path / "fulfilhub.toml"
    path.write_text(f'[store]\nurl = "sqlite:///x"\n[server]\npoll_backoff = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[server.poll_backoff\] expected a positive duration"):
        load(path, env={})


def test_tracking_polls_back_off_for_a_carrier_whose_webhooks_are_healthy(tmp_path):
    import sqlalchemy as sa

    from fulfilhub.runner import jobs
    from fulfilhub.store.schema import shipments

    with serving(tmp_path, 'rate_limit_per_minute = 100000\npoll_backoff = "30m"\n') as served:
        rt = served.world.rt
        order_id, ship, tracker = served.ship_order()

        def make_due() -> None:
            with served.world.store.transaction() as tx:
                tx.execute(shipments.update().values(next_poll_at=None))

        def polled() -> bool:
            with served.world.store.read() as conn:
                return conn.execute(sa.select(shipments.c.next_poll_at).where(shipments.c.id == ship.id)).scalar() \
                    is not None

        make_due()
        assert "backed_off" not in jobs.poll_tracking(rt).counts and polled()  # no webhook yet
        assert served.post("easypost", *served.tracker_webhook(tracker)).status_code == 202
        assert jobs.process_inbox(rt).counts["processed"] == 1
        make_due()
        assert jobs.poll_tracking(rt).counts == {"backed_off": 1} and not polled()  # due, but it waits
        served.world.clock.advance(31 * MINUTE)  # no webhook for 31 min: polled again
        report = jobs.poll_tracking(rt)
        assert "backed_off" not in report.counts and polled()
