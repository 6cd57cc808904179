"""``fulfilhub new``: write a plugin package that installs, registers and passes the conformance suite.

:func:`render` copies the templates of one kind (``templates/<kind>/``, plus
``templates/common/``) into a new folder, filling in the plugin's names. A template
``x.py.tmpl`` becomes ``src/<package>/x.py``, or ``tests/x.py`` when its name starts
with ``test_``; ``pyproject.toml.tmpl`` and ``README.md.tmpl`` go to the top. The
placeholders are ``{{name}}`` (the type and entry-point name, ``swiftship``),
``{{package}}`` (``fulfilhub_swiftship``), ``{{dist}}`` (``fulfilhub-swiftship``),
``{{Class}}`` (``Swiftship``), ``{{title}}`` (``Swiftship``), ``{{NAME}}``
(``SWIFTSHIP``), ``{{kind}}`` and ``{{version}}`` (the fulfilhub that wrote it).

This module imports nothing of fulfilhub but the errors.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

#: The kinds ``fulfilhub new`` writes, with what each registers.
KINDS = {
    "carrier": "a carrier type (a courier API) and its simulator",
    "channel": "a channel type (a shop or marketplace) and its simulator",
    "warehouse": "a warehouse type (a 3PL API) and its simulator",
    "notifier": "a notifier type (delivers rendered messages)",
    "policy": "a compensation policy",
}
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def names(name: str) -> dict[str, str]:
    """Every form of the plugin's name a template uses; ConfigError for a name that cannot be one."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name) or len(name) > 40:
        raise ConfigError(
            f"{name!r} cannot name a plugin: use lower-case letters, digits and single underscores, "
            "starting with a letter (e.g. swiftship or swift_ship)",
            key="NAME",
        )
    parts = name.split("_")
    return {
        "name": name,
        "package": f"fulfilhub_{name}",
        "dist": f"fulfilhub-{name.replace('_', '-')}",
        "Class": "".join(part.capitalize() for part in parts),
        "title": "".join(part.capitalize() for part in parts),
        "NAME": name.upper(),
    }


def render(kind: str, name: str, directory: Path) -> list[Path]:
    """Write the ``kind`` plugin ``name`` into ``directory`` (which must not exist or be empty).

    Returns the files written, relative to ``directory``.
    """
    from .. import __version__

    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", key="KIND")
    values = {**names(name), "kind": kind, "version": __version__}
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigError(f"{directory} exists and is not an empty folder; choose another with --dir", key="--dir")
    root = resources.files(__name__) / "templates"
    written: list[Path] = []
    for folder in ("common", kind):
        for template in sorted((root / folder).iterdir(), key=lambda t: t.name):
            if not template.name.endswith(".tmpl"):
                continue
            target = template.name.removesuffix(".tmpl")
            if target.endswith(".py"):
                target = f"tests/{target}" if target.startswith("test_") else f"src/{values['package']}/{target}"
            path = directory / target
            path.parent.mkdir(parents=True, exist_ok=True)
            text = template.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            path.write_text(text, encoding="utf-8")
            written.append(Path(target))
    return written
