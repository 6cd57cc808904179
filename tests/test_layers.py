"""Imports flow one way, type hints and function-level imports included.

``test_docs.test_imports_flow_one_way_as_the_room_table_says`` checks the run-time
imports against the room table of docs/architecture.md (models/clock/errors < http,
store, plugins, sandbox toolkit < engines < runner < scenarios < cli). This stricter
check also counts imports under ``if TYPE_CHECKING:`` and inside functions: an import
circle through type hints (adapters -> sandbox -> server -> adapters, once) still ties
the rooms together.
"""

from __future__ import annotations

import ast
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
        "sandbox/toolkit.py (level 1) imports runner/runtime.py (level 3)",
        "sandbox/toolkit.py (level 1) imports scenarios/__init__.py (level 4)",
    ]
