"""The documentation builds as a site (MkDocs + mkdocstrings) with warnings as errors.

Every page in docs/ is in the nav, every link and anchor resolves, and the API pages
mkdocstrings generates from the docstrings build. Skipped, saying why, where MkDocs is
not installed (``pip install -e '.[docs]'``; the ``test`` extra includes it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def nav_pages(nav: list) -> list[str]:
    out = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="MkDocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install -e '.[docs]')")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "tutorial" / "index.html").exists()
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "CarrierSuite" in api  # generated from the docstrings
    from fulfilhub import hookspecs

    hooks = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "fulfilhub_spec")]
    missing = [name for name in hooks if f'id="fulfilhub.hookspecs.{name}"' not in api]
    assert hooks and not missing, f"hooks without their generated signature on the API page: {missing}"


def test_every_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml", reason="PyYAML (a MkDocs dependency) is not installed")
    config = yaml.safe_load(re.sub(r"!!python/\S+", "", (ROOT / "mkdocs.yml").read_text(encoding="utf-8")))
    pages = set(nav_pages(config["nav"]))
    on_disk = {path.name for path in (ROOT / "docs").glob("*.md")}
    assert on_disk - pages == set(), f"pages missing from the nav of mkdocs.yml: {sorted(on_disk - pages)}"
