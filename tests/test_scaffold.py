"""``fulfilhub new``: each kind installs into a fresh virtualenv, is listed, and passes its own tests.

The virtualenv is fresh (``venv``, no pip of its own) but sees this environment's
packages through a ``.pth`` file, so nothing is downloaded: the generated package is
built by this environment's pip (``--python``) with hatchling, without build isolation
and without dependencies. Carrier and policy run in CI; the other kinds, which take
longer, are marked slow.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.errors import ConfigError
from fulfilhub.scaffold import KINDS, render


def fresh_venv(path: Path) -> Path:
    """A new virtualenv that also sees this environment's packages; its python."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in outer)
    Path(purelib, "_fulfilhub_outer.pth").write_text(lines, encoding="utf-8")
    return python


def run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULFILHUB_", "PYTEST_"))}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("kind", [
    "carrier",
    "policy",
    pytest.param("channel", marks=pytest.mark.slow),
    pytest.param("warehouse", marks=pytest.mark.slow),
    pytest.param("notifier", marks=pytest.mark.slow),
])
def test_a_new_plugin_installs_is_listed_and_passes_its_tests(kind, tmp_path):
    name = f"kit_{kind}"
    result = CliRunner().invoke(main, ["new", kind, name, "--dir", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output
    python = fresh_venv(tmp_path / "venv")
    installed = run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
                     "--no-build-isolation", "--no-index", tmp_path / "pkg"], tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]

    listed = run([python, "-m", "fulfilhub", "plugins"], tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert name in listed.stdout and f"fulfilhub-kit-{kind}" in listed.stdout, listed.stdout

    tested = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], tmp_path / "pkg")
    assert tested.returncode == 0, tested.stdout[-4000:]
    assert " passed" in tested.stdout and "failed" not in tested.stdout and "error" not in tested.stdout


def test_new_refuses_a_bad_name_a_used_folder_and_an_unknown_kind(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(main, ["new", "carrier", "Swift-Ship", "--dir", str(tmp_path / "a")])
    assert bad.exit_code == 2 and "cannot name a plugin" in bad.output
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    used = runner.invoke(main, ["new", "carrier", "swift", "--dir", str(tmp_path / "used")])
    assert used.exit_code == 2 and "not an empty folder" in used.output
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"
    unknown = runner.invoke(main, ["new", "courier", "swift"])
    assert unknown.exit_code == 2 and "courier" in unknown.output
    with pytest.raises(ConfigError, match="unknown kind"):
        render("courier", "swift", tmp_path / "b")


def test_new_refuses_the_name_of_an_installed_plugin(tmp_path):
    from .conftest import FIRST_PARTY_MISSING

    pytest.importorskip("fulfilhub_easypost", reason=FIRST_PARTY_MISSING)
    taken = CliRunner().invoke(main, ["new", "carrier", "easypost", "--dir", str(tmp_path / "c")])  # fulfilhub-easypost
    assert taken.exit_code == 2
    assert "already installed" in taken.output
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_writes_an_entry_point_an_adapter_a_mapping_and_conformance_tests(kind, tmp_path):
    files = {str(f) for f in render(kind, "acme", tmp_path / kind)}
    assert {"pyproject.toml", "README.md", "src/fulfilhub_acme/__init__.py", "tests/test_conformance.py"} <= files
    pyproject = (tmp_path / kind / "pyproject.toml").read_text()
    assert '[project.entry-points.fulfilhub]\nacme = "fulfilhub_acme"' in pyproject
    if kind in ("carrier", "channel", "warehouse"):
        assert {"src/fulfilhub_acme/mapping.py", "src/fulfilhub_acme/simulator.py", "tests/test_mapping.py"} <= files
    for path in (tmp_path / kind).rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text().replace("{{{", ""), f"{path} keeps a placeholder"


@pytest.mark.slow
def test_easypost_on_the_kit_passes_the_carrier_suite_against_easyposts_simulator():
    """The package benchmarks/plugin_lines.py measures works (installed: see its README)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "easypost_on_the_kit"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULFILHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = str(folder / "src")
    tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "tests",
                             "-k", "not entry_point"], cwd=folder, capture_output=True, text=True, env=env, timeout=600)
    assert tested.returncode == 0, tested.stdout[-4000:]


def test_init_in_a_plugins_own_venv_writes_only_installed_types_and_doctor_passes(tmp_path, monkeypatch):
    """A plugin author's venv has fulfilhub and the new plugin, not fulfilhub-shopify or -easypost."""
    import fulfilhub.cli as cli_mod

    monkeypatch.setenv("FULFILHUB_DISABLE_PLUGINS", "shopify,easypost")
    monkeypatch.setattr(cli_mod, "_MANAGER", None)  # built anew under the denylist, not the one an earlier test left
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "fulfilhub.toml").read_text(encoding="utf-8")
    assert "# [channels.my-shop]" in text
    assert "# not installed: pip install fulfilhub-shopify" in text
    assert "\n[warehouses.main]\n" in text
    doctor = CliRunner().invoke(main, ["doctor"])
    assert doctor.exit_code == 0, doctor.output
