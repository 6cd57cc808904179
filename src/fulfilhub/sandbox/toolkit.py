"""The helpers a simulator is built with.

A simulator of a foreign API keeps state (locked, since uvicorn's thread serves it while
tests read it from theirs), checks credentials, parses JSON bodies, mints ids that one
seed reproduces, reveals scripted things once the scenario clock reaches them and
throttles callers. Each helper here does one of those, the same way for every plugin:

- :func:`read_options` / :class:`Option`: typed options that refuse unknown keys.
- :class:`AuthGuard`: a header or HTTP Basic credential check answering the vendor's 401.
- :func:`json_body`, :class:`Rejected`, :func:`answering`: clean 400/422 answers.
- :class:`LockedState`: one lock around the state, and deep-copied snapshots for tests.
- :class:`SeededIds`: ``shp_<hash>`` ids and counters that the seed reproduces.
- :class:`Timeline`: timed items, ``visible(now)`` shows those whose time has come.
- :class:`LeakyBucket`: a call limit that leaks on the scenario clock.

The module imports nothing of fulfilhub above the clock and the errors.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import math
import random
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..clock import Clock
from ..errors import ConfigError

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

# --------------------------------------------------------------------------- options


class OptionError(ConfigError, ValueError):
    """A simulator option is unknown or has a wrong value (``[sandbox.<simulator>]``)."""


@attrs.frozen
class Option:
    """One simulator option: its default, and what a given value must be.

    ``kind`` is a type or tuple of types the value must be (``bool`` never passes for
    a number); ``low``/``high`` bound a number; ``convert`` turns the value into what
    the simulator keeps and may raise ``ValueError``/``TypeError`` with the reason.
    None is always accepted (and kept as None); defaults are checked and converted
    like given values.
    """

    default: Any = None
    kind: type | tuple[type, ...] | None = None
    low: float | None = None
    high: float | None = None
    convert: Callable[[Any], Any] | None = None


def read_options(simulator: str, given: Mapping[str, Any], spec: Mapping[str, Option]) -> dict[str, Any]:
    """Check ``given`` against ``spec``: every option, defaults filled in.

    An unknown key or a wrong value raises :class:`OptionError` naming the simulator,
    the key and what it should be.
    """
    key = f"sandbox.{simulator}"
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise OptionError(
            f"unknown {simulator} simulator option(s) {', '.join(unknown)}; known: {', '.join(spec)}", key=key
        )
    out: dict[str, Any] = {}
    for name, option in spec.items():
        value = given.get(name, option.default)
        if value is None:
            out[name] = None
            continue
        if option.kind is not None:
            kinds = option.kind if isinstance(option.kind, tuple) else (option.kind,)
            numeric = any(k in (int, float) for k in kinds)
            if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
                want = " or ".join(k.__name__ for k in kinds)
                raise OptionError(f"{simulator} simulator: {name} must be {want}, got {value!r}", key=key)
            if numeric and not (
                (option.low is None or value >= option.low) and (option.high is None or value <= option.high)
            ):
                low = option.low if option.low is not None else "-inf"
                high = option.high if option.high is not None else "inf"
                raise OptionError(
                    f"{simulator} simulator: {name} must be a number from {low} to {high}, got {value!r}", key=key
                )
        out[name] = _convert(simulator, name, option, value) if option.convert else value
    return out


def _convert(simulator: str, name: str, option: Option, value: Any) -> Any:
    assert option.convert is not None
    try:
        return option.convert(value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise OptionError(f"{simulator} simulator: {name}: {exc}", key=f"sandbox.{simulator}") from None


# --------------------------------------------------------------------------- answers


class Rejected(Exception):
    """Raised in a handler to answer ``body`` with ``status`` (see :func:`answering`)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {body!r}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers or None)


def answering(handler: Handler) -> Handler:
    """Wrap a handler so that a :class:`Rejected` it raises becomes its JSON answer."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Rejected as exc:
            return exc.response()

    return endpoint


_NOTHING = object()


async def json_body(request: Request, *, invalid: Rejected | None = None, default: Any = _NOTHING) -> Any:
    """The request's JSON body.

    A body that is not JSON returns ``default`` when one is given, else raises
    ``invalid`` (default: ``Rejected(400, {"error": "The request body is not valid
    JSON."})``) for :func:`answering` to turn into the answer.
    """
    try:
        return await request.json()
    except ValueError:
        if default is not _NOTHING:
            return default
        raise invalid or Rejected(400, {"error": "The request body is not valid JSON."}) from None


# --------------------------------------------------------------------------- auth


def header_credential(name: str) -> Callable[[Request], str | None]:
    """Read the credential from one request header (``X-Shopify-Access-Token``)."""

    def read(request: Request) -> str | None:
        return request.headers.get(name)

    return read


def basic_user(request: Request) -> str | None:
    """Read the credential as the HTTP Basic user name (EasyPost's API key)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user


@attrs.frozen
class AuthGuard:
    """Answers ``unauthorized()`` unless the request carries ``credential``.

    ``read`` takes the credential from a request (:func:`header_credential`,
    :func:`basic_user`). With ``credential`` None every request passes (a sandbox that
    accepts any token). ``guard(handler)`` wraps a handler; ``guard.allows(request)``
    checks without answering.
    """

    credential: str | None
    read: Callable[[Request], str | None]
    unauthorized: Callable[[], Response]

    def allows(self, request: Request) -> bool:
        return self.credential is None or self.read(request) == self.credential

    def __call__(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not self.allows(request):
                return self.unauthorized()
            return await handler(request)

        return endpoint


# --------------------------------------------------------------------------- state


class LockedState(Generic[T]):
    """A simulator's state behind one lock.

    ``with state as s:`` holds the lock (re-entrant) and gives the state object;
    ``state.snapshot()`` is a deep copy taken under the lock, for tests to read while
    the server runs. ``state.lock`` is the lock itself, for code that guards several
    attributes of the simulator at once.
    """

    def __init__(self, value: T):
        self._value = value
        self.lock = threading.RLock()

    def __enter__(self) -> T:
        self.lock.acquire()
        return self._value

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    def snapshot(self) -> T:
        with self.lock:
            return copy.deepcopy(self._value)


class SeededIds:
    """Ids and random streams that one seed reproduces.

    ``ids.new("shp")`` gives ``shp_<32 hex>`` from the seed, the prefix and a counter;
    ``ids.stable("ca", "USPS")`` the same id for the same parts every time;
    ``ids.rng("fate", shipment_id)`` a ``random.Random`` seeded by the parts;
    ``ids.next("fulfillment", start)`` counts up from ``start`` per name.
    """

    def __init__(self, seed: int | str):
        self.seed = seed
        self._counter = 0
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            n = self._counter
        return f"{prefix}_{hashlib.sha256(f'{self.seed}:{prefix}:{n}'.encode()).hexdigest()[:32]}"

    def stable(self, prefix: str, *parts: object) -> str:
        text = ":".join(str(p) for p in (self.seed, *parts))
        return f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:32]}"

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def next(self, name: str, start: int = 1) -> int:
        with self._lock:
            value = self._counters.get(name, start)
            self._counters[name] = value + 1
            return value


@attrs.frozen(order=False)
class Timed(Generic[T]):
    at: datetime
    item: T


class Timeline(Generic[T]):
    """Items that become visible once the scenario clock reaches their time.

    ``add(at, item)`` keeps them in time order (equal times keep insertion order);
    ``visible(now)`` lists the items whose ``at <= now``; ``pending(now)`` the rest;
    ``truncate(now)`` forgets the future (a voided label's tracker).
    """

    def __init__(self, items: Sequence[tuple[datetime, T]] = ()):
        self._times: list[datetime] = []
        self._items: list[T] = []
        for at, item in items:
            self.add(at, item)

    def add(self, at: datetime, item: T) -> None:
        index = bisect.bisect_right(self._times, at)
        self._times.insert(index, at)
        self._items.insert(index, item)

    def visible(self, now: datetime) -> list[T]:
        return self._items[: bisect.bisect_right(self._times, now)]

    def pending(self, now: datetime) -> list[T]:
        return self._items[bisect.bisect_right(self._times, now) :]

    def timed(self) -> list[Timed[T]]:
        return [Timed(at, item) for at, item in zip(self._times, self._items, strict=True)]

    def truncate(self, now: datetime) -> None:
        cut = bisect.bisect_right(self._times, now)
        del self._times[cut:], self._items[cut:]

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


class LeakyBucket:
    """A call limit: a bucket of ``size`` calls that leaks ``leak_per_second`` on ``clock``.

    ``take()`` charges one call and returns ``(allowed, level, wait)``: whether it may
    pass, the calls in the bucket after it (rounded up) and, when refused, the seconds
    until one call fits (rounded up to a tenth). Thread-safe.
    """

    def __init__(self, clock: Clock, *, size: int, leak_per_second: float):
        if size < 1 or leak_per_second <= 0:
            raise ValueError(f"a leaky bucket needs size >= 1 and a positive leak rate, got {size}, {leak_per_second}")
        self.clock = clock
        self.size = size
        self.leak_per_second = leak_per_second
        self._level = 0.0
        self._at = clock.now()
        self._lock = threading.Lock()
        #: How many calls were refused.
        self.refused = 0

    def take(self) -> tuple[bool, int, float]:
        with self._lock:
            now = self.clock.now()
            leaked = (now - self._at).total_seconds() * self.leak_per_second
            self._level = max(0.0, self._level - leaked)
            self._at = now
            if self._level + 1 > self.size:
                self.refused += 1
                wait = math.ceil((self._level + 1 - self.size) / self.leak_per_second * 10) / 10
                return False, self.size, wait
            self._level += 1
            return True, math.ceil(self._level), 0.0


# --------------------------------------------------------------------------- scenarios


class ShopSimulator(Protocol):
    """What a ``channels`` simulator offers a scenario (``fulfilhub demo``).

    It takes the option ``orders_per_day``; ``catalog`` lists the SKUs orders are drawn
    from (``{"sku": ..., "grams": ...}`` at least) so that the scenario can stock the
    warehouses; ``stop_arrivals()`` ends the stream of new orders; ``update_order(id)``
    and ``cancel_order(id)`` change and cancel an order as the merchant would, now on
    the scenario clock (the conformance suite checks that both come through).
    """

    @property
    def catalog(self) -> Sequence[Mapping[str, Any]]: ...

    def stop_arrivals(self) -> None: ...

    def update_order(self, order_id: Any) -> Any: ...

    def cancel_order(self, order_id: Any) -> Any: ...
