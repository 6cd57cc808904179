"""Every assert in the suites says which condition failed: no ``assert a and b``.

pytest shows the values of one comparison; of ``assert a and b and c`` it shows only
that the whole was false. Write one assert per condition (``any``/``all`` over a
generator are one condition and stay).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Suites not split yet, each in a room another change is rewriting at the same time;
#: an entry with nothing left to split fails the test below, so the list only shrinks.
PENDING = frozenset({
    "tests/slice/test_notices_postgres.py", "tests/slice/test_operator_cli.py", "tests/slice/test_slice_cli.py",
    "tests/slice/test_slice_delays.py", "tests/server/test_operations.py", "tests/server/test_poll_backoff.py",
    "tests/server/test_postgres.py", "tests/server/test_promise_api.py",
    "tests/server/test_server_config.py", "tests/server/test_tracking_page.py", "tests/server/test_webhooks.py",
    "tests/test_config.py", "tests/test_delays.py", "tests/test_delays_job.py",
    "tests/test_http.py", "tests/test_kpi.py", "tests/test_notices.py", "tests/test_notices_processes.py",
    "tests/test_notifiers.py", "tests/test_promise.py", "tests/test_report_html.py", "tests/test_scaffold.py",
    "tests/test_secrets.py",
})


def joined_asserts(source: str) -> list[int]:
    """Lines of the ``assert a and b`` statements (without a message) in ``source``."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Assert) and node.msg is None and isinstance(node.test, ast.BoolOp)
            and isinstance(node.test.op, ast.And)]


def suites() -> dict[str, list[int]]:
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py"), *ROOT.glob("contrib/*/tests/**/*.py")]
    return {path.relative_to(ROOT).as_posix(): joined_asserts(path.read_text(encoding="utf-8")) for path in files}


def test_no_assert_joins_conditions_with_and():
    found = {name: lines for name, lines in suites().items() if lines and name not in PENDING}
    assert found == {}


def test_the_pending_list_holds_only_suites_with_joined_asserts_left():
    left = {name for name, lines in suites().items() if lines}
    assert sorted(PENDING - left) == []


def test_the_check_sees_a_joined_assert_and_leaves_any_and_messages_alone():
    assert joined_asserts("assert a\nassert b and c\n") == [2]
    assert joined_asserts("assert all(x and y for x, y in pairs)\n") == []
    assert joined_asserts("assert a and b, 'says which'\n") == []
