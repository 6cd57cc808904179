"""``fulfilhub new KIND NAME``: write a plugin package that installs and passes the conformance suite."""

from __future__ import annotations

import importlib.metadata
import json
import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

import click

from ..errors import ConfigError
from ..plugins import ENTRY_POINT_GROUP
from ..scaffold import KINDS, names, render
from .group import console, main


@main.command("new")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the package (default: ./fulfilhub-NAME). Must not exist, or be empty.")
def new(kind: str, name: str, directory: Path | None) -> None:
    """Write a new plugin package: a channel, carrier, warehouse, notifier or policy.

    NAME is the type's name (lower-case letters, digits, single underscores). The
    package has a pyproject with the entry point, the adapter, a pure mapping module, a
    simulator built on the sandbox toolkit (channel, carrier, warehouse), tests using
    the conformance suite, and a README. It installs, `fulfilhub plugins` lists it, and
    its tests pass as written.
    """
    taken = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if taken:
        dist = getattr(taken[0], "dist", None)
        owner = f"{dist.name} {dist.version}" if dist else taken[0].value
        raise ConfigError(f"a plugin named {name!r} is already installed ({owner}); choose another name", key="NAME")
    folder = directory or Path(names(name)["dist"])
    files = render(kind, name, folder)
    console.print(f"Wrote {names(name)['dist']} ({kind}) to {folder}:", markup=False)
    for file in files:
        console.print(f"  {file}", markup=False)
    source = fulfilhub_source()
    install = f"-e {shlex.quote(source)} " if source else ""
    if source:
        console.print(f"fulfilhub is not on a package index: the install step takes it from {source}, "
                      "where the fulfilhub that wrote this package lives.", markup=False)
    console.print(f"Next: cd {shlex.quote(str(folder))} && python3 -m venv .venv && .venv/bin/pip install {install}-e '.[test]' "
                  "&& .venv/bin/pytest", markup=False)


def fulfilhub_source() -> str | None:
    """Where ``pip install`` can find the fulfilhub that is running, or None to take it from an index.

    A checkout (an editable install, or running from the source tree): its folder, the
    one with fulfilhub's ``pyproject.toml``. Installed from a local folder or wheel: that
    path, from the install's ``direct_url.json`` (PEP 610). Otherwise None.
    """
    import fulfilhub

    root = Path(fulfilhub.__file__).resolve().parent.parent.parent  # <checkout>/src/fulfilhub/__init__.py
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "fulfilhub"' in pyproject.read_text(encoding="utf-8"):
        return str(root)
    try:
        direct = json.loads(importlib.metadata.distribution("fulfilhub").read_text("direct_url.json") or "null")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    url = urlparse(direct.get("url", "")) if isinstance(direct, dict) else None
    if url is not None and url.scheme == "file" and Path(unquote(url.path)).exists():
        return unquote(url.path)
    return None
