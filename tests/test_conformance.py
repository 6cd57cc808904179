"""The conformance suite catches real defects: one deliberately broken plugin per check.

The good plugins are the ones ``fulfilhub new`` writes (one per kind, rendered into a
temporary folder); tests/broken_plugins.py runs each suite against a copy of one with a
single defect. The run must fail exactly the checks ``CAUGHT_BY`` names for each broken
plugin, every check of the suites must be named at least once, and the good channel,
warehouse and notifier must pass every check (marked slow; the carrier and the policy
pass theirs in tests/test_scaffold.py, installed in a fresh virtualenv, in CI).
Expected failures need a stated reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fulfilhub.scaffold import render
from fulfilhub.testing import conformance, pytest_plugin

HERE = Path(__file__).parent
KINDS = {"carrier": "kc", "channel": "kh", "warehouse": "kw", "notifier": "kn", "policy": "kp"}


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FULFILHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(folder / kind / "src") for kind in KINDS)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", "--no-header",
                           "-o", "addopts=", *args], cwd=folder, capture_output=True, text=True, env=env, timeout=600)


def _folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken")
    for kind, name in KINDS.items():
        render(kind, name, folder / kind)
    (folder / "test_broken.py").write_text((HERE / "broken_plugins.py").read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory) -> tuple[dict[str, tuple[str, ...]], subprocess.CompletedProcess[str]]:
    source = (HERE / "broken_plugins.py").read_text(encoding="utf-8")
    caught, correct = _caught_by(source, "CAUGHT_BY"), _caught_by(source, "CORRECT")
    selection = " or ".join([f"(Test{cls} and {check})" for cls, checks in caught.items() for check in checks]
                            + [f"(Test{cls} and ({' or '.join(checks)}))" for cls, checks in correct.items()])
    return caught, run_pytest(_folder(tmp_path_factory), "test_broken.py", "-k", selection, "--tb=line", "-rfExp")


def _caught_by(source: str, table: str) -> dict[str, tuple[str, ...]]:
    block = source[source.index(f"{table}:"):]
    block = block[: block.index("\n}\n")]
    out: dict[str, tuple[str, ...]] = {}
    for cls, checks in re.findall(r"^    (\w+): \(([^)]*)\)", block, re.M | re.S):
        out[cls] = tuple(re.findall(r'"(test_\w+)"', checks))
    return out


def outcomes(result: subprocess.CompletedProcess[str]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    failed = set(re.findall(r"^FAILED test_broken\.py::Test(\w+)::(test_\w+)", result.stdout, re.M))
    errors = set(re.findall(r"^ERROR test_broken\.py::Test(\w+)::(test_\w+)", result.stdout, re.M))
    return failed, errors


def test_every_broken_plugin_fails_the_check_that_targets_it(broken_run):
    caught, result = broken_run
    failed, errors = outcomes(result)
    assert not errors, f"setup errors, not caught defects: {sorted(errors)}\n{result.stdout[-3000:]}"
    expected = {(cls, check) for cls, checks in caught.items() for check in checks}
    missed = expected - failed
    assert not missed, f"broken plugins that passed the check aimed at them: {sorted(missed)}\n{result.stdout[-3000:]}"
    assert failed == expected, f"unexpected failures: {sorted(failed - expected)}"


def test_the_correct_variants_pass_the_checks_that_once_failed_them(broken_run):
    _, result = broken_run
    correct = _caught_by((HERE / "broken_plugins.py").read_text(encoding="utf-8"), "CORRECT")
    failed, errors = outcomes(result)
    wrong = sorted((cls, check) for cls, check in failed | errors if cls in correct)
    assert not wrong, f"correct plugins that fail: {wrong}\n{result.stdout[-3000:]}"
    for cls in correct:  # each ran, and one case was expected to fail where it says so
        assert re.search(rf"^PASSED test_broken\.py::Test{cls}::", result.stdout, re.M), f"Test{cls} passed nothing"
    assert re.search(r"^XFAIL test_broken\.py::TestExpectsOneCaseToFail::test_mappings_survive_mutated_simulator_"
                     r"answers\[track\]", result.stdout, re.M), result.stdout[-3000:]


@pytest.mark.slow  # tests/test_scaffold.py runs each kind's own suite too (carrier and policy in CI)
def test_the_good_channel_warehouse_and_notifier_pass_every_check(tmp_path_factory):
    result = run_pytest(_folder(tmp_path_factory), *(f"test_broken.py::Test{name}" for name in ("Channel", "Warehouse",
                                                                                               "Notifier")))
    failed, errors = outcomes(result)
    assert result.returncode == 0 and not failed and not errors, result.stdout[-3000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]


def test_every_check_of_every_suite_has_a_broken_plugin(broken_run):
    caught, _ = broken_run
    named = {check for checks in caught.values() for check in checks}
    suites = (conformance.CarrierSuite, conformance.ChannelSuite, conformance.WarehouseSuite,
              conformance.NotifierSuite, conformance.PolicySuite)
    every = {check for suite in suites for check in conformance.checks(suite)}
    assert every - named == set(), f"checks no broken plugin shows failing: {sorted(every - named)}"


class _Item:
    """What the pytest plugin reads of a collected test: its class, name and markers."""

    def __init__(self, cls: type, name: str):
        self.cls, self.originalname, self.name, self.markers = cls, name, name, []

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.markers.append(marker.mark)


def _suite(expected: dict[str, str]) -> type:
    return type("TestPolicy", (conformance.PolicySuite,), {"expected_failures": expected})


def test_an_expected_failure_is_strict_and_says_why():
    cls = _suite({"test_declares_a_settings_schema": "the vendor's registry has no descriptions"})
    items = [_Item(cls, name) for name in conformance.checks(cls)]
    pytest_plugin.pytest_collection_modifyitems(None, items)
    xfails = {item.name: mark.kwargs for item in items for mark in item.markers if mark.name == "xfail"}
    assert xfails == {"test_declares_a_settings_schema": {"reason": "the vendor's registry has no descriptions",
                                                          "strict": True}}


def test_an_expected_failure_can_name_one_case_of_a_check():
    cls = type("TestCarrier", (conformance.CarrierSuite,), {"expected_failures": {
        "test_mappings_survive_mutated_simulator_answers[track]": "a known crash"}})
    items = [_Item(cls, "test_mappings_survive_mutated_simulator_answers") for _ in cls.stages]
    for item, stage in zip(items, cls.stages):
        item.name = f"test_mappings_survive_mutated_simulator_answers[{stage}]"
    pytest_plugin.pytest_collection_modifyitems(None, items)
    xfails = {item.name for item in items for mark in item.markers if mark.name == "xfail"}
    assert xfails == {"test_mappings_survive_mutated_simulator_answers[track]"}


@pytest.mark.parametrize(("expected", "message"), [
    ({"test_declares_a_settings_schema": "  "}, "gives no reason"),
    ({"test_flies": "it cannot"}, "not one of its checks"),
    ({"test_declares_a_settings_schema[quote]": "no cases"}, "not a case of"),
])
def test_an_expected_failure_without_a_reason_or_a_check_stops_the_run(expected, message):
    cls = _suite(expected)
    with pytest.raises(pytest.UsageError, match=message):
        pytest_plugin.pytest_collection_modifyitems(None, [_Item(cls, "test_declares_a_settings_schema")])


def test_the_pytest_plugin_is_installed_through_the_pytest11_entry_point():
    import importlib.metadata

    [ep] = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "fulfilhub"]
    assert ep.load() is pytest_plugin


def test_the_conformance_page_lists_every_check():
    page = (HERE.parent / "docs" / "conformance.md").read_text(encoding="utf-8")
    suites = (conformance.CarrierSuite, conformance.ChannelSuite, conformance.WarehouseSuite,
              conformance.NotifierSuite, conformance.PolicySuite)
    missing = sorted({check for suite in suites for check in conformance.checks(suite)} - set(re.findall(r"`(test_\w+)`",
                                                                                                       page)))
    assert not missing, f"docs/conformance.md does not list: {missing}"
