"""``fulfilhub sync`` never imports simulator code, and the sandbox imports nothing above it."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import fulfilhub

from .conftest import ENV

RUNNER = """
import json, sys
from fulfilhub.config import load
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store

config = load(sys.argv[1])
store = Store.open(config.store_url)
pm = PluginManager()
rt = Runtime(config, store, pm)
report = jobs.summarize(jobs.sync_once(rt))
rt.close()
store.close()
print(json.dumps({
    "simulators": sorted(pm.registry.simulators),
    "new": report.counts.get("orders_new", 0),
    "modules": sorted(sys.modules),
}))
"""


def test_a_sync_pass_in_a_runner_process_imports_no_simulator_module(world):
    for _ in range(3):
        world.shop.add_order([{"sku": "TEE-ORG-M", "quantity": 1}])
    env = {**os.environ, **ENV, "FULFILHUB_PLUGINS": "shopify,easypost"}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(world.config_path)],
        capture_output=True, text=True, env=env, timeout=120, cwd=world.config_path.parent,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The plugins were loaded and registered their simulators, and the pass did real work...
    assert seen["simulators"] == ["easypost", "shopify"]
    assert seen["new"] == 3
    assert "fulfilhub_shopify" in seen["modules"]
    assert "fulfilhub_easypost" in seen["modules"]
    # ...without importing any simulator, the sandbox server or the scenario layer.
    loaded = [m for m in seen["modules"] if m.startswith(("fulfilhub_shopify.sim", "fulfilhub_easypost.simulator",
                                                          "fulfilhub.sandbox.server", "fulfilhub.scenarios", "uvicorn"))]
    assert loaded == []


PACKAGE = Path(fulfilhub.__file__).parent
ABOVE_THE_SANDBOX = ("adapters", "plugins", "hookspecs", "runner", "cli", "scenarios", "engines", "default_plugins")


def imported_rooms(path: Path, relative: Path) -> set[str]:
    """Every fulfilhub room a module imports, TYPE_CHECKING and function-level imports included.

    ``relative`` is the module's path under ``src/fulfilhub`` (for relative imports).
    """
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(relative.parent.parts)[: len(relative.parent.parts) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts + [a.name] for a in node.names] if not node.module else [parts]
            elif (node.module or "").startswith("fulfilhub.") or node.module == "fulfilhub":
                parts = node.module.split(".")[1:]
                names = [parts + [a.name] for a in node.names] if not parts else [parts]
            else:
                continue
            rooms |= {n[0].removesuffix(".py") for n in names if n}
        elif isinstance(node, ast.Import):
            rooms |= {a.name.split(".")[1] for a in node.names if a.name.startswith("fulfilhub.")}
    return rooms


def test_the_sandbox_imports_no_room_above_it_not_even_for_type_hints():
    offending = {}
    for path in sorted((PACKAGE / "sandbox").rglob("*.py")):
        above = imported_rooms(path, path.relative_to(PACKAGE)) & set(ABOVE_THE_SANDBOX)
        if above:
            offending[str(path.relative_to(PACKAGE))] = sorted(above)
    assert offending == {}


def test_the_room_check_sees_a_type_checking_import(tmp_path):
    """The check above can fail: the import circle it guards against is caught."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..adapters import Channel\n"
                     "def later():\n    from fulfilhub.runner import jobs\n")
    assert imported_rooms(probe, Path("sandbox/probe.py")) == {"adapters", "runner"}
