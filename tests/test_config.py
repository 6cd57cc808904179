"""``fulfilhub.toml``: loading, defaults, and errors that say file, key and expectation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fulfilhub import config as fconfig
from fulfilhub.adapters import CarrierType, ChannelType
from fulfilhub.errors import ConfigError
from fulfilhub.hookspecs import hookimpl
from fulfilhub.plugins import PluginManager
from fulfilhub.runner.runtime import Runtime

ENV = {"SHOPIFY_ACCESS_TOKEN": "shpat_0123456789abcdef", "EASYPOST_API_KEY": "EZTK_fedcba9876543210"}


def write(tmp_path: Path, text: str, name: str = "fulfilhub.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def minimal(extra: str = "") -> str:
    return '[warehouses.main]\ntype = "local"\n' + extra


def load_error(tmp_path: Path, text: str, env=None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        fconfig.load(path, env=ENV if env is None else env)
    assert str(path) in str(info.value), "every config error names the file"
    return info.value


# ------------------------------------------------------------------ the example


def test_example_config_loads(tmp_path):
    path = write(tmp_path, fconfig.EXAMPLE)
    config = fconfig.load(path, env=ENV)

    assert config.path == path
    assert config.store_url == "sqlite:///" + str((tmp_path / "fulfilhub.sqlite").resolve())
    shop = config.channels["my-shop"]
    assert (shop.kind, shop.name, shop.type) == ("channels", "my-shop", "shopify")
    assert shop.settings == {"shop": "my-shop", "access_token": ENV["SHOPIFY_ACCESS_TOKEN"]}
    assert "type" not in shop.settings
    assert config.carriers["easypost"].settings["api_key"] == ENV["EASYPOST_API_KEY"]
    main = config.warehouses["main"]
    assert main.type == "local" and main.settings["pick_minutes"] == 60
    assert main.settings["address"]["postal_code"] == "89501"
    assert config.notifiers == {}
    assert config.intake.hold_on_note is True and config.intake.check_sku is True
    assert config.schedule["deliver_effects"] == timedelta(seconds=30)
    assert config.schedule["poll_tracking"] == timedelta(minutes=30)


def test_example_secrets_are_collected(tmp_path):
    config = fconfig.load(write(tmp_path, fconfig.EXAMPLE), env=ENV)
    assert sorted(config.secrets) == sorted(ENV.values())
    assert config.channels["my-shop"].secrets == (ENV["SHOPIFY_ACCESS_TOKEN"],)
    assert config.warehouses["main"].secrets == ()


def test_env_reference_inside_a_string_collects_only_the_value(tmp_path):
    path = write(tmp_path, minimal('[notifiers.hook]\ntype = "webhook"\nauth = "Bearer ${HOOK_TOKEN}"\n'))
    config = fconfig.load(path, env={"HOOK_TOKEN": "hk_secret_value"})
    assert config.notifiers["hook"].settings["auth"] == "Bearer hk_secret_value"
    assert config.secrets == ("hk_secret_value",)


def test_env_references_in_lists_and_nested_tables_resolve(tmp_path):
    text = minimal('[channels.s]\ntype = "x"\nkeys = ["${A}", "plain"]\n[channels.s.auth]\ntoken = "${B}"\n')
    config = fconfig.load(write(tmp_path, text), env={"A": "value-a", "B": "value-b"})
    settings = config.channels["s"].settings
    assert settings["keys"] == ["value-a", "plain"]
    assert settings["auth"] == {"token": "value-b"}
    assert sorted(config.secrets) == ["value-a", "value-b"]


def test_config_path_from_environment(tmp_path):
    path = write(tmp_path, minimal(), name="elsewhere.toml")
    config = fconfig.load(env={"FULFILHUB_CONFIG": str(path)})
    assert config.path == path


def test_defaults_without_optional_sections(tmp_path):
    config = fconfig.load(write(tmp_path, minimal()), env={})
    assert config.schedule == dict(fconfig.DEFAULT_SCHEDULE)
    assert config.store_url == "sqlite:///" + str((tmp_path / "fulfilhub.sqlite").resolve())
    assert config.intake == fconfig.IntakeConfig()


# ------------------------------------------------------------------ schedule


@pytest.mark.parametrize(
    ("value", "seconds"),
    [('"30s"', 30), ('"5m"', 300), ('"2h"', 7200), ('"1d"', 86400), ('"1.5m"', 90), ("45", 45), ("2.5", 2.5)],
)
def test_schedule_durations(tmp_path, value, seconds):
    config = fconfig.load(write(tmp_path, minimal(f"[schedule]\npoll_tracking = {value}\n")), env={})
    assert config.schedule["poll_tracking"] == timedelta(seconds=seconds)
    assert config.schedule["pull_orders"] == fconfig.DEFAULT_SCHEDULE["pull_orders"]  # others keep their default


@pytest.mark.parametrize("value", ['"5x"', '"0s"', "0", "-5", "true", '"m"', '""', '"five minutes"'])
def test_bad_duration(tmp_path, value):
    error = load_error(tmp_path, minimal(f"[schedule]\nallocate = {value}\n"))
    assert error.key == "schedule.allocate"
    assert "[schedule.allocate]" in str(error)
    assert '"30s"' in str(error) and "got" in str(error)


def test_unknown_job_in_schedule(tmp_path):
    error = load_error(tmp_path, minimal('[schedule]\npull_order = "5m"\n'))
    assert error.key == "schedule.pull_order"
    assert "unknown job 'pull_order'" in str(error)
    assert "pull_orders" in str(error)  # the right spelling is listed


# ------------------------------------------------------------------ errors


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        fconfig.load(path, env={})
    assert str(path) in str(info.value)
    assert "fulfilhub init" in str(info.value)


def test_invalid_toml(tmp_path):
    error = load_error(tmp_path, "[store\nurl = 1\n")
    assert "not valid TOML" in str(error)
    assert "line 1" in str(error)


def test_unknown_section(tmp_path):
    error = load_error(tmp_path, minimal('[carrier.ups]\ntype = "ups"\n'))
    assert error.key == "carrier"
    assert "unknown section 'carrier'" in str(error)
    assert "carriers" in str(error)


def test_section_that_is_not_a_table(tmp_path):
    error = load_error(tmp_path, 'channels = "shopify"\n' + minimal())
    assert error.key == "channels"
    assert "expected a table" in str(error)


def test_instance_without_type(tmp_path):
    error = load_error(tmp_path, minimal('[channels.my-shop]\nshop = "acme"\n'))
    assert error.key == "channels.my-shop"
    assert "[channels.my-shop]" in str(error)
    assert "missing `type`" in str(error)


@pytest.mark.parametrize("name", ["My-Shop", "my shop", "-shop", "shop.eu", "x" * 64])
def test_bad_instance_name(tmp_path, name):
    error = load_error(tmp_path, minimal(f'[channels."{name}"]\ntype = "shopify"\n'))
    assert error.key == f"channels.{name}"
    assert "lower-case letters, digits" in str(error)


def test_instance_name_with_trailing_newline_is_refused(tmp_path):
    error = load_error(tmp_path, '[warehouses."main\\n"]\ntype = "local"\n')
    assert "lower-case letters, digits" in str(error)


def test_instance_that_is_not_a_table(tmp_path):
    error = load_error(tmp_path, minimal('[carriers]\nups = "fast"\n'))
    assert error.key == "carriers.ups"
    assert 'type = "..."' in str(error)


def test_unset_variable_names_variable_and_key_but_no_other_secret(tmp_path):
    env = {"SHOPIFY_ACCESS_TOKEN": ENV["SHOPIFY_ACCESS_TOKEN"]}  # resolved before the missing one
    error = load_error(tmp_path, fconfig.EXAMPLE, env=env)
    message = str(error)
    assert error.key == "carriers.easypost.api_key"
    assert "EASYPOST_API_KEY" in message
    assert "[carriers.easypost.api_key]" in message
    assert ENV["SHOPIFY_ACCESS_TOKEN"] not in message


def test_empty_variable_counts_as_unset(tmp_path):
    error = load_error(tmp_path, fconfig.EXAMPLE, env={**ENV, "EASYPOST_API_KEY": ""})
    assert "EASYPOST_API_KEY is not set" in str(error)


def test_lenient_env_turns_missing_variables_into_empty_strings(tmp_path):
    path = write(tmp_path, fconfig.EXAMPLE)
    config = fconfig.load(path, env={}, strict_env=False)
    assert config.channels["my-shop"].settings["access_token"] == ""
    assert config.carriers["easypost"].settings["api_key"] == ""
    assert config.secrets == ()


def test_non_bool_intake_value(tmp_path):
    error = load_error(tmp_path, minimal('[intake]\nhold_on_note = "yes"\n'))
    assert error.key == "intake.hold_on_note"
    assert "expected true or false, got 'yes'" in str(error)


def test_unknown_intake_setting(tmp_path):
    error = load_error(tmp_path, minimal("[intake]\nhold_on_notes = true\n"))
    assert error.key == "intake.hold_on_notes"
    assert "hold_on_note" in str(error)


def test_intake_values_are_applied(tmp_path):
    config = fconfig.load(write(tmp_path, minimal("[intake]\nhold_on_note = false\n")), env={})
    assert config.intake.hold_on_note is False


@pytest.mark.parametrize("url", ['"fulfilhub.sqlite"', "5", '""'])
def test_bad_store_url(tmp_path, url):
    error = load_error(tmp_path, f"[store]\nurl = {url}\n" + minimal())
    assert error.key == "store.url"
    assert "sqlite:///fulfilhub.sqlite" in str(error)  # shows what a good one looks like


# ------------------------------------------------------------------ store url


def test_relative_sqlite_path_is_anchored_to_the_config_folder(tmp_path, monkeypatch):
    path = write(tmp_path / "conf", '[store]\nurl = "sqlite:///data/fh.sqlite"\n' + minimal())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = fconfig.load(path, env={})
    assert config.store_url == "sqlite:///" + str((tmp_path / "conf" / "data" / "fh.sqlite").resolve())


@pytest.mark.parametrize(
    "url", ["sqlite:////var/lib/fulfilhub/fh.sqlite", "sqlite:///:memory:", "postgresql://fh@db.internal/fulfilhub"]
)
def test_absolute_memory_and_server_urls_are_left_alone(tmp_path, url):
    config = fconfig.load(write(tmp_path, f'[store]\nurl = "{url}"\n' + minimal()), env={})
    assert config.store_url == url


def test_store_url_may_reference_the_environment(tmp_path):
    path = write(tmp_path, '[store]\nurl = "postgresql://fh:${DB_PASSWORD}@db/fh"\n' + minimal())
    assert fconfig.load(path, env={"DB_PASSWORD": "pw-123456"}).store_url == "postgresql://fh:pw-123456@db/fh"


def test_store_url_secret_is_redacted_like_the_others(tmp_path):
    path = write(tmp_path, '[store]\nurl = "postgresql://fh:${DB_PASSWORD}@db/fh"\n' + minimal())
    assert "pw-123456" in fconfig.load(path, env={"DB_PASSWORD": "pw-123456"}).secrets


# ------------------------------------------------------------------ runtime: types must be registered


class AcmeTypes:
    @hookimpl
    def register_channel_types(self, register):
        register(ChannelType(name="acme-shop", factory=lambda context: None))

    @hookimpl
    def register_carrier_types(self, register):
        register(CarrierType(name="acme-post", factory=lambda context: None))


def test_runtime_refuses_unregistered_type_and_lists_registered_ones(tmp_path, store):
    config = fconfig.load(write(tmp_path, fconfig.EXAMPLE), env=ENV)
    plugins = PluginManager(load_installed=False, extra=[AcmeTypes()])
    with pytest.raises(ConfigError) as info:
        Runtime(config, store, plugins)
    message = str(info.value)
    assert info.value.key == "channels.my-shop.type"
    assert "[channels.my-shop.type]" in message and str(config.path) in message
    assert "unknown channel type 'shopify'" in message
    assert "registered types: acme-shop" in message


def test_runtime_says_when_no_type_of_a_kind_is_installed(tmp_path, store):
    config = fconfig.load(write(tmp_path, fconfig.EXAMPLE), env=ENV)
    with pytest.raises(ConfigError, match="none installed") as info:
        Runtime(config, store, PluginManager(load_installed=False))
    assert info.value.key == "channels.my-shop.type"


def test_runtime_accepts_registered_types(tmp_path, store):
    text = minimal('[channels.s]\ntype = "acme-shop"\n[carriers.c]\ntype = "acme-post"\n')
    config = fconfig.load(write(tmp_path, text), env={})
    runtime = Runtime(config, store, PluginManager(load_installed=False, extra=[AcmeTypes()]))
    assert runtime.warehouse("main").name == "main"  # the built-in local type


def test_runtime_needs_a_warehouse(tmp_path, store):
    config = fconfig.load(write(tmp_path, '[channels.s]\ntype = "acme-shop"\n'), env={})
    with pytest.raises(ConfigError, match=r"no warehouse configured; add at least one \[warehouses.NAME\]"):
        Runtime(config, store, PluginManager(load_installed=False, extra=[AcmeTypes()]))


# ------------------------------------------------------------------ runtime: declared settings


def first_party_plugins() -> PluginManager:
    from .conftest import first_party

    return PluginManager(load_installed=False, extra=first_party())


@pytest.mark.parametrize(
    ("table", "key", "hint"),
    [
        ('[warehouses.main]\ntype = "local"\npick_minute = 0\n', "warehouses.main.pick_minute", "pick_minutes"),
        ('[channels.shop]\ntype = "shopify"\nshop = "acme"\naccess_token = "t0k3n"\npage_sise = 50\n',
         "channels.shop.page_sise", "page_size"),
        ('[carriers.ep]\ntype = "easypost"\napi_key = "EZTK_1"\nlabel_fromat = "PNG"\n',
         "carriers.ep.label_fromat", "label_format"),
    ],
)
def test_an_unknown_adapter_setting_names_the_key_and_the_closest_one(tmp_path, store, table, key, hint):
    text = table if table.startswith("[warehouses") else minimal(table)
    config = fconfig.load(write(tmp_path, text), env={})
    runtime = Runtime(config, store, first_party_plugins())
    with pytest.raises(ConfigError) as info:
        runtime.build_all()
    assert info.value.key == key
    assert info.value.path == str(config.path)
    assert f"did you mean '{hint}'?" in str(info.value)


def test_an_unknown_setting_far_from_any_gets_the_list_instead(tmp_path, store):
    config = fconfig.load(write(tmp_path, '[warehouses.main]\ntype = "local"\ncolour = "blue"\n'), env={})
    with pytest.raises(ConfigError, match=r"unknown setting 'colour' = 'blue'; settings of this type: address, "
                                          r"default_unit_weight_g, pack_minutes, pick_minutes, tare_g"):
        Runtime(config, store, PluginManager(load_installed=False)).build_all()


def test_a_type_without_declared_settings_accepts_any_key(tmp_path, store):
    text = minimal('[channels.s]\ntype = "acme-shop"\nanything = 1\n[carriers.c]\ntype = "acme-post"\n')
    config = fconfig.load(write(tmp_path, text), env={})
    Runtime(config, store, PluginManager(load_installed=False, extra=[AcmeTypes()])).build_all()


def test_declared_settings_are_read_with_their_types_and_limits(tmp_path, store):
    text = '[warehouses.main]\ntype = "local"\npick_minutes = 15\ntare_g = -5\n'
    config = fconfig.load(write(tmp_path, text), env={})
    with pytest.raises(ConfigError) as info:
        Runtime(config, store, PluginManager(load_installed=False)).build_all()
    assert info.value.key == "warehouses.main.tare_g"
    assert "expected a whole number of 0 or more, got -5" in str(info.value)


# ------------------------------------------------------------------ context.setting: typed readers


def read(value, *args, **kwargs):
    from fulfilhub.testing import instance_context

    context = instance_context("shop", {} if value is None else {"x": value}, kind="channels")
    return context.setting("x", *args, **kwargs)


@pytest.mark.parametrize(
    ("value", "args", "kwargs", "expected"),
    [
        (None, (int,), {"default": 250}, 250),
        (50, (int,), {"default": 250, "min": 1, "max": 250}, 50),
        (2, (float,), {"min": 0}, 2.0),
        (False, (bool,), {"default": True}, False),
        (["a", "b"], (list,), {"items": str}, ("a", "b")),
        ("  shpat_1 \n", (str,), {"secret": True}, "shpat_1"),
        ("PNG", (str,), {"choices": ("PDF", "PNG")}, "PNG"),
    ],
)
def test_typed_reads(value, args, kwargs, expected):
    got = read(value, *args, **kwargs)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "args", "kwargs", "message"),
    [
        (None, (int,), {}, r"\[channels.shop.x\] missing required setting 'x'"),
        (500, (int,), {"min": 1, "max": 250}, r"\[channels.shop.x\] expected a whole number from 1 to 250, got 500"),
        (True, (int,), {}, r"expected a whole number, got True"),
        (2.5, (int,), {}, r"expected a whole number, got 2.5"),
        ("5m", (float,), {"min": 0}, r"expected a number of 0 or more, got '5m'"),
        ("no", (bool,), {}, r"expected true or false, got 'no'"),
        ("Priority", (list,), {"items": str}, r"expected a list of strings, got 'Priority'"),
        ([1], (list,), {"items": str}, r"expected a list of strings, got \[1\]"),
        ("gif", (str,), {"choices": ("PDF", "PNG")}, r"expected one of 'PDF', 'PNG', got 'gif'"),
        ("   ", (str,), {"secret": True}, r"\[channels.shop.x\] is empty"),
    ],
)
def test_typed_reads_refuse_naming_the_key_and_the_value(value, args, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        read(value, *args, **kwargs)


def test_a_secret_with_whitespace_inside_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as info:
        read("shpat_12 34", str, secret=True)
    assert "whitespace inside" in str(info.value) and "shpat_12" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        read(12345, str, secret=True)
    assert "12345" not in str(info.value) and "expected a string" in str(info.value)


def test_reading_an_undeclared_setting_without_a_type_is_a_programming_error():
    with pytest.raises(TypeError, match="not declared"):
        read(1)


def test_a_padded_value_from_the_environment_is_refused_where_it_is_not_a_declared_secret():
    from fulfilhub.adapters import Setting
    from fulfilhub.errors import ConfigError
    from fulfilhub.testing import instance_context

    schema = {"base_url": Setting(str, default=""), "api_key": Setting(str, secret=True)}
    padded = "https://api.example.test\n"
    with pytest.raises(ConfigError, match="whitespace around it") as caught:
        instance_context("ep", {"base_url": padded, "api_key": "k3y\n"}, secrets=[padded, "k3y\n"], schema=schema)
    assert caught.value.key.endswith("base_url") and "example" not in str(caught.value)
    fine = instance_context("ep", {"api_key": "k3y\n"}, secrets=["k3y\n"], schema=schema)
    fine.check_settings()  # a declared secret is stripped when read
    assert fine.setting("api_key") == "k3y"


def test_a_scenario_writes_a_list_setting_into_the_config_as_toml():
    import tomllib

    from fulfilhub.scenarios.world import _toml

    text = f"ids = {_toml(['ATVPDKIKX0DER', 'A1VC38T7YXB528'])}\nflag = {_toml(True)}\n"
    assert tomllib.loads(text) == {"ids": ["ATVPDKIKX0DER", "A1VC38T7YXB528"], "flag": True}
    with pytest.raises(TypeError, match="lists of them"):
        _toml([{"nested": 1}])
