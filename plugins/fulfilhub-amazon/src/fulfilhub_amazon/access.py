"""Access to the Selling Partner API: Login with Amazon tokens and per-operation rate limits.

**Tokens.** Every call carries an LWA access token in ``x-amz-access-token``. It is
bought with the seller's refresh token (``POST https://api.amazon.com/auth/o2/token``,
``grant_type=refresh_token``, the app's ``client_id`` and ``client_secret``), lives
``expires_in`` seconds (an hour), and is kept until ``margin`` seconds before that.
:class:`TokenCache` refreshes it once however many threads want it at the same time
(one lock per refresh token in the process), and keeps it in the instance's
``context.state`` so that a restarted runner does not buy a new one at once. LWA does
not rotate the refresh token: the one in the config stays the one to use.

**Rate limits.** The SP-API limits each operation with a token bucket of its own
(``RATES``: requests per second and burst, as Amazon's usage plans document them) and
says the rate that applies in the ``x-amzn-RateLimit-Limit`` header of an answer.
:class:`RateLimits` holds one bucket per operation, takes a token before each call and
waits on the instance's clock when the bucket is empty (never on the wall clock while
a scenario clock runs), adopts the rate a header states, and empties the bucket on a
429 so that the calls after it wait. The retry of the 429 itself is the shared HTTP
helper's (exponential backoff: Amazon sends no ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fulfilhub import Clock, PermanentError, TransientError

log = logging.getLogger("fulfilhub_amazon")

#: Requests per second and burst of each operation (Amazon's default usage plans:
#: ordersV0, tokens 2021-03-01, listings items 2021-08-01). Data, to be corrected here.
RATES: Mapping[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createRestrictedDataToken": (1.0, 10),
    "patchListingsItem": (5.0, 10),
}
RATE_HEADER = "x-amzn-RateLimit-Limit"
#: The longest a 429 makes a call wait for its bucket before the shared helper retries it.
MAX_429_WAIT = 120.0

_REFRESH_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _refresh_lock(key: str) -> threading.Lock:
    with _LOCKS_LOCK:
        return _REFRESH_LOCKS.setdefault(key, threading.Lock())


class Bucket:
    """One operation's token bucket on ``clock`` (thread-safe)."""

    def __init__(self, clock: Clock, rate: float, burst: int):
        self.clock, self.rate, self.burst = clock, rate, burst
        self.tokens = float(burst)
        self.at = clock.now()
        self.lock = threading.Lock()
        self.waited = 0.0  # seconds waited in all, for the logs and the tests

    def take(self) -> float:
        """Take a token; the seconds to wait before the call may go (0: at once)."""
        with self.lock:
            now = self.clock.now()
            self.tokens = min(self.burst, self.tokens + max((now - self.at).total_seconds(), 0.0) * self.rate)
            self.at = now
            self.tokens -= 1
            if self.tokens >= 0:
                return 0.0
            wait = -self.tokens / self.rate
            self.waited += wait
            return wait

    def drain(self) -> None:
        with self.lock:
            self.tokens = min(self.tokens, 0.0)


class RateLimits:
    """A bucket per operation; ``before(op)`` waits for a token, ``saw(op, headers, status)`` learns.

    Amazon counts per selling partner and application, not per connection: :func:`shared`
    gives every instance of one account in the process the same buckets.
    """

    def __init__(self, clock: Clock, rates: Mapping[str, tuple[float, int]] = RATES):
        self.clock = clock
        self.buckets = {op: Bucket(clock, rate, burst) for op, (rate, burst) in rates.items()}

    def before(self, operation: str) -> None:
        wait = self.buckets[operation].take()
        if wait > 0:
            log.debug("SP-API %s: rate limit, waiting %.1fs", operation, wait)
            self.clock.sleep(wait)

    def saw(self, operation: str, headers: Mapping[str, str], status: int) -> None:
        bucket = self.buckets[operation]
        stated = _rate(headers)
        if stated is not None and stated != bucket.rate:
            log.info("SP-API %s: rate limit is %s requests a second (x-amzn-RateLimit-Limit)", operation, stated)
            bucket.rate = stated
        if status == 429:  # Amazon's bucket is empty: ours too, and the retry waits for one token
            bucket.drain()
            wait = min(1 / bucket.rate, MAX_429_WAIT)
            log.info("SP-API %s: 429 QuotaExceeded, waiting %.1fs for a token before the retry", operation, wait)
            self.clock.sleep(wait)


_SHARED: dict[tuple[str, int], RateLimits] = {}


def shared(clock: Clock, identity: str) -> RateLimits:
    """The buckets of the account ``identity`` names, on ``clock`` (one set per process)."""
    key = (hashlib.sha256(identity.encode("utf-8")).hexdigest(), id(clock))
    with _LOCKS_LOCK:
        found = _SHARED.get(key)
        if found is None or found.clock is not clock:
            found = _SHARED[key] = RateLimits(clock)
        return found


def _rate(headers: Mapping[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == RATE_HEADER.lower():
            try:
                rate = float(value)
            except (TypeError, ValueError):
                return None
            return rate if 0 < rate <= 1000 else None
    return None


class TokenCache:
    """The LWA access token of one refresh token: cached until ``margin`` before it expires,
    refreshed once under concurrency. ``fetch()`` performs the refresh request and returns
    ``(access token, expires_in seconds)``."""

    def __init__(self, *, clock: Clock, state: Any, identity: str, margin: float,
                 fetch: Callable[[], tuple[str, int]]):
        self.clock, self.state, self.margin, self.fetch = clock, state, margin, fetch
        self.key = "lwa:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        self.lock = _refresh_lock(self.key)
        self.refreshes = 0  # how many times this object bought a token

    def _fresh(self) -> str | None:
        stored = self.state.get(self.key)
        if isinstance(stored, Mapping) and isinstance(stored.get("access_token"), str) and \
                isinstance(stored.get("expires_at"), (int, float)) and \
                stored["expires_at"] - self.clock.now().timestamp() > self.margin:
            return str(stored["access_token"])
        return None

    def token(self) -> str:
        found = self._fresh()
        if found is not None:
            return found
        with self.lock:  # one refresh at a time; those who waited find the new token
            found = self._fresh()
            if found is not None:
                return found
            return self._refresh()

    def refused(self, token: str) -> str:
        """Amazon refused ``token`` as expired: a new one, unless another thread already replaced it."""
        with self.lock:
            found = self._fresh()
            if found is not None and found != token:
                return found
            return self._refresh()

    def _refresh(self) -> str:
        access, expires_in = self.fetch()
        self.refreshes += 1
        value = {"access_token": access, "expires_at": self.clock.now().timestamp() + expires_in}
        current = self.state.get(self.key)
        stored = self.state.insert(self.key, value) if current is None else \
            self.state.compare_and_set(self.key, current, value)
        if not stored:
            log.info("another instance renewed the LWA access token at the same time; both work")
        return access


def token_answer(answer: Any) -> tuple[str, int]:
    """``(access_token, expires_in)`` of an LWA token answer; TransientError when it is not one."""
    if not isinstance(answer, Mapping):
        raise TransientError("Login with Amazon answered without a JSON object; will try again later")
    access, expires_in = answer.get("access_token"), answer.get("expires_in")
    if not isinstance(access, str) or not access or isinstance(expires_in, bool) or \
            not isinstance(expires_in, int) or not 0 < expires_in <= 86_400:
        raise TransientError("Login with Amazon answered without access_token and expires_in; will try again later")
    return access, expires_in


def lwa_refused(exc: PermanentError, service: str) -> PermanentError:
    """What to say when LWA refuses the refresh: the error word, never the secrets."""
    word = "invalid_grant" if "invalid_grant" in exc.body else ("invalid_client" if "invalid_client" in exc.body
                                                                  else f"HTTP {exc.status_code}")
    return PermanentError(
        f"Login with Amazon refused to renew the access token ({word}); check client_id and client_secret, or "
        "authorise the app again and set refresh_token to the new one", service=service, status_code=exc.status_code)
