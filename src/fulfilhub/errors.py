"""Every error fulfilhub raises on purpose.

The hierarchy::

    FulfilhubError                      anything fulfilhub raises on purpose
    ├── ConfigError                     fulfilhub.toml is wrong (names file, key, expectation)
    ├── PluginError                     a plugin failed to load or registered something bad
    ├── IllegalTransition               a lifecycle change the transition table forbids
    ├── PayloadError                    a foreign payload could not be mapped (quarantined)
    ├── NotFound                        an order, shipment or quarantine row does not exist
    ├── StoreError                      the database is missing, locked or not migrated
    └── ExternalError                   a foreign API call failed
        ├── TransientError              worth retrying later (429, 5xx, timeout, connection)
        │   └── Unreachable             the instance's circuit breaker is open: not asked again for now
        └── PermanentError              will fail again as sent (4xx other than 429)

Each message says what was wrong, with which value, and what to do about it.
"""

from __future__ import annotations


class FulfilhubError(Exception):
    """Base class of every error fulfilhub raises on purpose."""


class ConfigError(FulfilhubError):
    """The configuration file is wrong.

    ``path`` is the file, ``key`` the dotted key inside it (or None for the whole file).
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        self.path = path
        self.key = key
        self.detail = message
        where = ""
        if path and key:
            where = f"{path}: [{key}] "
        elif path:
            where = f"{path}: "
        elif key:
            where = f"[{key}] "
        super().__init__(f"{where}{message}")


class PluginError(FulfilhubError):
    """A plugin could not be loaded, or registered something invalid."""


class IllegalTransition(FulfilhubError):
    """The lifecycle transition table does not allow this change; nothing was changed."""

    def __init__(self, subject: str, current: object, target: object, allowed: object):
        self.subject = subject
        self.current = current
        self.target = target
        self.allowed = allowed
        super().__init__(
            f"{subject}: cannot go from {current!s} to {target!s}; "
            f"allowed from {current!s}: {allowed}"
        )


class PayloadError(FulfilhubError):
    """A foreign payload could not be mapped to the normalized model.

    ``field`` names the offending field where known. The runner stores the payload in
    the quarantine table with this message; ``fulfilhub quarantine retry`` re-maps it.
    """

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class NotFound(FulfilhubError):
    """A record asked for by id does not exist."""


class StoreError(FulfilhubError):
    """The store cannot be used as it is (missing, locked, schema not migrated)."""


class ExternalError(FulfilhubError):
    """A call to a foreign API failed. ``service`` names the instance or host."""

    def __init__(self, message: str, *, service: str = "", status_code: int | None = None):
        self.service = service
        self.status_code = status_code
        prefix = f"{service}: " if service else ""
        super().__init__(f"{prefix}{message}")


class TransientError(ExternalError):
    """Worth retrying later: rate limited, server error, timeout, connection refused."""


class Unreachable(TransientError):
    """An instance's API could not be connected to several times in a row: its circuit
    breaker is open, and nothing is sent to it until the breaker's cool-down has passed
    (the rest of this pass). Raised at once, without a request, while the breaker is open."""


class PermanentError(ExternalError):
    """The foreign API rejected the request; sending it again unchanged will not help.

    ``body`` is the start of the response body with secrets redacted, so that an adapter
    can read the API's own error code.
    """

    def __init__(self, message: str, *, service: str = "", status_code: int | None = None, body: str = ""):
        self.body = body
        super().__init__(message, service=service, status_code=status_code)
