"""``[server]``: defaults, values, and every mistake named with its key."""

from __future__ import annotations

import pytest

from fulfilhub import config as fconfig
from fulfilhub.errors import ConfigError

BASE = '[warehouses.main]\ntype = "local"\n'


def _load(tmp_path, server: str):
    path = tmp_path / "fulfilhub.toml"
    path.write_text(BASE + server, encoding="utf-8")
    return fconfig.load(path, env={})


def test_defaults_and_values(tmp_path):
    assert _load(tmp_path, "").server == fconfig.ServerConfig()
    got = _load(tmp_path, '[server]\nhost = "0.0.0.0"\nport = 9000\npublic_url = "https://t.example.com"\n'
                          'cors_origins = ["https://shop.example.com"]\nrate_limit_per_minute = 60\n'
                          'webhook_tolerance_seconds = 300\nmax_body_bytes = 4096\n').server
    assert (got.host, got.port, got.public_url, got.cors_origins) == ("0.0.0.0", 9000, "https://t.example.com",
                                                                      ("https://shop.example.com",))
    assert (got.rate_limit_per_minute, got.webhook_tolerance_seconds, got.max_body_bytes) == (60, 300, 4096)


@pytest.mark.parametrize(("line", "key", "words"), [
    ("port = 0", "server.port", "from 1 to 65535"),
    ('port = "80"', "server.port", "whole number"),
    ("max_body_bytes = 10", "server.max_body_bytes", "from 1024"),
    ('cors_origins = ["https://shop.example.com/"]', "server.cors_origins", "no path or trailing slash"),
    ('cors_origins = "https://shop.example.com"', "server.cors_origins", "a list of origins"),
    ('public_url = "track.example.com"', "server.public_url", "http:// or https://"),
    ("webhook_tolerance = 30", "server.webhook_tolerance", "did you mean 'webhook_tolerance_seconds'"),
])
def test_a_mistake_names_the_key(tmp_path, line, key, words):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"[server]\n{line}\n")
    assert caught.value.key == key and words in str(caught.value)
