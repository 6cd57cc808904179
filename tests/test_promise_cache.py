"""engines.promise_cache: the promise engine built and taught once, kept warm after."""

from __future__ import annotations

import threading

from fulfilhub.engines.promise_cache import PromiseCache


class Engine:
    def __init__(self):
        self.heard: list[tuple[str, object]] = []

    def shipped(self, shipment, ship_to):
        self.heard.append(("shipped", shipment))

    def tracked(self, shipment):
        self.heard.append(("tracked", shipment))


def counting():
    built, taught = [], []

    def build():
        built.append(Engine())
        return built[-1]

    return built, taught, PromiseCache(build, taught.append)


def test_the_engine_is_built_and_taught_once_even_from_many_threads():
    built, taught, cache = counting()
    threads = [threading.Thread(target=cache.engine) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert taught == built
    assert cache.engine() is built[0]


def test_a_shipment_before_the_engine_is_built_is_not_told_it_learns_from_the_store_instead():
    built, taught, cache = counting()
    cache.shipment_moved("s1", "addr")
    assert not cache.built
    assert built == []


def test_a_label_and_a_delivery_reach_the_built_engine():
    _, _, cache = counting()
    engine = cache.engine()
    cache.shipment_moved("s1", "addr")
    cache.shipment_moved("s1")
    assert engine.heard == [("shipped", "s1"), ("tracked", "s1")]


def test_forget_makes_the_next_engine_learn_again():
    built, taught, cache = counting()
    first = cache.engine()
    cache.forget()
    assert cache.engine() is not first
    assert len(taught) == 2
