"""The one HTTP client helper every adapter uses (httpx + tenacity).

It gives every request a timeout, retries 429 / 5xx / timeouts / connection errors only,
with exponential backoff and jitter, honours ``Retry-After``, and logs with secrets
redacted.

A POST or PATCH is not safe to send twice: if it timed out or met a 5xx, the server may
have acted on it. Those are retried only where the request surely did not act (429, or
no connection at all), unless the caller passes ``idempotent=True`` (the API takes an
idempotency key, or a repeat is harmless). Otherwise the error is raised at once and
the outbox retries later, after the adapter has looked whether the first one landed. After the last try it raises :class:`~fulfilhub.errors.TransientError`; a
4xx other than 429 raises :class:`~fulfilhub.errors.PermanentError` at once. Adapters
never write their own retry loop.

A :class:`CircuitBreaker` per instance (every client a ``client_factory`` makes shares
one) counts connection failures in a row: after ``threshold`` of them the instance is
given up for ``cooldown`` seconds (the rest of a pass). Its retries stop, and every
request raises :class:`~fulfilhub.errors.Unreachable` at once instead of trying 35
trackers five times each. After the cool-down one request is let through; an answer of
any kind closes the breaker, another connection failure opens it again.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_plus

import attrs
import httpx
import tenacity

from .clock import Clock, SystemClock
from .errors import PermanentError, TransientError, Unreachable

log = logging.getLogger("fulfilhub.http")

REDACTED = "***"
#: Shorter values are not redacted: they would blank out ordinary words.
MIN_SECRET = 4
UNSAFE_METHODS = frozenset({"POST", "PATCH"})
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-shopify-access-token", "x-api-key", "cookie", "set-cookie", "proxy-authorization"}
)
_SENSITIVE_PARAMS = re.compile(
    r"(?i)((?<![A-Za-z0-9_])(?:api_?key|access_?token|token|secret|password|key)=)([^&\s]+)"
)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard to try. ``max_wait`` caps any one wait, ``Retry-After`` included."""

    attempts: int = 5
    initial: float = 0.5
    maximum: float = 30.0
    max_wait: float = 120.0
    timeout: float = 15.0
    #: Connecting may take at most this long (capped by ``timeout``): a host that does not
    #: answer a connection at all is given up in seconds, not after a full read timeout.
    connect_timeout: float = 5.0


def secret_forms(secret: str) -> set[str]:
    """Every form in which ``secret`` may show up in a log line, an error or a stored reason.

    The value itself and without surrounding whitespace (a token read from an env file
    often ends with a newline), each also as Python prints it (``repr`` of the text and
    of its UTF-8 bytes: httpx's "Illegal header value b'...\\n'"), JSON-escaped,
    URL-encoded (``quote``, ``quote_plus``) and in base64 (standard and URL-safe, alone,
    as HTTP Basic auth sends ``secret:`` or ``user:secret``, and the part of any
    base64 text that encodes the secret whatever comes before it).
    """
    forms: set[str] = set()
    for value in {secret, secret.strip()}:
        if len(value) < MIN_SECRET:
            continue
        raw = value.encode("utf-8", "surrogatepass")
        forms |= {
            value,
            repr(value)[1:-1],
            repr(raw)[2:-1],
            repr(repr(value)[1:-1])[1:-1],  # an exception's repr inside another's (httpcore's trace log)
            repr(repr(raw)[2:-1])[1:-1],
            value.encode("unicode_escape").decode("ascii"),
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            quote(raw, safe=""),
            quote(raw),
            quote_plus(raw),
        }
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms |= {encode(data).decode("ascii") for data in (raw, raw + b":", b":" + raw)}
            # base64 of any text that contains the secret carries one of three "cores":
            # the characters that only the secret's own bits decide, at each alignment
            for offset in range(3):
                encoded = encode(b"\0" * offset + raw).decode("ascii")
                core = encoded[-(-8 * offset // 6): 8 * (offset + len(raw)) // 6]
                if len(core) >= MIN_SECRET + 2:
                    forms.add(core)
    return {form for form in forms if len(form) >= MIN_SECRET}


class Redactor:
    """Replaces known secret values (in every form, see :func:`secret_forms`), sensitive
    headers and query parameters with ***."""

    def __init__(self, secrets: Iterable[str] = ()):
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        self._secrets = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, self._secrets))) if self._secrets else None

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(REDACTED, value)
        return _SENSITIVE_PARAMS.sub(lambda m: m.group(1) + REDACTED, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            k: (REDACTED if k.lower() in _SENSITIVE_HEADERS else self.text(v)) for k, v in headers.items()
        }


class CircuitBreaker:
    """One instance's connection health, shared by all of its clients (thread-safe).

    ``closed``: requests go out. After ``threshold`` connection failures in a row (no
    answer at all: refused, unreachable, connect timeout), or fewer that took
    ``max_waited`` seconds in all (connect timeouts), it is ``open`` for ``cooldown``
    seconds of the clock: :meth:`check` raises :class:`~fulfilhub.errors.Unreachable`
    without sending anything. Then ``half-open``: one request may go; an answer of any
    status closes it, a connection failure opens it again at once.
    """

    def __init__(self, service: str, *, clock: Clock | None = None, threshold: int = 3, cooldown: float = 60.0,
                 max_waited: float = 10.0):
        self.service = service
        self.clock = clock or SystemClock()
        self.threshold = threshold
        self.cooldown = cooldown
        #: It also opens once the failures in a row have waited this many seconds in all
        #: (a host that drops packets costs a whole connect timeout per try).
        self.max_waited = max_waited
        self.state = "closed"
        self.failures = 0  # connection failures in a row
        self.waited = 0.0  # seconds those failures took
        self.opened_at: datetime | None = None
        self.last_error: str | None = None
        self.changed = False  # since the runner last saved it (see Runtime.save_breakers)
        self._lock = threading.Lock()

    @property
    def until(self) -> datetime | None:
        return None if self.opened_at is None else self.opened_at + timedelta(seconds=self.cooldown)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def check(self) -> None:
        """Raise Unreachable while open, and while the one probe after the cool-down is out."""
        with self._lock:
            if self.state == "closed":
                return
            if self.state == "open" and self.until is not None and self.clock.now() >= self.until:
                self.state = "half-open"  # this request is the probe
                self.changed = True
                return
            raise self.error()

    def error(self) -> Unreachable:
        until = f"{self.until:%Y-%m-%d %H:%M:%S %Z}" if self.until else "later"
        return Unreachable(
            f"unreachable ({self.failures} connection failures in a row, the last {self.last_error}); "
            f"given up for this pass: circuit breaker open until {until}",
            service=self.service,
        )

    def failure(self, problem: str, seconds: float = 0.0) -> None:
        with self._lock:
            self.failures += 1
            self.waited += seconds
            self.last_error = problem
            if self.state == "half-open" or (self.state == "closed" and (self.failures >= self.threshold
                                                                         or self.waited >= self.max_waited)):
                self.state = "open"
                self.opened_at = self.clock.now()
                self.changed = True
                log.warning("%s: %d connection failures in a row (%s); circuit breaker open for %.0fs",
                            self.service, self.failures, problem, self.cooldown)

    def success(self) -> None:
        with self._lock:
            if self.state != "closed" or self.failures:
                self.changed = self.changed or self.state != "closed"
                self.state, self.failures, self.waited = "closed", 0, 0.0

    def snapshot(self) -> dict[str, Any]:
        """What ``fulfilhub jobs`` and ``doctor`` show: state, failures, since, until, last error."""
        with self._lock:
            return {
                "state": self.state, "failures": self.failures, "last_error": self.last_error,
                "opened_at": self.opened_at.isoformat() if self.opened_at and self.state != "closed" else None,
                "until": self.until.isoformat() if self.until and self.state == "open" else None,
            }


def retry_after_seconds(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` as seconds or HTTP date; an API
    that names it ``X-Retry-After``, as ShipBob does, is read the same way)."""
    value = response.headers.get("Retry-After") or response.headers.get("X-Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


class _LibraryLogRedactor(logging.Filter):
    """Redacts every HttpClient's secrets from httpx's and httpcore's own log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            new = {s for s in secrets if s} - self._secrets
            if new:
                self._secrets |= new
                self.redactor = Redactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = ()
        return True


_LIBRARY_LOGS = _LibraryLogRedactor()
# A logger's filters see only the records logged on that very logger, not its children's:
# each of httpcore's loggers gets the filter (httpcore.http11 logs the failed header).
for _name in (
    "httpx", "httpcore", "httpcore.connection", "httpcore.connection_pool", "httpcore.http11",
    "httpcore.http2", "httpcore.proxy", "httpcore.socks",
):
    logging.getLogger(_name).addFilter(_LIBRARY_LOGS)


class _Retryable(Exception):
    def __init__(self, message: str, response: httpx.Response | None = None, wait: float | None = None):
        super().__init__(message)
        self.response = response
        self.wait = wait


class HttpClient:
    """A configured client for one foreign service.

    ``client.request("GET", "/orders.json", params=...)`` returns the ``httpx.Response``
    of the first 2xx/3xx answer. ``service`` names the instance in errors and logs.
    """

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: Iterable[str] = (),
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
        breaker: CircuitBreaker | None = None,
    ):
        self.service = service
        self.breaker = breaker
        self.policy = policy or RetryPolicy()
        self.clock = clock or SystemClock()
        secrets = tuple(secrets)
        self.redactor = Redactor(secrets)
        _LIBRARY_LOGS.add(secrets)
        self._on_response = on_response
        try:
            self._client = httpx.Client(
                base_url=base_url,
                headers=dict(headers or {}),
                auth=auth,
                timeout=self._timeout(self.policy.timeout),
                transport=transport,
            )
        except UnicodeEncodeError as exc:  # a header value httpx cannot even hold
            raise self._unsendable("client for", base_url, exc, headers or {}) from None
        self.requests_sent = 0
        # Built once, and entered only after a first try that must be retried: building
        # a Retrying (about 3 us) and running a call through it (about 16 us) on every
        # request cost more CPU than the rest of the helper. Its per-call state (attempt
        # number, statistics) lives in thread-local storage, so one instance serves
        # concurrent threads.
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(  # an open breaker stops the retries at once
                lambda exc: isinstance(exc, _Retryable) and not (self.breaker is not None and self.breaker.is_open)),
            sleep=self.clock.sleep if not isinstance(self.clock, SystemClock) else tenacity.nap.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )

    # -- public

    def request(self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        if kwargs.get("timeout") is None:  # never a request without one
            kwargs["timeout"] = self._timeout(self.policy.timeout)
        elif isinstance(kwargs["timeout"], (int, float)):
            kwargs["timeout"] = self._timeout(kwargs["timeout"])
        if idempotent is None:
            idempotent = method.upper() not in UNSAFE_METHODS
        try:
            try:  # the common case, a first answer that needs no retry, skips tenacity entirely
                return self._send_once(method, url, idempotent, **kwargs)
            except _Retryable as exc:
                first: list[_Retryable] = [exc]

            def attempt() -> httpx.Response:
                if first:  # tenacity's try 1 is the one already made: replay its outcome
                    raise first.pop()
                return self._send_once(method, url, idempotent, **kwargs)

            return self._retrying(attempt)
        except _Retryable as exc:
            if self.breaker is not None and self.breaker.is_open:
                raise self.breaker.error() from None
            status = exc.response.status_code if exc.response is not None else None
            raise TransientError(
                f"{method} {self._safe_url(url)} failed after {self.policy.attempts} tries: {exc}",
                service=self.service,
                status_code=status,
            ) from None

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def json(self, response: httpx.Response, key: str | None = None, kind: type = dict) -> Any:
        """``response.json()`` (or its field ``key``) as a ``kind``, or a TransientError.

        ``kind`` is ``dict`` (the default: a JSON object) or ``list``: an API that answers
        with a JSON list is read with ``json(response, kind=list)``, and one field of an
        object with ``json(response, "orders", list)``.
        A 2xx body that is not JSON, or JSON without the expected object or list, is
        most likely an answer cut off on the way: the error says what arrived instead
        (secrets redacted) and the caller's work is retried later.
        """
        where = f"{response.request.method} {self._safe_url(str(response.request.url))}"
        wanted = "list" if kind is list else "object"
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            snippet = self.redactor.text(response.text[:120])
            raise TransientError(
                f"{where} answered HTTP {response.status_code} with a body that is not valid JSON "
                f"({len(response.content)} bytes, starting {snippet!r}); it may have been cut off, "
                "will try again later",
                service=self.service,
                status_code=response.status_code,
            ) from None
        if key is None:
            if not isinstance(body, kind):
                hint = " (an API that answers with a list is read with json(response, kind=list))" \
                    if isinstance(body, list) else ""
                raise TransientError(
                    f"{where} answered HTTP {response.status_code} with a JSON {type(body).__name__}, "
                    f"not a JSON {wanted}{hint}; will try again later",
                    service=self.service,
                    status_code=response.status_code,
                )
            return body
        value = body.get(key) if isinstance(body, dict) else None
        if not isinstance(value, kind):
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise TransientError(
                f"{where} answered HTTP {response.status_code} without a {key!r} {wanted} (got {keys}); "
                "will try again later",
                service=self.service,
                status_code=response.status_code,
            )
        return value

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals

    def _safe_url(self, url: str) -> str:
        return self.redactor.text(str(url))

    def _timeout(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(seconds, self.policy.connect_timeout))

    def _send_once(self, method: str, url: str, idempotent: bool, **kwargs: Any) -> httpx.Response:
        if self.breaker is not None:
            self.breaker.check()  # open: Unreachable at once, nothing sent
        self.requests_sent += 1
        began = time.monotonic()
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.LocalProtocolError, UnicodeEncodeError) as exc:  # before TransportError: again cannot help
            raise self._unsendable(method, url, exc, kwargs.get("headers")) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            problem = f"{type(exc).__name__}: {self.redactor.text(str(exc))}"
            if self.breaker is not None:  # no connection: a failure; connected, then lost: reachable
                if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                    self.breaker.failure(problem, time.monotonic() - began)
                else:
                    self.breaker.success()
            if idempotent or isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise _Retryable(problem) from None
            raise TransientError(
                f"{method} {self._safe_url(url)}: {problem}; not resent at once, since the server may have acted on it",
                service=self.service,
            ) from None
        if log.isEnabledFor(logging.DEBUG):  # redacting the URL is not free
            log.debug(
                "%s %s %s -> %s",
                self.service,
                method,
                self._safe_url(str(response.request.url)),
                response.status_code,
            )
        if self.breaker is not None:
            self.breaker.success()  # any answer: the instance is reachable
        if self._on_response is not None:
            self._on_response(response)
        if response.status_code == 429 or (response.status_code >= 500 and idempotent):
            wait = retry_after_seconds(response, self.clock.now())
            raise _Retryable(f"HTTP {response.status_code}", response=response, wait=wait)
        if response.status_code >= 500:
            raise TransientError(
                f"{method} {self._safe_url(url)} answered HTTP {response.status_code}; not resent at once, "
                f"since the server may have acted on it",
                service=self.service,
                status_code=response.status_code,
            )
        if response.status_code >= 400:
            body = self.redactor.text(response.text[:500])
            raise PermanentError(
                f"{method} {self._safe_url(url)} was refused with HTTP {response.status_code}: {body}",
                service=self.service,
                status_code=response.status_code,
                body=body,
            )
        return response

    def _unsendable(self, method: str, url: str, exc: Exception, extra: Any) -> PermanentError:
        """A request httpx refuses to put on the wire (a header value with a newline, a
        character HTTP does not allow): permanent, and most likely a setting's fault."""
        client = getattr(self, "_client", None)
        headers = dict(client.headers) if client is not None else {}
        if isinstance(extra, Mapping):
            headers.update(extra)
        bad = sorted(
            name for name, value in headers.items()
            if isinstance(value, str) and (value != value.strip() or not value.isprintable() or not value.isascii())
        )
        where = f"the {', '.join(bad)} header" + ("s" if len(bad) > 1 else "") if bad else "a header"
        return PermanentError(
            f"{method} {self._safe_url(url)} cannot be sent: {where} has a value HTTP does not allow "
            f"({type(exc).__name__}: {self.redactor.text(str(exc))}). Most likely a setting of instance "
            f"{self.service!r} that holds a token or key (a ${{VAR}} from the environment) ends with a newline "
            "or has spaces around it; strip it where it is set. Sending the request again will not help",
            service=self.service,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return min(exc.wait, self.policy.max_wait)
        backoff = min(self.policy.maximum, self.policy.initial * (2 ** (state.attempt_number - 1)))
        return backoff / 2 + random.uniform(0, backoff / 2)  # "equal jitter"

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: retrying after %s (try %d of %d, waiting %.2fs)",
            self.service,
            exc,
            state.attempt_number,
            self.policy.attempts,
            state.upcoming_sleep,
        )


def client_factory(
    service: str,
    *,
    clock: Clock,
    secrets: Iterable[str] = (),
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    breaker: CircuitBreaker | None = None,
) -> Callable[..., HttpClient]:
    """The ``context.http`` an adapter receives: ``http(base_url, headers=..., auth=...)``.

    The service name, clock, secrets to redact and default retry policy are filled in;
    the adapter may still pass its own ``policy`` or ``on_response``. Every client it
    makes shares one :class:`CircuitBreaker` (``breaker``, or a new one).
    """
    shared = breaker or CircuitBreaker(service, clock=clock)

    def make(base_url: str, **kwargs: Any) -> HttpClient:
        kwargs.setdefault("policy", policy)
        kwargs.setdefault("transport", transport)
        kwargs.setdefault("breaker", shared)
        return HttpClient(base_url, service=service, clock=clock, secrets=secrets, **kwargs)

    return make


def header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]`` ignoring case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None
