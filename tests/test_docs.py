"""The documentation in docs/ says what the code does; these tests fail when it stops.

- hooks.md has one ``## <hook>`` section per hook in hookspecs.py, and its examples
  register and run;
- configuration.md's example config loads, names registered types, and builds;
  its defaults tables match the code;
- plugins.md's example plugin registers, fetches and maps orders, and travels through
  the real runner; its carrier plugin, loaded through the entry point its pyproject block
  declares, takes a Shopify simulator order to delivered through the real runner; its
  test examples pass;
- cli.md documents every core command (and its options) and names none that is missing;
- architecture.md's room table matches the imports; its transition and tracking tables
  match ``engines/lifecycle.py``; its outbox keys are the ones the runner writes;
- models.md is the page docs/gen_models.py writes from the models (every field described);
- links between the docs point at headings that exist.

Plugins are registered explicitly: nothing here depends on what happens to be installed
(except the CLI group itself, which loads installed plugins when it is imported).
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import re
import sys
import tomllib
import types
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import click
import pytest
import sqlalchemy as sa

import fulfilhub
from fulfilhub import (
    Address,
    Carrier,
    CarrierType,
    Channel,
    Label,
    Money,
    Order,
    OrderLine,
    Rate,
    SimClock,
    StockLevel,
    TrackingEvent,
    TrackingStatus,
    TrackingUpdate,
    Warehouse,
    hookimpl,
    hookspecs,
)
from fulfilhub.errors import ConfigError
from fulfilhub.config import DEFAULT_SCHEDULE, IntakeConfig, from_mapping, parse_duration
from fulfilhub.engines import fulfilment, lifecycle
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store
from fulfilhub.sandbox import SandboxContext, SandboxServer
from fulfilhub.store import orders as order_store
from fulfilhub.store import shipments as shipment_store
from fulfilhub.store import stock as stock_store
from fulfilhub.store.schema import outbox, reservations
from fulfilhub.testing import FAST_RETRIES, instance_context
from .conftest import first_party

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "fulfilhub"
ENV_SWITCHES = ("FULFILHUB_PLUGINS", "FULFILHUB_DISABLE_PLUGINS", "FULFILHUB_STRICT_PLUGINS", "FULFILHUB_TRACE_HOOKS")


@pytest.fixture(autouse=True)
def clean_plugin_env(monkeypatch):
    """The developer's own plugin switches must not change what these tests see."""
    for name in ENV_SWITCHES:
        monkeypatch.delenv(name, raising=False)


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the fenced blocks marked ``language``, in order (nested fences included)."""
    out = []
    for match in re.finditer(r"^( *)```" + re.escape(language) + r"\n(.*?)^\1```\s*$", text, re.M | re.S):
        indent = len(match.group(1))
        out.append("".join(line[indent:] + "\n" for line in match.group(2).splitlines()))
    return out


def outside_fences(text: str) -> str:
    """The text with every fenced block removed (headings inside code are not headings)."""
    return re.sub(r"^( *)```.*?^\1```\s*$", "", text, flags=re.M | re.S)


def section(text: str, heading: str) -> str:
    """The body under ``heading`` (a whole heading line) up to the next heading of its level or higher."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(r"^#{1,%d} " % level, lines[i])),
        len(lines),
    )
    return "\n".join(lines[start:end])


def as_module(name: str, source: str) -> types.ModuleType:
    """Execute a doc example as the module ``name``."""
    module = types.ModuleType(name)
    module.__file__ = f"<docs example {name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


# ============================================================================ hooks.md


def spec_functions() -> list[Callable]:
    found = [fn for _, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "fulfilhub_spec")]
    return sorted(found, key=lambda fn: inspect.getsourcelines(fn)[1])


def hook_sections() -> list[str]:
    """The ``## name`` headings of hooks.md that look like a hook name."""
    headings = re.findall(r"^## (\S.*?)\s*$", outside_fences(read("hooks.md")), re.M)
    return [h for h in headings if re.fullmatch(r"[a-z_][a-z0-9_]*", h)]


def test_every_hook_has_a_section_and_every_section_is_a_hook_in_spec_order():
    hooks = [fn.__name__ for fn in spec_functions()]
    sections = hook_sections()
    assert hooks, "no hookspecs found"
    missing = sorted(set(hooks) - set(sections))
    unknown = sorted(set(sections) - set(hooks))
    assert not missing, f"hooks without a `## name` section in docs/hooks.md: {missing}"
    assert not unknown, f"docs/hooks.md has sections for hooks that do not exist: {unknown}"
    assert len(sections) == len(set(sections)), "a hook has two sections"
    assert sections == hooks, "docs/hooks.md lists the hooks in another order than hookspecs.py"


@pytest.mark.parametrize("spec", spec_functions(), ids=lambda fn: fn.__name__)
def test_each_hook_section_says_first_result_or_broadcast_and_has_an_example(spec):
    body = section(read("hooks.md"), f"## {spec.__name__}")
    kind = re.search(r"^\*\*Kind:\*\* (.+)$", body, re.M)
    assert kind, f"## {spec.__name__}: no **Kind:** line"
    first = spec.fulfilhub_spec["firstresult"]
    assert kind.group(1).startswith("first result" if first else "broadcast"), (spec.__name__, kind.group(1))
    for argument in inspect.signature(spec).parameters:
        assert f"`{argument}" in body, f"## {spec.__name__} does not describe argument {argument!r}"
    examples = fenced(body, "python")
    assert examples
    assert f"def {spec.__name__}(" in examples[-1]


def hook_examples() -> list[str]:
    return fenced(read("hooks.md"), "python")


class PreferUPSCarrier:
    @hookimpl
    def register_carrier_types(self, register):
        register(CarrierType(name="ups", factory=lambda context: None))


@pytest.mark.parametrize("index", range(len(hook_examples())))
def test_every_hooks_md_example_registers_cleanly(index):
    module = as_module(f"hooks_example_{index}", hook_examples()[index])
    baseline = PluginManager(load_installed=False).registry
    pm = PluginManager(load_installed=False, extra=[module])  # check_pending + argument names
    plan = {
        "register_channel_types": "channels",
        "register_carrier_types": "carriers",
        "register_warehouse_types": "warehouses",
        "register_notifier_types": "notifiers",
        "register_compensation_policies": "policies",
        "register_simulators": "simulators",
        "register_report_sections": "report_sections",
    }
    for hook, table in plan.items():
        impl = getattr(module, hook, None)
        if impl is not None and impl.fulfilhub_impl.get("wrapper"):  # wraps the others' registration
            assert getattr(pm.registry, table) == getattr(baseline, table)
            calls: list[str] = []
            pm.enable_trace(calls.append)
            pm.register(PreferUPSCarrier(), name="one-more")  # the wrapper must let it through
            assert "ups" in getattr(pm.registry, table)
            assert any(line.startswith(f"[hook] {hook}(") for line in calls)
        elif impl is not None:
            assert len(getattr(pm.registry, table)) == len(getattr(baseline, table)) + 1
    if hasattr(module, "register_commands"):
        group = click.Group("fulfilhub")
        Hooks(pm).register_commands(cli=group)
        assert group.commands


def example_defining(name: str) -> types.ModuleType:
    [source] = [s for s in hook_examples() if f"\ndef {name}(" in "\n" + s and "wrapper=True" not in s]
    return as_module(f"example_{name}", source)


def order_to(country: str, *lines: tuple[str, int]) -> Order:
    at = SimClock().now()
    return Order(
        channel="shop", external_id="1", version="v1", number="#1", placed_at=at, updated_at=at, currency="USD",
        total=Money(amount="10", currency="USD"),
        lines=[OrderLine(sku=s, quantity=q, unit_price=Money(amount="5", currency="USD")) for s, q in lines],
        ship_to=Address(name="A", line1="1 Main St", city="Town", country=country),
    )


def test_the_choose_rate_example_prefers_fast_within_two_and_defers_otherwise():
    pm = PluginManager(load_installed=False, extra=[example_defining("choose_rate")])

    def rate(service: str, amount: str, days: int) -> Rate:
        return Rate(carrier="post", carrier_name="Post", service=service, amount=Money(amount=amount, currency="USD"),
                    rate_id=service, shipment_ref="s", transit_days=days)

    order = order_to("US", ("A", 1))
    assert Hooks(pm).choose_rate(order=order, shipment_id="s/1", rates=[rate("slow", "5.00", 5), rate("fast", "6.50", 2)]).service == "fast"
    assert Hooks(pm).choose_rate(order=order, shipment_id="s/1", rates=[rate("slow", "5.00", 5), rate("fast", "9.00", 2)]).service == "slow"


def test_the_allocate_order_example_keeps_canada_in_north():
    pm = PluginManager(load_installed=False, extra=[example_defining("allocate_order")])
    stock = [StockLevel(warehouse="north", sku="A", on_hand=5), StockLevel(warehouse="south", sku="A", on_hand=50)]
    assert Hooks(pm).allocate_order(order=order_to("CA", ("A", 2)), stock=stock) == [("north", "A", 2)]
    assert Hooks(pm).allocate_order(order=order_to("CA", ("A", 9)), stock=stock) == []
    assert Hooks(pm).allocate_order(order=order_to("US", ("A", 9)), stock=stock) == [("south", "A", 9)]  # built-in


# ============================================================================ configuration.md


def example_config() -> str:
    blocks = fenced(read("configuration.md"), "toml")
    assert len(blocks) == 1, "configuration.md must hold exactly one ```toml block: the complete example"
    return blocks[0]


def test_the_example_config_loads_names_registered_types_and_builds(tmp_path):
    text = example_config()
    names = sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)))
    assert names, "the example shows no ${VAR} secret"
    env = {name: f"value-of-{name.lower()}" for name in names}
    config = from_mapping(tomllib.loads(text), path=tmp_path / "fulfilhub.toml", env=env)

    pm = PluginManager(load_installed=False, extra=first_party())
    for kind in ("channels", "carriers", "warehouses", "notifiers"):
        registered = getattr(pm.registry, kind)
        for inst in getattr(config, kind).values():
            assert inst.type in registered, f"[{kind}.{inst.name}] names type {inst.type!r}, not registered"
    assert config.channels
    assert config.carriers
    assert config.warehouses
    assert set(env.values()) <= set(config.secrets)
    from fulfilhub.engines import compensation, notify

    notify.check_routes(config.notifiers)
    assert notify.settings(config.notices).quiet_hours is not None
    assert compensation.settings(config.compensation).tiers
    assert config.notifiers

    # relative SQLite paths are relative to the config file's folder
    assert config.store_url.startswith("sqlite:///" + str(tmp_path.resolve()))
    (Path(config.store_url.removeprefix("sqlite:///"))).parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(config.store_url, migrate=True)
    rt = Runtime(config, store, pm, clock=SimClock())
    try:
        for name in config.channels:
            assert isinstance(rt.channel(name), Channel)
        for name in config.carriers:
            assert isinstance(rt.carrier(name), Carrier)
        for name in config.warehouses:
            assert isinstance(rt.warehouse(name), Warehouse)
            assert not rt.ship_from(name).problems(), f"warehouse {name}: its address is incomplete"
    finally:
        rt.close()
        store.close()


def table_rows(text: str) -> list[list[str]]:
    """The rows of every Markdown table in ``text``, as stripped cells (header rows included)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_schedule_and_intake_tables_state_the_real_defaults():
    text = read("configuration.md")
    schedule = {row[0].strip("`"): row[1] for row in table_rows(section(text, "## [schedule]")) if row[0].startswith("`")}
    assert set(schedule) == set(DEFAULT_SCHEDULE)
    for job, default in schedule.items():
        value = tomllib.loads(f"v = {default.strip('`')}")["v"]
        assert parse_duration(value, path="docs", key=job) == DEFAULT_SCHEDULE[job], job
    intake = {row[0].strip("`"): row[1].strip("`") for row in table_rows(section(text, "## [intake]")) if row[0].startswith("`")}
    defaults = IntakeConfig()
    assert {k: v == "true" for k, v in intake.items()} == {k: getattr(defaults, k) for k in intake}
    assert set(intake) == {field.name for field in IntakeConfig.__attrs_attrs__}


def test_the_type_settings_tables_list_exactly_the_declared_settings():
    registry = PluginManager(load_installed=False, extra=first_party()).registry
    text = read("configuration.md")
    for heading, registered, extra in [
        ("### `local` warehouse", registry.warehouses["local"], {"address"}),
        ("### `shopify` channel", registry.channels["shopify"], set()),
        ("### `easypost` carrier", registry.carriers["easypost"], set()),
    ]:
        [title] = [line for line in text.splitlines() if line.startswith(heading)]
        documented = {row[0].strip("`") for row in table_rows(section(text, title)) if row[0].startswith("`")}
        assert documented == set(registered.settings) | extra, heading


def test_the_adapter_settings_error_messages_are_the_real_ones(tmp_path):
    """Each row "<type> `key = value`" of the adapter-settings error table, rebuilt and run."""
    plugins = PluginManager(load_installed=False, extra=first_party())
    text = read("configuration.md")
    start = text.index("These errors come from an adapter's own settings")
    rows = [row for row in table_rows(text[start:].split("\n\n", 2)[1]) if row[0] != "mistake"]
    valid = {
        "shopify": ("channels", "shop", {"type": "shopify", "shop": "acme", "access_token": "t0k3n"}),
        "easypost": ("carriers", "ep", {"type": "easypost", "api_key": "EZTK1"}),
        "local": ("warehouses", "main", {"type": "local"}),
    }
    store = Store.open("sqlite:///" + str(tmp_path / "s.sqlite"), migrate=True)
    checked = 0
    try:
        for mistake, message in rows:
            match = re.fullmatch(r"(shopify|easypost|local) `(\w+) = (.+)`", mistake)
            if match is None:
                continue
            type_name, key, value = match.groups()
            kind, name, table = valid[type_name]
            data = {"warehouses": {"main": {"type": "local"}}}
            data.setdefault(kind, {})[name] = {**table, key: tomllib.loads(f"v = {value}")["v"]}
            config = from_mapping(data, path=Path("fulfilhub.toml"), env={})
            with pytest.raises(ConfigError) as info:
                Runtime(config, store, plugins).build_all()
            assert str(info.value) == message.strip("`"), mistake
            checked += 1
    finally:
        store.close()
    assert checked >= 6


# ============================================================================ plugins.md


def plugin_examples() -> list[str]:
    return fenced(read("plugins.md"), "python")


def complete_plugins() -> dict[str, str]:
    """The complete plugins of plugins.md by module name: the blocks that open with
    ``\"\"\"NAME: a complete fulfilhub plugin``."""
    found = {}
    for block in plugin_examples():
        match = re.match(r'"""(\w+): a complete fulfilhub plugin', block)
        if match:
            found[match.group(1)] = block
    return found


def example_test_blocks() -> list[int]:
    """The indexes of the python blocks of plugins.md that are not complete plugins (tests)."""
    plugins = set(complete_plugins().values())
    return [i for i, block in enumerate(plugin_examples()) if block not in plugins]


@pytest.fixture
def doc_plugins(monkeypatch) -> dict[str, types.ModuleType]:
    """Every complete plugin of plugins.md, importable by its name (``memshop``, ``swiftpost``)."""
    modules = {}
    for name, source in complete_plugins().items():
        modules[name] = as_module(name, source)
        monkeypatch.setitem(sys.modules, name, modules[name])
    return modules


@pytest.fixture
def doc_plugin(doc_plugins) -> types.ModuleType:
    """The complete channel plugin from plugins.md (its first ```python block), as ``memshop``."""
    assert plugin_examples()[0] == complete_plugins()["memshop"]
    return doc_plugins["memshop"]


def new_channel_type(module: types.ModuleType) -> tuple[PluginManager, str]:
    baseline = set(PluginManager(load_installed=False).registry.channels)
    pm = PluginManager(load_installed=False, extra=[module])
    added = sorted(set(pm.registry.channels) - baseline)
    assert len(added) == 1, f"the plugin in plugins.md should register one channel type, got {added}"
    return pm, added[0]


def test_the_plugin_md_plugin_registers_a_channel_that_fetches_orders(doc_plugin):
    pm, type_name = new_channel_type(doc_plugin)
    registered = pm.registry.channels[type_name]
    channel = registered.factory(instance_context("shop", {}, schema=registered.settings))
    assert isinstance(channel, Channel)
    page = channel.fetch_orders(None)
    assert page.payloads
    orders = [channel.parse_order(payload) for payload in page.payloads]
    assert all(isinstance(order, Order) and order.channel == "shop" and order.lines for order in orders)
    assert len({order.id for order in orders}) == len(orders)
    channel.close()


class FlatRatePost:
    """A test carrier: one flat rate, labels once per key, every parcel delivered when polled."""

    def __init__(self, context):
        self.name = context.name
        self.clock = context.clock
        self.labels: dict[str, Label] = {}

    def quote(self, request):
        return [Rate(carrier=self.name, carrier_name="Flat Post", service="Standard", amount=Money(amount="4.00", currency="EUR"),
                     rate_id="flat", shipment_ref=request.reference, transit_days=3)]

    def buy(self, rate, key):
        if key not in self.labels:
            self.labels[key] = Label(carrier=self.name, carrier_name="Flat Post", service=rate.service,
                                     tracking_code=f"FP{len(self.labels) + 1:06d}", cost=rate.amount, shipment_ref=rate.shipment_ref)
        return self.labels[key]

    def track(self, label):
        at = self.clock.now()
        return TrackingUpdate(tracking_code=label.tracking_code, status=TrackingStatus.DELIVERED,
                              events=[TrackingEvent(at=at, status=TrackingStatus.DELIVERED, description="Delivered")])

    def void(self, label):
        pass

    def close(self):
        pass


@hookimpl
def _register_flat_post(register):
    register(CarrierType(name="flat-post", factory=FlatRatePost))


FLAT_POST_PLUGIN = types.SimpleNamespace(register_carrier_types=_register_flat_post)


def test_the_plugin_md_plugin_travels_through_the_runner_with_the_documented_keys(doc_plugin, tmp_path):
    pm, type_name = new_channel_type(doc_plugin)
    pm.register(FLAT_POST_PLUGIN, name="flat-post")
    config = from_mapping(
        {
            "store": {"url": "sqlite:///fh.sqlite"},
            "channels": {"shop": {"type": type_name}},
            "carriers": {"post": {"type": "flat-post"}},
            "warehouses": {"main": {"type": "local", "pick_minutes": 0, "pack_minutes": 0,
                                    "address": {"name": "Main", "line1": "1 Dock Rd", "city": "Dublin", "country": "IE"}}},
        },
        path=tmp_path / "fulfilhub.toml",
        env={},
    )
    store = Store.open(config.store_url, migrate=True)
    clock = SimClock()
    rt = Runtime(config, store, pm, clock=clock)
    try:
        with store.transaction() as tx:
            for sku in ("MUG-BLUE", "TEA-50G"):
                stock_store.set_level(tx, "main", sku, 10, clock.now())
        report = jobs.summarize(jobs.sync_once(rt))  # one pass takes an order from pull to a bought label
        assert report.ok, report.errors
        clock.advance(timedelta(hours=12))  # the carrier is first asked about a new label 12 hours on
        report = jobs.summarize(jobs.sync_once(rt))
        assert report.ok, report.errors
        with store.read() as conn:
            statuses = {row.id: (row.status, row.hold_reason) for row in order_store.listing(conn)}
            keys = {row.key for row in conn.execute(sa.select(outbox.c.key, outbox.c.status))}
            undone = conn.execute(sa.select(outbox.c.key).where(outbox.c.status != "done")).scalars().all()
            consumed = conn.execute(sa.select(reservations.c.state)).scalars().all()
            levels = {s.sku: s.on_hand for s in stock_store.levels(conn)}
        assert statuses["shop:A-1001"] == ("delivered", None)
        assert statuses["shop:A-1002"][0] == "on_hold"
        assert "Leave it with the neighbour" in statuses["shop:A-1002"][1]
        shipment = "shop:A-1001/1"
        assert keys == {  # the key formats docs/architecture.md documents
            f"warehouse.submit:{shipment}",
            f"carrier.buy_label:{shipment}",
            f"channel.push_fulfillment:{shipment}",
            f"channel.push_tracking:{shipment}:delivered",
        }
        assert undone == []
        assert consumed
        assert set(consumed) == {"consumed"}
        assert levels == {"MUG-BLUE": 8, "TEA-50G": 9}
        channel = rt.channel("shop")
        assert list(channel.fulfillments) == [f"channel.push_fulfillment:{shipment}"]
        assert channel.milestones == {("F-1", "delivered")}

        again = jobs.summarize(jobs.sync_once(rt))  # every job run again: nothing new, nothing twice
        assert again.ok, again.errors
        assert again.counts["orders_new"] == 0
        assert again.counts["rates_chosen"] == 0
        assert list(channel.fulfillments) == [f"channel.push_fulfillment:{shipment}"]
    finally:
        rt.close()
        store.close()


@pytest.mark.parametrize("index", example_test_blocks())
def test_the_plugin_md_test_examples_pass(index, doc_plugins):
    module = as_module(f"plugins_example_{index}", plugin_examples()[index])
    tests = [fn for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)]
    assert tests, f"python block {index + 1} of plugins.md defines no test_ function"
    for test in tests:
        test()


def test_plugin_md_block_one_is_the_complete_plugin():
    first = plugin_examples()[0]
    assert "register_channel_types" in first
    imports = re.findall(r"^(?:from|import) ([\w.]+)", first, re.M)
    third_party = {name.split(".")[0] for name in imports} - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {"fulfilhub"}, f"the example plugin should import only fulfilhub, got {third_party}"


def test_plugin_md_carrier_block_is_a_complete_carrier_importing_only_fulfilhub():
    source = complete_plugins().get("swiftpost")
    assert source, "plugins.md should hold the complete carrier plugin swiftpost"
    assert "register_carrier_types" in source
    imports = re.findall(r"^(?:from|import) ([\w.]+)", source, re.M)
    third_party = {name.split(".")[0] for name in imports} - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {"fulfilhub"}, f"the carrier example should import only fulfilhub, got {third_party}"
    for method in ("def quote(", "def buy(", "def track(", "def void(", "def close("):
        assert method in source, f"the carrier example lacks {method}"


def carrier_entry_point() -> importlib.metadata.EntryPoint:
    """The ``fulfilhub`` entry point plugins.md's pyproject block declares for swiftpost."""
    [block] = [b for b in fenced(read("plugins.md"), "toml") if 'name = "fulfilhub-swiftpost"' in b]
    project = tomllib.loads(block)["project"]
    declared = project["entry-points"]["fulfilhub"]
    assert list(declared) == ["swiftpost"], declared
    assert any(dep.startswith("fulfilhub") for dep in project["dependencies"])
    return importlib.metadata.EntryPoint(name="swiftpost", value=declared["swiftpost"], group="fulfilhub")


SHOP_TOKEN = "shpat_docs_carrier_0123456789"


def test_the_plugin_md_carrier_takes_a_shopify_order_to_delivered_through_the_runner(doc_plugins, tmp_path):
    plugin = carrier_entry_point().load()  # what PluginManager does with an installed entry point
    assert plugin is doc_plugins["swiftpost"]
    pm = PluginManager(load_installed=False, extra=[first_party()[0], plugin])
    assert pm.owner("carriers", "swiftpost")
    [config_block] = [b for b in fenced(read("plugins.md"), "toml") if 'type = "swiftpost"' in b]
    carriers = tomllib.loads(config_block)["carriers"]
    [(instance, carrier_settings)] = carriers.items()

    clock = SimClock(datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc))
    options = {"shopify": {"orders_per_day": 0, "update_rate": 0.0, "malformed_rate": 0.0, "access_token": SHOP_TOKEN}}
    context = SandboxContext(clock=clock, seed=5, options=options)
    with SandboxServer({"shopify": pm.registry.simulators["shopify"]}, context) as sandbox:
        shop = sandbox.simulators["shopify"]
        config = from_mapping(
            {
                "store": {"url": "sqlite:///fh.sqlite"},
                "channels": {"shop": {"type": "shopify", "base_url": sandbox.url_for("shopify"),
                                      "access_token": "${SHOP_TOKEN}"}},
                "carriers": {instance: carrier_settings},
                "warehouses": {"main": {"type": "local", "pick_minutes": 30, "pack_minutes": 30,
                                        "address": {"name": "Main DC", "line1": "1 Dock Rd", "city": "Newark",
                                                    "province": "NJ", "postal_code": "07114", "country": "US"}}},
            },
            path=tmp_path / "fulfilhub.toml",
            env={"SHOP_TOKEN": SHOP_TOKEN},
        )
        store = Store.open(config.store_url, migrate=True)
        rt = Runtime(config, store, pm, clock=clock, policy=FAST_RETRIES)
        try:
            sku = shop.catalog[0]["sku"]
            with store.transaction() as tx:
                stock_store.set_level(tx, "main", sku, 10, clock.now(), unit_weight_g=700)
            placed = shop.add_order([{"sku": sku, "quantity": 2}])
            order_id = f"shop:{placed['id']}"
            seen = []
            for _ in range(80):  # up to 10 days, a sync every 3 hours
                report = jobs.summarize(jobs.sync_once(rt))
                assert report.ok, report.errors
                with store.read() as conn:
                    _, row = order_store.load(conn, order_id)
                seen.append(row.status)
                if row.status == "delivered":
                    break
                clock.advance(timedelta(hours=3))
            assert seen[-1] == "delivered", seen
            assert seen.index("shipped") < seen.index("in_transit") < seen.index("delivered"), seen

            with store.read() as conn:
                (shipment,) = shipment_store.of_order(conn, order_id)
                scans = [scan.status for scan in shipment_store.scans_of(conn, shipment.id)]
                undone = conn.execute(sa.select(outbox.c.key).where(outbox.c.status != "done")).scalars().all()
            assert shipment.label.carrier == instance
            assert shipment.label.carrier_name == "SwiftPost"
            assert shipment.rate.service == "Economy"
            assert shipment.rate.transit_days == 3  # the cheapest
            assert str(shipment.label.cost) == "8.40 EUR"  # 1.4 kg: two started kilograms
            assert scans[0] == "pre_transit"
            assert scans[-1] == "delivered"
            assert "out_for_delivery" in scans
            assert undone == []
            courier = rt.carrier(instance).api
            assert list(courier.by_key) == [f"carrier.buy_label:{shipment.id}"]  # one label, bought with the key
            (fulfillment,) = shop.fulfillments_for(placed["id"])
            assert fulfillment["tracking_number"] == shipment.tracking_code
            assert fulfillment["tracking_url"] == f"https://track.swiftpost.example/{shipment.tracking_code}"
            assert "delivered" in [event["status"] for event in shop.events_for(fulfillment["id"])]
        finally:
            rt.close()
            store.close()


# ============================================================================ cli.md


def core_commands() -> click.Group:
    from fulfilhub.cli import main

    return main


def documented_commands() -> list[tuple[str, ...]]:
    headings = re.findall(r"^#{2,3} fulfilhub ([a-z][a-z -]*?)\s*$", outside_fences(read("cli.md")), re.M)
    return [tuple(h.split()) for h in headings]


def resolve(path: tuple[str, ...]) -> click.Command | None:
    command: click.Command | None = core_commands()
    for name in path:
        if not isinstance(command, click.Group):
            return None
        command = command.commands.get(name)
    return command


def is_core(command: click.Command) -> bool:
    return (getattr(command.callback, "__module__", "") or "").startswith("fulfilhub.cli")


def test_every_documented_command_exists():
    documented = documented_commands()
    assert documented
    missing = [" ".join(p) for p in documented if resolve(p) is None]
    assert not missing, f"docs/cli.md documents commands that do not exist: {missing}"


def test_every_core_command_and_subcommand_is_documented():
    documented = set(documented_commands())
    main = core_commands()
    undocumented = []
    for name, command in main.commands.items():
        if not is_core(command):
            continue  # added by an installed plugin's register_commands
        if (name,) not in documented:
            undocumented.append(name)
        if isinstance(command, click.Group):
            undocumented += [f"{name} {sub}" for sub in command.commands if (name, sub) not in documented]
    assert not undocumented, f"commands missing from docs/cli.md: {undocumented}"


def test_every_option_of_a_documented_command_is_mentioned_in_its_section():
    text = read("cli.md")
    for path in documented_commands():
        command = resolve(path)
        heading = next(line for line in text.splitlines() if re.fullmatch(r"#{2,3} fulfilhub " + " ".join(path) + r"\s*", line))
        body = section(text, heading)
        for param in command.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                assert longest in body, f"`fulfilhub {' '.join(path)}` does not mention {longest}"


def test_the_global_options_and_exit_codes_are_documented():
    from fulfilhub import cli

    text = read("cli.md")
    for param in core_commands().params:
        assert max(param.opts, key=len) in text
    for code in cli.EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, re.M), f"exit code {code} is not in the table"


# ============================================================================ architecture.md


def rooms() -> list[tuple[int, str]]:
    """(level, path) for every file or folder in the architecture table."""
    text = section(read("architecture.md"), "## The rooms of the core")
    out = []
    for row in table_rows(text):
        if row[0].isdigit():
            out += [(int(row[0]), p) for p in re.findall(r"`([\w/.]+)`", row[2])]
    return out


def level_of(relative: str) -> int | None:
    """The level of a file under src/fulfilhub (``runner/jobs.py``); None for the package root."""
    if relative in ("__init__.py", "__main__.py"):
        return None
    table = rooms()
    for level, path in table:
        if path == relative or (path.endswith("/") and relative.startswith(path)):
            return level
    folder = relative.rsplit("/", 1)[0] if "/" in relative else None
    for level, path in table:
        if folder and path.startswith(folder + "/"):
            return level
    raise AssertionError(f"src/fulfilhub/{relative} is in no room of docs/architecture.md")


def module_file(parts: list[str]) -> str | None:
    """``["store", "queries"]`` -> ``store/queries.py`` (or a package's ``__init__.py``)."""
    base = PACKAGE.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return "/".join(parts) + ".py"
    if (base / "__init__.py").is_file():
        return "/".join([*parts, "__init__.py"]) if parts else "__init__.py"
    return None


def runtime_imports(path: Path) -> list[str]:
    """Files of fulfilhub this file imports at run time (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    relative = path.relative_to(PACKAGE)
    package = list(relative.parent.parts)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif (node.module or "").split(".")[0] == "fulfilhub":
                base = []
                node = ast.ImportFrom(module=".".join(node.module.split(".")[1:]) or None, names=node.names, level=1)
            else:
                continue
            target = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                found.append(module_file(target + [alias.name]) or module_file(target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fulfilhub":
                    found.append(module_file(alias.name.split(".")[1:]))
    return [f for f in found if f]


def test_imports_flow_one_way_as_the_room_table_says():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        own = level_of(relative)
        if own is None:
            continue
        for target in runtime_imports(path):
            theirs = level_of(target)
            if theirs is not None and theirs > own:
                upward.append(f"{relative} (level {own}) imports {target} (level {theirs})")
    assert not upward, "imports that flow upwards:\n" + "\n".join(upward)


def test_the_transition_table_is_the_one_in_lifecycle():
    text = read("architecture.md")
    table = text.split("<!-- transitions -->", 1)[1].split("<!-- /transitions -->", 1)[0]
    documented = {}
    for row in table_rows(table)[1:]:
        documented[row[0].strip("`")] = set(re.findall(r"`(\w+)`", row[1]))
    actual = {str(k): {str(v) for v in vs} for k, vs in lifecycle.TRANSITIONS.items()}
    assert documented == actual


def test_the_tracking_table_is_the_one_in_the_fulfilment_engine():
    body = section(read("architecture.md"), "### Shipments and the derived status")
    documented = {}
    for row in table_rows(body)[1:]:
        target = re.findall(r"`(\w+)`", row[1])
        for status in re.findall(r"`(\w+)`", row[0]):
            documented[status] = target[0] if target else None
    actual = {str(k): (str(v) if v is not None else None) for k, v in fulfilment.TRACKING_TO_SHIPMENT.items()}
    assert documented == actual


# ============================================================================ links


def slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_docs_point_at_existing_headings(doc):
    text = outside_fences(read(doc))
    broken = []
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md)?(?:#([\w-]+))?\)", text):
        if not target and not anchor:
            continue
        file = DOCS / (target or doc)
        if not file.is_file():
            broken.append(f"{target}#{anchor}")
            continue
        if anchor:
            headings = re.findall(r"^#{1,6} (.+)$", outside_fences(file.read_text(encoding="utf-8")), re.M)
            if anchor not in {slug(h) for h in headings}:
                broken.append(f"{target or doc}#{anchor}")
    assert not broken, f"{doc}: broken links {broken}"


def test_the_public_names_the_docs_import_exist():
    """Every ``from fulfilhub import X`` in the docs names something fulfilhub exports."""
    missing = set()
    for doc in DOCS.glob("*.md"):
        for block in fenced(doc.read_text(encoding="utf-8"), "python"):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and node.module == "fulfilhub":
                    missing |= {f"{doc.name}: {a.name}" for a in node.names if not hasattr(fulfilhub, a.name)}
    assert not missing



# ============================================================================ models.md


def model_generator() -> types.ModuleType:
    """docs/gen_models.py, imported from its file (docs/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_models", DOCS / "gen_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_md_is_the_page_the_generator_writes_from_the_models():
    expected = model_generator().render()
    actual = read("models.md")
    if actual != expected:
        import difflib

        diff = "".join(list(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True),
                                                 "docs/models.md", "generated", n=1))[:40])
        pytest.fail(f"docs/models.md disagrees with src/fulfilhub/models.py: run `python docs/gen_models.py`\n{diff}")


def test_the_model_generator_writes_the_page_and_its_check_mode_finds_a_stale_one(tmp_path, monkeypatch, capsys):
    gen = model_generator()
    monkeypatch.setattr(gen, "PAGE", tmp_path / "models.md")
    assert gen.main(["--check"]) == 1  # missing
    assert gen.main([]) == 0
    assert gen.PAGE.read_text(encoding="utf-8") == gen.render()
    assert gen.main(["--check"]) == 0
    gen.PAGE.write_text(gen.render().replace("The tracking number", "The number"), encoding="utf-8")
    assert gen.main(["--check"]) == 1
    assert "run `python docs/gen_models.py`" in capsys.readouterr().err


def test_models_md_documents_every_field_of_the_models_a_plugin_meets():
    gen = model_generator()
    covered = {cls.__name__ for _, _, classes in gen.SECTIONS for cls in classes}
    needed = {"Rate", "Label", "TrackingUpdate", "TrackingEvent", "Order", "OrderLine", "Address", "Money", "Shipment",
              "ShipmentLine", "Parcel", "FulfillmentRequest", "FulfillmentUpdate", "StockLevel"}
    assert needed <= covered, sorted(needed - covered)
    page = read("models.md")
    for name in sorted(needed):
        cls = getattr(fulfilhub.models, name)
        table = section(page, f"### {name}")
        rows = re.findall(r"^\| `(\w+)` \| .+ \| .+ \| (.+) \|$", table, re.M)
        assert [field for field, _ in rows] == [f.name for f in attrs.fields(cls)], name
        assert all(len(text) > 10 for _, text in rows), name


def test_the_model_generator_refuses_a_field_without_a_description_or_a_stray_one():
    gen = model_generator()

    @attrs.frozen(kw_only=True)
    class Described:
        """A test model.

        Attributes:
            weight: The weight in grams,
                over two lines.
        """

        weight: int
        kind: str = attrs.field(default="box", metadata={"doc": "What it is."})

    assert gen.descriptions(Described) == {"weight": "The weight in grams, over two lines.", "kind": "What it is."}
    table = "\n".join(gen.model_table(Described))
    assert "| `weight` | `int` | required | The weight in grams, over two lines. |" in table
    assert "| `kind` | `str` | `'box'` | What it is. |" in table

    @attrs.frozen(kw_only=True)
    class Undescribed:
        """A test model.

        Attributes:
            weight: The weight.
        """

        weight: int
        height: int

    with pytest.raises(ValueError, match=r"Undescribed.height has no description"):
        gen.descriptions(Undescribed)

    @attrs.frozen(kw_only=True)
    class Stray:
        """A test model.

        Attributes:
            weight: The weight.
            colour: Not a field.
        """

        weight: int

    with pytest.raises(ValueError, match=r"describes fields it does not have: colour"):
        gen.descriptions(Stray)


def test_models_md_is_linked_from_the_readme_and_the_plugin_guide():
    assert "(docs/models.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(models.md)" in outside_fences(read("plugins.md"))


def test_the_example_channels_mapping_survives_the_fuzzer(doc_plugin):
    """What plugin authors copy must itself refuse broken input with PayloadError only."""
    from fulfilhub.testing.fuzz import assert_maps_or_refuses, mutations

    payloads = [m for order in doc_plugin.ORDERS for m in mutations(dict(order), seed=5, count=600)]
    result = assert_maps_or_refuses(lambda p: doc_plugin.parse_order(p, channel="memshop"), payloads)
    assert result.mapped
    assert result.refused
