"""Webhooks in: every refusal stores nothing; accepted deliveries are processed once, by
the same engines as polling, and converge with it on one state."""

from __future__ import annotations

import json
import uuid
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fulfilhub.runner import jobs
from fulfilhub.runner.inbox import process_inbox
from fulfilhub.store import inbox as inbox_store
from fulfilhub.store.schema import order_events, orders, outbox, tracking_events, webhook_inbox

from .conftest import EP_SECRET, SHOP_SECRET


def _count(served, table) -> int:
    with served.world.store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _counter(served, instance: str, outcome: str) -> float:
    """``fulfilhub_webhooks_total{instance, outcome}`` as /metrics shows it now."""
    found = re.search(rf'fulfilhub_webhooks_total{{instance="{instance}",outcome="{outcome}"}} ([0-9.]+)',
                      served.metrics())
    return float(found.group(1)) if found else 0.0


def _stored(served) -> tuple[int, int, int]:
    """What a refused webhook must not have changed: inbox rows, orders, scans."""
    return _count(served, webhook_inbox), _count(served, orders), _count(served, tracking_events)


def _webhook(served, plugin: str, **kw):
    """A valid webhook of ``plugin``: (instance, headers, body)."""
    if plugin == "shopify":
        served.world.stock("east", "TEE-ORG-M", 5)
        order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
        return ("shop", *served.order_webhook(order, **kw))
    if not served.easypost.trackers:  # a parcel on its way, once per world
        served.ship_order()
    tracker = next(iter(served.easypost.trackers.values()))
    return ("easypost", *served.tracker_webhook(tracker, event_id=f"evt_{uuid.uuid4().hex}", **kw))


PLUGINS = ["shopify", "easypost"]
SECRETS = {"shopify": SHOP_SECRET, "easypost": EP_SECRET}
SIGNATURE = {"shopify": "X-Shopify-Hmac-Sha256", "easypost": "X-Hmac-Signature"}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_valid_webhook_is_stored_and_answered_at_once(served_module, plugin):
    served = served_module
    instance, headers, body = _webhook(served, plugin)
    before = _count(served, webhook_inbox)
    answer = served.post(instance, headers, body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    assert _count(served, webhook_inbox) == before + 1
    with served.world.store.read() as conn:
        row = inbox_store.pending(conn)[-1]
    assert (row.instance, row.status, bytes(row.body)) == (instance, "pending", body)


@pytest.mark.parametrize("plugin", PLUGINS)
@pytest.mark.parametrize("case", ["tampered_body", "wrong_secret", "missing_signature", "stale", "replayed"])
def test_every_refusal_stores_nothing(served_module, plugin, case):
    served = served_module
    kw = {"secret": "not-the-secret"} if case == "wrong_secret" else {}
    if case == "stale":
        kw["sent_at"] = served.world.clock.now() - timedelta(days=4)
    instance, headers, body = _webhook(served, plugin, **kw)
    if case == "tampered_body":
        body = body.replace(b'"quantity": 1', b'"quantity": 9') if plugin == "shopify" else body.replace(
            b'"mode": "test"', b'"mode": "production"')
    if case == "missing_signature":
        headers.pop(SIGNATURE[plugin])
    if case == "replayed":
        assert served.post(instance, headers, body).status_code == 202
    before = _stored(served)
    counted = _counter(served, instance, "duplicate" if case == "replayed" else "stale" if case == "stale" else "signature")
    answer = served.post(instance, headers, body)
    expected = {"tampered_body": (401, "signature"), "wrong_secret": (401, "signature"),
                "missing_signature": (401, "signature"), "stale": (400, "stale"), "replayed": (200, "duplicate")}[case]
    got = answer.json()
    assert (answer.status_code, got.get("error") or got.get("status")) == expected, answer.text
    assert _stored(served) == before
    assert _counter(served, instance, expected[1]) == counted + 1  # counted in /metrics by its reason


def test_an_oversized_body_is_refused_with_413_before_it_is_read(served_module):
    served = served_module
    instance, headers, body = _webhook(served, "shopify")
    big = body[:-1] + b', "padding": "' + b"x" * 70_000 + b'"}'
    headers["X-Shopify-Hmac-Sha256"] = __import__("fulfilhub_shopify").webhooks.sign(big, SHOP_SECRET)
    before = _stored(served)
    assert served.post(instance, headers, big).status_code == 413
    assert _stored(served) == before


def test_an_unknown_instance_or_one_without_webhooks_is_404(served_module):
    served = served_module
    assert served.client.post("/webhooks/nope", content=b"{}").status_code == 404
    assert served.client.post("/webhooks/east", content=b"{}").status_code == 404  # a warehouse


def test_webhook_and_poll_of_the_same_order_converge_without_duplicates(served):
    served.world.stock("east", "TEE-ORG-M", 5)
    order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    order_id = f"shop:{order['id']}"
    assert served.post("shop", *served.order_webhook(order)).status_code == 202
    # the vendor retries the same delivery; then polling sees the same order
    assert served.post("shop", *served.order_webhook(order)).json()["status"] == "duplicate"
    report = jobs.summarize(jobs.sync_once(served.world.rt))
    assert report.counts["processed"] == 1
    assert report.counts["orders_new"] == 1  # the pull (it runs first in a sync) stored it...
    with served.world.store.read() as conn:
        events = conn.execute(sa.select(order_events.c.kind, order_events.c.to_status, order_events.c.source)
                              .where(order_events.c.order_id == order_id).order_by(order_events.c.id)).all()
        (row,) = inbox_store.listing(conn)
    assert [tuple(e) for e in events[:2]] == [("status", "received", "channel:shop"), ("status", "accepted", "intake")]
    assert len([e for e in events if e.to_status == "received"]) == 1
    # ... and the webhook of the same version changed nothing
    assert (row.status, row.result) == ("processed", f"order {order_id}: unchanged (already stored)")
    # an update by webhook, then the same update by poll: one "updated" event
    changed = served.shop.update_order(order["id"], tags="vip")
    assert served.post("shop", *served.order_webhook(changed, topic="orders/updated")).status_code == 202
    jobs.summarize(jobs.sync_once(served.world.rt))
    with served.world.store.read() as conn:
        kinds = conn.execute(sa.select(order_events.c.kind).where(order_events.c.order_id == order_id)).scalars().all()
    assert kinds.count("updated") == 1


def test_tracking_by_webhook_and_by_poll_converge_on_one_state(served):
    order_id, ship, tracker = served.ship_order()
    served.world.clock.advance(timedelta(days=6))  # the parcel lands in the simulator
    tracker = served.easypost.trackers[tracker["id"]]
    assert tracker["status"] == "delivered"
    assert served.post("easypost", *served.tracker_webhook(tracker)).status_code == 202
    report = process_inbox(served.world.rt)
    assert report.counts["processed"] == 1, report
    (after_hook,) = served.world.shipments(order_id)
    assert str(after_hook.status) == "delivered"
    scans = _count(served, tracking_events)
    pushes = _count(served, outbox)
    # polling now sees the same: nothing new (a delivered parcel is not even asked again)
    jobs.summarize(jobs.sync_once(served.world.rt))
    tracking_job = jobs.poll_tracking(served.world.rt)
    assert tracking_job.counts.get("scans_new", 0) == 0
    assert _count(served, tracking_events) == scans
    with served.world.store.read() as conn:
        keys = conn.execute(sa.select(outbox.c.key).where(outbox.c.kind == "channel.push_tracking")).scalars().all()
        delivered = conn.execute(sa.select(sa.func.count()).where(order_events.c.order_id == order_id,
                                                                  order_events.c.to_status == "delivered")).scalar()
    assert len(keys) == len(set(keys))
    assert sum(k.endswith(":delivered") for k in keys) == 1
    assert _count(served, outbox) == pushes
    assert delivered == 1
    # the same event again (EasyPost retrying) is acknowledged and not processed again
    assert served.post("easypost", *served.tracker_webhook(tracker)).json()["status"] == "duplicate"


def test_a_webhook_that_does_not_map_is_kept_failed_and_can_be_replayed(served):
    served.world.stock("east", "TEE-ORG-M", 5)
    order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    broken = {**order, "line_items": "not a list"}
    assert served.post("shop", *served.order_webhook(broken)).status_code == 202
    report = process_inbox(served.world.rt)
    assert report.counts["failed"] == 1
    with served.world.store.read() as conn:
        (row,) = inbox_store.listing(conn)
    assert row.status == "failed" and "line_items" in row.error
    with served.world.store.transaction() as tx:
        assert inbox_store.reopen(tx, row.id)
    assert process_inbox(served.world.rt, ids=[row.id]).counts["failed"] == 1  # still broken, still kept


def test_a_topic_fulfilhub_does_not_act_on_is_ignored(served):
    served.world.stock("east", "TEE-ORG-M", 5)
    order = served.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    assert served.post("shop", *served.order_webhook(order, topic="orders/paid")).status_code == 202
    assert process_inbox(served.world.rt).counts["ignored"] == 1
    assert _count(served, orders) == 0


def test_webhook_bodies_are_kept_exactly_and_credentials_never(served_module):
    served = served_module
    instance, headers, body = _webhook(served, "shopify")
    headers["Authorization"] = "Bearer should-not-be-kept"
    assert served.post(instance, headers, body).status_code == 202
    with served.world.store.read() as conn:
        row = conn.execute(sa.select(webhook_inbox).order_by(webhook_inbox.c.id.desc()).limit(1)).one()
    assert bytes(row.body) == body
    assert "authorization" not in row.headers and "should-not-be-kept" not in json.dumps(row.headers)
    assert row.headers["x-shopify-topic"] == "orders/create"


def test_the_demo_with_serve_pushes_the_simulators_webhooks_through_the_server(tmp_path):
    """`fulfilhub demo --serve`: the simulators push orders and tracking to the server,
    signed as their vendors sign; every delivery is accepted and processed."""
    from fulfilhub.scenarios import run_demo

    from .conftest import make_plugins

    result = run_demo(orders=4, days=1, settle_days=1, seed=3, workspace=tmp_path / "demo", plugins=make_plugins(),
                      serve=True)
    pushed = sum(result.webhooks.values())
    assert pushed > 4 and set(result.webhooks) == {"202"}  # orders and scans; none refused
    assert result.inbox.get("processed", 0) + result.inbox.get("ignored", 0) == pushed
    assert not result.inbox.get("failed")


def test_simulators_resend_what_no_server_answered_and_the_sandbox_needs_the_wall_clock(tmp_path):
    """A push nobody answered is sent again on the next round (as vendors retry); once the
    server is up, everything arrives and is processed."""
    from click.testing import CliRunner

    from fulfilhub.cli import main
    from fulfilhub.scenarios import build_world
    from fulfilhub.server import ServerThread

    from .conftest import FAST_WAREHOUSES, START, make_plugins

    with build_world(make_plugins(), tmp_path, start=START, seed=2, webhooks=True, warehouses=FAST_WAREHOUSES,
                     options={"shopify": {"orders_per_day": 0, "update_rate": 0.0}}) as world:
        shop = world.sandbox.simulators["shopify"]
        assert shop.webhook_secret  # the scenario gave the simulator the secret the config names
        world.stock("east", "TEE-ORG-M", 5)
        shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
        assert world.deliver_webhooks("http://127.0.0.1:9") == {"error": 1}  # nobody listens there
        with ServerThread(world.rt) as server:
            assert world.deliver_webhooks(server.url) == {202: 1}
            assert world.deliver_webhooks(server.url) == {}  # nothing new
        assert process_inbox(world.rt).counts["processed"] == 1
    refused = CliRunner().invoke(main, ["sandbox", "--speed", "60", "--webhooks-to", "http://127.0.0.1:8080"])
    assert refused.exit_code == 2 and "needs the wall clock" in refused.output


def test_without_webhook_delivery_a_delivery_is_known_by_its_body():
    """``webhook_delivery`` is optional: an adapter with only verify and parse still takes
    webhooks; the same body twice is one delivery, and no sent time is checked."""
    import hashlib

    from fulfilhub import WebhookReceiver
    from fulfilhub.server.webhooks import delivery_of

    class Minimal:
        def verify_webhook(self, headers, body):
            return True

        def parse_webhook(self, headers, body):
            return None

    receiver = Minimal()
    assert isinstance(receiver, WebhookReceiver)
    first = delivery_of(receiver, {}, b'{"id": 1}')
    assert first.id == "sha256:" + hashlib.sha256(b'{"id": 1}').hexdigest() and first.sent_at is None
    assert delivery_of(receiver, {}, b'{"id": 1}') == first
    assert delivery_of(receiver, {}, b'{"id": 2}') != first


# --------------------------------------------------------------------------- the adapter's own reply


class _Replies:
    """A receiver whose vendor expects ``1|OK`` (as ECPay does)."""

    def __init__(self, reply):
        self.webhook_reply = reply


def test_an_adapters_webhook_reply_is_the_answer_for_each_outcome():
    from fulfilhub.server.webhooks import OUTCOMES, reply_of

    receiver = _Replies(lambda outcome: (200, "text/plain", b"1|OK" if outcome != "refused" else b"0|refused"))
    for outcome in OUTCOMES:
        answer = reply_of(receiver, outcome)
        assert answer.status_code == 200
        assert answer.media_type == "text/plain"
        assert answer.body == (b"0|refused" if outcome == "refused" else b"1|OK")
    assert reply_of(object(), "accepted") is None  # no webhook_reply: the server's JSON answers


@pytest.mark.parametrize("reply", [lambda o: (200, "text/plain", "1|OK"), lambda o: (700, "text/plain", b""),
                                   lambda o: "1|OK", lambda o: 1 / 0])
def test_a_broken_webhook_reply_leaves_the_servers_own_answer(reply, caplog):
    from fulfilhub.server.webhooks import reply_of

    assert reply_of(_Replies(reply), "accepted") is None
    assert "webhook_reply('accepted')" in caplog.text
def test_an_adapter_with_a_reply_of_its_own_is_answered_in_its_words(served_module, monkeypatch):
    """``webhook_reply(outcome)``: ECPay, for one, resends a notification until it reads ``1|OK``."""
    from fulfilhub_easypost.carrier import EasyPostCarrier

    outcomes = []

    def reply(self, outcome):
        outcomes.append(outcome)
        return (200, "text/plain", b"1|OK") if outcome != "refused" else (400, "text/plain", b"0|refused")

    monkeypatch.setattr(EasyPostCarrier, "webhook_reply", reply, raising=False)
    served = served_module
    instance, headers, body = _webhook(served, "easypost")
    first = served.post(instance, headers, body)
    assert (first.status_code, first.text, first.headers["content-type"].split(";")[0]) == (200, "1|OK", "text/plain")
    again = served.post(instance, headers, body)
    assert (again.status_code, again.text) == (200, "1|OK")
    tampered = served.post(instance, headers, body.replace(b'"mode": "test"', b'"mode": "production"'))
    assert (tampered.status_code, tampered.text) == (400, "0|refused")
    assert outcomes == ["accepted", "duplicate", "refused"]
