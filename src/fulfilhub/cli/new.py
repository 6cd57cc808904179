"""``fulfilhub new KIND NAME``: write a plugin package that installs and passes the conformance suite."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

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
    console.print(f"Next: cd {folder} && python3 -m venv .venv && .venv/bin/pip install -e '.[test]' "
                  "&& .venv/bin/pytest", markup=False)
