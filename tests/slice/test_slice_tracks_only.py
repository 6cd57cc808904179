"""A shipment that carries a label bought elsewhere is followed through a tracks-only carrier
(Kuaidi100), by polling and by its signed pushes to ``fulfilhub serve``, and the
customer's tracking page shows its Chinese scans as they came.

The world's only carrier that sells labels is down, so packed shipments wait for a
label; the test then gives each one a label from outside, as a 3PL or an operator
would, and the runner does the rest.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import fulfilhub_easypost
import fulfilhub_shopify
import httpx
import pytest

from fulfilhub.models import ShipmentStatus
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import outside
from fulfilhub.scenarios import World, build_world
from fulfilhub.server import ServerThread, tracking
from fulfilhub.store import inbox as inbox_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.testing import FAST_RETRIES

kuaidi100 = pytest.importorskip("fulfilhub_kuaidi100", reason="needs the tracks-only carrier: fulfilhub-kuaidi100")

KEY, SALT = "kd100-slice-key-42", "kd100-slice-salt-7"


def _world(tmp_path, monkeypatch, *, pushes: bool) -> World:
    monkeypatch.setenv("KD100_KEY", KEY)
    monkeypatch.setenv("KD100_SALT", SALT)
    plugins = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, kuaidi100])
    subscribe = '\ncallback_url = "https://shop.example/webhooks/kd"\nsalt = "${KD100_SALT}"' if pushes else ""

    def config(sandbox) -> str:
        return (f'\n[carriers.kd]\ntype = "kuaidi100"\ncustomer = "C1"\nkey = "${{KD100_KEY}}"\n'
                f'base_url = "{sandbox.url_for("kuaidi100")}"\nautonumber_url = "/autonumber/auto"{subscribe}\n')

    world = build_world(plugins, tmp_path / "world", start=datetime(2026, 12, 7, 1, tzinfo=timezone.utc), seed=5,
                        options={"kuaidi100": {"customer": "C1", "key": KEY, "exception_rate": 0},
                                 "shopify": {"orders_per_day": 12}},
                        extra_config=config, policy=FAST_RETRIES)
    world.context.faults.add("500", path="/easypost/", method="POST", times=10**6)  # no label can be bought
    for shop in world.simulators("channels").values():
        for item in shop.catalog:
            for warehouse in world.config.warehouses:
                world.stock(warehouse, item["sku"], 500)
    return world


def _label_elsewhere(world: World) -> list:
    """Run until shipments wait packed, then give each a label bought elsewhere."""
    sim = world.sandbox.simulators["kuaidi100"]
    for _ in range(6):
        world.sync(hours=4)
    for shop in world.simulators("channels").values():
        shop.stop_arrivals()
    with world.store.read() as conn:
        packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
    assert packed, "no shipment waited, packed, for a label"
    for n, shipment in enumerate(packed):  # the courier takes each parcel; its code is attached as an operator would
        outside.attach(world.rt, shipment.id, carrier="kd", code=sim.ship("yunda"), courier=("yunda" if n % 2 else ""))
    return packed


def test_an_outside_label_is_tracked_through_kuaidi100_and_its_chinese_scans_show(tmp_path, monkeypatch):
    with _world(tmp_path, monkeypatch, pushes=False) as world:
        sim = world.sandbox.simulators["kuaidi100"]
        packed = _label_elsewhere(world)
        for _ in range(18):
            world.sync(hours=4)
        order_id = packed[0].order_id
        [shipment] = [s for s in world.shipments(order_id) if s.id == packed[0].id]
        assert shipment.status is ShipmentStatus.DELIVERED
        assert shipment.carrier == "kd"
        assert sim.calls["query"] >= len(packed)
        assert sim.calls["autonumber"] >= 1
        assert sim.calls["subscribe"] == 0
        with world.store.read() as conn:
            html = tracking.render(tracking.build(conn, order_id, "zh-Hans", world.clock.now()), "zh-Hans", "")
        assert "韵达快递 已收取快件" in html
        assert "快件已签收，签收人：本人" in html
        assert shipment.tracking_code in html


def test_kuaidi100_pushes_reach_the_server_signed_and_are_applied(tmp_path, monkeypatch):
    with _world(tmp_path, monkeypatch, pushes=True) as world, ServerThread(world.rt) as server:
        sim = world.sandbox.simulators["kuaidi100"]
        packed = _label_elsewhere(world)
        answers: dict[tuple[int, str], int] = {}
        for _ in range(24):
            world.sync(hours=4)  # the first poll of each number subscribes it
            for headers, body in sim.pending_webhooks():
                answer = httpx.post(f"{server.url}/webhooks/kd", headers=headers, content=body)
                key = (answer.status_code, answer.headers["content-type"].split(";")[0])
                answers[key] = answers.get(key, 0) + 1
                assert answer.json() == {"result": True, "returnCode": "200", "message": "成功"}
        world.sync()  # the last pushes, from the inbox
        assert not sim.pending_webhooks()  # every parcel is delivered: nothing new to push
        [(headers, body)] = _resend(sim)  # the last push once more, as after a receipt lost on the way
        for _ in range(2):  # a resend is the same delivery: answered with the receipt, not stored again
            again = httpx.post(f"{server.url}/webhooks/kd", headers=headers, content=body)
            assert again.json() == {"result": True, "returnCode": "200", "message": "成功"}
        forged = httpx.post(f"{server.url}/webhooks/kd", content=b"param=%7B%7D&sign=0123456789ABCDEF",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert forged.json() == {"result": False, "returnCode": "500", "message": "失败"}  # Kuaidi100's receipt
        assert sim.calls["subscribe"] == len(packed)
        assert set(answers) == {(200, "application/json")}, answers  # Kuaidi100's own receipt, not the server's
        accepted = answers[(200, "application/json")]
        assert accepted >= len(packed)
        with world.store.read() as conn:
            inbox = inbox_store.count_by_status(conn)
        assert inbox.get(inbox_store.PROCESSED, 0) == accepted
        assert not inbox.get(inbox_store.FAILED)
        statuses = [str(s.status) for p in packed for s in world.shipments(p.order_id) if s.id == p.id]
        assert set(statuses) == {"delivered"}, statuses


def test_attach_code_gives_a_packed_shipment_an_outside_code_and_refuses_what_cannot_be(tmp_path, monkeypatch):
    """``fulfilhub shipments attach-code``: by order number or shipment id, followed by the
    tracks-only carrier at once; a carrier that sells labels, a code twice, a shipment
    with a label and an unknown shipment are refused with their exit codes."""
    from click.testing import CliRunner

    import fulfilhub.cli as cli_mod
    from fulfilhub.cli import main

    with _world(tmp_path, monkeypatch, pushes=False) as world:
        sim = world.sandbox.simulators["kuaidi100"]
        monkeypatch.setattr(cli_mod, "_MANAGER", world.plugins)
        for _ in range(6):
            world.sync(hours=4)
        with world.store.read() as conn:
            packed = shipment_store.without_rate(conn, ShipmentStatus.PACKED)
        assert len(packed) >= 2, "two shipments should wait, packed"
        first, second = packed[0], packed[1]
        number = sim.ship("shunfeng", phone="13800138000")
        config = ["--config", str(world.config_path)]

        def cli(*args: str):
            result = CliRunner().invoke(main, [*config, "shipments", "attach-code", *args])
            assert "Traceback" not in result.output
            return result

        sells = cli(first.id, "--carrier", "easypost", "--code", number)
        assert sells.exit_code == 2, sells.output
        assert "sells labels" in sells.output
        assert cli("nope/1", "--carrier", "kd", "--code", number).exit_code == 5
        done = cli(first.id, "--carrier", "kd", "--code", number, "--courier", "shunfeng", "--json")
        assert done.exit_code == 0, done.output
        row = json.loads(done.output)
        assert row["status"] == "label_purchased"
        assert row["tracking_code"] == number
        assert row["carrier"] == "kd"
        phone = "".join(c for c in world.order(first.order_id)[0].ship_to.phone if c.isdigit())
        assert row["tracker_ref"] == phone[-4:]  # SF checks the last four digits of the recipient's phone
        again = cli(second.id, "--carrier", "kd", "--code", number)
        assert again.exit_code == 1
        assert f"shipment {first.id}" in again.output
        labelled = cli(first.id, "--carrier", "kd", "--code", "YT1234567890")
        assert labelled.exit_code == 1
        assert "has label" in labelled.output
        other = sim.ship("yunda")
        by_order = cli(second.order_id, "--carrier", "kd", "--code", other)
        assert by_order.exit_code == 0, by_order.output
        [followed] = [s for s in world.shipments(second.order_id) if s.id == second.id]
        assert followed.tracking_code == other
        assert followed.next_poll_at == followed.shipped_at  # asked at once, not 12 hours later
        events = [e.reason for e in world.events(second.order_id)]
        assert any(f"tracking code {other}" in (reason or "") for reason in events), events


def _resend(sim) -> list:
    """Kuaidi100's last push of the first subscribed number, once more."""
    with sim.state as state:
        for sub in state["subs"].values():
            sub["seen"] = 0
    return sim.pending_webhooks()[:1]
