"""A secret never leaks: not in any form, not with a trailing newline, not through any door.

A token from an env file or a base64-decoded secret often ends with a newline. httpx
then refuses the header and prints it as an escaped bytes repr (``b'tok\\n'``), which a
redactor looking for the value itself does not match. These tests cover the redactor's
forms, the config's refusal, the permanent error for an unsendable header, and the real
CLI end to end against the sandbox.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

import fulfilhub.cli as cli_mod
from fulfilhub import ConfigError, PermanentError, Setting
from fulfilhub import config as config_mod
from fulfilhub.cli import main
from fulfilhub.http import REDACTED, HttpClient, Redactor
from fulfilhub.plugins import PluginManager
from fulfilhub.scenarios import build_world
from fulfilhub.testing import FAST_RETRIES

from .conftest import FIRST_PARTY_MISSING

# the core suite runs without the first-party plugins: then these tests are skipped, saying why
fulfilhub_shopify = pytest.importorskip("fulfilhub_shopify", reason=FIRST_PARTY_MISSING)
fulfilhub_easypost = pytest.importorskip("fulfilhub_easypost", reason=FIRST_PARTY_MISSING)

SECRET = "shpat_9f3b2c71d0e4"
NEWLINE_SECRET = SECRET + "\n"


# ============================================================================ the redactor


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORMS = {
    "as-is": SECRET,
    "repr-escaped": repr(NEWLINE_SECRET)[1:-1],
    "bytes-repr": repr(NEWLINE_SECRET.encode()),
    "httpx-error": f"Illegal header value {NEWLINE_SECRET.encode()!r}",
    "json-escaped": json.dumps({"token": NEWLINE_SECRET}),
    "base64": _b64(SECRET),
    "base64-newline": _b64(NEWLINE_SECRET),
    "basic-secret-colon": "Basic " + _b64(SECRET + ":"),
    "basic-user-secret": "Basic " + _b64("api:" + SECRET),
    "basic-longer-user": "Basic " + _b64("someone@example.com:" + SECRET),
    "base64-urlsafe": base64.urlsafe_b64encode(b"k:" + NEWLINE_SECRET.encode()).decode(),
    "url-quote": "https://x.test/?t=" + quote(NEWLINE_SECRET, safe=""),
    "url-quote-plus": "q=" + quote_plus(" " + NEWLINE_SECRET),
}


@pytest.mark.parametrize("text", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("known", [SECRET, NEWLINE_SECRET], ids=["known-stripped", "known-with-newline"])
def test_every_form_of_a_secret_is_redacted(text, known):
    redacted = Redactor([known]).text(text)
    assert REDACTED in redacted
    for form in (SECRET, SECRET[2:-2], _b64(SECRET)[2:-2], _b64(SECRET + ":")[2:-4]):
        assert form not in redacted, (text, redacted)


def test_ordinary_text_is_left_alone():
    text = "GET /admin/api/2024-10/orders.json answered HTTP 401 (Basic dXNlcjpvdGhlcg==)"
    assert Redactor([NEWLINE_SECRET, "tiny"]).text(text) == text


# ============================================================================ the config


def _load(data, env):
    return config_mod.from_mapping(data, path=Path("/srv/fulfilhub.toml"), env=env)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"store": {"url": "postgresql://app:${DB_PASSWORD}@db/fulfilhub"}}, "store.url"),
        ({"carriers": {"ep": {"type": "easypost", "api_key": "Bearer ${DB_PASSWORD}"}}}, "carriers.ep.api_key"),
        ({"channels": {"s": {"type": "shopify", "headers": {"X-Token": "v1:${DB_PASSWORD}"}}}}, "channels.s.headers.X-Token"),
    ],
    ids=["store-url", "embedded", "nested"],
)
def test_a_value_with_a_trailing_newline_inside_a_string_is_a_config_error(data, key):
    with pytest.raises(ConfigError) as caught:
        _load(data, {"DB_PASSWORD": "hunter2-xyz\n"})
    message = str(caught.value)
    assert caught.value.key == key
    assert "the value of $DB_PASSWORD ends with a newline; strip it" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(("value", "what"), [(" tok-12345", "starts with whitespace"), ("tok-12345\t", "ends with whitespace")])
def test_other_surrounding_whitespace_is_named_too(value, what):
    with pytest.raises(ConfigError) as caught:
        _load({"store": {"url": "postgresql://app:${PW}@db/x"}}, {"PW": value})
    assert f"$PW {what}" in str(caught.value) and "tok-12345" not in str(caught.value)


def test_a_whitespace_only_value_is_refused():
    with pytest.raises(ConfigError) as caught:
        _load({"channels": {"s": {"type": "shopify", "access_token": "${T}"}}}, {"T": "\n"})
    assert "$T is only whitespace" in str(caught.value)


def test_a_whole_value_secret_is_stripped_by_its_declared_setting_and_both_forms_are_redacted():
    config = _load({"channels": {"s": {"type": "shopify", "access_token": "${T}"}}}, {"T": NEWLINE_SECRET})
    settings = config.channels["s"].settings
    assert Setting(str, secret=True).read("access_token", settings, "channels.s.access_token") == SECRET
    assert NEWLINE_SECRET in config.secrets and SECRET in config.secrets


# ============================================================================ an unsendable header


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        _Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "kwargs",
    [{"headers": {"X-Shopify-Access-Token": NEWLINE_SECRET}}, {"headers": {"Authorization": "Bearer tok\u00e9n-" + SECRET}}],
    ids=["newline", "not-ascii"],
)
def test_an_invalid_header_is_permanent_names_the_instance_and_is_not_retried(server, kwargs, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [NEWLINE_SECRET, "tok\u00e9n-" + SECRET]
    made: list[HttpClient] = []
    with pytest.raises(PermanentError) as caught:
        made.append(HttpClient(server, service="my-shop", secrets=secrets, policy=FAST_RETRIES, **kwargs))
        made[0].get("/admin/api/2024-10/orders.json")
    assert [client.requests_sent for client in made] in ([], [1])  # refused when built, or after one try
    message = str(caught.value)
    assert "my-shop" in message and "cannot be sent" in message and "strip it" in message
    assert list(kwargs["headers"])[0].lower() in message.lower()
    assert _Recorder.seen == []  # nothing reached the server
    assert SECRET not in message and SECRET not in caplog.text
    ok = HttpClient(server, service="my-shop", policy=FAST_RETRIES, headers={"X-Shopify-Access-Token": SECRET})
    assert ok.get("/ok").status_code == 200  # the same value, stripped, is sent


# ============================================================================ end to end through the CLI

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
TOKEN = "shpat_e2e_secret_7f3a91"
KEY = "EZTKe2esecret7f3a91c2"


def _plugins() -> PluginManager:
    return PluginManager(load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost])


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = build_world(
        _plugins(),
        tmp_path,
        start=START,
        seed=3,
        options={"shopify": {"orders_per_day": 0, "update_rate": 0.0}, "easypost": {"exception_rate": 0.0}},
        instances={"shopify": "shop"},
        env={"SHOP_TOKEN": TOKEN, "EP_KEY": KEY},
        env_names={"FULFILHUB_DEMO_SHOPIFY_TOKEN": "SHOP_TOKEN", "FULFILHUB_DEMO_EASYPOST_KEY": "EP_KEY"},
        policy=FAST_RETRIES,
    )
    monkeypatch.setattr(cli_mod, "_MANAGER", _plugins())
    yield world
    world.close()


def _leaks(text: str) -> list[str]:
    """Every recognisable form of either secret found in ``text``."""
    found = []
    for secret in (TOKEN, KEY):
        for form in (secret, secret[3:-3], _b64(secret)[2:-2], quote(secret), json.dumps(secret)[1:-1]):
            if form in text:
                found.append(form)
    return found


def _database_text(world) -> str:
    path = world.config.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")]
        assert {"outbox", "quarantine"} <= set(tables)
        return "\n".join(repr(row) for table in tables for row in conn.execute(f"select * from {table}"))  # noqa: S608


def test_tokens_with_a_trailing_newline_work_and_leak_nowhere(world, monkeypatch):
    shop = world.sandbox.simulators["shopify"]
    sku = shop.catalog[0]["sku"]
    world.stock("east", sku, 5)
    shop.add_order([{"sku": sku, "quantity": 1}])
    shop.add_order([{"sku": sku, "quantity": 1}], malformed="price_comma")  # quarantined, with its reason
    world.clock.advance(3600)
    monkeypatch.setenv("SHOP_TOKEN", TOKEN + "\n")
    monkeypatch.setenv("EP_KEY", KEY + "\n")
    runner = CliRunner()
    synced = runner.invoke(main, ["-c", str(world.config_path), "sync", "--json"], catch_exceptions=False)
    assert synced.exit_code in (0, 1), synced.output
    counts = json.loads(synced.stdout)["counts"]
    assert counts["orders_new"] == 1  # the stripped token reached the shop
    loud = runner.invoke(main, ["-c", str(world.config_path), "-vv", "--debug-http", "sync"], catch_exceptions=False)
    assert loud.exit_code in (0, 1), loud.output
    assert "DEBUG" in loud.stderr  # the -vv log was really written
    for text in (synced.stdout, synced.stderr, loud.stdout, loud.stderr, _database_text(world)):
        assert _leaks(text) == []


def test_a_secret_with_a_newline_inside_a_value_is_a_config_error_naming_key_and_variable(world, monkeypatch):
    text = world.config_path.read_text().replace('api_key = "${EP_KEY}"', 'api_key = "Key ${EP_KEY}"')
    assert "Key ${EP_KEY}" in text
    world.config_path.write_text(text)
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    monkeypatch.setenv("EP_KEY", KEY + "\n")
    result = CliRunner().invoke(main, ["-c", str(world.config_path), "sync", "--json"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "api_key" in result.output and "$EP_KEY ends with a newline" in result.output
    assert _leaks(result.output) == [] and _leaks(result.stderr) == []


class _CarelessShopify:
    """A third-party-like plugin: the Shopify adapter with its token declared as a plain string,
    so the token reaches the header as the environment gave it (trailing newline and all)."""

    from fulfilhub import hookimpl

    @staticmethod
    @hookimpl
    def register_channel_types(register):
        from fulfilhub import ChannelType

        from fulfilhub_shopify import ShopifyChannel
        from fulfilhub_shopify.channel import SETTINGS

        settings = {**SETTINGS, "access_token": Setting(str, help="the token, declared without secret=True")}
        register(ChannelType(name="careless-shopify", factory=ShopifyChannel, description="test", settings=settings))


def test_a_padded_token_a_plugin_does_not_declare_secret_is_a_config_error_and_leaks_nowhere(world, monkeypatch):
    """A plugin that does not strip its token would send it with its newline: the runtime
    refuses the padded value before any work, naming the setting, never showing it.
    (Were it sent anyway, the HTTP helper makes it a permanent error: see
    test_an_invalid_header_is_permanent_names_the_instance_and_is_not_retried.)"""
    monkeypatch.setattr(cli_mod, "_MANAGER", PluginManager(
        load_installed=False, extra=[fulfilhub_shopify, fulfilhub_easypost, _CarelessShopify]
    ))
    text = world.config_path.read_text()
    base_url = next(line for line in text.splitlines() if line.startswith('base_url = "http') and "shopify" in line)
    world.config_path.write_text(
        text + f'\n[channels.careless]\ntype = "careless-shopify"\nshop = "demo-shop"\n{base_url}\n'
        'access_token = "${SHOP_TOKEN}"\n'
    )
    monkeypatch.setenv("SHOP_TOKEN", TOKEN + "\n")
    monkeypatch.setenv("EP_KEY", KEY)
    runner = CliRunner()
    synced = runner.invoke(main, ["-c", str(world.config_path), "-vv", "sync", "--json"], catch_exceptions=False)
    assert synced.exit_code == 2, synced.output
    said = synced.stdout + synced.stderr
    assert "channels.careless.access_token" in said and "whitespace around it" in said
    for text in (synced.stdout, synced.stderr, _database_text(world)):
        assert _leaks(text) == []


# ============================================================================ doctor, typo'd or not

from fulfilhub_easypost.carrier import SETTINGS as EASYPOST_SETTINGS  # noqa: E402
from fulfilhub_shopify.channel import SETTINGS as SHOPIFY_SETTINGS  # noqa: E402

EXTRA = "whsec_e2e_secret_91c2ab"

#: Every secret-bearing setting of the world's instances: (section, key).
SECRET_SETTINGS = [("channels.shop", key) for key, s in SHOPIFY_SETTINGS.items() if s.secret] + [
    ("carriers.easypost", key) for key, s in EASYPOST_SETTINGS.items() if s.secret] + [("server", "metrics_token")]


def _typo(key: str) -> str:
    return key[0] + key[2:]  # drop the second letter: access_token -> acess_token


def _with_secret(world, section: str, key: str) -> None:
    """Give ``[section] key`` the value ``${EXTRA_SECRET}``, replacing the line it had if any."""
    lines = world.config_path.read_text().splitlines()
    if f"[{section}]" not in lines:
        lines += ["", f"[{section}]"]
    at = lines.index(f"[{section}]")
    end = next((i for i in range(at + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [line for line in lines[at + 1:end] if not line.startswith(f"{key} =")]
    lines[at + 1:end] = body + [f'{key} = "${{EXTRA_SECRET}}"']
    world.config_path.write_text("\n".join(lines) + "\n")


def _all_leaks(text: str) -> list[str]:
    return _leaks(text) + [form for form in (EXTRA, EXTRA[3:-3], _b64(EXTRA)[2:-2]) if form in text]


@pytest.mark.parametrize("typo", [False, True], ids=["spelt-right", "typo"])
@pytest.mark.parametrize(("section", "key"), SECRET_SETTINGS, ids=[f"{s}.{k}" for s, k in SECRET_SETTINGS])
def test_doctor_sync_and_the_store_never_show_a_secret_setting_typod_or_not(world, monkeypatch, section, key, typo):
    """`acess_token = "${SHOPIFY_ACCESS_TOKEN}"` once made doctor print the token in its
    "unknown setting" line; every secret-bearing setting, typo'd or not, stays hidden in
    doctor, doctor --json, -vv and --debug-http, the errors and the store."""
    written = _typo(key) if typo else key
    if typo:  # keep the required setting spelt right too, so only the typo'd key is wrong
        lines = world.config_path.read_text()
        if f"\n{key} =" not in lines:
            _with_secret(world, section, key)
    _with_secret(world, section, written)
    assert f'{written} = "${{EXTRA_SECRET}}"' in world.config_path.read_text()
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    monkeypatch.setenv("EP_KEY", KEY)
    monkeypatch.setenv("EXTRA_SECRET", EXTRA)
    runner = CliRunner()
    config = ["-c", str(world.config_path)]
    said = []
    for args in (["doctor"], ["doctor", "--json"], ["-vv", "--debug-http", "doctor"], ["sync", "--json"],
                 ["-vv", "--debug-http", "sync"]):
        result = runner.invoke(main, config + args, catch_exceptions=False)
        said += [result.stdout, result.stderr]
        if typo:
            assert result.exit_code in (1, 2), (args, result.output)
            assert "unknown setting" in result.output
    if typo:
        if section != "server":  # an instance's: named, its value said to be hidden
            assert f"unknown setting {written!r} = (a value from the environment, not shown)" in said[2]
    else:
        assert "DEBUG" in said[5] + said[9]  # -vv really logged
    for text in [*said, _database_text(world)]:
        assert _all_leaks(text) == []
