"""Fuzz a mapping: feed it thousands of broken copies of a real payload.

A mapping (a plugin's pure function from a foreign payload to a model) must turn *any*
input into either a model or a :class:`~fulfilhub.PayloadError`: the runner quarantines
a payload that raises ``PayloadError`` and goes on with the rest of the page, while any
other exception stops the job. :func:`mutations` makes deterministic broken copies of a
golden payload (a key deleted, a value set to null, a string where a number belongs, a
huge integer, NaN, a trailing newline, a lone surrogate, ...) and
:func:`assert_maps_or_refuses` runs a mapping over them and fails, listing the first
offending payloads, when anything else escapes::

    from fulfilhub.testing.fuzz import assert_maps_or_refuses, mutations

    def test_parse_order_survives_fuzzing(golden_order):
        payloads = mutations(golden_order, seed=1, count=2000)
        assert_maps_or_refuses(lambda p: parse_order(p, channel="shop"), payloads)

With ``check=check_model`` each model that *was* produced is also checked for values a
store cannot keep (text that is not valid Unicode, integers beyond 64 bits, naive or
out-of-range times, non-finite amounts, a non-string in a ``str`` field).
"""

from __future__ import annotations

import math
import random
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ..errors import PayloadError
from ..models import EARLIEST, LATEST, in_range

__all__ = ["FuzzResult", "assert_maps_or_refuses", "check_model", "mutations"]

#: Path to a value inside a JSON document: keys and list indexes from the root.
Path = tuple[Any, ...]

_HUGE = 2**70
_LONG = "x" * 20_000
#: Times that parse but break a careless mapping (out of range, overflowing on UTC).
_EXTREME_TIMES = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "2024-02-30T10:00:00Z",
    "2024-06-01T10:00:00",
    "2024-06-01",
)
_GARBAGE = (
    {"": [None, {"$": [1e308, -0.0, {"\u0000": "\udc80"}]}]},
    [[[[[]]]]],
    [None, True, 0, "", {}, []],
)


def _replacements(value: Any) -> list[Any]:
    """Every replacement tried for one value (the mutation kinds, as values)."""
    text = value if isinstance(value, str) else str(value)
    out: list[Any] = [
        None,
        # type swaps
        text,
        "",
        "text",
        0,
        -1,
        1.5,
        True,
        False,
        [],
        {},
        [value],
        {"value": value},
        # numbers that break arithmetic, conversions and 64-bit columns
        _HUGE,
        -_HUGE,
        2**63,
        float("nan"),
        float("inf"),
        float("-inf"),
        1e308,
        "NaN",
        "Infinity",
        "-inf",
        "1e999",
        "1e-999",
        str(_HUGE),
        # text that looks right but is not
        text + "\n",
        " " + text,
        text + "\ud800",
        "\udfff",
        _LONG,
        *_EXTREME_TIMES,
        *_GARBAGE,
    ]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out += [-value, str(value)]
    if isinstance(value, str):
        try:
            out.append(int(value))
        except ValueError:
            pass
    return out


def _paths(node: Any, prefix: Path = ()) -> Iterator[Path]:
    yield prefix
    if isinstance(node, Mapping):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _copy(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {key: _copy(child) for key, child in node.items()}
    if isinstance(node, list):
        return [_copy(child) for child in node]
    return node


def _get(node: Any, path: Path) -> Any:
    for step in path:
        node = node[step]
    return node


def _apply(doc: Any, path: Path, rng: random.Random) -> Any:
    """Mutate ``doc`` (a private copy) at ``path``; return the document (the root may change)."""
    target = _get(doc, path)
    if path and rng.random() < 0.15:  # delete the key / drop the list element
        parent = _get(doc, path[:-1])
        del parent[path[-1]]
        return doc
    replacement = rng.choice(_replacements(target))
    if isinstance(replacement, (dict, list)):
        replacement = _copy(replacement)
    if not path:
        return replacement
    _get(doc, path[:-1])[path[-1]] = replacement
    return doc


def mutations(payload: Any, *, seed: int = 0, count: int = 1000) -> Iterator[Any]:
    """``count`` mutated deep copies of the JSON value ``payload``, the same for a seed.

    Each copy has one value changed (about one in five has two or three): deleted, set
    to None, swapped for another JSON type, a huge integer (2**70), NaN or infinity (as
    numbers and as strings), an empty string, the same text with a trailing newline or a
    lone surrogate, a very long string, an extreme or malformed time, or nested garbage.
    Every value of the document is a target, the root included. ``payload`` itself is
    never changed.
    """
    rng = random.Random(seed)
    paths = list(_paths(payload))
    for _ in range(count):
        doc = _copy(payload)
        for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 3)):
            live = list(_paths(doc)) if doc is not payload else paths
            doc = _apply(doc, rng.choice(live), rng)
        yield doc


@attrs.frozen
class FuzzResult:
    """What :func:`assert_maps_or_refuses` saw: how many payloads mapped and how many were refused."""

    mapped: int
    refused: int


def _shown(payload: Any, limit: int = 300) -> str:
    text = repr(payload)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def assert_maps_or_refuses(
    fn: Callable[[Any], Any],
    payloads: Iterable[Any],
    *,
    check: Callable[[Any], None] | None = None,
    refuse: tuple[type[BaseException], ...] = (PayloadError,),
    show: int = 5,
) -> FuzzResult:
    """Run ``fn`` on every payload; fail unless each returns or raises ``PayloadError``.

    ``check``, when given, is called with each result (e.g. :func:`check_model`) and may
    raise to reject it. ``refuse`` lists the exceptions that count as a clean refusal
    (``PayloadError`` unless a function documents another). The AssertionError lists
    the first ``show`` offending payloads with the exception each raised and where.
    """
    mapped = refused = 0
    failures: list[str] = []
    total = 0
    for payload in payloads:
        total += 1
        try:
            result = fn(payload)
            if check is not None:
                check(result)
        except refuse:
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 - collecting exactly these is the point
            if len(failures) < show:
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                failures.append(
                    f"  {type(exc).__name__}: {exc} (at {frame.filename}:{frame.lineno})\n"
                    f"    payload: {_shown(payload)}"
                )
            else:
                failures.append("")
            continue
        mapped += 1
    if failures:
        shown = "\n".join(f for f in failures if f)
        raise AssertionError(
            f"{len(failures)} of {total} payloads raised something other than "
            f"{' or '.join(kind.__name__ for kind in refuse)}; "
            f"the first {min(show, len(failures))}:\n{shown}"
        )
    return FuzzResult(mapped=mapped, refused=refused)


_INT64 = 2**63


def check_model(value: Any, where: str = "result") -> None:
    """Raise AssertionError if ``value`` holds something a store could not keep.

    Walks attrs instances (except their ``raw`` payload copies), tuples, lists and
    mappings: text must encode as UTF-8, integers fit in 64 bits, times be aware and
    within the models' range, amounts finite, and an attrs field declared ``str`` must
    hold a ``str``.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise AssertionError(f"{where}: text is not valid Unicode: {_shown(value, 80)}") from None
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise AssertionError(f"{where}: integer {value} does not fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise AssertionError(f"{where}: float {value!r} is not finite")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise AssertionError(f"{where}: amount {value!r} is not finite")
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise AssertionError(f"{where}: time {value.isoformat()} is naive")
        if not in_range(value):
            raise AssertionError(f"{where}: time {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if field.name == "raw":
                continue
            child = getattr(value, field.name)
            if field.type in ("str", str) and not isinstance(child, str):
                raise AssertionError(f"{where}.{field.name}: expected str, got {type(child).__name__} {_shown(child, 80)}")
            check_model(child, f"{where}.{field.name}")
    elif isinstance(value, (tuple, list)):
        for index, child in enumerate(value):
            check_model(child, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, child in value.items():
            check_model(key, f"{where} key")
            check_model(child, f"{where}[{key!r}]")
