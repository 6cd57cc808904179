"""``fulfilhub sandbox --quickstart DIR``: a workspace pointed at the running sandbox.

Built from what the simulators describe (their :class:`~fulfilhub.sandbox.DemoPart`),
like ``fulfilhub demo``: a config with one instance per simulator plus the scenario's
local warehouses, a migrated store, the shops' catalog in stock, and orders already
waiting in each shop (the channel simulators' ``preload`` option).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..clock import SystemClock
from ..config import DEFAULT_PATH
from ..config import load as load_config
from ..errors import ConfigError
from ..plugins import PluginManager
from ..sandbox import SandboxServer, Simulator
from ..scenarios.world import WAREHOUSES, choose_warehouses, config_text, demo_parts
from ..store import Store
from ..store import stock as stock_store

#: Units of each catalog SKU put in each warehouse.
ON_HAND = 100

__all__ = ["finish", "next_command", "prepare", "webhook_options", "webhook_targets"]


def webhook_options(sims: Mapping[str, Simulator], options: dict[str, dict[str, Any]]) -> None:
    """Give each simulator the secret it signs its webhooks with (``DemoPart.webhooks``;
    from the environment where set, else the demo value)."""
    for name, part in choose_warehouses(demo_parts(sims), ()).items():
        for secret in part.webhooks.values():
            options.setdefault(name, {}).setdefault(secret.option, os.environ.get(secret.env, secret.value))


def webhook_targets(sims: Mapping[str, Simulator], url: str) -> dict[str, str]:
    """Where each simulator that pushes webhooks sends them: ``URL/webhooks/<its instance>``."""
    return {name: f"{url.rstrip('/')}/webhooks/{part.instance}"
            for name, part in choose_warehouses(demo_parts(sims), ()).items() if part.webhooks}


def _parts(sims: Mapping[str, Simulator], webhooks: bool) -> dict[str, Any]:
    parts = choose_warehouses(demo_parts(sims), ())  # the local warehouses; a 3PL is the demo's --warehouse
    if webhooks:
        parts = {name: attrs.evolve(part, secrets={**part.secrets, **part.webhooks}) for name, part in parts.items()}
    return parts


def prepare(folder: Path, sims: Mapping[str, Simulator], options: dict[str, dict[str, Any]], *, preload: int,
            webhooks: bool = False) -> Path:
    """Check the folder and fill in the simulators' options (their demo options, their
    credentials, ``preload`` for shops) in ``options``. Returns the resolved folder."""
    folder = folder.resolve()
    if (folder / DEFAULT_PATH).exists():
        raise ConfigError(f"{folder / DEFAULT_PATH} already exists; name an empty folder for --quickstart, "
                          f"or run `fulfilhub -c {folder / DEFAULT_PATH} sync` against a sandbox started as before")
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in _parts(sims, webhooks).items():
        given = options.setdefault(name, {})
        for key, value in part.options.items():
            given.setdefault(key, value)
        for secret in part.secrets.values():
            given.setdefault(secret.option, secret.value)
        if part.kind == "channels":
            given.setdefault("preload", preload)
    return folder


def finish(folder: Path, server: SandboxServer, plugins: PluginManager, *, webhooks: bool = False) -> Path:
    """Write the config (with the webhook secrets when the simulators push webhooks),
    create the store and stock every warehouse with the shops' catalog."""
    parts = _parts(plugins.registry.simulators, webhooks)
    config_path = folder / DEFAULT_PATH
    config_path.write_text(
        config_text(server, parts, {}, {}, {}, WAREHOUSES, "", "sqlite:///fulfilhub.sqlite")
        .replace("# Written by a fulfilhub scenario (`fulfilhub demo` or the slice tests). The sandbox it\n"
                 "# points at is gone when the scenario ends; the store stays for `fulfilhub orders ...`.",
                 f"# Written by `fulfilhub sandbox --quickstart`: instances point at the sandbox on port {server.port}."),
        encoding="utf-8",
    )
    config = load_config(config_path, strict_env=False)
    store = Store.open(config.store_url, migrate=True)
    try:
        now = SystemClock().now()
        with store.transaction() as tx:
            for name, part in parts.items():
                if part.kind != "channels":
                    continue
                for item in server.simulators[name].catalog:
                    for warehouse in config.warehouses:
                        stock_store.set_level(tx, warehouse, item["sku"], ON_HAND, now, safety_stock=0,
                                              unit_weight_g=int(item.get("grams") or 400))
    finally:
        store.close()
    return config_path


def next_command(config_path: Path, sims: Mapping[str, Simulator], *, webhooks: bool = False) -> str:
    """The shell lines to run next: the simulators' demo credentials, then ``sync``."""
    lines = []
    for part in _parts(sims, webhooks).values():
        for secret in part.secrets.values():
            lines.append(f"  export {secret.env}={shlex.quote(secret.value)}")
    config = shlex.quote(str(config_path))
    lines.append(f"  fulfilhub -c {config} sync && fulfilhub -c {config} orders list")
    return "\n".join(lines)
