"""``fulfilhub new``'s printed install step works where fulfilhub is on no package index.

A fresh virtualenv sees every package of this environment except fulfilhub itself (and
its plugins), as a machine with a checkout and nothing installed from it would; pip may
not use an index. The step as ``fulfilhub new`` prints it must resolve there: it names the
checkout the running fulfilhub comes from. (``pip install -e '.[test]'`` alone fails with
"No matching distribution found for fulfilhub".)
"""

from __future__ import annotations

import os
import re
import shlex
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.cli.new import fulfilhub_source


def _without_fulfilhub(path: Path) -> Path:
    """A fresh virtualenv that sees this environment's packages, fulfilhub's excepted; its python."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    purelib = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    outer = path / "outer"
    outer.mkdir()
    for folder in (Path(p) for p in site.getsitepackages() if Path(p).is_dir()):
        for entry in folder.iterdir():
            if "fulfilhub" in entry.name.lower() or (outer / entry.name).exists():
                continue
            (outer / entry.name).symlink_to(entry)
    (purelib / "_outer.pth").write_text(f"import site; site.addsitedir({str(outer)!r})\n", encoding="utf-8")
    return python


def test_the_printed_install_step_names_the_checkout_and_resolves_without_an_index(tmp_path):
    source = fulfilhub_source()
    if source is None:
        pytest.skip("this fulfilhub was installed from an index, not from a checkout or local file")
    result = CliRunner().invoke(main, ["new", "carrier", "kit_install", "--dir", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output
    step = next(line for line in result.output.splitlines() if line.startswith("Next: "))
    pip = re.search(r"\.venv/bin/pip install (.+?) && ", step)
    assert pip, step
    args = shlex.split(pip.group(1))
    assert args[:2] == ["-e", source]
    assert Path(source, "src", "fulfilhub", "__init__.py").is_file()
    python = _without_fulfilhub(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULFILHUB_", "PYTEST_", "PIP_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no find-links or index from this machine's pip.conf

    def resolve(pip_args: list[str]) -> subprocess.CompletedProcess[str]:
        # the same requirements, built as plain wheels (hatchling's editable hook needs
        # `editables`, which pip would fetch into an isolated build)
        pip_args = [arg for arg in pip_args if arg != "-e"]
        return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--dry-run", "-q",
                               "--no-index", "--no-build-isolation", *pip_args], cwd=tmp_path / "pkg",
                              capture_output=True, text=True, env=env, timeout=300)

    old = resolve(["-e", ".[test]"])  # what it printed before: fulfilhub from an index
    assert old.returncode != 0 and "No matching distribution found for fulfilhub" in old.stderr, old.stderr[-2000:]
    new = resolve(args)
    assert new.returncode == 0, new.stderr[-3000:]
