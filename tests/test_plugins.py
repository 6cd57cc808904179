"""The plugin manager: discovery by entry point, safety switches, registries and every hook."""

from __future__ import annotations

import importlib
import inspect
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import click
import pytest
from click.testing import CliRunner

from fulfilhub.adapters import (
    CarrierType,
    ChannelType,
    CompensationPolicy,
    NotifierType,
    WarehouseType,
)
from fulfilhub.errors import PluginError
from fulfilhub.hookspecs import hookimpl
from fulfilhub.models import Money, Promise, Rate, StockLevel
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.sandbox import Simulator

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
ENV_SWITCHES = ("FULFILHUB_PLUGINS", "FULFILHUB_DISABLE_PLUGINS", "FULFILHUB_STRICT_PLUGINS", "FULFILHUB_TRACE_HOOKS")


@pytest.fixture(autouse=True)
def clean_plugin_env(monkeypatch):
    """The developer's own plugin switches must not change what these tests see."""
    for name in ENV_SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(module, source, entry_point, version)``: a real out-of-tree distribution.

    Writes ``<module>.py`` and ``<module>-<version>.dist-info/`` (METADATA,
    entry_points.txt) into a folder put on ``sys.path``, as pip would. The module is
    dropped from ``sys.modules`` afterwards.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    installed: list[str] = []

    def _install(module: str, source: str, entry_point: str, version: str = "1.0") -> None:
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[fulfilhub]\n{entry_point} = {module}\n", encoding="utf-8")
        installed.append(module)
        importlib.invalidate_caches()

    yield _install
    for module in installed:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


ACME = """
    from fulfilhub import CarrierType, hookimpl

    @hookimpl
    def register_carrier_types(register):
        register(CarrierType(name="acme", factory=lambda context: None, description="ACME Post"))
"""

BETA = """
    from fulfilhub import CarrierType, hookimpl

    @hookimpl
    def register_carrier_types(register):
        register(CarrierType(name="beta", factory=lambda context: None))
"""

BROKEN = """
    raise RuntimeError("boom: cannot import the SDK")
"""


def names(manager: PluginManager) -> set[str]:
    return {info["name"] for info in manager.plugin_info()}


# ------------------------------------------------------------------ discovery


def test_out_of_tree_plugin_is_loaded_by_entry_point(install, monkeypatch):
    install("acme_fh_plugin", ACME, "acme")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "acme")  # keep whatever else is installed out

    manager = PluginManager()

    assert manager.failures == []
    assert manager.registry.carriers["acme"].description == "ACME Post"
    info = {i["name"]: i for i in manager.plugin_info()}
    assert info["acme"] == {"name": "acme", "source": "acme_fh_plugin 1.0", "hooks": ["register_carrier_types"]}
    decisions = info["fulfilhub.default_plugins.decisions"]
    assert decisions["source"] == "built-in"
    assert decisions["hooks"] == ["allocate_order", "choose_rate"]
    assert info["fulfilhub.default_plugins.local_warehouse"]["hooks"] == ["register_warehouse_types"]


def test_tests_can_leave_installed_plugins_out(install):
    install("acme_fh_plugin", ACME, "acme")
    manager = PluginManager(load_installed=False)
    assert "acme" not in manager.registry.carriers
    assert names(manager) == {"fulfilhub.default_plugins.decisions", "fulfilhub.default_plugins.local_warehouse",
                              "fulfilhub.default_plugins.notifiers", "fulfilhub.default_plugins.compensation_rules"}
    assert "acme_fh_plugin" not in sys.modules


def test_broken_plugin_is_reported_and_skipped(install, monkeypatch, caplog):
    install("acme_fh_plugin", ACME, "acme")
    install("broken_fh_plugin", BROKEN, "broken", version="0.3")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "acme,broken")

    manager = PluginManager()

    assert [f.name for f in manager.failures] == ["broken"]
    error = manager.failures[0].error
    assert "'broken' (broken_fh_plugin)" in error
    assert "RuntimeError: boom: cannot import the SDK" in error
    assert "broken" not in names(manager)
    assert "acme" in manager.registry.carriers  # the others still load
    assert any("FULFILHUB_STRICT_PLUGINS=1" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


def test_strict_env_makes_a_broken_plugin_fatal(install, monkeypatch):
    install("broken_fh_plugin", BROKEN, "broken")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "broken")
    monkeypatch.setenv("FULFILHUB_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"plugin 'broken' .*RuntimeError: boom.*strict mode") as info:
        PluginManager()
    assert isinstance(info.value.__cause__, RuntimeError)


def test_strict_argument_makes_a_broken_plugin_fatal(install, monkeypatch):
    install("broken_fh_plugin", BROKEN, "broken")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "broken")
    with pytest.raises(PluginError, match="boom"):
        PluginManager(strict=True)
    assert PluginManager(strict=False).failures[0].name == "broken"


def test_allowlist_loads_only_the_named_plugins(install, monkeypatch):
    install("acme_fh_plugin", ACME, "acme")
    install("beta_fh_plugin", BETA, "beta")
    monkeypatch.setenv("FULFILHUB_PLUGINS", " beta , ")

    manager = PluginManager()

    assert set(manager.registry.carriers) == {"beta"}
    assert "acme" not in names(manager)
    assert "acme_fh_plugin" not in sys.modules  # not even imported


def test_denylist_skips_installed_plugins(install, monkeypatch):
    install("acme_fh_plugin", ACME, "acme")
    install("beta_fh_plugin", BETA, "beta")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "acme,beta")
    monkeypatch.setenv("FULFILHUB_DISABLE_PLUGINS", "beta")

    manager = PluginManager()

    assert set(manager.registry.carriers) == {"acme"}
    assert "beta_fh_plugin" not in sys.modules


def test_denylist_can_disable_a_default_plugin(monkeypatch, make_order):
    monkeypatch.setenv("FULFILHUB_DISABLE_PLUGINS", "decisions")
    manager = PluginManager(load_installed=False)
    assert names(manager) == {"fulfilhub.default_plugins.local_warehouse", "fulfilhub.default_plugins.notifiers",
                              "fulfilhub.default_plugins.compensation_rules"}
    stock = [StockLevel(warehouse="main", sku="SKU-A", on_hand=5)]
    assert Hooks(manager).allocate_order(order=make_order(), stock=stock) is None  # nobody decides


def test_denylist_by_full_module_name(monkeypatch):
    monkeypatch.setenv("FULFILHUB_DISABLE_PLUGINS", "fulfilhub.default_plugins.local_warehouse")
    assert PluginManager(load_installed=False).registry.warehouses == {}


# ------------------------------------------------------------------ registration errors


class Misspelt:
    @hookimpl
    def register_carier_types(self, register):
        register(CarrierType(name="x", factory=lambda context: None))


def test_misspelt_hook_is_refused_by_name():
    with pytest.raises(PluginError, match="register_carier_types") as info:
        PluginManager(load_installed=False, extra=[Misspelt()])
    assert "misspelt" in str(info.value)


class Registers:
    """A plugin registering whatever carrier types it is given."""

    def __init__(self, *types):
        self.types = types

    @hookimpl
    def register_carrier_types(self, register):
        for t in self.types:
            register(t)


def carrier(name: str) -> CarrierType:
    return CarrierType(name=name, factory=lambda context: None)


def test_same_type_name_twice_is_refused():
    with pytest.raises(PluginError, match=r"CarrierType 'dup' is registered twice") as info:
        PluginManager(load_installed=False, extra=[Registers(carrier("dup")), Registers(carrier("dup"))])
    assert "disable one of them" in str(info.value)


def test_replacing_a_builtin_type_name_is_refused():
    class Local:
        @hookimpl
        def register_warehouse_types(self, register):
            register(WarehouseType(name="local", factory=lambda context: None))

    with pytest.raises(PluginError, match="WarehouseType 'local' is registered twice"):
        PluginManager(load_installed=False, extra=[Local()])


def test_same_type_name_twice_names_both_plugins():
    first, second = Registers(carrier("dup")), Registers(carrier("dup"))
    with pytest.raises(PluginError) as info:
        PluginManager(load_installed=False, extra=[first, second])
    manager_names = [str(id(first)), str(id(second))]
    assert all(n in str(info.value) for n in manager_names)


def test_wrong_kind_of_record_is_refused():
    class Confused:
        @hookimpl
        def register_channel_types(self, register):
            register(CarrierType(name="ups", factory=lambda context: None))

    with pytest.raises(PluginError, match=r"passed CarrierType\(name='ups'.*to register_channel_types; expected a ChannelType"):
        PluginManager(load_installed=False, extra=[Confused()])


def test_registering_the_same_plugin_twice_is_a_plugin_error():
    manager = PluginManager(load_installed=False)
    plugin = Registers()
    manager.register(plugin, name="mine")
    with pytest.raises(PluginError, match="mine"):
        manager.register(plugin, name="mine")


def test_hook_implementations_never_take_defaults():
    """pluggy silently skips arguments with defaults: the built-ins must not have any."""
    manager = PluginManager(load_installed=False)
    for caller in manager.pm.get_hookcallers(manager.pm.get_plugin("fulfilhub.default_plugins.decisions")):
        for impl in caller.get_hookimpls():
            params = inspect.signature(impl.function).parameters.values()
            assert all(p.default is inspect.Parameter.empty for p in params), impl.function


def test_unregistered_plugin_is_no_longer_called(make_order):
    recorder = Recorder()
    manager = PluginManager(load_installed=False, extra=[recorder])
    name = manager.pm.get_name(recorder)
    manager.unregister(name)
    Hooks(manager).order_received(order=make_order())
    assert recorder.calls == []
    assert name not in names(manager)


# ------------------------------------------------------------------ decisions are replaceable


def rate(name: str, amount: str, days: int | None = 3, carrier_: str = "easypost") -> Rate:
    return Rate(
        carrier=carrier_, carrier_name=name, service="Ground", amount=Money(amount=amount, currency="USD"),
        rate_id=f"rate_{name}", shipment_ref="shp_1", transit_days=days,
    )


RATES = [rate("UPS", "9.10", 2), rate("USPS", "7.25", 5), rate("FedEx", "7.25", 3)]


class PreferUPS:
    @hookimpl
    def choose_rate(self, order, shipment_id, rates):
        return next((r for r in rates if r.carrier_name == "UPS"), None)


def test_default_rate_is_the_cheapest_then_fastest(make_order):
    hooks = Hooks(PluginManager(load_installed=False))
    assert hooks.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES).carrier_name == "FedEx"
    assert hooks.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=[]) is None


class SeesThePromise:
    """A plugin that uses the new arguments: the fastest whose arrival beats deliver-by by a day."""

    @hookimpl
    def choose_rate(self, order, shipment_id, rates, promise, arrive_by):
        early = [r for r in rates if promise and arrive_by[r.rate_id] <= promise.deliver_by - timedelta(days=1)]
        return min(early, key=lambda r: arrive_by[r.rate_id]) if early else None


def test_choose_rate_gets_the_promise_and_each_rates_arrival(make_order):
    at = datetime(2026, 5, 12, tzinfo=timezone.utc)
    promise = Promise(created_at=at, ship_by=at, deliver_from=at + timedelta(days=2), deliver_by=at + timedelta(days=4))
    arrive = {"rate_UPS": at + timedelta(days=2), "rate_USPS": at + timedelta(days=5), "rate_FedEx": at + timedelta(days=4)}
    both = Hooks(PluginManager(load_installed=False, extra=[SeesThePromise()]))
    assert both.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES, promise=promise,
                            arrive_by=arrive).carrier_name == "UPS"
    # the built-in: the cheapest that arrives by deliver-by (USPS is cheapest but late)
    default = Hooks(PluginManager(load_installed=False))
    assert default.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES, promise=promise,
                               arrive_by=arrive).carrier_name == "FedEx"
    # an old three-argument implementation still works with the new arguments passed
    old = Hooks(PluginManager(load_installed=False, extra=[PreferUPS()]))
    assert old.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES, promise=promise,
                           arrive_by=arrive).carrier_name == "UPS"


def test_plugin_rate_choice_wins_over_the_default(make_order):
    hooks = Hooks(PluginManager(load_installed=False, extra=[PreferUPS()]))
    assert hooks.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES).carrier_name == "UPS"


def test_plugin_returning_none_falls_through_to_the_default(make_order):
    hooks = Hooks(PluginManager(load_installed=False, extra=[PreferUPS()]))
    no_ups = [r for r in RATES if r.carrier_name != "UPS"]
    assert hooks.choose_rate(order=make_order(), shipment_id="shop:1/1", rates=no_ups).carrier_name == "FedEx"


def test_defaults_are_trylast_even_when_registered_first(make_order):
    """A plugin registered after the defaults still comes before the fallback."""
    manager = PluginManager(load_installed=False)
    manager.register(PreferUPS(), name="late")
    assert Hooks(manager).choose_rate(order=make_order(), shipment_id="s", rates=RATES).carrier_name == "UPS"


def levels(*rows: tuple[str, str, int]) -> list[StockLevel]:
    return [StockLevel(warehouse=w, sku=s, on_hand=n) for w, s, n in rows]


@pytest.fixture
def allocate(make_order):
    hooks = Hooks(PluginManager(load_installed=False))

    def run(lines, stock):
        return hooks.allocate_order(order=make_order("1", *lines), stock=stock)

    return run


def test_default_allocation_prefers_one_warehouse_with_everything(allocate):
    stock = levels(("east", "A", 5), ("east", "B", 0), ("west", "A", 2), ("west", "B", 2), ("north", "A", 9), ("north", "B", 9))
    assert sorted(allocate([("A", 2), ("B", 1)], stock)) == [("north", "A", 2), ("north", "B", 1)]


def test_default_allocation_ties_go_to_the_first_warehouse_by_name(allocate):
    stock = levels(("west", "A", 3), ("east", "A", 3))
    assert allocate([("A", 1)], stock) == [("east", "A", 1)]


def test_default_allocation_respects_reserved_and_safety_stock(allocate):
    stock = [StockLevel(warehouse="east", sku="A", on_hand=5, reserved=3, safety_stock=1),
             StockLevel(warehouse="west", sku="A", on_hand=2)]
    assert allocate([("A", 2)], stock) == [("west", "A", 2)]


def test_default_allocation_splits_when_no_warehouse_has_everything(allocate):
    stock = levels(("east", "A", 5), ("west", "B", 5))
    assert sorted(allocate([("A", 2), ("B", 3)], stock)) == [("east", "A", 2), ("west", "B", 3)]


def test_default_allocation_splits_one_line_across_warehouses(allocate):
    stock = levels(("east", "A", 3), ("west", "A", 2))
    assert sorted(allocate([("A", 4)], stock)) == [("east", "A", 3), ("west", "A", 1)]


def test_default_allocation_adds_up_repeated_skus(allocate):
    stock = levels(("east", "A", 3), ("west", "A", 5))
    assert allocate([("A", 2), ("A", 2)], stock) == [("west", "A", 4)]


def test_default_allocation_backorders_when_stock_is_short(allocate):
    assert allocate([("A", 4)], levels(("east", "A", 2), ("west", "A", 1))) == []
    assert allocate([("A", 1), ("B", 1)], levels(("east", "A", 2))) == []


def test_default_allocation_split_uses_fewest_warehouses(allocate):
    stock = levels(("w1", "A", 9), ("w2", "B", 9), ("w3", "A", 1), ("w3", "B", 1), ("w4", "C", 1))
    plan = allocate([("A", 1), ("B", 1), ("C", 1)], stock)
    assert len({w for w, _, _ in plan}) == 2


# ------------------------------------------------------------------ trace


def test_trace_reports_hook_calls_and_results(make_order):
    lines: list[str] = []
    manager = PluginManager(load_installed=False, extra=[PreferUPS()])
    manager.enable_trace(lines.append)
    Hooks(manager).choose_rate(order=make_order(), shipment_id="shop:1/1", rates=RATES)
    assert lines[0].startswith("[hook] choose_rate(order=Order(")
    assert "shipment_id='shop:1/1'" in lines[0]
    assert lines[0].rstrip().endswith("-> 2 impl(s)")
    assert lines[1].startswith("[hook] choose_rate = Rate(carrier='easypost', carrier_name='UPS'")
    assert all(len(line) < 400 for line in lines)  # long values are shortened


def test_trace_reports_a_hook_that_raised(make_order):
    class Fails:
        @hookimpl
        def order_received(self, order):
            raise ValueError("no room")

    lines: list[str] = []
    manager = PluginManager(load_installed=False, extra=[Fails()])
    manager.enable_trace(lines.append)
    with pytest.raises(ValueError):
        Hooks(manager).order_received(order=make_order())
    assert lines[-1] == "[hook] order_received raised ValueError('no room')\n"


def test_trace_switch_in_the_environment_prints_to_stderr(monkeypatch, capsys, make_order):
    monkeypatch.setenv("FULFILHUB_TRACE_HOOKS", "1")
    Hooks(PluginManager(load_installed=False)).choose_rate(order=make_order(), shipment_id="s", rates=RATES)
    err = capsys.readouterr().err
    assert "[hook] choose_rate(" in err
    assert "[hook] choose_rate = Rate(" in err


# ------------------------------------------------------------------ registration hooks


class Recorder:
    """Records every lifecycle event hook call."""

    def __init__(self):
        self.calls: list[tuple] = []

    @hookimpl
    def order_received(self, order):
        self.calls.append(("order_received", order.id))

    @hookimpl
    def order_status_changed(self, order_id, old, new, reason, source):
        self.calls.append(("order_status_changed", order_id, old, new, reason, source))

    @hookimpl
    def shipment_delivered(self, order_id, shipment_id, delivered_at):
        self.calls.append(("shipment_delivered", order_id, shipment_id, delivered_at))


def test_hook_register_channel_types():
    class Shop:
        @hookimpl
        def register_channel_types(self, register):
            register(ChannelType(name="acme-shop", factory=lambda context: ("channel", context), description="ACME"))

    registry = PluginManager(load_installed=False, extra=[Shop()]).registry
    assert list(registry.channels) == ["acme-shop"]
    assert registry.channels["acme-shop"].factory("ctx") == ("channel", "ctx")


def test_hook_register_carrier_types():
    registry = PluginManager(load_installed=False, extra=[Registers(carrier("ups"), carrier("dhl"))]).registry
    assert set(registry.carriers) == {"ups", "dhl"}


def test_hook_register_warehouse_types():
    class ThreePL:
        @hookimpl
        def register_warehouse_types(self, register):
            register(WarehouseType(name="acme-3pl", factory=lambda context: None))

    registry = PluginManager(load_installed=False, extra=[ThreePL()]).registry
    assert set(registry.warehouses) == {"local", "acme-3pl"}  # the built-in is still there
    assert registry.warehouses["local"].description == "Own stock kept in fulfilhub's store"


def test_hook_register_notifier_types():
    class Sms:
        @hookimpl
        def register_notifier_types(self, register):
            register(NotifierType(name="sms", factory=lambda context: None))

    notifiers = PluginManager(load_installed=False, extra=[Sms()]).registry.notifiers
    assert list(notifiers) == ["sms", "console", "jsonl", "smtp", "webhook"]  # the built-in ones after it


def test_hook_register_compensation_policies():
    class Voucher:
        @hookimpl
        def register_compensation_policies(self, register):
            register(CompensationPolicy(name="voucher", propose=lambda **kw: Decimal("5.00")))

    policies = PluginManager(load_installed=False, extra=[Voucher()]).registry.policies
    assert policies["voucher"].propose() == Decimal("5.00")
    assert set(policies) == {"voucher", "rules"}  # and the built-in rules policy


def test_hook_register_commands():
    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command()
            @click.argument("who")
            def hello(who):
                """Say hello."""
                click.echo(f"hello {who}")

    group = click.Group("fulfilhub")
    PluginManager(load_installed=False, extra=[Commands()]).hook.register_commands(cli=group)
    result = CliRunner().invoke(group, ["hello", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello acme\n"


def test_hook_register_simulators():
    class Sim:
        @hookimpl
        def register_simulators(self, register):
            register(Simulator(name="acme", factory=lambda context: type("S", (), {"app": "asgi-app"})()))

    simulators = PluginManager(load_installed=False, extra=[Sim()]).registry.simulators
    assert simulators["acme"].factory(None).app == "asgi-app"


def test_hook_register_report_sections():
    from fulfilhub import ReportSection
    from fulfilhub.cli import report as report_cli
    from fulfilhub.errors import PluginError

    class Costs:
        @hookimpl
        def register_report_sections(self, register):
            register(ReportSection(name="acme_costs", title="ACME costs", collect=lambda conn, window: {"n": 1},
                                   rows=lambda data: [("n", str(data["n"]))]))

    pm = PluginManager(load_installed=False, extra=[Costs()])
    assert pm.owner("report_sections", "acme_costs")
    parts = report_cli.sections(pm)
    assert [s.name for s in parts] == ["backtest", "compensation", "accuracy", "acme_costs"]  # the built-in ones first

    class TakesAKpiKey:
        @hookimpl
        def register_report_sections(self, register):
            register(ReportSection(name="carriers", title="x", collect=lambda conn, window: None, rows=lambda d: []))

    with pytest.raises(PluginError, match="report section named 'carriers'"):
        report_cli.sections(PluginManager(load_installed=False, extra=[TakesAKpiKey()]))


def test_hook_choose_rate(make_order):
    seen = []

    class Spy:
        @hookimpl
        def choose_rate(self, order, shipment_id, rates):
            seen.append((order.id, shipment_id, len(rates)))
            return rates[-1]

    hooks = Hooks(PluginManager(load_installed=False, extra=[Spy()]))
    chosen = hooks.choose_rate(order=make_order("7"), shipment_id="shop:7/1", rates=iter(RATES))
    assert chosen == RATES[-1]
    assert seen == [("shop:7", "shop:7/1", 3)]  # any iterable arrives as a list


def test_hook_allocate_order(make_order):
    class AlwaysEast:
        @hookimpl
        def allocate_order(self, order, stock):
            return [("east", line.sku, line.quantity) for line in order.lines]

    hooks = Hooks(PluginManager(load_installed=False, extra=[AlwaysEast()]))
    stock = levels(("west", "A", 10))  # the default would pick west
    assert hooks.allocate_order(order=make_order("1", ("A", 2)), stock=stock) == [("east", "A", 2)]


# ------------------------------------------------------------------ registration through pluggy


class CountsCalls:
    """A carrier plugin that counts how often its registration hook is called."""

    def __init__(self, *names: str):
        self.names = names
        self.calls = 0

    @hookimpl
    def register_carrier_types(self, register):
        self.calls += 1
        for name in self.names:
            register(carrier(name))


class Audit:
    """A wrapper=True plugin around carrier registration: sees each call and its outcome."""

    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    @hookimpl(wrapper=True)
    def register_carrier_types(self, register):
        self.seen.append(("before", ""))
        try:
            result = yield
        except Exception as exc:
            self.seen.append(("raised", type(exc).__name__))
            raise
        self.seen.append(("after", ""))
        return result


def test_a_wrapper_sees_every_registration_call():
    audit, first, second = Audit(), CountsCalls("ups"), CountsCalls("dhl")
    manager = PluginManager(load_installed=False, extra=[audit, first, second])
    assert set(manager.registry.carriers) == {"ups", "dhl"}
    assert audit.seen == [("before", ""), ("after", "")] * 2  # one call per implementing plugin
    later = CountsCalls("fedex")
    manager.register(later, name="later")
    assert audit.seen[-2:] == [("before", ""), ("after", "")]  # and the later one too
    assert len(audit.seen) == 6


def test_registration_calls_are_traced(monkeypatch, capsys):
    monkeypatch.setenv("FULFILHUB_TRACE_HOOKS", "1")
    PluginManager(load_installed=False, extra=[CountsCalls("ups")])
    err = capsys.readouterr().err
    assert "[hook] register_carrier_types(register=" in err
    assert "[hook] register_warehouse_types(register=" in err  # the built-in local warehouse


def test_a_later_plugin_is_registered_without_calling_the_others_again():
    first = CountsCalls("ups")
    manager = PluginManager(load_installed=False, extra=[first])
    second = CountsCalls("dhl")
    manager.register(second, name="second")
    assert (first.calls, second.calls) == (1, 1)
    assert set(manager.registry.carriers) == {"ups", "dhl"}
    assert manager.owner("carriers", "dhl") == "second"
    assert manager.owner("warehouses", "local") == "fulfilhub.default_plugins.local_warehouse"


def test_a_later_duplicate_names_both_plugins_and_leaves_nothing_behind():
    manager = PluginManager(load_installed=False)
    manager.register(CountsCalls("ups"), name="first")
    with pytest.raises(PluginError, match=r"CarrierType 'ups' is registered twice, by plugins 'first' and 'second'"):
        manager.register(CountsCalls("fedex", "ups"), name="second")
    assert set(manager.registry.carriers) == {"ups"}  # fedex was not half-registered
    assert manager.owner("carriers", "ups") == "first"
    assert "second" not in names(manager)


def test_unregister_removes_only_that_plugins_types():
    first, second = CountsCalls("ups"), CountsCalls("dhl")
    manager = PluginManager(load_installed=False, extra=[first, second])
    manager.unregister(manager.pm.get_name(second))
    assert set(manager.registry.carriers) == {"ups"}
    assert "local" in manager.registry.warehouses
    assert first.calls == 1  # nothing was collected again


# ------------------------------------------------------------------ the CLI loads plugins lazily

COMMANDS = """
    import click
    from fulfilhub import hookimpl

    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.argument("who")
        def hello(who):
            \"\"\"Say hello.\"\"\"
            click.echo(f"hello {who}")
"""


@pytest.fixture
def fresh_cli(monkeypatch):
    """The CLI as if the process had just started: no plugin manager, no plugin commands."""
    import fulfilhub.cli as cli_mod

    monkeypatch.setattr(cli_mod, "_MANAGER", None)
    monkeypatch.setattr(cli_mod.main, "_plugin_commands_from", None)
    monkeypatch.setattr(cli_mod.main, "_plugin_command_names", frozenset())
    monkeypatch.setattr(cli_mod.main, "commands", dict(cli_mod.main.commands))
    return cli_mod


def test_register_commands_adds_a_command_to_the_cli(install, monkeypatch, fresh_cli):
    install("hello_fh_plugin", COMMANDS, "hello")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "hello")
    assert "hello_fh_plugin" not in sys.modules
    result = CliRunner().invoke(fresh_cli.main, ["hello", "acme"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello acme\n"
    assert "hello" in CliRunner().invoke(fresh_cli.main, ["--help"]).output


def test_a_builtin_command_does_not_load_plugins(install, monkeypatch, fresh_cli):
    install("hello_fh_plugin", COMMANDS, "hello")
    monkeypatch.setenv("FULFILHUB_PLUGINS", "hello")
    result = CliRunner().invoke(fresh_cli.main, ["init", "--help"])
    assert result.exit_code == 0, result.output
    assert fresh_cli._MANAGER is None
    assert "hello_fh_plugin" not in sys.modules


def test_importing_the_cli_builds_no_plugin_manager_and_loads_no_plugin():
    """In a fresh interpreter: no entry point of the ``fulfilhub`` group is loaded."""
    import subprocess

    probe = textwrap.dedent("""
        import importlib.metadata, sys
        loaded = []
        original = importlib.metadata.EntryPoint.load
        def spy(self):
            loaded.append(self.name)
            return original(self)
        importlib.metadata.EntryPoint.load = spy
        import fulfilhub.cli
        assert fulfilhub.cli._MANAGER is None, "the plugin manager was built at import"
        assert loaded == [], loaded
        assert not [m for m in sys.modules if m.startswith(("fulfilhub_shopify", "fulfilhub_easypost"))]
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_later_plugin_whose_registration_raises_is_not_left_half_registered():
    class Raises:
        @hookimpl
        def register_carrier_types(self, register):
            register(carrier("half"))
            raise RuntimeError("SDK missing")

    manager = PluginManager(load_installed=False)
    with pytest.raises(RuntimeError, match="SDK missing"):
        manager.register(Raises(), name="raises")
    assert "half" not in manager.registry.carriers
    assert "raises" not in names(manager)
