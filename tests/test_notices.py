"""Notices and compensation: a delay assessment becomes one compensation decision and one
notice in the customer's language, sent once through the outbox; the top-up rule; caps,
approval and the budget; locale choice; quiet hours; every template x locale."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from fulfilhub import ChannelType, hookimpl
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.engines import compensation, intake, notify, words
from fulfilhub.config import IntakeConfig
from fulfilhub.models import (
    Address,
    CompensationKind,
    CompensationProposal,
    DelayAssessment,
    DelayReason,
    ExceptionReason,
    Money,
    NoticeEvent,
    Order,
    OrderLine,
    Promise,
)
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.store import compensation as ledger
from fulfilhub.store import delays, promises
from fulfilhub.store import notices as notice_store

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)  # 10:00 in Taipei


class FakeShop:
    """A channel that issues compensations and remembers them (the Shopify one is tested over HTTP)."""

    issued: list[tuple[str, str, Decimal]] = []

    def __init__(self, context):
        self.name = context.name

    def fetch_orders(self, cursor):  # pragma: no cover - not pulled in these tests
        raise NotImplementedError

    def parse_order(self, payload):  # pragma: no cover
        raise NotImplementedError

    def push_fulfillment(self, order, shipment, key, *, attempt=None):  # pragma: no cover
        return "f1"

    def push_tracking(self, order, shipment, status, key, *, attempt=None):  # pragma: no cover
        pass

    def issue_compensation(self, order, grant, key, *, attempt=None):
        if grant.kind.is_code:
            FakeShop.issued.append((key, "code", grant.value.amount))
            return f"SORRY-{len(FakeShop.issued)}", f"rule-{len(FakeShop.issued)}"
        FakeShop.issued.append((key, str(grant.kind), grant.value.amount))
        return "", f"refund-{len(FakeShop.issued)}"

    def close(self):
        pass


class ShopPlugin:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="fakeshop", factory=FakeShop))


CONFIG = """
[store]
url = "sqlite:///{db}"

[channels.shop]
type = "fakeshop"

[warehouses.main]
type = "local"

[notifiers.file]
type = "jsonl"
path = "{jsonl}"

[notifiers.mail]
type = "jsonl"
path = "{mail}"
events = ["delayed", "compensation_issued"]

[notices]
shop_name = "Acme Tea"
timezone = "Asia/Taipei"
quiet_hours = "21:00-08:00"

[compensation]
auto_approve_below = "100"
max_per_order = "300"
max_share = 0.5
min_amount = "30"
budget = {{ amount = "1000", currency = "TWD" }}

[[compensation.tiers]]
name = "late-1d"
min_days = 1
kind = "shipping_refund"

[[compensation.tiers]]
name = "late-3d"
min_days = 3
kind = "discount"
percent = 10

[[compensation.tiers]]
name = "lost"
min_days = 1
causes = ["lost_or_damaged"]
kind = "partial_refund"
percent = 50
"""


@pytest.fixture
def world(tmp_path):
    FakeShop.issued = []
    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite", jsonl=tmp_path / "notices.jsonl",
                                  mail=tmp_path / "mail.jsonl"), encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    config = load(path, env={})
    clock = SimClock(T0)
    rt = Runtime(config, store, PluginManager(load_installed=False, extra=[ShopPlugin()]), clock=clock)
    yield rt
    rt.close()
    store.close()


def order(number: str = "1042", *, locale: str | None = "zh-TW", country: str = "TW", total: str = "1280",
          lines: str = "1200") -> Order:
    return Order(channel="shop", external_id=number, version="v1", number=f"#{number}", placed_at=T0, updated_at=T0,
                 currency="TWD", total=Money(amount=total, currency="TWD"),
                 lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount=lines, currency="TWD"))],
                 ship_to=Address(name="王小明", line1="1 Zhongshan Rd", city="Kaohsiung", country=country),
                 email="ming@example.tw", locale=locale or "")


def store_order(rt: Runtime, o: Order) -> None:
    with rt.store.transaction() as tx:
        intake.ingest(tx, rt.hooks, [o], at=T0, known_skus={"TEA"}, intake=IntakeConfig(check_sku=False),
                      source="test")
        promises.record(tx, Promise(order_id=o.id, revision=1, created_at=T0, ship_by=T0 + timedelta(days=1),
                                    deliver_from=T0 + timedelta(days=2), deliver_by=T0 + timedelta(days=3),
                                    timezone="Asia/Taipei"))


def assess(rt: Runtime, o: Order, days: int, *, reason=DelayReason.CARRIER_EXCEPTION, exception=ExceptionReason.WEATHER,
           at: datetime | None = None, eta_shift: int = 0) -> int | None:
    at = at or rt.clock.now()
    with rt.store.transaction() as tx:
        return delays.record(tx, DelayAssessment(
            order_id=o.id, assessed_at=at, state="late", reason=reason, exception=exception, days_late=days,
            revised_eta=T0 + timedelta(days=3 + days + eta_shift), confidence=0.8, promise_revision=1))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def run(rt: Runtime) -> None:
    report = jobs.notices(rt) if False else jobs.JOBS["notices"](rt)
    assert report.errors == []
    delivered = jobs.deliver_effects(rt)
    assert delivered.errors == []
    delivered = jobs.deliver_effects(rt)  # the compensation_issued notice written by the issuance
    assert delivered.errors == []


# --------------------------------------------------------------------------- the vertical slice


def test_a_delay_is_compensated_once_and_told_once_in_the_customers_language(world):
    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 2)
    run(rt)
    run(rt)  # a rerun changes nothing
    sent = lines(rt.config.path.parent / "notices.jsonl")
    delayed = [n for n in sent if n["event"] == "delayed"]
    assert len(delayed) == 1
    notice = delayed[0]
    assert notice["locale"] == "zh_Hant_TW" and notice["order_id"] == o.id
    assert "#1042" in notice["text"] and "延遲2天" in notice["text"]
    assert "5月17日星期日" in notice["text"]  # T0 + 3 + 2 days, in Taipei
    assert "天候不佳" in notice["text"] and "NT$80" in notice["text"]  # the shipping paid: 1280 - 1200
    assert FakeShop.issued == [("channel.issue_compensation:compensation:shop:1042:late-1d", "shipping_refund",
                                Decimal("80.00"))]
    issued = [n for n in sent if n["event"] == "compensation_issued"]
    assert len(issued) == 1 and "NT$80" in issued[0]["text"]
    mail = lines(rt.config.path.parent / "mail.jsonl")  # routed by event: only delays and compensations
    assert sorted(n["event"] for n in mail) == ["compensation_issued", "delayed"]
    with rt.store.read() as conn:
        rows = ledger.for_order(conn, o.id)
        assert [(r.tier, r.status, r.amount) for r in rows] == [("late-1d", "issued", Decimal("80.00"))]
        assert [e.action for e in ledger.ledger(conn, rows[0].id)] == ["proposed", "approved", "issued"]


def test_a_page_costs_the_same_few_statements_and_transactions_whatever_its_size(world):
    """Issue 21: the notices job reads a page's facts in set-based queries, decides the
    page in memory and writes the answers together: three orders cost what twelve cost."""
    import sqlalchemy as sa

    rt = world
    jobs.JOBS["notices"](rt)  # the cursors start
    seen = {"sql": 0, "tx": 0}

    def statement(*_):
        seen["sql"] += 1

    def begin(*_):
        seen["tx"] += 1

    costs = []
    for first, n in ((2000, 3), (3000, 12)):
        for k in range(n):
            o = order(str(first + k))
            store_order(rt, o)  # accepted: a confirmed notice
            assess(rt, o, 2, reason=DelayReason.NO_SCAN, exception=None)  # statistical: the policy waits
        seen.update(sql=0, tx=0)
        sa.event.listen(rt.store.engine, "before_cursor_execute", statement)
        sa.event.listen(rt.store.engine, "begin", begin)
        try:
            report = jobs.JOBS["notices"](rt)
        finally:
            sa.event.remove(rt.store.engine, "before_cursor_execute", statement)
            sa.event.remove(rt.store.engine, "begin", begin)
        assert report.errors == []
        assert report.counts["notice_confirmed"] == n
        assert report.counts["notice_waits_holding"] == n
        costs.append(dict(seen))
    assert costs[0] == costs[1], costs
    assert costs[1]["tx"] <= 4  # the refusal check, the delays, the due page, the status events


def test_the_top_up_rule_a_growing_delay_gives_the_difference_to_the_higher_tier_never_a_second_full_one(world):
    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 1)
    run(rt)
    rt.clock.advance(timedelta(days=1))  # a notice a waking window at most
    assess(rt, o, 3)  # grows into the 10 % tier: 128.00, capped at 300 and 50 %; 80 given -> 48 top-up
    run(rt)
    rt.clock.advance(timedelta(days=1))  # a notice a waking window at most
    assess(rt, o, 4)  # still the 10 % tier: nothing more
    run(rt)
    rt.clock.advance(timedelta(days=1))  # a notice a waking window at most
    assess(rt, o, 2)  # shrinks: nothing taken back, nothing more given
    run(rt)
    with rt.store.read() as conn:
        rows = ledger.for_order(conn, o.id)
    assert [(r.tier, r.amount, r.tier_value, r.status) for r in rows] == [
        ("late-1d", Decimal("80.00"), Decimal("80.00"), "issued"),
        ("late-3d", Decimal("48.00"), Decimal("128.00"), "issued"),
    ]
    assert sum(r.amount for r in rows) == Decimal("128.00")  # the higher tier's value, once
    assert [amount for _, _, amount in FakeShop.issued] == [Decimal("80.00"), Decimal("48.00")]
    sent = lines(rt.config.path.parent / "notices.jsonl")
    assert [n["facts"].get("days_late") for n in sent if n["event"] == "delayed"] == [1, 3, 4]
    with rt.store.read() as conn:  # the fourth change is not told: three delay notices are the most
        assert [(d.action, d.reason) for d in notice_store.decisions(conn, o.id)][-1] == ("suppress", "limit")


def test_above_the_threshold_a_person_approves_and_the_budget_is_never_exceeded(world, tmp_path):
    rt = world
    big = order("2001", total="2000", lines="1000")  # shipping "paid" 1000: capped at 300 -> above 100
    store_order(rt, big)
    assess(rt, big, 1)
    run(rt)
    with rt.store.read() as conn:
        row = ledger.for_order(conn, big.id)[0]
    assert (row.status, row.amount) == ("pending_approval", Decimal("300.00"))
    assert FakeShop.issued == []
    conf = compensation.settings(rt.config.compensation)
    with rt.store.transaction() as tx:
        assert compensation.approve(tx, conf, row.id, actor="ops@acme", at=rt.clock.now()) == "approved"
    run(rt)
    assert [amount for _, _, amount in FakeShop.issued] == [Decimal("300.00")]
    # the budget (1000 TWD a month) takes 700 more at most
    for n in range(3):
        o = order(f"30{n}", total="2000", lines="1000")
        store_order(rt, o)
        assess(rt, o, 1)
    run(rt)
    with rt.store.read() as conn:
        waiting = [r for r in ledger.listing(conn, status="pending_approval")]
        spent, limit = ledger.spent(conn, "2026-05", "TWD")
    assert len(waiting) == 3 and spent == Decimal("300")
    results = []
    for r in waiting:
        with rt.store.transaction() as tx:
            results.append(compensation.approve(tx, conf, r.id, actor="ops", at=rt.clock.now()))
    assert sorted(results) == ["approved", "approved", "over_budget"]
    with rt.store.read() as conn:
        spent, limit = ledger.spent(conn, "2026-05", "TWD")
    assert spent == Decimal("900") and limit == Decimal("1000")


def test_caps_and_minimum():
    conf = compensation.settings({"max_per_order": "300", "max_share": 0.1, "min_amount": "30"})
    o = order(total="1280")
    assert compensation.capped(Money(amount="5", currency="TWD"), o, conf).amount == Decimal("30.00")
    assert compensation.capped(Money(amount="500", currency="TWD"), o, conf).amount == Decimal("128.00")
    small = order(total="100", lines="90")
    assert compensation.capped(Money(amount="5", currency="TWD"), small, conf).amount == Decimal("10.00")  # cap wins


def test_pending_notices_wait_out_quiet_hours_in_the_customers_time_but_delays_do_not(world):
    rt = world
    rt.clock.advance(timedelta(hours=12))  # 22:00 in Taipei
    tz = notify.customer_timezone(order(), "Asia/Taipei", "UTC")
    at = rt.clock.now()
    quiet = notify.settings({"quiet_hours": "21:00-08:00"}).quiet_hours
    assert notify.send_after(NoticeEvent.DELAYED, at, tz, quiet) == at
    later = notify.send_after(NoticeEvent.SHIPPED, at, tz, quiet)
    assert later.astimezone(tz).hour == 8 and later - at == timedelta(hours=10)
    assert notify.send_after(NoticeEvent.SHIPPED, T0, tz, quiet) == T0  # 10:00: at once


# --------------------------------------------------------------------------- locale, templates, formatting


@pytest.mark.parametrize("locale,country,expected", [
    ("zh-TW", "US", "zh_Hant_TW"),
    ("zh-CN", "TW", "zh_Hans_CN"),
    ("zh-HK", "HK", "zh_Hant_HK"),
    ("en", "TW", "en"),
    (None, "TW", "zh_Hant_TW"),
    (None, "CN", "zh_Hans_CN"),
    (None, "US", "en"),
    ("xx-nonsense", "SG", "zh_Hans_SG"),
])
def test_locale_from_the_order_then_the_country_then_the_shop(locale, country, expected):
    assert notify.choose_locale(order(locale=locale, country=country), "en") == expected


def test_the_shop_default_locale_is_the_last_resort():
    assert notify.choose_locale(order(locale=None, country="FR"), "zh-TW") == "zh_Hant_TW"


def test_babel_formats_dates_weekdays_and_money_for_the_locale():
    tz = notify.customer_timezone(order(), "Asia/Taipei", "UTC")
    day = datetime(2026, 12, 14, 3, tzinfo=timezone.utc)
    assert notify.format_day(day, "zh_Hant_TW", tz) == "12月14日星期一"
    assert notify.format_day(day, "zh_Hans_CN", tz) == "12月14日星期一"
    assert notify.format_day(day, "en", tz) == "Monday, December 14"
    late_utc = datetime(2026, 12, 14, 17, tzinfo=timezone.utc)  # already the 15th in Taipei
    assert notify.format_day(late_utc, "en", tz) == "Tuesday, December 15"
    assert notify.format_money(Money(amount="1280", currency="TWD"), "zh_Hant_TW") == "NT$1,280"
    assert notify.format_money(Money(amount="1280", currency="TWD"), "en") == "NT$1,280"
    assert notify.format_money(Money(amount="80.5", currency="TWD"), "en") == "NT$80.50"
    assert notify.format_money(Money(amount="1280", currency="CNY"), "zh_Hans_CN") == "¥1,280"
    assert notify.format_money(Money(amount="12.5", currency="USD"), "en") == "$12.50"


SAMPLE = {
    NoticeEvent.CONFIRMED: {"ship_by": T0 + timedelta(days=1), "deliver_from": T0 + timedelta(days=2),
                            "deliver_by": T0 + timedelta(days=3)},
    NoticeEvent.SHIPPED: {"carrier": "Black Cat", "tracking_code": "TW123456789", "deliver_by": T0 + timedelta(days=3)},
    NoticeEvent.DELAYED: {"days_late": 2, "new_date": T0 + timedelta(days=5), "cause": "CAUSE-TEXT", "action": "ACTION",
                          "compensation": "COMP-TEXT"},
    NoticeEvent.ETA_REVISED: {"new_date": T0 + timedelta(days=6), "deliver_by": T0 + timedelta(days=3)},
    NoticeEvent.READY_FOR_PICKUP: {"store": "7-ELEVEN 高雄四維店", "pickup_until": T0 + timedelta(days=9),
                                   "tracking_code": "1718546"},
    NoticeEvent.DELIVERED: {"delivered_at": T0 + timedelta(days=3), "carrier": "Black Cat"},
    NoticeEvent.COMPENSATION_ISSUED: {"amount": Money(amount="80", currency="TWD"), "code": "SORRY-42",
                                      "compensation": "COMP-TEXT"},
    NoticeEvent.RECALL: {"product": "Oolong 100 g", "lot": "LOT-2026-03", "reason": "RECALL-REASON"},
}


@pytest.mark.parametrize("event", [e for e in NoticeEvent if not e.for_operator])  # low_stock: test_push_stock
@pytest.mark.parametrize("locale", ["en", "zh_Hant_TW", "zh_Hans_CN"])
def test_every_event_in_every_locale_states_its_facts(event, locale):
    o = order()
    tz = notify.customer_timezone(o, "Asia/Taipei", "UTC")
    facts = {"link": "https://track.example/1042", **SAMPLE[event]}
    notice = notify.render(event, key="k", order=o, locale=locale, tz=tz, facts=facts, at=T0, shop="Acme Tea")
    text = notice.subject + "\n" + notice.text
    for name in notify.REQUIRED_FACTS[event]:
        value = {**facts, "number": o.number, "total": o.total}[name]
        written = words.territorial(locale, o.ship_to.country)  # en for a Taiwan address: world English
        if isinstance(value, datetime):
            shown = notify.format_day(value, written, tz)
        elif isinstance(value, Money):
            shown = notify.format_money(value, written)
        else:
            shown = str(value)
        assert shown in text, f"{event} in {locale} does not state {name} ({shown!r}):\n{text}"
    for name in ("cause", "compensation"):
        if name in facts:
            assert facts[name] in text
    assert "https://track.example/1042" in notice.html and "<a href=" in notice.html
    assert "may be delayed" not in text and "as soon as possible" not in text
    if locale.startswith("zh"):
        assert not any(word in text for word in ("Order", "Hi", "Track")), text


def test_the_chinese_templates_are_traditional_and_simplified_not_one_for_both():
    o = order()
    tz = notify.customer_timezone(o, "Asia/Taipei", "UTC")
    facts = {"link": "L", **SAMPLE[NoticeEvent.DELAYED]}
    hant = notify.render(NoticeEvent.DELAYED, key="k", order=o, locale="zh_Hant_TW", tz=tz, facts=facts, at=T0).text
    hans = notify.render(NoticeEvent.DELAYED, key="k", order=o, locale="zh_Hans_CN", tz=tz, facts=facts, at=T0).text
    assert "訂單" in hant and "订单" not in hant
    assert "订单" in hans and "訂單" not in hans


def test_a_policy_must_return_a_proposal_in_the_orders_currency(world):
    rt = world
    o = order()
    store_order(rt, o)
    conf = compensation.settings(rt.config.compensation)
    assessment = DelayAssessment(order_id=o.id, assessed_at=T0, state="late", days_late=2)
    bad = {"rules": type("P", (), {"name": "bad", "propose": staticmethod(
        lambda **kw: CompensationProposal(kind=CompensationKind.GIFT, value=Money(amount="5", currency="USD"),
                                          tier="x"))})()}
    from fulfilhub.errors import PluginError

    with rt.store.transaction() as tx, pytest.raises(PluginError, match="USD"):
        compensation.decide(tx, bad, conf, o, assessment, None, T0)


def test_the_compensation_settings_refuse_mistakes_by_key():
    from fulfilhub.errors import ConfigError

    with pytest.raises(ConfigError, match=r"compensation.tiers\[0\].kind"):
        compensation.settings({"tiers": [{"kind": "hug"}]})
    with pytest.raises(ConfigError, match="max_share"):
        compensation.settings({"max_share": 20})
    with pytest.raises(ConfigError, match="auto_aprove"):
        compensation.settings({"auto_aprove_below": 1})
    with pytest.raises(ConfigError, match="quiet_hours"):
        notify.settings({"quiet_hours": "9pm-8am"})


def test_notice_rows_keep_what_the_customer_saw(world):
    rt = world
    o = order(locale="zh-CN", country="CN")
    store_order(rt, o)
    assess(rt, o, 2)
    run(rt)
    with rt.store.read() as conn:
        rows = notice_store.listing(conn, order_id=o.id)
    assert {r.event for r in rows} == {"confirmed", "delayed", "compensation_issued"}
    assert all(r.locale == "zh_Hans_CN" for r in rows)
    confirmed = next(r for r in rows if r.event == "confirmed")
    assert confirmed.notifiers == ["file"]  # the mail notifier takes only delays and compensations
    assert "5月13日星期三" in confirmed.text and "5月15日星期五" in confirmed.text  # the promise, in Shanghai time


# --------------------------------------------------------------------------- the command line


def test_the_cli_lists_shows_and_approves(world):
    from click.testing import CliRunner

    from fulfilhub.cli import main

    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 2)
    big = order("2001", total="2000", lines="1000", locale="en")
    store_order(rt, big)
    assess(rt, big, 1)
    run(rt)
    cli = CliRunner()
    cfg = str(rt.config.path)
    out = cli.invoke(main, ["-c", cfg, "notices", "list", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert {(r["event"], r["locale"], r["order_id"]) for r in rows} >= {
        ("delayed", "zh_Hant_TW", o.id), ("delayed", "en", big.id), ("compensation_issued", "zh_Hant_TW", o.id)}
    assert all(r["key"].startswith(f"notice:{r['event']}:{r['order_id']}:") for r in rows)
    delayed = next(r for r in rows if r["event"] == "delayed" and r["order_id"] == o.id)
    shown = cli.invoke(main, ["-c", cfg, "notices", "show", str(delayed["id"])])
    assert shown.exit_code == 0 and "延遲2天" in shown.output and "via file: done" in shown.output
    assert cli.invoke(main, ["-c", cfg, "notices", "retry", str(delayed["id"])]).exit_code != 0  # sent: never twice
    listed = json.loads(cli.invoke(main, ["-c", cfg, "compensations", "list", "--json"]).output)
    waiting = [c for c in listed["compensations"] if c["status"] == "pending_approval"]
    assert [c["order_id"] for c in waiting] == [big.id]
    assert {"period": "2026-05", "currency": "TWD", "count": 1, "total": "80.00", "budget": "1000",
            "waiting": 1} in listed["cost"]  # (and the current month's, empty: the CLI runs on today's clock)
    approved = cli.invoke(main, ["-c", cfg, "compensations", "approve", str(waiting[0]["id"]), "--by", "ops@acme"])
    assert approved.exit_code == 0 and "approved" in approved.output
    again = cli.invoke(main, ["-c", cfg, "compensations", "approve", str(waiting[0]["id"])])
    assert again.exit_code != 0 and "only pending_approval or over_budget" in again.output
    from fulfilhub.clock import SystemClock

    rt.clock.advance(SystemClock().now() - rt.clock.now() + timedelta(minutes=1))  # the CLI approved at today's time
    run(rt)
    shown = json.loads(cli.invoke(main, ["-c", cfg, "compensations", "show", str(waiting[0]["id"]), "--json"]).output)
    assert [(e["action"], e["actor"]) for e in shown["ledger"]] == [
        ("proposed", "rules"), ("pending_approval", "engine"), ("approved", "ops@acme"), ("issued", "channel:shop")]
    assert (shown["kind"], shown["code"], shown["channel_ref"]) == ("shipping_refund", "", "refund-2")
    issued = [r for r in json.loads(cli.invoke(main, ["-c", cfg, "notices", "list", "--json"]).output)
              if r["event"] == "compensation_issued" and r["order_id"] == big.id]
    text = cli.invoke(main, ["-c", cfg, "notices", "show", issued[0]["key"]]).output
    assert "We have refunded your NT$300 shipping fee to the payment method you used" in text  # issued: past tense


# --------------------------------------------------------------------------- hostile payloads


def test_whatever_an_order_payload_says_the_notice_picks_a_locale_and_renders(tmp_path):
    """The locale and the shipping paid come from the channel's mapping of its payload: fuzz them."""
    from fulfilhub.engines.tiers import shipping_paid
    from fulfilhub.testing import instance_context
    from fulfilhub.testing.fuzz import assert_maps_or_refuses, mutations
    from .conftest import FIRST_PARTY_MISSING

    pytest.importorskip("fulfilhub_shopify", reason=FIRST_PARTY_MISSING)
    from fulfilhub_shopify import ShopifyChannel
    from fulfilhub_shopify.channel import SETTINGS

    golden = json.loads((Path(__file__).resolve().parents[1] / "plugins" / "fulfilhub-shopify" / "tests" / "payloads"
                         / "order_two_lines.json").read_text())
    golden["customer_locale"] = "zh-TW"
    channel = ShopifyChannel(instance_context("shop", {"shop": "acme", "access_token": "shpat_x"}, schema=SETTINGS))

    def map_and_tell(payload):
        o = channel.parse_order(payload)
        locale = notify.choose_locale(o, "en")
        tz = notify.customer_timezone(o, None, "UTC")
        assert shipping_paid(o) >= 0
        notify.render(NoticeEvent.DELAYED, key="k", order=o, locale=locale, tz=tz, at=T0,
                      facts={"days_late": 1, "new_date": T0, "cause": "c", "link": "https://t.example"})
        return o

    assert_maps_or_refuses(map_and_tell, mutations(golden, seed=8, count=600))
    channel.close()


def test_the_html_body_escapes_what_the_customer_typed():
    o = order()
    import attrs as _attrs

    o = _attrs.evolve(o, ship_to=_attrs.evolve(o.ship_to, name='<script>alert("x")</script>'), number="#<b>1</b>")
    tz = notify.customer_timezone(o, "Asia/Taipei", "UTC")
    notice = notify.render(NoticeEvent.DELAYED, key="k", order=o, locale="en", tz=tz, at=T0,
                           facts={"days_late": 1, "new_date": T0, "cause": "c", "link": "https://t.example/1"})
    assert "<script>" not in notice.html and "<b>" not in notice.html
    assert "&lt;script&gt;" in notice.html and '<a href="https://t.example/1">' in notice.html


def test_hook_compensation_issued_is_called_once_after_the_commit(world):
    rt = world
    seen: list[tuple[str, str, Decimal, str, str]] = []

    class Recorder:
        @hookimpl
        def compensation_issued(self, order_id, compensation, code, ref):
            with rt.store.read() as conn:  # committed before the hook runs
                status = ledger.for_order(conn, order_id)[-1].status
            seen.append((order_id, str(compensation.kind), compensation.value.amount, code or ref, status))

    rt.plugins.register(Recorder(), name="recorder")
    o = order()
    store_order(rt, o)
    assess(rt, o, 1)
    run(rt)
    rt.clock.advance(timedelta(days=1))  # the next waking window: the grown delay is told, with the top-up
    assess(rt, o, 3)
    run(rt)
    run(rt)
    assert seen == [(o.id, "shipping_refund", Decimal("80.00"), "refund-1", "issued"),
                    (o.id, "discount", Decimal("48.00"), "SORRY-2", "issued")]


def test_the_tracking_link_is_the_servers_tracking_page_where_it_is_installed(world, monkeypatch):
    """Issue 9's contract, read a page of orders at a time (issue 21):
    ``fulfilhub.store.tracking.page_urls(config, conn, order_ids)`` -> ``{order id: url}``."""
    import sys
    import types

    import fulfilhub.store

    calls = []
    page = types.ModuleType("fulfilhub.store.tracking")

    def page_urls(config, conn, order_ids):
        calls.extend((config is world.config, order_id) for order_id in order_ids)
        return {order_id: f"https://shop.example/t/{order_id.split(':')[1]}" for order_id in order_ids}

    page.page_urls = page_urls
    monkeypatch.setitem(sys.modules, "fulfilhub.store.tracking", page)
    monkeypatch.setattr(fulfilhub.store, "tracking", page, raising=False)
    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 2)
    run(rt)
    with rt.store.read() as conn:
        delayed = [r for r in notice_store.listing(conn, order_id=o.id) if r.event == "delayed"][0]
    assert "https://shop.example/t/1042" in delayed.text and (True, o.id) in calls


def test_the_first_run_looks_back_only_as_far_as_backfill(world):
    """Turning notices on for a shop with history must not write to every past customer."""
    rt = world
    old = order("900")
    store_order(rt, old)  # accepted at T0
    assess(rt, old, 2)
    rt.clock.advance(timedelta(days=3))
    new = order("901")
    with rt.store.transaction() as tx:  # accepted now
        intake.ingest(tx, rt.hooks, [new], at=rt.clock.now(), known_skus={"TEA"},
                      intake=IntakeConfig(check_sku=False), source="test")
    run(rt)
    with rt.store.read() as conn:
        told = {(r.order_id, r.event) for r in notice_store.listing(conn)}
        assert ledger.listing(conn) == []
    assert told == {(new.id, "confirmed")}


def test_the_report_shows_the_compensation_cost_against_the_budget(world):
    from click.testing import CliRunner

    from fulfilhub.cli import main

    rt = world
    for n, days in (("1042", 1), ("1043", 3)):
        o = order(n)
        store_order(rt, o)
        assess(rt, o, days)
    big = order("2001", total="2000", lines="1000")
    store_order(rt, big)
    assess(rt, big, 1)  # 300: waits for a person
    run(rt)
    cli = CliRunner()
    out = cli.invoke(main, ["-c", str(rt.config.path), "report", "--json", "--no-backtest"])
    assert out.exit_code == 0, out.output
    [cost] = json.loads(out.output)["compensation"]
    # 1042: 80 shipping refunded; 1043 (128, 10 %) and 2001 (300) are above the auto-approval threshold of 100
    assert cost == {"period": "2026-05", "currency": "TWD", "given": 1, "total": "80.00", "waiting": 2, "top_ups": 0,
                    "by_kind": {"shipping_refund": 1}, "budget": "1000", "budget_spent": "80"}
    text = cli.invoke(main, ["-c", str(rt.config.path), "report", "--no-backtest"]).output
    assert "Compensation cost against budget" in text and "80.00 of a 1000 budget; 2 waiting for a person" in text


# --------------------------------------------------------------------------- one failing item is contained


class FlakyPolicy:
    """The configured policy, but raising for one order until it is fixed."""

    def __init__(self, inner, broken: str):
        self.name, self.inner, self.broken = inner.name, inner, broken

    def propose(self, **kw):
        if kw["order"].id == self.broken:
            raise KeyError("loyalty_tier")  # a plugin tripping over one order's data
        return self.inner.propose(**kw)


def cli(rt: Runtime, *args: str) -> Any:
    from click.testing import CliRunner

    from fulfilhub.cli import main

    out = CliRunner().invoke(main, ["-c", str(rt.config.path), *args])
    return out


def test_an_assessment_a_policy_cannot_process_is_quarantined_and_the_others_proceed(world):
    rt = world
    orders = [order(n) for n in ("1042", "1043", "1044")]
    for o in orders:
        store_order(rt, o)
        assess(rt, o, 2)
    policies = rt.plugins.registry.policies
    original = policies["rules"]
    policies["rules"] = FlakyPolicy(original, orders[1].id)
    report = jobs.JOBS["notices"](rt)
    assert report.errors == [] and report.counts["quarantined"] == 1
    assert report.counts["notice_delayed"] == 2
    jobs.deliver_effects(rt)
    jobs.deliver_effects(rt)
    delayed = [n["order_id"] for n in lines(rt.config.path.parent / "notices.jsonl") if n["event"] == "delayed"]
    assert sorted(delayed) == [orders[0].id, orders[2].id]
    with rt.store.read() as conn:
        assert ledger.for_order(conn, orders[1].id) == []  # nothing half-done for the failing one
    listed = cli(rt, "quarantine", "list", "--json")
    [entry] = json.loads(listed.output)
    assert entry["source"] == "notices" and entry["kind"] == "delay_assessment"
    assert entry["external_id"] == orders[1].id
    assert "KeyError: 'loyalty_tier'" in entry["error"] and "delay assessment" in entry["error"]
    run(rt)  # the stream is not blocked: a rerun does not read it again
    from fulfilhub.runner.quarantine import retry  # what `fulfilhub quarantine retry` calls

    qid = entry["id"]
    assert retry(rt, [qid]) == {qid: "still fails: KeyError: 'loyalty_tier'"}  # still broken: it stays
    with rt.store.read() as conn:
        from fulfilhub.store import quarantine

        assert quarantine.row(conn, qid).attempts == 2
    policies["rules"] = original  # the plugin is fixed
    assert retry(rt) == {qid: "processed: notice_delayed, compensation_approved"}
    assert retry(rt, [qid]) == {qid: "already resolved"}
    run(rt)
    run(rt)
    sent = lines(rt.config.path.parent / "notices.jsonl")
    assert sorted(n["order_id"] for n in sent if n["event"] == "delayed") == sorted(o.id for o in orders)
    assert len([n for n in sent if n["order_id"] == orders[1].id and n["event"] == "compensation_issued"]) == 1
    with rt.store.read() as conn:
        assert [(r.tier, r.status) for r in ledger.for_order(conn, orders[1].id)] == [("late-1d", "issued")]
    assert json.loads(cli(rt, "quarantine", "list", "--json").output) == []


def test_a_status_event_that_fails_to_render_is_quarantined_and_retried_once(world, monkeypatch):
    rt = world
    good, bad = order("1050"), order("1051")
    store_order(rt, good)
    store_order(rt, bad)
    render = notify.render

    def broken(event, *, order, **kw):
        if order.id == bad.id:
            raise ValueError("unexpected '}' in the shop's template")
        return render(event, order=order, **kw)

    monkeypatch.setattr(notify, "render", broken)
    report = jobs.JOBS["notices"](rt)
    assert report.errors == [] and report.counts == {"notice_confirmed": 1, "quarantined": 1}
    monkeypatch.setattr(notify, "render", render)
    from fulfilhub.runner.quarantine import retry

    [(qid, outcome)] = retry(rt).items()
    assert outcome == "processed: notice_confirmed"
    assert retry(rt, [qid]) == {qid: "already resolved"}
    run(rt)
    confirmed = [n["order_id"] for n in lines(rt.config.path.parent / "notices.jsonl") if n["event"] == "confirmed"]
    assert sorted(confirmed) == sorted([good.id, bad.id])


def test_trouble_with_the_configuration_stops_the_stream_instead_of_quarantining_everything(world):
    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 2)
    policies = rt.plugins.registry.policies
    original = policies.pop("rules")
    report = jobs.JOBS["notices"](rt)
    assert len(report.errors) == 1 and "no compensation policy named 'rules'" in report.errors[0]
    assert "decided again next run" in report.errors[0] and report.counts["quarantined"] == 0
    policies["rules"] = original
    run(rt)
    assert [n["event"] for n in lines(rt.config.path.parent / "notices.jsonl")].count("delayed") == 1


def test_notices_show_explains_why_a_delay_notice_was_sent_and_what_the_policy_suppressed(world):
    rt = world
    o = order()
    store_order(rt, o)
    assess(rt, o, 2)
    run(rt)
    rt.clock.advance(timedelta(hours=1))
    assess(rt, o, 2, reason=DelayReason.TRANSIT_FORECAST, exception=None)  # the same day, another statistic
    run(rt)
    rt.clock.advance(timedelta(hours=1))
    assess(rt, o, 3)  # a later day, in the same waking window: it waits for the next
    run(rt)
    with rt.store.read() as conn:
        [row] = notice_store.listing(conn, order_id=o.id, event="delayed")
    shown = cli(rt, "notices", "show", str(row.id))
    assert shown.exit_code == 0, shown.output
    assert "send delayed (first_delay: the first delay notice of the order) <- this notice" in shown.output
    assert "suppress (nothing_new: the customer was already told this day and this cause)" in shown.output
    assert "wait (once_per_window:" in shown.output
    data = json.loads(cli(rt, "notices", "show", str(row.id), "--json").output)
    assert [(d["action"], d["reason"]) for d in data["policy"]] == [
        ("send", "first_delay"), ("suppress", "nothing_new"), ("wait", "once_per_window")]
    rt.clock.advance(timedelta(days=1))  # the next morning: the later day is told, once
    run(rt)
    sent = [n for n in lines(rt.config.path.parent / "notices.jsonl") if n["event"] == "delayed"]
    assert [n["facts"]["days_late"] for n in sent] == [2, 3]


def test_notices_and_compensation_are_typed_once_at_startup_and_a_typo_is_refused_naming_key_and_file(tmp_path):
    from fulfilhub.errors import ConfigError

    path = tmp_path / "fulfilhub.toml"
    path.write_text(CONFIG.replace("min_days = 1\nkind = \"shipping_refund\"", "min_day = 1\nkind = \"shipping_refund\"")
                    .format(db=tmp_path / "s.sqlite", jsonl=tmp_path / "n.jsonl", mail=tmp_path / "m.jsonl"),
                    encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", migrate=True)
    try:
        with pytest.raises(ConfigError, match=r"compensation\.tiers\[0\]\.min_day.*unknown setting 'min_day'") as err:
            Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[ShopPlugin()]))
        assert str(path) in str(err.value)
    finally:
        store.close()
    path.write_text(CONFIG.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = "21:00-08:00"\nmax_delay_notice = 2')
                    .format(db=tmp_path / "s.sqlite", jsonl=tmp_path / "n.jsonl", mail=tmp_path / "m.jsonl"),
                    encoding="utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        with pytest.raises(ConfigError, match=r"notices\.max_delay_notice.*unknown setting"):
            Runtime(load(path, env={}), store, PluginManager(load_installed=False, extra=[ShopPlugin()]))
    finally:
        store.close()


def test_the_runtime_keeps_the_typed_settings_the_jobs_use(world):
    assert world.notice_settings.policy.quiet_hours is not None
    assert world.notice_settings.max_delay_notices == 3 and world.compensation_settings.tiers[0].name == "late-1d"


def test_a_finished_scenarios_store_is_judged_as_it_ended_and_its_customers_are_not_told_on_the_wall_clock(world):
    from fulfilhub.runner.delays import assess_delays
    from fulfilhub.store import meta

    rt = world
    o = order()
    store_order(rt, o)
    with rt.store.transaction() as tx:
        meta.set_time_base(tx, rt.clock.now(), "demo")
    rt.clock.advance(timedelta(days=30))  # sync a month after the scenario ended
    assess(rt, o, 2)
    report = jobs.JOBS["notices"](rt)
    assert len(report.errors) == 1 and "written by the demo scenario" in report.errors[0]
    assert "30 days later" in report.errors[0]
    delays = assess_delays(rt)
    assert len(delays.errors) == 1 and "delays not assessed" in delays.errors[0]
    assert lines(rt.config.path.parent / "notices.jsonl") == []
    with rt.store.read() as conn:
        assert notice_store.listing(conn) == [] and meta.now_of(conn, rt.clock.now()) == T0
    shown = json.loads(cli(rt, "report", "--json", "--no-backtest").output)
    assert shown["window"]["as_of"] == T0.isoformat()  # the run's own time, not today's
    with rt.store.transaction() as tx:  # a scenario still running keeps its time base current: the jobs run
        meta.set_time_base(tx, rt.clock.now(), "demo")
    assert jobs.JOBS["notices"](rt).errors == []


def test_delay_wording_tells_the_truth_in_every_locale():
    """No day: overdue and chased; a carrier's silent re-estimate is said as such; a split
    order lists every parcel; compensation not yet issued is not told in the past tense,
    a discount by its amount (a single-use fixed-amount code), a refund where and how long."""
    tz = notify.zones.zone("Asia/Taipei")
    o = order(locale="en")
    parcels = ["USPS 9400111 https://t.example/1", "USPS 9400222 https://t.example/2"]
    words = notify.phrases("en")
    overdue = notify.render(NoticeEvent.DELAYED, key="k", order=o, locale="en", tz=tz, at=T0, facts={
        "days_late": 4, "new_date": None, "cause": words["causes"]["in_transit_slow"],
        "action": words["actions"]["overdue"], "parcels": parcels, "link": "https://t.example"})
    assert "is overdue" in overdue.subject and "4 days overdue" in overdue.text
    assert "chasing the carrier every day" in overdue.text and "546" not in overdue.text
    assert all(p in overdue.text for p in parcels)  # every parcel with its own tracking
    moved = notify.render(NoticeEvent.ETA_REVISED, key="k2", order=o, locale="en", tz=tz, at=T0, facts={
        "days_late": 2, "new_date": T0 + timedelta(days=5), "deliver_by": T0 + timedelta(days=3),
        "cause": words["causes"]["carrier_moved_date"], "action": words["actions"]["carrier_moved_date"],
        "link": "https://t.example"})
    assert "moved its delivery date without giving a reason" in moved.text and "We are sorry" in moved.text
    assert "asked the carrier why" in moved.text
    money = Money(amount="128", currency="TWD")
    for locale in ("en", "zh_Hant_TW", "zh_Hans_CN"):
        for kind in ("discount", "shipping_refund", "partial_refund"):
            before = notify.compensation_sentence(kind, money, locale, percent=Decimal(10), issued=False)
            after = notify.compensation_sentence(kind, money, locale, percent=Decimal(10))
            assert "128" in before and "10%" not in before and "10 %" not in after and "%" not in after
            assert before != after
    assert notify.compensation_sentence("shipping_refund", money, "en", issued=False).startswith("We are refunding")
    assert "payment method you used" in notify.compensation_sentence("partial_refund", money, "en")
    assert "to use once" in notify.compensation_sentence("discount", money, "en")


def test_a_shipped_notice_held_over_quiet_hours_says_yesterday():
    tz = notify.zones.zone("Asia/Taipei")
    quiet = notify.settings({"quiet_hours": "21:00-08:00"}).quiet_hours
    evening = T0 + timedelta(hours=12)  # 22:00 in Taipei: the notice waits until 08:00 the next day
    assert notify.shipped_day(evening, tz, quiet, "en") == "yesterday"
    assert notify.shipped_day(T0, tz, quiet, "en") == "today"  # 10:00: sent at once
    assert notify.shipped_day(evening, tz, quiet, "zh_Hant_TW") == "昨天"
    o = order(locale="en")
    text = notify.render(NoticeEvent.SHIPPED, key="k", order=o, locale="en", tz=tz, at=evening, facts={
        "shipped_day": notify.shipped_day(evening, tz, quiet, "en"), "carrier": "USPS", "tracking_code": "9400",
        "link": "https://t.example"}).text
    assert "left our warehouse yesterday with USPS" in text


@pytest.mark.parametrize(("locale", "words"), [("en", "picked up at 7-ELEVEN 高雄四維店"),
                                                ("zh_Hant_TW", "在 7-ELEVEN 高雄四維店 取件"),
                                                ("zh_Hans_CN", "在 7-ELEVEN 高雄四維店 取件")])
def test_a_parcel_collected_at_a_store_is_told_as_picked_up_there(locale, words):
    o = order()
    tz = notify.customer_timezone(o, "Asia/Taipei", "UTC")
    facts = {"delivered_at": T0 + timedelta(days=3), "carrier": "7-ELEVEN", "store": "7-ELEVEN 高雄四維店"}
    notice = notify.render(NoticeEvent.DELIVERED, key="k", order=o, locale=locale, tz=tz, facts=facts, at=T0,
                           shop="Acme Tea")
    assert words in notice.subject
    assert "7-ELEVEN 高雄四維店" in notice.text


def test_what_a_lifecycle_notice_states_is_decided_from_the_promise_and_the_parcels():
    """``notify.status_facts``: the engine function the notices job calls per status event."""
    from fulfilhub.models import Label, Shipment

    tz = notify.customer_timezone(order(), "Asia/Taipei", "UTC")
    promise = Promise(order_id="shop:1042", revision=1, created_at=T0, ship_by=T0 + timedelta(days=1),
                      deliver_from=T0 + timedelta(days=2), deliver_by=T0 + timedelta(days=3), timezone="Asia/Taipei")
    label = Label(carrier="cat", carrier_name="Black Cat", service="home", tracking_code="BC123",
                  cost=Money(amount="90", currency="TWD"), shipment_ref="s1", tracking_url="https://cat.example/BC123")
    unlabelled = Shipment(id="shop:1042/1", order_id="shop:1042", warehouse="main", status="packed", lines=[],
                          created_at=T0, modified_at=T0)
    first = attrs.evolve(unlabelled, status="delivered", label=label, delivered_at=T0 + timedelta(days=2))
    second = attrs.evolve(unlabelled, id="shop:1042/2", status="delivered", label=label,
                          delivered_at=T0 + timedelta(days=3))
    quiet = (time(21), time(8))
    stated = dict(now=T0, tz=tz, quiet=quiet, locale="zh_Hant_TW")
    assert notify.status_facts(NoticeEvent.SHIPPED, promise=promise, shipments=[unlabelled], **stated) is None
    confirmed = notify.status_facts(NoticeEvent.CONFIRMED, promise=promise, shipments=[], **stated)
    assert confirmed == {"ship_by": promise.ship_by, "deliver_from": promise.deliver_from,
                         "deliver_by": promise.deliver_by}
    delivered = notify.status_facts(NoticeEvent.DELIVERED, promise=None, shipments=[first, second], **stated)
    assert delivered["delivered_at"] == T0 + timedelta(days=3)  # the last parcel in
    assert delivered["parcels"] == ["Black Cat BC123 https://cat.example/BC123"] * 2
    shipped = notify.status_facts(NoticeEvent.SHIPPED, promise=promise, shipments=[first], **stated)
    assert shipped["tracking_code"] == "BC123"
    assert shipped["shipped_day"] == words.catalogue("zh_Hant")["days"]["today"]  # 10:00 in Taipei


def test_a_pages_tracking_tokens_are_read_together_and_made_once_for_those_without(world):
    from fulfilhub.store import tracking

    rt = world
    a, b = order("1060"), order("1061")
    store_order(rt, a)
    store_order(rt, b)
    with rt.store.transaction() as tx:
        kept = tracking.token_for(tx, a.id)
    with rt.store.transaction() as tx:
        tokens = tracking.tokens_for(tx, [a.id, b.id, a.id])
    assert tokens[a.id] == kept
    assert tracking.TOKEN_SHAPE.fullmatch(tokens[b.id])
    with rt.store.transaction() as tx:
        assert tracking.tokens_for(tx, [b.id]) == {b.id: tokens[b.id]}  # made once, the same after
        assert tracking.token_for(tx, b.id) == tokens[b.id]
        urls = tracking.page_urls(rt.config, tx, [a.id, b.id])
    assert urls == {a.id: tracking.page_url(rt.config, kept), b.id: tracking.page_url(rt.config, tokens[b.id])}
