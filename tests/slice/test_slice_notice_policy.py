"""The demo's delay notices, checked over a real demo run: none gives a new day on or
before the promised one (in the customer's own zone), at most three per order, none
repeats another word for word, and the demo's summary shows what the policy suppressed."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from fulfilhub.engines import zones
from fulfilhub.scenarios import run_demo
from fulfilhub.store import Store
from fulfilhub.store import notices as notice_store
from fulfilhub.store import orders as order_store
from fulfilhub.store import promises as promise_store

from .conftest import make_plugins


def check(result) -> dict:
    """The done-when figures, computed from the store independently of the demo's summary."""
    store = Store.open(f"sqlite:///{result.workspace / 'fulfilhub.sqlite'}")
    try:
        with store.read() as conn:
            sent = notice_store.delay_notices(conn)
            per_order = Counter(row.order_id for row in sent)
            texts = Counter((row.order_id, row.text) for row in sent)
            early = 0
            for row in sent:
                order = order_store.load(conn, row.order_id)[0]
                promise = promise_store.current(conn, row.order_id)
                tz = zones.zone(promise.timezone or zones.destination_zone(order.ship_to))
                promised = promise.deliver_by.astimezone(tz).date()
                if row.told["new_date"] is not None and date.fromisoformat(row.told["new_date"]) <= promised:
                    early += 1
    finally:
        store.close()
    assert result.refused == 0  # the scenario's own clock is never refused by its time base
    figures = {"delay_notices": len(sent), "max_per_order": max(per_order.values(), default=0),
               "repeated": sum(n - 1 for n in texts.values()), "not_after_promise": early}
    assert figures["not_after_promise"] == 0
    assert figures["max_per_order"] <= 3
    assert figures["repeated"] == 0
    told = result.notices  # the demo's own summary says the same
    assert (told["delay_notices"], told["delay_notices_max_per_order"], told["delay_notices_repeated"],
            told["delay_notices_not_after_promise"]) == (len(sent), figures["max_per_order"], 0, 0)
    return figures


def test_a_small_demo_tells_each_delay_truly_and_rarely(tmp_path):
    result = run_demo(orders=40, days=1, settle_days=3, seed=7, workspace=tmp_path / "demo", plugins=make_plugins())
    figures = check(result)
    assert figures["delay_notices"] >= 1  # the typhoon delays parcels to Taiwan: there is something to tell
    assert "policy_suppressed" in result.notices
    assert "policy_waited" in result.notices


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11, 23])
def test_the_full_demo_tells_each_delay_truly_and_rarely(tmp_path, seed):
    result = run_demo(seed=seed, workspace=tmp_path / "demo", plugins=make_plugins())
    figures = check(result)
    assert figures["delay_notices"] >= 1
