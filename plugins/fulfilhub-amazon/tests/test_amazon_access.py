"""The token buckets and the LWA token cache, on a scenario clock (no network)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from fulfilhub import SimClock
from fulfilhub_amazon import access


def test_a_bucket_lets_the_burst_through_then_waits_at_the_rate_on_the_clock():
    clock = SimClock()
    limits = access.RateLimits(clock, {"getOrders": (0.5, 3)})
    began = clock.now()
    for _ in range(3):
        limits.before("getOrders")
    assert clock.now() == began  # the burst: no wait
    limits.before("getOrders")
    assert (clock.now() - began).total_seconds() == pytest.approx(2.0)  # one token at 0.5 a second


def test_the_rate_header_is_adopted_and_a_429_empties_the_bucket_and_waits_one_token():
    clock = SimClock()
    limits = access.RateLimits(clock, {"confirmShipment": (2.0, 10)})
    limits.saw("confirmShipment", {"X-Amzn-RateLimit-Limit": "0.25"}, 200)
    assert limits.buckets["confirmShipment"].rate == 0.25
    limits.saw("confirmShipment", {"x-amzn-ratelimit-limit": "not a number"}, 200)
    assert limits.buckets["confirmShipment"].rate == 0.25  # a header that is not a rate is ignored
    began = clock.now()
    limits.saw("confirmShipment", {"x-amzn-RateLimit-Limit": "0.25"}, 429)
    assert (clock.now() - began).total_seconds() == pytest.approx(4.0)  # 1 / 0.25
    assert limits.buckets["confirmShipment"].tokens <= 0


def test_one_refresh_for_many_threads_and_a_refused_token_is_replaced_once():
    clock = SimClock()
    calls: list[int] = []
    state: dict = {}

    class State:
        def get(self, key):
            return state.get(key)

        def insert(self, key, value):
            return state.setdefault(key, value) is value

        def compare_and_set(self, key, expected, value):
            if state.get(key) != expected:
                return False
            state[key] = value
            return True

    def fetch():
        calls.append(1)
        clock.sleep(0)  # a slow answer would let the others pile up on the lock
        return f"Atza|token-{len(calls)}", 3600

    cache = access.TokenCache(clock=clock, state=State(), identity="test-refresh-once", margin=300, fetch=fetch)
    barrier = threading.Barrier(10)
    got: list[str] = []

    def want():
        barrier.wait()
        got.append(cache.token())

    threads = [threading.Thread(target=want) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert set(got) == {"Atza|token-1"}
    assert cache.refused("Atza|token-1") == "Atza|token-2"
    assert cache.refused("Atza|token-1") == "Atza|token-2"  # another caller already replaced it: no new refresh
    assert len(calls) == 2
    clock.advance(timedelta(minutes=56))
    assert cache.token() == "Atza|token-3"  # within the margin: renewed first
