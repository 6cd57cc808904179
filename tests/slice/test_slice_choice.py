"""Choosing the carrier over real HTTP: failover when a label purchase keeps failing (bounded
and recorded), and the demo's proof of the choice (the switch away from a carrier whose
API is down, and the cost against always-cheapest and always-fastest on the same quotes)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from fulfilhub import CarrierType, Simulator, hookimpl
from fulfilhub.cli import main
from fulfilhub.models import ShipmentStatus
from fulfilhub.plugins import PluginManager
from fulfilhub.sandbox import DemoPart, DemoSecret
from fulfilhub.scenarios import build_world, run_demo
from fulfilhub.store import choices as choice_store
from fulfilhub.store import outbox
from fulfilhub.testing import FAST_RETRIES

from .conftest import FAST_WAREHOUSES, START, fulfilhub_easypost, fulfilhub_shopify


class SecondCourier:
    """A second EasyPost simulator under another name and instance (``backup``)."""

    @hookimpl
    def register_simulators(self, register):
        register(Simulator(
            name="courier2",
            factory="fulfilhub_easypost.simulator:EasyPostSimulator",
            demo=DemoPart(kind="carriers", type="easypost", instance="backup",
                          secrets={"api_key": DemoSecret(env="SECOND_COURIER_KEY", value="k2", option="api_key")}),
        ))


def test_a_label_purchase_that_keeps_failing_chooses_another_carrier_bounded_and_recorded(tmp_path):
    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    pm.register(SecondCourier(), name="second-courier")
    env = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "t1", "FULFILHUB_DEMO_EASYPOST_KEY": "k1", "SECOND_COURIER_KEY": "k2"}
    options = {"shopify": {"orders_per_day": 0, "update_rate": 0.0},
               "easypost": {"exception_rate": 0.0, "delay_rate": 0.0},
               "courier2": {"exception_rate": 0.0, "delay_rate": 0.0}}
    with build_world(pm, tmp_path, start=START, env=env, options=options, instances={"shopify": "shop"},
                     warehouses=FAST_WAREHOUSES, policy=FAST_RETRIES) as world:
        shop = world.sandbox.simulators["shopify"]
        sku = shop.catalog[0]["sku"]
        world.stock("east", sku, 5)
        placed = shop.add_order([{"sku": sku, "quantity": 1}])
        world.context.faults.add("503", path="/buy", method="POST", times=10_000)  # every purchase fails
        for _ in range(16):
            world.sync(hours=1)
        (shipment,) = world.shipments(f"shop:{placed['id']}")
        with world.store.read() as conn:
            made = choice_store.of_shipment(conn, shipment.id)
        # chosen, failed twice, chosen again among the others; then the bound (max_rechoices = 2)
        assert len(made) == 3, [(m["carrier"], m["failed"]) for m in made]
        first, second, third = made
        assert first["failed"]
        assert second["failed"]
        assert third["failed"] is None
        assert second["carrier"] != first["carrier"]
        assert second["skipped"][first["carrier"]].startswith("label purchase failed for this shipment")
        assert "skipped: label purchase failed" in second["reason"]
        assert shipment.status is ShipmentStatus.PACKED
        # the carriers answer again: the label is bought on the last choice
        world.context.faults.clear()
        for _ in range(4):
            world.sync(hours=1)
        (shipment,) = world.shipments(f"shop:{placed['id']}")
        assert shipment.label is not None
        assert shipment.label.carrier == third["carrier"]
        notes = [e.reason for e in world.events(f"shop:{placed['id']}") if e.source == "carrier choice"]
        assert any("choosing again among the other carriers" in n for n in notes)


def test_a_refused_label_purchase_chooses_another_carrier_at_once(tmp_path):
    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    pm.register(SecondCourier(), name="second-courier")
    env = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "t1", "FULFILHUB_DEMO_EASYPOST_KEY": "k1", "SECOND_COURIER_KEY": "k2"}
    with build_world(pm, tmp_path, start=START, env=env, options={"shopify": {"orders_per_day": 0}},
                     instances={"shopify": "shop"}, warehouses=FAST_WAREHOUSES, policy=FAST_RETRIES) as world:
        shop = world.sandbox.simulators["shopify"]
        sku = shop.catalog[0]["sku"]
        world.stock("east", sku, 5)
        placed = shop.add_order([{"sku": sku, "quantity": 1}])
        # both couriers quote alike and the tie goes to backup; its purchases are refused
        world.context.faults.add("422", path="/courier2/v2/shipments/shp_", method="POST", times=10)
        for _ in range(8):
            world.sync(hours=1)
        (shipment,) = world.shipments(f"shop:{placed['id']}")
        with world.store.read() as conn:
            made = choice_store.of_shipment(conn, shipment.id)
        assert [(m["carrier"], bool(m["failed"])) for m in made] == [("backup", True), ("easypost", False)]
        assert "422" in made[0]["failed"]
        with world.store.read() as conn:  # chosen again after the first refusal, not after a retry
            assert outbox.status_of_row(conn, f"carrier.buy_label:{shipment.id}").attempts == 1
        assert shipment.label is not None
        assert shipment.label.carrier == "easypost"


def test_a_carrier_below_the_on_time_floor_is_excluded_and_the_record_says_why(tmp_path, monkeypatch):
    from datetime import timedelta

    from fulfilhub.runner import labels
    from fulfilhub.store.kpi import ShipmentFacts

    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    pm.register(SecondCourier(), name="second-courier")
    env = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "t1", "FULFILHUB_DEMO_EASYPOST_KEY": "k1", "SECOND_COURIER_KEY": "k2"}
    with build_world(pm, tmp_path, start=START, env=env, options={"shopify": {"orders_per_day": 0}},
                     instances={"shopify": "shop"}, warehouses=FAST_WAREHOUSES, policy=FAST_RETRIES,
                     extra_config="[carrier_choice]\nmin_on_time_rate = 0.9\nmin_shipments = 5\n") as world:
        # the store's history: backup delivered 6 of its 10 due parcels late, easypost none
        shipped = START - timedelta(days=20)

        def history(conn, since, until):
            assert since == world.clock.now() - timedelta(days=90)  # the configured window (the default 90 days)
            for i in range(10):
                for instance, late in (("backup", i < 6), ("easypost", False)):
                    yield ShipmentFacts(shipment_id=f"old-{instance}/{i}", order_id=f"old{i}", carrier="USPS",
                                        instance=instance, shipped_at=shipped,
                                        delivered_at=shipped + timedelta(days=5 if late else 2),
                                        deliver_by=shipped + timedelta(days=3))

        monkeypatch.setattr(labels.kpi_store, "shipment_facts", history)
        shop = world.sandbox.simulators["shopify"]
        sku = shop.catalog[0]["sku"]
        world.stock("east", sku, 5)
        placed = shop.add_order([{"sku": sku, "quantity": 1}])
        for _ in range(6):
            world.sync(hours=1)
        (shipment,) = world.shipments(f"shop:{placed['id']}")
        with world.store.read() as conn:
            (made,) = choice_store.of_shipment(conn, shipment.id)
        assert made["carrier"] == "easypost"
        assert "backup excluded: on time 40% of 10 due, below the floor of 90%" in made["reason"]
        assert {o["excluded"] for o in made["options"] if o["carrier"] == "backup"} == {
            "on time 40% of 10 due, below the floor of 90%"}
        assert made["scorecards"]["backup"]["on_time_rate"] == 0.4


class DomesticCourier:
    """The second EasyPost simulator as a carrier type that delivers only in Taiwan."""

    @hookimpl
    def register_carrier_types(self, register):
        register(CarrierType(name="domestic", factory=fulfilhub_easypost.EasyPostCarrier,
                             settings=fulfilhub_easypost.carrier.SETTINGS, countries=("tw",)))

    @hookimpl
    def register_simulators(self, register):
        register(Simulator(
            name="courier2",
            factory="fulfilhub_easypost.simulator:EasyPostSimulator",
            demo=DemoPart(kind="carriers", type="domestic", instance="domestic",
                          secrets={"api_key": DemoSecret(env="SECOND_COURIER_KEY", value="k2", option="api_key")}),
        ))


def test_a_carrier_that_does_not_deliver_to_the_destination_is_not_asked(tmp_path):
    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])
    pm.register(DomesticCourier(), name="domestic-courier")
    env = {"FULFILHUB_DEMO_SHOPIFY_TOKEN": "t1", "FULFILHUB_DEMO_EASYPOST_KEY": "k1", "SECOND_COURIER_KEY": "k2"}
    options = {"shopify": {"orders_per_day": 0, "update_rate": 0.0}}
    with build_world(pm, tmp_path, start=START, env=env, options=options, instances={"shopify": "shop"},
                     warehouses=FAST_WAREHOUSES, policy=FAST_RETRIES) as world:
        shop = world.sandbox.simulators["shopify"]
        sku = shop.catalog[0]["sku"]
        world.stock("east", sku, 5)
        placed = shop.add_order([{"sku": sku, "quantity": 1}])  # to the United States
        for _ in range(6):
            world.sync(hours=1)
        (shipment,) = world.shipments(f"shop:{placed['id']}")
        with world.store.read() as conn:
            (made,) = choice_store.of_shipment(conn, shipment.id)
        assert made["carrier"] == "easypost"
        assert made["skipped"] == {"domestic": "does not deliver to US"}
        assert {o["carrier"] for o in made["options"]} == {"easypost"}
        assert world.sandbox.simulators["easypost"].shipments  # asked ...
        assert world.sandbox.simulators["courier2"].shipments == {}  # ... and never the domestic one


fulfilhub_shippo = pytest.importorskip("fulfilhub_shippo", reason="the demo's choice needs a second carrier: fulfilhub-shippo")


def test_the_demo_switches_away_in_the_outage_and_costs_no_more_than_always_fastest(tmp_path):
    pm = PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, fulfilhub_shippo])
    result = run_demo(orders=40, days=2, settle_days=2, seed=7, workspace=tmp_path / "demo", plugins=pm,
                      carriers=["easypost", "shippo"])
    assert set(result.carriers) == {"easypost", "shippo"}  # labels through each
    chose = result.choice
    outage = chose["outage"]
    down = outage["carrier"]
    assert outage["chosen_before"].get(down, 0) > 0  # it was being chosen ...
    assert outage["skipped_during"] > 0  # ... and while its API was down, it was skipped ...
    assert down not in outage["chosen_during"]  # ... for the other carrier
    assert sum(outage["chosen_during"].values()) == outage["choices_during"]
    policies = chose["policies"]
    assert Decimal(policies["chosen"]["cost"]["USD"]) <= Decimal(policies["always_fastest"]["cost"]["USD"])
    assert policies["chosen"]["promises_kept"] >= policies["always_cheapest"]["promises_kept"]
    assert chose["shipments"] == sum(n["chosen"] for n in chose["per_carrier"].values())
    # `shipments show` says why the carrier of a shipment chosen during the outage was chosen
    shown = CliRunner().invoke(main, ["-c", str(result.config_path), "shipments", "show", outage["example_shipment"]])
    assert shown.exit_code == 0, shown.output
    assert "why this carrier" in shown.output
    assert f"{down} skipped: quote failed" in shown.output
    as_json = CliRunner().invoke(main, ["-c", str(result.config_path), "shipments", "show",
                                       outage["example_shipment"], "--json"])
    assert '"choices"' in as_json.output
