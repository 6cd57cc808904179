"""The words customers read: one catalogue in three languages, the reviewed glossary per
language (Taiwan for zh_Hant, the mainland for zh_Hans) checked against every string and
every rendered notice, one character set per script (OpenCC), full-width punctuation,
and Babel's dates, money and zone names per locale and territory."""

from __future__ import annotations

import re
import string
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib import resources
from zoneinfo import ZoneInfo

import pytest

from fulfilhub.engines import notify, words
from fulfilhub.models import Address, Money, NoticeEvent, Order, OrderLine

opencc = pytest.importorskip("opencc", reason="the test extra opencc-python-reimplemented is not installed")

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)
_TO_TRADITIONAL = opencc.OpenCC("s2t")
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
_CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]"
_HAN = re.compile(r"[\u3400-\u9fff]")
#: Characters OpenCC maps although both scripts write them (variants, not a script mix).
_BOTH_SCRIPTS = set("台")


def problems(text: str, language: str) -> list[str]:
    """What a reader of ``language`` would stumble on in ``text``: a term the glossary forbids,
    a character of the other script, half-width punctuation or a space inside Chinese."""
    found = []
    for entry in words.glossary().get(language, []):
        for term in entry["not"]:
            if term in text:
                found.append(f"{term!r} (use {entry['use']!r}: {entry['why']})")
    if language == "zh_Hant":
        found += [f"Simplified character {c!r}" for c in dict.fromkeys(_HAN.findall(text))
                  if c not in _BOTH_SCRIPTS and _TO_SIMPLIFIED.convert(c) == c and _TO_TRADITIONAL.convert(c) != c]
    elif language == "zh_Hans":
        found += [f"Traditional character {c!r}" for c in dict.fromkeys(_HAN.findall(text))
                  if c not in _BOTH_SCRIPTS and _TO_SIMPLIFIED.convert(c) != c]
    if language != "en":
        for match in re.finditer(rf"(?<={_CJK})[,.:;!?()]|[,:;!?()](?={_CJK})", text):
            found.append(f"half-width {match.group()!r} in {text[max(0, match.start() - 8):match.end() + 8]!r}")
        for match in re.finditer(rf"{_CJK}[ \t]+{_CJK}", text):
            found.append(f"a space between Chinese words in {match.group()!r}")
    return found


def strings(table, path=()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from strings(value, (*path, key))
        else:
            yield ".".join((*path, key)), value


def template_text(language: str) -> dict[str, str]:
    """The words of each notice template of ``language``, its Jinja tags taken out."""
    root = resources.files("fulfilhub") / "templates" / "notices" / language
    out = {}
    for item in root.iterdir():
        if item.name.endswith(".j2"):
            text = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", "\n", item.read_text(encoding="utf-8"))
            out[item.name] = text
    return out


def test_the_checker_catches_each_kind_of_mistake():
    """The check is not one that cannot fail: each listed mistake is found."""
    assert any("派送中" in p for p in problems("包裹派送中", "zh_Hant"))
    assert any("投遞未成功" in p for p in problems("投遞未成功", "zh_Hant"))
    assert any("會員積分" in p for p in problems("100 點會員積分", "zh_Hant"))
    assert any("% 折扣" in p for p in problems("下次訂單 10% 折扣", "zh_Hant"))
    assert any("Simplified" in p for p in problems("您的订单已出貨", "zh_Hant"))
    assert any("Traditional" in p for p in problems("您的訂单已发货", "zh_Hans"))
    assert any("追踪号码" in p for p in problems("追踪号码：1", "zh_Hans"))
    assert any("物流商" in p for p in problems("物流商预估", "zh_Hans"))
    assert any("点会员积分" in p for p in problems("100 点会员积分", "zh_Hans"))
    assert any("half-width" in p for p in problems("訂單已出貨,謝謝", "zh_Hant"))
    assert any("space" in p for p in problems("訂單 已出貨", "zh_Hant"))
    assert any("may arrive later" in p for p in problems("It may arrive later than promised.", "en"))
    assert problems("訂單 #1042 已於5月17日（星期日）送達：NT$1,280。", "zh_Hant") == []


def test_each_language_has_the_same_keys_and_placeholders():
    tables = {lang: dict(strings(words.catalogue(lang))) for lang in words.LANGUAGES}
    keys = set(tables["en"])
    for lang, table in tables.items():
        assert set(table) == keys, f"{lang}: missing {keys - set(table)}, extra {set(table) - keys}"
        for key, value in table.items():
            wanted = {f for _, f, _, _ in string.Formatter().parse(tables["en"][key]) if f}
            have = {f for _, f, _, _ in string.Formatter().parse(value) if f}
            assert have == wanted, f"{lang} {key}: {have} != {wanted}"


@pytest.mark.parametrize("language", words.LANGUAGES)
def test_every_catalogue_and_template_string_follows_the_glossary(language):
    found = [f"{key}: {p}" for key, value in strings(words.catalogue(language)) for p in problems(value, language)]
    found += [f"{name}: {p}" for name, value in template_text(language).items() for p in problems(value, language)]
    assert found == []


def order(country: str = "TW", locale: str | None = None, currency: str = "TWD") -> Order:
    return Order(channel="shop", external_id="1042", version="v1", number="#1042", placed_at=T0, updated_at=T0,
                 currency=currency, total=Money(amount="1280", currency=currency),
                 lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="1200", currency=currency))],
                 ship_to=Address(name="王小明", line1="1 Zhongshan Rd", city="Kaohsiung", country=country),
                 email="ming@example.tw", raw={"customer_locale": locale} if locale else {})


def rendered(locale: str, country: str = "TW") -> list[str]:
    """Every notice in ``locale`` with every cause, action and compensation the catalogue has."""
    o = order(country)
    tz = ZoneInfo("Asia/Taipei")
    table = words.catalogue(words.language_of(locale))
    comps = [words.compensation_sentence(kind, Money(amount="128", currency="TWD"), locale, percent=percent,
                                         points=200, months=6)
             for kind, percent in (("discount", Decimal(10)), ("discount", None), ("shipping_refund", None),
                                   ("partial_refund", None), ("free_upgrade", None), ("points", None),
                                   ("gift", None), ("warranty", None))]
    comps.append(words.compensation_sentence("discount", None, locale, percent=Decimal(10)))
    facts = {
        NoticeEvent.CONFIRMED: {"ship_by": T0 + timedelta(days=1), "deliver_from": T0 + timedelta(days=2),
                                "deliver_by": T0 + timedelta(days=3)},
        NoticeEvent.SHIPPED: {"carrier": "Black Cat", "tracking_code": "TW123456789", "deliver_by": T0},
        NoticeEvent.ETA_REVISED: {"new_date": T0 + timedelta(days=6), "deliver_by": T0 + timedelta(days=3)},
        NoticeEvent.DELIVERED: {"delivered_at": T0 + timedelta(days=3), "carrier": "Black Cat"},
        NoticeEvent.RECALL: {"product": "Oolong 100 g", "lot": "LOT-2026-03", "reason": "a supplier's notice"},
    }
    out = []
    for event, these in facts.items():
        n = notify.render(event, key="k", order=o, locale=locale, tz=tz, facts={"link": "https://t.example/1", **these},
                          at=T0, shop="Acme")
        out.append(n.subject + "\n" + n.text)
    for cause, action, comp in zip(table["causes"].values(), list(table["actions"].values()) * 4, comps * 2):
        n = notify.render(NoticeEvent.DELAYED, key="k", order=o, locale=locale, tz=tz, at=T0, shop="Acme",
                          facts={"link": "https://t.example/1", "days_late": 2, "new_date": T0 + timedelta(days=400),
                                 "cause": cause, "action": action, "compensation": comp})
        out.append(n.subject + "\n" + n.text)
    for comp in comps:
        n = notify.render(NoticeEvent.COMPENSATION_ISSUED, key="k", order=o, locale=locale, tz=tz, at=T0, shop="Acme",
                          facts={"amount": Money(amount="128", currency="TWD"), "code": "SORRY-1",
                                 "compensation": comp, "link": "https://t.example/1"})
        out.append(n.subject + "\n" + n.text)
    return out


@pytest.mark.parametrize("locale", ["en", "en_GB", "zh_Hant_TW", "zh_Hant_HK", "zh_Hans_CN", "zh_Hans_SG"])
def test_every_rendered_notice_follows_the_glossary(locale):
    language = words.language_of(locale)
    found = [p for text in rendered(locale) for p in problems(text, language)]
    assert found == []


# --------------------------------------------------------------------------- formatting


SUNDAY = date(2026, 3, 8)


@pytest.mark.parametrize(("locale", "expected"), [
    ("en_US", "Sunday, March 8"), ("en", "Sunday, March 8"), ("en_GB", "Sunday 8 March"),
    ("zh_Hant_TW", "3月8日星期日"), ("zh_Hant_HK", "3月8日星期日"), ("zh_Hans_CN", "3月8日星期日"),
])
def test_a_day_is_written_as_the_locale_and_territory_write_it(locale, expected):
    assert words.day(SUNDAY, locale, today=date(2026, 1, 1)) == expected


def test_a_day_of_another_year_carries_its_year():
    assert words.day(SUNDAY, "en_US", today=date(2025, 12, 30)) == "Sunday, March 8, 2026"
    assert words.day(SUNDAY, "en_GB", today=date(2027, 1, 2)) == "Sunday, 8 March 2026"
    assert words.day(SUNDAY, "zh_Hant_TW", today=date(2025, 12, 30)) == "2026年3月8日星期日"


def test_an_instant_is_the_day_in_the_customers_zone_and_a_date_stays_the_date():
    late_utc = datetime(2026, 3, 8, 3, 0, tzinfo=timezone.utc)  # still 7 March in Chicago
    assert words.day(late_utc, "en_US", ZoneInfo("America/Chicago")) == "Saturday, March 7"
    assert words.day(SUNDAY, "en_US", ZoneInfo("America/Los_Angeles")) == "Sunday, March 8"  # a date is local already


def test_zone_names_are_right_for_the_date_and_never_cst_for_taipei():
    summer = datetime(2026, 7, 1, 12, tzinfo=timezone.utc)
    winter = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
    for at in (summer, winter):
        chicago = words.zone_label(ZoneInfo("America/Chicago"), "en_US", at)
        assert chicago == "Central Time"  # not "Central Standard Time" on a daylight date
        for locale in ("en_US", "en_GB", "zh_Hant_TW", "zh_Hant_HK", "zh_Hans_CN"):
            taipei = words.zone_label(ZoneInfo("Asia/Taipei"), locale, at)
            assert "CST" not in taipei
            assert "Standard" not in taipei
            assert "標準" not in taipei
            assert "夏令" not in taipei
    assert words.zone_label(ZoneInfo("Asia/Taipei"), "zh_Hant_TW", summer) == "台灣時間"
    assert words.zone_label(ZoneInfo("Asia/Taipei"), "zh_Hans_CN", summer) == "台湾时间"
    assert words.zone_label(ZoneInfo("Asia/Taipei"), "en_US", summer) == "Taiwan Time"


@pytest.mark.parametrize(("amount", "currency", "locale", "expected"), [
    ("6.90", "USD", "en_US", "$6.90"), ("6.90", "USD", "en", "$6.90"), ("6.90", "USD", "en_GB", "US$6.90"),
    ("6.90", "USD", "zh_Hant_TW", "US$6.90"), ("1280", "TWD", "zh_Hant_TW", "NT$1,280"),
    ("1280", "TWD", "en_US", "NT$1,280"), ("80.5", "TWD", "en", "NT$80.50"), ("1280", "SGD", "en_SG", "S$1,280"),
    ("1280", "SGD", "en_US", "S$1,280"), ("1280", "SGD", "zh_Hans_SG", "S$1,280"), ("1280", "CNY", "zh_Hans_CN", "¥1,280"),
    ("1280", "HKD", "zh_Hant_HK", "HK$1,280"), ("12.5", "GBP", "en_GB", "£12.50"), ("6.90", "USD", "en_001", "US$6.90"),
])
def test_money_is_written_as_the_locale_writes_it(amount, currency, locale, expected):
    shown = words.money(Money(amount=amount, currency=currency), locale)
    assert shown == expected
    assert not re.search(r"[A-Z]{3}\d|\d [A-Z]{3}$", shown)  # never "SGD1,280" nor "6.90 USD"


@pytest.mark.parametrize(("locale", "country", "expected"), [
    ("en", "GB", "en_GB"), ("en", "US", "en_US"), ("en-GB", "US", "en_GB"), ("zh-Hant", "HK", "zh_Hant_HK"),
    ("zh-Hant", "US", "zh_Hant_TW"), ("zh_Hans", "SG", "zh_Hans_SG"), ("zh-Hans", None, "zh_Hans_CN"),
    ("zh-TW", None, "zh_Hant_TW"), ("zh_Hant_HK", "TW", "zh_Hant_HK"), ("en", "TW", "en_001"), ("en", None, "en"),
])
def test_the_territory_comes_from_the_customers_locale_else_the_destination(locale, country, expected):
    assert words.territorial(locale, country) == expected


def test_a_discount_is_told_by_what_the_channel_creates():
    amount = Money(amount="128", currency="TWD")
    assert words.compensation_sentence("discount", amount, "en_US", percent=Decimal(10)) == \
        "To make up for it, here is a code for NT$128 off your next order, to use once."
    assert words.compensation_sentence("discount", None, "en_US", percent=Decimal(10)) == \
        "To make up for it, here is 10% off your next order."
    assert words.compensation_sentence("discount", None, "zh_Hant_TW", percent=Decimal(10)) == \
        "為表歉意，送您下次購物享9折優惠。"
    assert words.percent_off(Decimal(15), "zh_Hans_CN") == "85折"
    assert words.compensation_sentence("points", None, "zh_Hant_TW", points=200) == "我們為您的帳戶加入紅利點數200點。"
    assert words.compensation_sentence("points", None, "zh_Hans_CN", points=200) == "我们向您的账户赠送200积分。"


def test_the_notices_format_for_the_destinations_territory():
    o_gb = order("GB", currency="GBP")
    o_us = order("US", currency="USD")
    at = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    facts = {"link": "https://t.example/1", "days_late": 1, "new_date": datetime(2026, 3, 8, 12, tzinfo=timezone.utc),
             "cause": "C", "action": "", "compensation": ""}
    gb = notify.render(NoticeEvent.DELAYED, key="k", order=o_gb, locale="en", tz=ZoneInfo("Europe/London"),
                       facts=facts, at=at)
    us = notify.render(NoticeEvent.DELAYED, key="k", order=o_us, locale="en", tz=ZoneInfo("America/Chicago"),
                       facts=facts, at=at)
    assert "on Sunday 8 March" in gb.subject
    assert "on Sunday, March 8" in us.subject
    later = notify.render(NoticeEvent.DELAYED, key="k", order=o_us, locale="en", tz=ZoneInfo("America/Chicago"),
                          facts={**facts, "new_date": datetime(2027, 1, 8, 18, tzinfo=timezone.utc)}, at=at)
    assert "Friday, January 8, 2027" in later.subject  # another year: said


def test_a_notice_in_chinese_asks_for_its_scripts_fonts():
    facts = {"delivered_at": T0, "carrier": "Black Cat"}
    tz = ZoneInfo("Asia/Taipei")
    hant = notify.render(NoticeEvent.DELIVERED, key="k", order=order(), locale="zh_Hant_TW", tz=tz, facts=facts, at=T0)
    hans = notify.render(NoticeEvent.DELIVERED, key="k", order=order("CN"), locale="zh_Hans_CN", tz=tz, facts=facts,
                         at=T0)
    assert '<html lang="zh-Hant-TW">' in hant.html
    assert "font-family: 'PingFang TC'" in hant.html
    assert '<html lang="zh-Hans-CN">' in hans.html
    assert "font-family: 'PingFang SC'" in hans.html


@pytest.mark.parametrize("language", words.LANGUAGES)
def test_the_shipped_notice_names_the_tracking_number_as_the_page_does(language):
    term = words.catalogue(language)["page"]["tracking_number"].lower()
    assert term in template_text(language)["shipped.j2"].lower()


def test_a_revised_date_says_why_and_apologises_and_a_latin_name_keeps_its_space():
    o = Order(channel="shop", external_id="7", version="v1", number="#7", placed_at=T0, updated_at=T0, currency="TWD",
              total=Money(amount="100", currency="TWD"),
              lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="100", currency="TWD"))],
              ship_to=Address(name="Noah Rossi", line1="1 Zhongshan Rd", city="Taipei", country="TW"), email="n@x.tw")
    tz = ZoneInfo("Asia/Taipei")
    facts = {"new_date": T0 + timedelta(days=6), "deliver_by": T0 + timedelta(days=3), "link": "https://t.example/1",
             "cause": words.cause("carrier_eta", "zh_Hant_TW")}
    n = notify.render(NoticeEvent.ETA_REVISED, key="k", order=o, locale="zh_Hant_TW", tz=tz, facts=facts, at=T0)
    assert n.text.startswith("Noah Rossi 您好，")
    assert "由於物流業者延後了預計送達日期，且未說明原因，您的訂單 #7 送達日期有所變動" in n.text
    assert "抱歉" in n.text
    en = notify.render(NoticeEvent.ETA_REVISED, key="k", order=o, locale="en", tz=tz,
                       facts={**facts, "cause": words.cause("carrier_eta", "en")}, at=T0)
    assert "because the carrier moved its delivery date and has not told us why." in en.text
    assert "sorry" in en.text


@pytest.mark.parametrize("language", words.LANGUAGES)
def test_no_template_says_today_which_a_notice_held_over_quiet_hours_would_make_false(language):
    for name, text in template_text(language).items():
        assert not re.search(r"\btoday\b|今天|今日", text, re.I), name


def test_any_locale_a_channel_sends_formats_or_falls_back_never_raises():
    """``customer_locale`` is foreign data: whatever it says, the words and formats hold."""
    import random

    rng = random.Random(14)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-0123456789 中文@."
    tags = ["", "zh", "zh-TW", "zh_hant", "ZH-hk", "en-GB", "en_US_POSIX", "x-klingon", "zh-Hans-SG", "pt-BR", "und",
            "zh-Latn", "en-", "-", "__", "i-default"]
    tags += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    for tag in tags:
        for country in (None, "", "TW", "GB", "ZZ", "tw", "123"):
            locale = words.territorial(tag, country)
            assert words.language_of(locale) in words.LANGUAGES
            assert words.day(SUNDAY, locale, today=date(2026, 1, 1))
            assert words.money(Money(amount="6.90", currency="USD"), locale).endswith("6.90")
