"""The public surface: ``fulfilhub.__all__``, the error hierarchy, and that hooks are honest."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import re
from pathlib import Path

import fulfilhub
import fulfilhub.errors
import fulfilhub.hookspecs
from fulfilhub.plugins import PluginManager



# ------------------------------------------------------------------ __all__


def test_all_is_sorted_and_unique():
    assert fulfilhub.__all__ == sorted(fulfilhub.__all__)
    assert len(set(fulfilhub.__all__)) == len(fulfilhub.__all__)


def test_every_name_in_all_is_importable():
    namespace: dict = {}
    exec(f"from fulfilhub import {', '.join(fulfilhub.__all__)}", namespace)  # what a user writes
    missing = [name for name in fulfilhub.__all__ if namespace.get(name) is None]
    assert missing == []


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from fulfilhub import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(fulfilhub.__all__)


def test_every_error_is_public():
    errors = {name for name, obj in vars(fulfilhub.errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert errors <= set(fulfilhub.__all__)


def test_version_matches_the_installed_distribution():
    assert fulfilhub.__version__ == importlib.metadata.version("fulfilhub")


# ------------------------------------------------------------------ the error tree


def _error_classes() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(fulfilhub.errors).items()
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == "fulfilhub.errors"
    }


def _tree() -> dict[str, str | None]:
    """``{class name: parent name}`` as drawn in the literal block after "The hierarchy::"."""
    block = fulfilhub.errors.__doc__.split("The hierarchy::", 1)[1].split("\n\n")[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in block.splitlines():
        match = re.search(r"[A-Za-z]\w*", line)
        depth, name = match.start(), match.group()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_every_error_class_is_in_the_docstring_tree():
    drawn = _tree()
    assert set(_error_classes()) == set(drawn), "the tree and the module disagree"


def test_docstring_tree_matches_the_real_hierarchy():
    classes = _error_classes()
    for name, parent in _tree().items():
        base = classes[name].__bases__[0]
        if parent is None:
            assert base is Exception, name
        else:
            assert base is classes[parent], f"{name} is drawn under {parent} but subclasses {base.__name__}"


def test_every_error_is_a_fulfilhub_error():
    for name, cls in _error_classes().items():
        assert issubclass(cls, fulfilhub.FulfilhubError), name
        assert cls.__doc__, f"{name} has no docstring"


# ------------------------------------------------------------------ hooks: called, or said not to be


def _hook_names() -> list[str]:
    """Functions in hookspecs.py decorated with ``@hookspec`` or ``@hookspec(...)``."""
    tree = ast.parse(Path(fulfilhub.hookspecs.__file__).read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Name) and target.id == "hookspec":
                names.append(node.name)
    return names


def test_hook_parser_finds_every_registered_hookspec():
    manager = PluginManager(load_installed=False, load_defaults=False)
    specs = {name for name, caller in vars(manager.pm.hook).items() if getattr(caller, "spec", None)}
    assert set(_hook_names()) == specs
    assert specs


SRC = Path(fulfilhub.__file__).parent
NOT_CALLED_YET = "Not called by any engine yet"


def _core_source(*, exclude: tuple[str, ...] = ("plugins.py", "hookspecs.py")) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(SRC.rglob("*.py")) if p.name not in exclude)


def test_every_decision_and_event_hook_has_a_caller_in_the_core():
    """A hook nobody calls is a promise the core does not keep (behaviour is tested in
    tests/slice/test_hooks_behaviour.py; this catches a hookspec left without a caller)."""
    source = _core_source()
    registration = {name for name in _hook_names() if name.startswith("register_") and name != "register_commands"}
    uncalled = [name for name in _hook_names() if name not in registration and f".{name}(" not in source]
    assert uncalled == []


def test_no_hook_says_it_is_not_called_yet_and_the_notifier_and_policy_registries_are_used():
    """Every registration hook has a caller now: the notify job sends through the
    registered notifiers, the compensation engine asks the registered policies."""
    engines = "\n".join(
        p.read_text(encoding="utf-8") for folder in ("engines", "runner") for p in sorted((SRC / folder).rglob("*.py"))
    )
    for name in _hook_names():
        assert NOT_CALLED_YET not in (inspect.getdoc(getattr(fulfilhub.hookspecs, name)) or ""), name
    assert "registry.policies" in engines
    assert 'rt.notifier(' in engines


def test_every_hook_is_documented_and_typed():
    for name in _hook_names():
        fn = getattr(fulfilhub.hookspecs, name)
        assert inspect.getdoc(fn), f"hook {name} has no docstring"
        params = inspect.signature(fn).parameters.values()
        assert params and all(p.annotation is not inspect.Parameter.empty for p in params), name
        assert all(p.default is inspect.Parameter.empty for p in params), f"hook {name} gives an argument a default"


def test_hooks_and_their_typed_wrapper_name_real_types_not_any():
    from fulfilhub.plugins import Hooks

    for name in _hook_names():
        annotations = inspect.get_annotations(getattr(fulfilhub.hookspecs, name))
        assert not [a for a in annotations.values() if "Any" in str(a)], f"hookspec {name} uses Any"
    for name, method in inspect.getmembers(Hooks, inspect.isfunction):
        if name.startswith("_"):
            continue
        annotations = inspect.get_annotations(method)
        assert annotations and not [a for a in annotations.values() if "Any" in str(a)], f"Hooks.{name} uses Any"
        if name != "wants":
            assert name in _hook_names(), f"Hooks.{name} is not a hook"
