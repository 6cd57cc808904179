"""The built-in notifiers against real receivers: an SMTP server (aiosmtpd) and an HTTP
webhook receiver on loopback that verifies the signature as the docs tell a receiver to."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fulfilhub.default_plugins import notifiers
from fulfilhub.models import Notice
from fulfilhub.testing import instance_context

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)

NOTICE = Notice(key="notice:delayed:shop:1042:7", order_id="shop:1042", order_number="#1042", event="delayed",
                locale="zh_Hant_TW", to="ming@example.tw", subject="訂單 #1042 將延遲 2 天",
                text="您的訂單 #1042 將延遲 2 天。\n\n追蹤包裹：https://t.example/1", created_at=T0,
                html='<p>您的訂單 #1042 將延遲 2 天。</p><p><a href="https://t.example/1">https://t.example/1</a></p>',
                facts={"days_late": 2})


# --------------------------------------------------------------------------- SMTP


@pytest.fixture
def smtp_server():
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self):
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 Message accepted for delivery"

    import socket

    with socket.socket() as probe:  # a free port (the controller checks its port by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_smtp_sends_a_multipart_text_and_html_email_with_a_message_id_from_the_key(smtp_server):
    controller, handler = smtp_server
    port = controller.port
    context = instance_context("mail", {"host": "127.0.0.1", "port": port, "sender": "Acme Tea <orders@acme.example>"},
                               kind="notifiers", schema=notifiers.SMTP_SETTINGS)
    mailer = notifiers.SmtpNotifier(context)
    ref = mailer.send(NOTICE, attempt=1)
    assert len(handler.messages) == 1
    sender, rcpts, raw = handler.messages[0]
    assert sender == "orders@acme.example" and rcpts == ["ming@example.tw"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == NOTICE.subject
    assert msg["Message-ID"] == ref == notifiers.message_id(NOTICE.key, "acme.example")
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == NOTICE.text
    assert "<a href=\"https://t.example/1\">" in msg.get_body(("html",)).get_content()
    assert msg["Content-Language"] == "zh-Hant-TW"
    # the same notice again: the same Message-ID, so a mail client shows one message
    mailer.send(NOTICE, attempt=2)
    again = email.message_from_bytes(handler.messages[1][2], policy=email.policy.default)
    assert again["Message-ID"] == msg["Message-ID"]


def test_smtp_without_a_server_is_a_transient_error_to_retry():
    from fulfilhub.errors import TransientError

    context = instance_context("mail", {"host": "127.0.0.1", "port": 1, "sender": "o@acme.example", "timeout": 1.0},
                               kind="notifiers", schema=notifiers.SMTP_SETTINGS)
    with pytest.raises(TransientError, match="SMTP 127.0.0.1:1"):
        notifiers.SmtpNotifier(context).send(NOTICE, attempt=1)


# --------------------------------------------------------------------------- webhook


class Receiver(BaseHTTPRequestHandler):
    """What the docs tell a receiver to do: verify over the raw body, keep the keys seen."""

    secret = "whsec_test"
    accepted: list[dict] = []
    seen: set[str] = set()
    refused = 0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not notifiers.verify_signature(self.secret, dict(self.headers), body, now=time.time()):
            type(self).refused += 1
            self.send_response(401)
            self.end_headers()
            return
        key = self.headers["Idempotency-Key"]
        if key not in self.seen:
            self.seen.add(key)
            self.accepted.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.accepted, Receiver.seen, Receiver.refused = [], set(), 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/notices"
    server.shutdown()
    server.server_close()


def test_the_webhook_is_signed_and_a_receiver_verifies_it_and_acts_once(receiver):
    from fulfilhub.clock import SystemClock

    context = instance_context("crm", {"url": receiver, "secret": "whsec_test"}, kind="notifiers",
                               schema=notifiers.WEBHOOK_SETTINGS, clock=SystemClock())
    hook = notifiers.WebhookNotifier(context)
    assert hook.send(NOTICE, attempt=1) == "HTTP 200"
    assert hook.send(NOTICE, attempt=2) == "HTTP 200"  # a retry after a crash: the receiver acts once
    hook.close()
    assert Receiver.refused == 0
    assert [n["key"] for n in Receiver.accepted] == [NOTICE.key]
    assert Receiver.accepted[0]["subject"] == NOTICE.subject and Receiver.accepted[0]["locale"] == "zh_Hant_TW"


def test_a_tampered_or_stale_or_wrongly_keyed_webhook_is_refused():
    body = json.dumps(notifiers.notice_json(NOTICE)).encode()
    now = 1_800_000_000
    headers = {"X-Fulfilhub-Timestamp": str(now), "X-Fulfilhub-Signature": notifiers.sign("whsec_test", now, body)}
    assert notifiers.verify_signature("whsec_test", headers, body, now=now)
    assert not notifiers.verify_signature("whsec_test", headers, body.replace(b"1042", b"1043"), now=now)
    assert not notifiers.verify_signature("another", headers, body, now=now)
    assert not notifiers.verify_signature("whsec_test", headers, body, now=now + 301)
    moved = {**headers, "X-Fulfilhub-Timestamp": str(now + 1)}  # the timestamp is signed too
    assert not notifiers.verify_signature("whsec_test", moved, body, now=now)
    assert not notifiers.verify_signature("whsec_test", {}, body, now=now)


def test_the_webhook_receiver_refuses_a_tampered_request_over_http(receiver):
    import httpx

    body = json.dumps(notifiers.notice_json(NOTICE)).encode()
    stamp = int(time.time())
    signature = notifiers.sign("whsec_test", stamp, body)
    tampered = body.replace(b"#1042", b"#9999")
    response = httpx.post(receiver, content=tampered, headers={"X-Fulfilhub-Timestamp": str(stamp),
                                                                "X-Fulfilhub-Signature": signature,
                                                                "Idempotency-Key": "x"})
    assert response.status_code == 401 and Receiver.refused == 1 and Receiver.accepted == []


# --------------------------------------------------------------------------- jsonl


def test_jsonl_writes_once_per_key_even_when_asked_again_after_a_crash(tmp_path):
    path = tmp_path / "notices.jsonl"
    context = instance_context("file", {"path": str(path)}, kind="notifiers", schema=notifiers.JSONL_SETTINGS)
    log = notifiers.JsonlNotifier(context)
    assert log.send(NOTICE, attempt=1) == "written"
    assert log.send(NOTICE, attempt=2).endswith("(already written)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["key"] for r in rows] == [NOTICE.key]
    assert rows[0]["text"] == NOTICE.text  # UTF-8, not escaped


# --------------------------------------------------------------------------- end to end through the runner


def test_a_delay_reaches_the_customers_inbox_through_the_outbox_once(smtp_server, tmp_path):
    """Assessment -> notices job -> outbox -> smtp notifier -> a real SMTP server; rerun: no second email."""
    from datetime import timedelta

    from fulfilhub import ChannelType, hookimpl
    from fulfilhub.clock import SimClock
    from fulfilhub.config import IntakeConfig, load
    from fulfilhub.engines import intake
    from fulfilhub.models import Address, DelayAssessment, Money, Order, OrderLine, Promise
    from fulfilhub.plugins import Hooks, PluginManager
    from fulfilhub.runner import jobs
    from fulfilhub.runner.runtime import Runtime
    from fulfilhub.store import Store, delays, promises

    controller, handler = smtp_server

    class Shop:
        def __init__(self, context):
            pass

        def close(self):
            pass

    class Plugin:
        @hookimpl
        def register_channel_types(self, register):
            register(ChannelType(name="quiet-shop", factory=Shop))

    (tmp_path / "fulfilhub.toml").write_text(f'''
[store]
url = "sqlite:///{tmp_path}/s.sqlite"
[channels.shop]
type = "quiet-shop"
[warehouses.main]
type = "local"
[notifiers.mail]
type = "smtp"
host = "127.0.0.1"
port = {controller.port}
sender = "Acme Tea <orders@acme.example>"
events = ["delayed"]
[notices]
shop_name = "Acme Tea"
''')
    store = Store.open(f"sqlite:///{tmp_path}/s.sqlite", migrate=True)
    pm = PluginManager(load_installed=False, extra=[Plugin()])
    order = Order(channel="shop", external_id="1042", version="v1", number="#1042", placed_at=T0, updated_at=T0,
                  currency="TWD", total=Money(amount="1280", currency="TWD"),
                  lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="1200", currency="TWD"))],
                  ship_to=Address(name="王小明", line1="1 Rd", city="Kaohsiung", country="TW"),
                  email="ming@example.tw", locale="zh-TW")
    with store.transaction() as tx:
        intake.ingest(tx, Hooks(pm), [order], at=T0, known_skus={"TEA"}, intake=IntakeConfig(check_sku=False),
                      source="t")
        promises.record(tx, Promise(order_id=order.id, revision=1, created_at=T0, ship_by=T0,
                                    deliver_from=T0 + timedelta(days=1), deliver_by=T0 + timedelta(days=2),
                                    timezone="Asia/Taipei"))
        delays.record(tx, DelayAssessment(order_id=order.id, assessed_at=T0, state="late", days_late=2,
                                          reason="carrier_exception", exception="weather",
                                          revised_eta=T0 + timedelta(days=4)))
    rt = Runtime(load(tmp_path / "fulfilhub.toml", env={}), store, pm, clock=SimClock(T0))
    for _ in range(2):  # a rerun sends nothing more
        assert jobs.JOBS["notices"](rt).errors == []
        assert jobs.deliver_effects(rt).errors == []
    rt.close()
    store.close()
    assert len(handler.messages) == 1
    msg = email.message_from_bytes(handler.messages[0][2], policy=email.policy.default)
    assert msg["To"] == "ming@example.tw" and msg["Subject"] == "訂單 #1042 將延遲2天，改於5月16日星期六送達"
    assert msg["Message-ID"] == notifiers.message_id(f"notice:delayed:{order.id}:1", "acme.example")
    assert "天候不佳" in msg.get_body(("plain",)).get_content()
