"""docs/tutorial.md, followed step by step: every command run, every code block applied.

The package is written with the tutorial's own ``fulfilhub new`` command; each
``# file: PATH`` block replaces the top-level definitions of the same names in that
file (``, in class NAME``: inside the class), or adds them; the TOML block configures an
instance that builds; then the package's tests run (the conformance suite included)
and its wheel is built. Installing into a virtualenv and discovery through the entry
point are what tests/test_scaffold.py checks, so here the package is imported from its
``src`` folder and the entry-point check is left out.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.plugins import PluginManager
from fulfilhub.testing import instance_context

from .test_docs import read

BLOCK = re.compile(r"^```(sh|python|toml)\n(.*?)^```\s*$", re.M | re.S)
HEADER = re.compile(r"# file: (\S+?)(?:, in class (\w+))?\n")


def steps() -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in BLOCK.findall(read("tutorial.md"))]


def apply(root: Path, block: str) -> None:
    """Replace (or add) the block's top-level definitions in the file its header names."""
    header = HEADER.match(block)
    assert header, f"a python block of the tutorial does not start with '# file: PATH': {block[:80]!r}"
    path, in_class = root / header.group(1), header.group(2)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    scope = tree.body
    indent = ""
    if in_class:
        [cls] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == in_class]
        scope, indent = cls.body, " " * cls.body[0].col_offset
    new_nodes = ast.parse(block).body
    for node in reversed(new_nodes):
        name = _name(node)
        source = "".join(indent + line if line.strip() else line
                         for line in ast.get_source_segment(block, node, padded=False).splitlines(keepends=True))
        if not source.endswith("\n"):
            source += "\n"
        old = next((n for n in scope if _name(n) == name), None)
        if old is not None:
            start = (old.decorator_list[0].lineno if getattr(old, "decorator_list", None) else old.lineno) - 1
            lines[start:old.end_lineno] = [source]
        else:
            lines.append("\n\n" + source)
    path.write_text("".join(lines), encoding="utf-8")
    ast.parse(path.read_text(encoding="utf-8"))


def _name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def test_the_tutorial_runs_from_fulfilhub_new_to_a_built_wheel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "fulfilhub-swiftship"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULFILHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = str(root / "src")
    ran = {"new": 0, "pytest": 0, "wheel": 0, "python": 0, "toml": 0}
    for kind, body in steps():
        if kind == "python":
            apply(root, body)
            ran["python"] += 1
        elif kind == "toml":
            sys.path.insert(0, str(root / "src"))
            try:
                package = importlib.import_module("fulfilhub_swiftship")
                [(name, settings)] = tomllib.loads(body)["carriers"].items()
                registered = PluginManager(load_installed=False, extra=[package]).registry.carriers[settings["type"]]
                settings = {k: ("sk_test_1234" if v == "${SWIFTSHIP_API_KEY}" else v) for k, v in settings.items()}
                carrier = registered.factory(instance_context(name, {k: v for k, v in settings.items() if k != "type"},
                                                              kind="carriers", schema=registered.settings,
                                                              secrets=["sk_test_1234"]))
                assert carrier.services == {"express"}
                carrier.close()
            finally:
                sys.path.remove(str(root / "src"))
                for module in [m for m in sys.modules if m.startswith("fulfilhub_swiftship")]:
                    del sys.modules[module]
            ran["toml"] += 1
        else:
            for command in body.strip().splitlines():
                words = shlex.split(command)
                if words[:2] == ["fulfilhub", "new"]:
                    result = CliRunner().invoke(main, words[1:])
                    assert result.exit_code == 0, result.output
                    ran["new"] += 1
                elif words[-1].endswith("pytest") and ran["python"]:  # the run after the steps' changes
                    tested = subprocess.run(
                        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests", "-k", "not entry_point"],
                        cwd=root, capture_output=True, text=True, env=env, timeout=300)
                    assert tested.returncode == 0, tested.stdout[-4000:]
                    assert "test_a_parcel_held_at_customs_is_an_exception_with_the_customs_reason PASSED" in tested.stdout
                    ran["pytest"] += 1
                elif "pip wheel" in command:
                    built = subprocess.run(
                        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                         "-w", "dist", "."], cwd=root, capture_output=True, text=True, env=env, timeout=300)
                    assert built.returncode == 0, built.stderr[-3000:]
                    assert list((root / "dist").glob("fulfilhub_swiftship-0.1.0-py3-none-any.whl"))
                    ran["wheel"] += 1
    assert ran == {"new": 1, "pytest": 1, "wheel": 1, "python": 4, "toml": 1}, ran
