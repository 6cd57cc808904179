"""The rooms' rules, stricter than the room table alone.

``test_docs.test_imports_flow_one_way_as_the_room_table_says`` checks the run-time
imports against the room table of docs/architecture.md (models/clock/errors < http,
store, plugins, sandbox toolkit < engines, sdk < default plugins < runner < server,
scenarios < cli). Here:

- upward imports are refused under ``if TYPE_CHECKING:`` and inside functions too (an
  import circle through type hints still ties the rooms together), so no engine imports
  a default plugin;
- SQLAlchemy is imported under ``store/`` alone;
- no import circle inside ``src/fulfilhub``, late imports included;
- ``plugins/``, ``contrib/`` and the scaffold templates import only the public modules.

Where another room's owner still has work to do, a pending list names the files; each
list may only shrink (a test fails on an entry that no longer needs to be there).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import PurePosixPath

from .test_docs import PACKAGE, level_of, module_file


def every_import(source: str, relative: str) -> list[str]:
    """Files of fulfilhub that ``source`` (the file ``relative`` under src/fulfilhub) imports."""
    package = list(PurePosixPath(relative).parent.parts)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base, module = package[: len(package) - (node.level - 1)], node.module
            elif (node.module or "").split(".")[0] == "fulfilhub":
                base, module = [], ".".join(node.module.split(".")[1:]) or None
            else:
                continue
            target = base + (module.split(".") if module else [])
            found += [module_file(target + [alias.name]) or module_file(target) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [module_file(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "fulfilhub"]
    return [f for f in found if f]


def upward(source: str, relative: str) -> list[str]:
    own = level_of(relative)
    if own is None:
        return []
    return [
        f"{relative} (level {own}) imports {target} (level {level_of(target)})"
        for target in every_import(source, relative)
        if (level_of(target) or 0) > own
    ]


def test_no_room_imports_a_higher_one_not_even_for_type_hints():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += upward(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix())
    assert found == []


def test_the_check_catches_a_type_hint_import_and_a_late_import():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..runner.runtime import Runtime\n"
        "def later():\n    from fulfilhub.scenarios import build_world\n"
    )
    assert upward(source, "sandbox/toolkit.py") == [
        "sandbox/toolkit.py (level 1) imports runner/runtime.py (level 4)",
        "sandbox/toolkit.py (level 1) imports scenarios/__init__.py (level 5)",
    ]


# --------------------------------------------------------------- plugins/ and contrib/ import public names only

REPO = PACKAGE.parents[1]
#: The modules a plugin may import (docs/sdk.md), and the names of each (None: its ``__all__``).
PUBLIC_MODULES: dict[str, frozenset[str] | None] = {
    "fulfilhub": None,
    "fulfilhub.sdk": None,
    "fulfilhub.sandbox": None,
    "fulfilhub.scenarios": None,
    "fulfilhub.testing": frozenset({"FAST_RETRIES", "instance_context"}),
    "fulfilhub.testing.fuzz": None,
    "fulfilhub.testing.conformance": None,
    "fulfilhub.plugins": frozenset({"ENTRY_POINT_GROUP", "PluginManager"}),
    "fulfilhub.clock": frozenset({"Clock", "SimClock", "SystemClock"}),
}


def public_names(module: str) -> frozenset[str]:
    import importlib

    names = PUBLIC_MODULES[module]
    return names if names is not None else frozenset(importlib.import_module(module).__all__)


def private_imports(source: str, where: str) -> list[str]:
    """The imports in ``source`` of a fulfilhub module or name outside the public surface."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "fulfilhub":
            if node.module not in PUBLIC_MODULES:
                found.append(f"{where}: from {node.module} import ...")
                continue
            found += [f"{where}: {alias.name} from {node.module}" for alias in node.names
                      if alias.name not in public_names(node.module)
                      and f"{node.module}.{alias.name}" not in PUBLIC_MODULES]
        elif isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] == "fulfilhub" and a.name not in PUBLIC_MODULES]
    return found


def test_plugins_and_contrib_import_only_public_names():
    found = []
    for top in ("plugins", "contrib"):
        for path in sorted((REPO / top).rglob("*.py")):
            found += private_imports(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    assert found == []


def test_the_scaffold_templates_import_only_public_modules():
    found = []
    for path in sorted((PACKAGE / "scaffold" / "templates").rglob("*.tmpl")):
        for module in re.findall(r"^\s*(?:from|import) (fulfilhub[\w.]*)", path.read_text(encoding="utf-8"), re.M):
            if module not in PUBLIC_MODULES:
                found.append(f"{path.name}: {module}")
    assert found == []


def test_the_public_import_check_catches_an_internal_module_and_a_private_name():
    source = ("from fulfilhub.models import in_range\nfrom fulfilhub.sdk import parse_time, _shown\n"
              "import fulfilhub.http\nfrom fulfilhub import Money\n")
    assert private_imports(source, "x.py") == [
        "x.py: from fulfilhub.models import ...", "x.py: _shown from fulfilhub.sdk", "x.py: import fulfilhub.http"]


# --------------------------------------------------------------- SQLAlchemy lives under store/

#: Files that still import SQLAlchemy outside store/, each waiting for its own room's
#: owner (none today). An entry whose file no longer imports SQLAlchemy fails the test
#: below, so the list only shrinks.
SQLALCHEMY_PENDING: frozenset[str] = frozenset()


def imports_sqlalchemy(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqlalchemy" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "sqlalchemy":
            return True
    return False


def sqlalchemy_users() -> set[str]:
    return {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
            if imports_sqlalchemy(path.read_text(encoding="utf-8"))}


def test_only_the_store_imports_sqlalchemy_not_even_for_type_hints():
    outside = {f for f in sqlalchemy_users() if not f.startswith("store/")}
    assert sorted(outside - SQLALCHEMY_PENDING) == []


def test_the_pending_sqlalchemy_list_holds_only_files_that_still_need_it():
    assert sorted(SQLALCHEMY_PENDING - sqlalchemy_users()) == []


def test_the_sqlalchemy_check_sees_type_hint_and_late_imports():
    assert imports_sqlalchemy("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from sqlalchemy.engine import Connection\n")
    assert imports_sqlalchemy("def f():\n    import sqlalchemy.exc\n")
    assert not imports_sqlalchemy("from .store import Connection\n")


def test_default_plugins_sit_above_the_engines():
    """An engine importing a default plugin (a replaceable one) is an upward import."""
    assert level_of("default_plugins/compensation_rules.py") > level_of("engines/compensation.py")
    assert upward("from ..default_plugins.compensation_rules import Tier\n", "engines/compensation.py") == [
        "engines/compensation.py (level 2) imports default_plugins/compensation_rules.py (level 3)"]


# --------------------------------------------------------------- no import circle inside src/fulfilhub

#: Files still inside an import circle, waiting for their room's owner (none today; the
#: report's two renderings share cli/report_rows.py). An entry no longer in a circle
#: fails the test below.
CIRCLE_PENDING: frozenset[str] = frozenset()


def run_time_imports(source: str, relative: str) -> list[str]:
    """Like :func:`every_import`, without the imports under ``if TYPE_CHECKING:`` (never run).

    Imports inside functions count: a late import that dodges a circle at load time is
    still a circle between the two modules."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = [ast.Pass()]
    return every_import(ast.unparse(tree), relative)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one file (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@functools.lru_cache(maxsize=1)
def import_graph() -> dict[str, frozenset[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        graph[relative] = frozenset(run_time_imports(path.read_text(encoding="utf-8"), relative)) - {relative}
    return graph


def test_no_import_circle_inside_the_package():
    found = [group for group in circles(import_graph()) if not set(group) <= CIRCLE_PENDING]
    assert found == []


def test_the_pending_circle_list_holds_only_files_still_in_a_circle():
    in_circles = {member for group in circles(import_graph()) for member in group}
    assert sorted(CIRCLE_PENDING - in_circles) == []


def test_the_circle_check_finds_a_late_import_circle():
    assert circles({"runner/jobs.py": {"runner/delays.py"}, "runner/delays.py": {"runner/jobs.py"},
                    "store/orders.py": set()}) == [["runner/delays.py", "runner/jobs.py"]]
    assert run_time_imports("def f():\n    from .jobs import JobReport\n", "runner/delays.py") == ["runner/jobs.py"]
    assert run_time_imports("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .jobs import JobReport\n",
                            "runner/delays.py") == []
