"""fulfilhub's pytest plugin (entry point ``pytest11``, name ``fulfilhub``).

Installed with fulfilhub, it is active in every pytest run and does one thing: for a
conformance suite class (:mod:`fulfilhub.testing.conformance`), each entry of its
``expected_failures`` — ``{check name: reason}``, or ``{"check[case]": reason}`` for one
case of a check that has cases — marks that check (or case) strictly expected to fail
with the reason, so a check that starts passing is reported. An entry without a
reason, or naming no check of the suite, stops the run with a usage error.
It imports the suite only when a collected test belongs to one.
"""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fulfilhub_conformance: a check of fulfilhub's plugin conformance suite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    conformance = sys.modules.get("fulfilhub.testing.conformance")
    if conformance is None:  # no test module imported the suite: nothing to mark
        return
    checked: set[type] = set()
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or not issubclass(cls, conformance.Suite):
            continue
        if cls not in checked:
            checked.add(cls)
            known = set(conformance.checks(cls))
            for name, reason in cls.expected_failures.items():
                check, _, case = name.partition("[")
                if check not in known:
                    raise pytest.UsageError(
                        f"{cls.__qualname__}.expected_failures names {name!r}, which is not one of its checks"
                    )
                cases = cls.cases_of(check)
                if case and (not case.endswith("]") or case[:-1] not in cases):
                    raise pytest.UsageError(
                        f"{cls.__qualname__}.expected_failures names {name!r}, which is not a case of {check} "
                        f"(its cases: {', '.join(f'{check}[{c}]' for c in cases) or 'none'})"
                    )
                if not isinstance(reason, str) or not reason.strip():
                    raise pytest.UsageError(
                        f"{cls.__qualname__}.expected_failures[{name!r}] gives no reason; a check may be "
                        "expected to fail only with a stated reason"
                    )
        item.add_marker(pytest.mark.fulfilhub_conformance)
        reason = cls.expected_failures.get(item.name) or cls.expected_failures.get(getattr(item, "originalname",
                                                                                              item.name))
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
