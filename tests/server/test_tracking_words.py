"""The tracking page and the notices of one order say the same thing: the same new date,
the same cause in the same words, the same compensation and money, in each of the three
languages; and the page's own words follow the glossary too."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest

from fulfilhub.server import tracking, tracking_parts
from fulfilhub.store import compensation as ledger
from fulfilhub.store import notices as notice_store

from ..test_notices import T0, assess, lines, order, run, store_order, world  # noqa: F401 - world is a fixture
from ..test_words import problems

#: (the customer's locale, the destination, the page's language, the catalogue language)
CUSTOMERS = [("en-US", "US", "en", "en"), ("zh-TW", "TW", "zh-Hant", "zh_Hant"), ("zh-CN", "CN", "zh-Hans", "zh_Hans")]


def visible(page_html: str) -> str:
    """The page's text as a reader sees it (tags out, entities decoded), without the language
    switcher (each language's name is in its own language, marked with its own ``lang``)."""
    body = re.sub(r"<nav.*?</nav>", "", page_html[page_html.index("<main>"):], flags=re.S)
    return html_lib.unescape(re.sub(r"\s*\n\s*", "\n", re.sub(r"<[^>]+>", "", body)))


@pytest.mark.parametrize(("customer_locale", "country", "page_locale", "language"), CUSTOMERS)
def test_the_page_and_the_notices_say_the_same_dates_words_and_money(world, customer_locale, country, page_locale,
                                                                      language):
    rt = world
    o = order(locale=customer_locale, country=country, total="900", lines="850")  # 10% is under auto-approval
    store_order(rt, o)
    assess(rt, o, 3)  # three days late: the 10% tier, issued by the shop as a fixed-amount code
    run(rt)
    sent = lines(rt.config.path.parent / "notices.jsonl")
    delayed = next(n for n in sent if n["event"] == "delayed")
    issued = next(n for n in sent if n["event"] == "compensation_issued")
    with rt.store.read() as conn:
        (comp,) = ledger.for_order(conn, o.id)
        page = tracking.build(conn, o.id, page_locale, rt.clock.now() + timedelta(hours=1),
                              [tracking_parts.promise_and_delay, tracking_parts.compensation])
    assert comp.status == "issued"
    assert comp.kind == "discount"
    assert comp.code
    shown = tracking.render(page, page_locale, "/t/x")
    text = visible(shown)
    # the same new date, cause, compensation sentence, money and code, word for word
    facts = delayed["facts"]
    for fact in ("new_date", "cause"):
        assert facts[fact] in text, f"the page does not say the notice's {fact} {facts[fact]!r}:\n{text}"
    # the page says the compensation as its notice said it once issued; the delay notice, written
    # before the shop issued it, announced the same amount without saying it had happened
    assert issued["facts"]["compensation"] in text
    assert issued["facts"]["amount"] in facts["compensation"]
    assert facts["compensation"] != issued["facts"]["compensation"]
    assert issued["facts"]["amount"] in text
    assert issued["facts"]["code"] in text
    assert facts["new_date"] in delayed["text"]
    assert facts["cause"] in delayed["text"]
    # the headline is that new date, not the promise the delay broke
    assert re.search(rf'<p class="big"[^>]*>{re.escape(html_lib.escape(facts["new_date"]))}</p>', shown)
    # and the page's words are its reader's: language, glossary, script, punctuation
    assert f'<html lang="{page_locale}">' in shown
    assert problems(text, language) == []
    assert "%" not in facts["compensation"]  # a fixed-amount code is told by its amount
    with rt.store.read() as conn:
        assert notice_store.get(conn, delayed["key"]) is not None


def test_a_us_and_a_uk_customer_read_their_own_dates_on_the_page(world):
    rt = world
    pages = {}
    for country in ("US", "GB"):
        o = order(number=f"20{len(pages)}", locale="en", country=country)
        store_order(rt, o)
        with rt.store.read() as conn:
            pages[country] = visible(tracking.render(tracking.build(conn, o.id, "en", T0, [tracking_parts.promise_and_delay]),
                                                     "en", "/t/x"))
    # the promise of store_order: 14 to 15 May in Taipei
    assert "Thursday, May 14 – Friday, May 15" in pages["US"]
    assert "Thursday 14 May – Friday 15 May" in pages["GB"]


@pytest.mark.parametrize(("page_locale", "said"), [
    ("en", "It is still due by Friday, May 15; if that changes, we will tell you at once."),
    ("zh-Hant", "目前仍預計於5月15日星期五前送達"), ("zh-Hans", "目前仍预计于5月15日星期五前送达")])
def test_an_order_at_risk_is_told_its_date_still_holds_and_why_it_is_watched(world, page_locale, said):
    from fulfilhub.models import DelayAssessment
    from fulfilhub.store import delays

    rt = world
    o = order(locale="en-US", country="US")
    store_order(rt, o)
    with rt.store.transaction() as tx:
        delays.record(tx, DelayAssessment(order_id=o.id, assessed_at=T0, state="at_risk", reason="no_scan",
                                          days_late=0, confidence=0.5, promise_revision=1))
    with rt.store.read() as conn:
        text = visible(tracking.render(tracking.build(conn, o.id, page_locale, T0, [tracking_parts.promise_and_delay]),
                                       page_locale, "/t/x"))
    assert said in text
    assert "may " not in text
