"""KPI figures on a hand-built store whose answers are worked out by hand (see kpi_world.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub import ReportSection, hookimpl
from fulfilhub.cli import main
from fulfilhub.cli import report as report_cli
from fulfilhub.engines import kpi
from fulfilhub.plugins import PluginManager
from fulfilhub.store import kpi as kpi_store

from . import kpi_world as w

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
WINDOW = kpi.Window.of(w.SINCE, w.UNTIL, NOW)




@pytest.fixture
def world(store):
    return w.build(store)


@pytest.mark.postgres
def test_postgres_gives_the_same_figures(postgres_store, store):
    w.build(store)
    w.build(postgres_store)
    got = {}
    for name, s in (("sqlite", store), ("postgres", postgres_store)):
        with s.read() as conn:
            got[name] = kpi.compute(kpi_store.order_facts(conn, WINDOW.since, WINDOW.until),
                                    kpi_store.shipment_facts(conn, WINDOW.since, WINDOW.until), WINDOW)
            got[name]["backtest"] = kpi.promise_backtest(kpi_store.delivered_orders(conn, WINDOW.since, WINDOW.as_of))
    assert got["postgres"] == got["sqlite"] and got["sqlite"]["promises"]["on_time"] == 4


@pytest.fixture
def figures(store, world):
    with store.read() as conn:
        return kpi.compute(kpi_store.order_facts(conn, WINDOW.since, WINDOW.until),
                           kpi_store.shipment_facts(conn, WINDOW.since, WINDOW.until), WINDOW)


def test_promise_figures_count_the_orders_due_in_the_window(figures):
    # due: A B C D G H (E is due 03-25, after the window; X in February)
    # on time: A C G H; inside the range: A G H (C came before its first day); late: B, and D never came
    assert figures["promises"] == {
        "due": 6, "on_time": 4, "on_time_rate": 0.6667, "in_range": 3, "promise_accuracy": 0.5, "early": 1,
        "late": 2, "not_delivered": 1, "revised": 1,
        # due to ship by then: A B C D G H E; B was handed over the next day
        "ship_by_due": 7, "ship_by_met": 6, "ship_by_met_rate": 0.8571,
    }


def test_weekly_trend_and_lateness_count_days_in_the_promise_time_zone(figures):
    assert figures["weekly"] == [
        {"week": "2026-03-02", "due": 5, "on_time": 3, "on_time_rate": 0.6},
        {"week": "2026-03-09", "due": 1, "on_time": 1, "on_time_rate": 1.0},
    ]
    # A -1, B +2, C -2, G 0 (20:00 UTC is noon on the last day in Los Angeles, not the day before), H -1
    assert figures["lateness"] == {"days": [{"days_late": -2, "orders": 1}, {"days_late": -1, "orders": 2},
                                            {"days_late": 0, "orders": 1}, {"days_late": 2, "orders": 1}],
                                   "not_delivered": 1}


def test_processing_time_and_backorder_rate(figures):
    # received -> shipped hours of A B C D G H E: 6 29 2 4 4 26 5 -> p50 5, p90 26 + 0.4 * (29 - 26)
    assert figures["processing_hours"] == {"orders": 7, "p50": 5.0, "p90": 27.2}
    # received in the window: A..H (8), all accepted, F backordered; X was received in February
    assert figures["orders"] == {"received": 8, "accepted": 8, "backordered": 1, "backorder_rate": 0.125}


def test_carrier_scorecards(figures):
    usps, ups = sorted(figures["carriers"], key=lambda c: c["carrier"], reverse=True)
    assert usps == {
        "carrier": "USPS", "instance": "easypost", "services": ["Ground"], "shipments": 3, "delivered": 3,
        "due": 3, "on_time": 2, "on_time_rate": 0.6667, "delay_rate": 0.3333,
        # transit A 1.833, B 3.708, C 0.75 days; p90 = 1.833 + 0.8 * (3.708 - 1.833)
        "transit_days": {"p50": 1.83, "p90": 3.33},
        # stated 3 days: A (2 days) and C (1) within, B (4) not
        "stated_days": {"shipments": 3, "p50": 3.0, "within": 2, "within_rate": 0.6667},
        "exceptions": 1, "exception_rate": 0.3333, "exception_reasons": {"weather": 1},
        "cost_per_parcel": {"USD": "6.00"},
    }
    # UPS: D (lost), G, H due; E not due yet. Transit G 3.083, H 1.917, E 1.0 days; stated 2: H and E within
    assert ups["shipments"] == 4 and ups["delivered"] == 3
    assert (ups["due"], ups["on_time"], ups["delay_rate"]) == (3, 2, 0.3333)
    assert ups["transit_days"] == {"p50": 1.92, "p90": 2.85}
    assert ups["stated_days"] == {"shipments": 3, "p50": 2.0, "within": 2, "within_rate": 0.6667}
    assert (ups["exceptions"], ups["exception_reasons"]) == (1, {"lost": 1})
    assert ups["cost_per_parcel"] == {"USD": "10.75"}


def test_regions(figures):
    by = {r["region"]: r for r in figures["regions"]}
    assert by["US-CA"] == {"region": "US-CA", "due": 3, "late": 1, "delay_rate": 0.3333, "shipments": 3,
                           "exceptions": 1, "exception_rate": 0.3333}
    assert (by["TW"]["delay_rate"], by["TW"]["exception_rate"]) == (1.0, 1.0)
    assert (by["GB"]["due"], by["GB"]["delay_rate"], by["GB"]["shipments"]) == (0, None, 1)
    assert (by["US-NY"]["due"], by["US-NY"]["late"], by["US-NY"]["shipments"]) == (2, 0, 2)
    assert set(by) == {"US-CA", "US-NY", "TW", "GB"}


def test_nothing_counted_is_none_not_zero(store):
    figures = kpi.compute([], [], WINDOW)
    assert figures["promises"]["on_time_rate"] is None and figures["processing_hours"]["p50"] is None
    assert figures["carriers"] == [] and figures["weekly"] == [] and figures["orders"]["backorder_rate"] is None


def test_without_since_everything_before_until_counts(store, world):
    window = kpi.Window.of(None, w.UNTIL, NOW)
    with store.read() as conn:
        figures = kpi.compute(kpi_store.order_facts(conn, None, window.until),
                              kpi_store.shipment_facts(conn, None, window.until), window)
    # X (February: due 02-23, delivered 02-27) now counts too, late
    assert (figures["promises"]["due"], figures["promises"]["on_time"]) == (7, 4)
    assert figures["weekly"][0] == {"week": "2026-02-23", "due": 1, "on_time": 0, "on_time_rate": 0.0}


def test_a_promise_not_due_yet_is_not_counted(store, world):
    window = kpi.Window.of(w.SINCE, w.UNTIL, w.at(5, 12))  # as of noon on 03-05: nothing due yet
    with store.read() as conn:
        figures = kpi.compute(kpi_store.order_facts(conn, window.since, window.until),
                              kpi_store.shipment_facts(conn, window.since, window.until), window)
    assert figures["promises"]["due"] == 0 and figures["promises"]["ship_by_due"] == 5  # A B C D G; H ships by 03-07


def test_the_backtest_replays_the_stores_deliveries_beside_the_promises_made(store, world):
    with store.read() as conn:
        got = kpi.promise_backtest(kpi_store.delivered_orders(conn, WINDOW.since, WINDOW.as_of))
    # delivered orders bought in the window: A B C E G H (D never arrived). Only H and E were bought after
    # earlier deliveries; with so few, each is promised the longest transit seen so far, counted from receipt
    # in delivery days (a weekday 1, Saturday 0.5, Sunday 0.1):
    # H (Fri 03-06 10:00): G's Mon 14:00 -> Thu 20:00 = 3.25 -> Fri 0.58 + Sat 0.5 + Sun 0.1 + Mon + Tue + a bit
    #   of Wed 03-11: 5 days, delivered 03-09: on time
    # E (Mon 03-16 10:00): B's Mon 11:00 -> Sat 09:00 = 0.54 + 4 + 0.19 = 4.73 -> Mon 0.58 + Tue..Fri 4 + Sat
    #   03-21 morning: 5 days, delivered 03-17: on time
    # the promises made: H by 03-10 (4 days), E by 03-25 (9 days), both kept
    assert got == {"orders": 6, "scored": 2,
                   "results": [{"target": t, "on_time": 1.0, "median_days": 5.0, "p90_days": 5.0}
                               for t in kpi.BACKTEST_TARGETS],
                   "baseline": {"on_time": 1.0, "median_days": 6.5, "p90_days": 8.5}}


def test_the_backtest_of_a_history_too_short_to_learn_from_says_so(store, world):
    window = kpi.Window.of(w.SINCE, w.at(5), NOW)  # A and C delivered by then, both bought before either
    with store.read() as conn:
        got = kpi.promise_backtest(kpi_store.delivered_orders(conn, window.since, window.as_of))
        assert kpi.promise_backtest(kpi_store.delivered_orders(conn, w.at(18), w.UNTIL)) is None
    assert got == {"orders": 2, "scored": 0, "results": [], "baseline": None}


def test_quantile_interpolates_between_order_statistics():
    assert kpi.quantile([5, 1, 3], 0.5) == 3 and kpi.quantile([1, 2, 3, 4, 5], 0.9) == pytest.approx(4.6)
    assert kpi.quantile([], 0.5) is None


# --------------------------------------------------------------------------- the command


@pytest.fixture
def config(tmp_path, store, world):
    path = tmp_path / "fulfilhub.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n', encoding="utf-8")
    return str(path)


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_report_json_has_the_documented_keys(config):
    result = run("-c", config, "report", "--since", "2026-03-01", "--until", "2026-03-20", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == [*report_cli.KPI_KEYS, "backtest", "accuracy"]
    assert data["window"]["since"] == "2026-03-01T00:00:00+00:00" and data["window"]["until"] == "2026-03-20T00:00:00+00:00"
    assert data["promises"]["on_time"] == 4 and len(data["carriers"]) == 2
    assert set(data["carriers"][0]) == {"carrier", "instance", "services", "shipments", "delivered", "due", "on_time",
                                        "on_time_rate", "delay_rate", "transit_days", "stated_days", "exceptions",
                                        "exception_rate", "exception_reasons", "cost_per_parcel"}


def test_report_in_the_terminal_names_each_figure_with_what_it_counted(config):
    result = run("-c", config, "report", "--since", "2026-03-01", "--until", "2026-03-20")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "on-time delivery rate" in out and "66.7% (4 of 6)" in out
    assert "50.0% (3 of 6)" in out and "85.7% (6 of 7)" in out and "12.5% (1 of 8)" in out
    assert "USPS" in out and "6.00 USD" in out and "10.75 USD" in out
    assert "2026-03-02 60.0% (3 of 5)" in out


def test_no_backtest_leaves_the_backtest_out(config):
    result = run("-c", config, "report", "--since", "2026-03-01", "--until", "2026-03-20", "--json", "--no-backtest")
    assert list(json.loads(result.stdout)) == [*report_cli.KPI_KEYS, "accuracy"]


def test_a_bad_date_is_a_usage_error(config):
    result = run("-c", config, "report", "--since", "March")
    assert result.exit_code == 2 and "--since" in result.stderr and "2026-01-05" in result.stderr
    result = run("-c", config, "report", "--since", "2026-03-20", "--until", "2026-03-01")
    assert result.exit_code == 2 and "empty" in result.stderr


def test_a_plugins_section_is_reported_and_one_with_nothing_to_say_is_left_out(config, monkeypatch):
    seen = []

    def collect(conn, window):
        seen.append(window)
        return {"spent": "12.00 USD", "budget": "100.00 USD"}

    class Budget:
        @hookimpl
        def register_report_sections(self, register):
            register(ReportSection(name="test_budget", title="Test budget", collect=collect,
                                   rows=lambda d: [("spent", d["spent"]), ("budget", d["budget"])]))
            register(ReportSection(name="test_silent", title="Silent", collect=lambda conn, window: None,
                                   rows=lambda d: []))

    monkeypatch.setattr(cli_mod, "_MANAGER", PluginManager(load_installed=False, extra=[Budget()]))
    data = json.loads(run("-c", config, "report", "--since", "2026-03-01", "--until", "2026-03-20", "--json").stdout)
    text = run("-c", config, "report", "--since", "2026-03-01", "--until", "2026-03-20").stdout
    assert data["test_budget"] == {"spent": "12.00 USD", "budget": "100.00 USD"}
    assert "test_silent" not in data
    assert seen[0].since == w.SINCE
    assert "Test budget" in text
    assert "100.00 USD" in text
    assert "Silent" not in text


def test_window_until_defaults_to_now():
    window = kpi.Window.of(None, None, NOW)
    assert (window.since, window.until, window.as_of) == (None, NOW, NOW)
    assert kpi.Window.of(None, NOW + timedelta(days=7), NOW).as_of == NOW
