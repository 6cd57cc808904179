"""The carrier choice: scorecards, each carrier's standing under ``[carrier_choice]``, the
built-in ``choose_rate`` with them, and the recorded reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs
import pytest

from fulfilhub import hookimpl
from fulfilhub.default_plugins import decisions
from fulfilhub.engines import choice, kpi
from fulfilhub.errors import ConfigError
from fulfilhub.models import Address, Money, Order, OrderLine, Promise, Rate, Scorecard, Standing
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.store.kpi import ShipmentFacts

NOW = datetime(2026, 5, 14, 9, 0, tzinfo=timezone.utc)


def rate(carrier: str, amount: str, service: str = "Ground") -> Rate:
    return Rate(carrier=carrier, carrier_name=carrier.upper(), service=service, amount=Money(amount=Decimal(amount), currency="USD"),
                rate_id=f"{carrier}-{service}", shipment_ref=f"shp-{carrier}")


def promise(deliver_by: datetime) -> Promise:
    return Promise(order_id="o1", created_at=NOW, ship_by=NOW, deliver_from=deliver_by - timedelta(days=2),
                   deliver_by=deliver_by, timezone="America/New_York", confidence_from=0.5, confidence_by=0.95)


def order() -> Order:
    return Order(channel="shop", external_id="1", version="1", number="1001", placed_at=NOW, updated_at=NOW,
                 currency="USD", total=Money(amount=Decimal("5"), currency="USD"),
                 ship_to=Address(country="US", province="NY", postal_code="10001"),
                 lines=[OrderLine(sku="A", quantity=1, unit_price=Money(amount=Decimal("5"), currency="USD"))])


BY = datetime(2026, 5, 21, 23, 59, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- settings


def test_the_defaults_exclude_and_penalize_nothing():
    conf = choice.settings({})
    cards = {"cheap": Scorecard(carrier="cheap", shipments=500, due=400, on_time_rate=0.2, exception_rate=0.5,
                                damage_rate=0.3)}
    standing = choice.standing(["cheap"], cards, conf)["cheap"]
    assert standing.excluded == ""
    assert standing.penalty == 0
    assert standing.note == "scorecards not weighed ([carrier_choice] sets no floor or penalty)"


@pytest.mark.parametrize("table, key", [
    ({"min_on_time_rate": 1.5}, "carrier_choice.min_on_time_rate"),
    ({"max_damage_rate": True}, "carrier_choice.max_damage_rate"),
    ({"penalty_per_point": "-1"}, "carrier_choice.penalty_per_point"),
    ({"penalty_per_point": "lots"}, "carrier_choice.penalty_per_point"),
    ({"min_shipments": 0}, "carrier_choice.min_shipments"),
    ({"max_rechoices": -1}, "carrier_choice.max_rechoices"),
    ({"floor": 0.9}, "carrier_choice.floor"),
])
def test_a_wrong_setting_is_a_config_error_naming_its_key(table, key):
    with pytest.raises(ConfigError) as caught:
        choice.settings(table, path="shop.toml")
    assert caught.value.key == key


def test_the_configuration_doc_lists_exactly_the_settings():
    from .test_docs import read, section, table_rows

    rows = table_rows(section(read("configuration.md"), "## [carrier_choice]"))
    assert {row[0].strip("`") for row in rows if row[0].startswith("`")} == set(choice._KEYS)


def test_a_carrier_below_a_floor_is_excluded_saying_which_figure():
    conf = choice.settings({"min_on_time_rate": 0.85, "max_damage_rate": 0.02, "min_shipments": 10})
    cards = {
        "late": Scorecard(carrier="late", shipments=50, due=40, on_time_rate=0.7, exception_rate=0.1, damage_rate=0.0),
        "rough": Scorecard(carrier="rough", shipments=50, due=40, on_time_rate=0.95, exception_rate=0.1,
                           damage_rate=0.06),
        "good": Scorecard(carrier="good", shipments=50, due=40, on_time_rate=0.95, exception_rate=0.02,
                          damage_rate=0.0),
        "new": Scorecard(carrier="new", shipments=3, due=3, on_time_rate=0.0, exception_rate=1.0, damage_rate=1.0),
    }
    standing = choice.standing(["late", "rough", "good", "new", "unseen"], cards, conf)
    assert standing["late"].excluded == "on time 70% of 40 due, below the floor of 85%"
    assert standing["rough"].excluded == "damaged or lost 6%, above the ceiling of 2%"
    assert standing["good"].excluded == ""
    assert standing["new"].excluded == ""  # too few shipments to judge
    assert standing["new"].note == "too few shipments to judge (3 of 10)"
    assert standing["unseen"].note == "too few shipments to judge (0 of 10)"


def test_the_penalty_is_per_point_of_lateness_exceptions_and_damage():
    conf = choice.settings({"penalty_per_point": "0.10", "min_shipments": 1})
    card = Scorecard(carrier="x", shipments=100, due=100, on_time_rate=0.9, exception_rate=0.05, damage_rate=0.01)
    standing = choice.standing(["x"], {"x": card}, conf)["x"]
    assert standing.penalty == Decimal("1.60")  # (10 + 5 + 1) points at 0.10


# --------------------------------------------------------------------------- scorecards


def facts(instance: str, n: int, *, late: int = 0, exceptions: int = 0, damaged: int = 0) -> list[ShipmentFacts]:
    out = []
    for i in range(n):
        shipped = NOW - timedelta(days=10)
        by = shipped + timedelta(days=3)
        exception = "damaged" if i < damaged else "weather" if i < exceptions else None
        out.append(ShipmentFacts(shipment_id=f"{instance}/{i}", order_id=f"o{i}", carrier=instance.upper(),
                                 instance=instance, shipped_at=shipped,
                                 delivered_at=by + (timedelta(days=1) if i < late else -timedelta(days=1)),
                                 exception=exception, deliver_by=by))
    return out


def test_scorecards_count_each_instance_from_the_store_facts():
    window = kpi.Window.of(NOW - timedelta(days=90), NOW, NOW)
    cards = kpi.scorecards(facts("a", 10, late=2, exceptions=3, damaged=1) + facts("b", 4), window)
    assert cards["a"] == Scorecard(carrier="a", shipments=10, due=10, on_time_rate=0.8, exception_rate=0.3,
                                   damage_rate=0.1)
    assert cards["b"].on_time_rate == 1.0
    assert cards["b"].exception_rate == 0.0


def test_a_shipment_before_the_window_does_not_count():
    window = kpi.Window.of(NOW - timedelta(days=5), NOW, NOW)
    assert kpi.scorecards(facts("a", 3), window) == {}


# --------------------------------------------------------------------------- the built-in choose_rate


def test_the_cheapest_that_arrives_in_time_wins_and_a_skipped_or_excluded_carrier_is_left_out():
    cheap, mid, fast = rate("cheap", "5.00"), rate("mid", "7.00"), rate("fast", "12.00", "Express")
    arrive = {cheap.rate_id: BY - timedelta(days=1), mid.rate_id: BY - timedelta(days=1),
              fast.rate_id: BY - timedelta(days=3)}
    args = dict(order=order(), shipment_id="o1/1", rates=[cheap, mid, fast], promise=promise(BY), arrive_by=arrive)
    assert decisions.choose_rate(**args, standing={}, skipped={}) is cheap
    excluded = {"cheap": Standing(carrier="cheap", excluded="on time 50% of 40 due, below the floor of 85%")}
    assert decisions.choose_rate(**args, standing=excluded, skipped={}) is mid
    penalized = {"cheap": Standing(carrier="cheap", penalty=Decimal("2.50"))}
    assert decisions.choose_rate(**args, standing=penalized, skipped={}) is mid
    assert decisions.choose_rate(**args, standing={}, skipped={"cheap": "circuit open (unreachable)"}) is mid


def test_a_rate_in_the_orders_currency_comes_first_none_is_converted():
    usd = rate("us", "5.00")
    twd = Rate(carrier="tw", carrier_name="T-Cat", service="home", amount=Money(amount=Decimal("90"), currency="TWD"),
               rate_id="tw-home", shipment_ref="x")
    taiwan = attrs.evolve(order(), currency="TWD", total=Money(amount=Decimal("500"), currency="TWD"))
    args = dict(shipment_id="o1/1", rates=[usd, twd], promise=None, arrive_by={}, standing={}, skipped={})
    assert decisions.choose_rate(order=taiwan, **args) is twd
    assert decisions.choose_rate(order=order(), **args) is usd


def test_when_every_carrier_is_excluded_the_choice_still_ships():
    cheap, fast = rate("cheap", "5.00"), rate("fast", "9.00")
    standing = {name: Standing(carrier=name, excluded="below the floor") for name in ("cheap", "fast")}
    got = decisions.choose_rate(order=order(), shipment_id="o1/1", rates=[cheap, fast], promise=None, arrive_by={},
                                standing=standing, skipped={})
    assert got is cheap


def test_a_replaced_choose_rate_gets_the_standing_and_the_skipped_carriers():
    seen = {}

    class Mine:
        @hookimpl
        def choose_rate(self, rates, standing, skipped):
            seen.update(standing=dict(standing), skipped=dict(skipped))
            return rates[-1]

    pm = PluginManager(load_installed=False, extra=[Mine()])
    rates = [rate("a", "5.00"), rate("b", "6.00")]
    got = Hooks(pm).choose_rate(order=order(), shipment_id="o1/1", rates=rates,
                                standing={"a": Standing(carrier="a", penalty=Decimal(1))},
                                skipped={"c": "circuit open (unreachable)"})
    assert got is rates[-1]
    assert seen["skipped"] == {"c": "circuit open (unreachable)"}
    assert seen["standing"]["a"].penalty == 1


# --------------------------------------------------------------------------- the record


def test_the_record_says_why_with_the_alternatives_and_the_skipped():
    cheap, fast = rate("cheap", "5.00"), rate("fast", "12.00", "Express")
    options = [choice.Option(rate=cheap, arrive_by=BY - timedelta(days=1), basis="learned", learned=True),
               choice.Option(rate=fast, arrive_by=BY - timedelta(days=3), basis="learned", learned=True)]
    made = choice.record(cheap, options, promise(BY), {}, {"easypost": "circuit open (unreachable)"},
                         confidence=0.9, at=NOW)
    assert made["reason"] == ("the cheapest that arrives by Thu 21 May at 90% confidence; "
                              "easypost skipped: circuit open (unreachable)")
    assert made["meets"] is True
    assert [o["carrier"] for o in made["options"] if o["chosen"]] == ["cheap"]
    assert made["skipped"] == {"easypost": "circuit open (unreachable)"}
    text = "\n".join(choice.describe({**made, "failed": None}))
    assert "* cheap CHEAP Ground: 5.00 USD" in text
    assert "easypost skipped" in text


def test_the_record_says_when_the_arrival_is_the_carriers_own_for_lack_of_history():
    slow = rate("slow", "5.00")
    options = [choice.Option(rate=slow, arrive_by=BY + timedelta(days=2), basis="too few deliveries", learned=False)]
    made = choice.record(slow, options, promise(BY), {}, {}, confidence=0.95, at=NOW)
    assert made["reason"] == ("none arrives by Thu 21 May by the carrier's stated transit (too little history on "
                              "the lane to learn from); the fastest")
    assert made["meets"] is False


def test_the_record_names_an_excluded_carrier_and_why():
    good, bad = rate("good", "6.00"), rate("bad", "4.00")
    options = [choice.Option(rate=good, arrive_by=BY, learned=True), choice.Option(rate=bad, arrive_by=BY, learned=True)]
    standing = {"bad": Standing(carrier="bad", excluded="exceptions 30%, above the ceiling of 10%"),
                "good": Standing(carrier="good")}
    made = choice.record(good, options, promise(BY), standing, {}, confidence=0.95, at=NOW)
    assert made["reason"] == ("the cheapest that arrives by Thu 21 May at 95% confidence; "
                              "bad excluded: exceptions 30%, above the ceiling of 10%")


# --------------------------------------------------------------------------- the scripted API outage


def test_an_api_outage_downs_one_service_for_its_window():
    from fulfilhub.sandbox.disruptions import DisruptionPlan

    plan = DisruptionPlan()
    outage = plan.add("api_outage", start=NOW, days=0.5, service="easypost")
    assert plan.api_down("/easypost/v2/shipments", NOW) is outage
    assert plan.api_down("/easypost/v2/shipments", NOW - timedelta(seconds=1)) is None
    assert plan.api_down("/easypost/v2/shipments", NOW + timedelta(hours=12)) is None
    assert plan.api_down("/easypost2/v2/shipments", NOW) is None
    assert plan.api_down("/shippo/shipments", NOW) is None
    with pytest.raises(ValueError, match="needs the service"):
        plan.add("api_outage", start=NOW, days=1)
