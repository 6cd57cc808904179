"""The built-in notifier types: ``console``, ``jsonl``, ``smtp`` and ``webhook``.

Each delivers a rendered :class:`~fulfilhub.models.Notice`; its ``key`` is the
idempotency key. What each does when a notice comes again (``attempt > 1``: an earlier
try may have reached the outside world before the process died):

- ``jsonl`` appends one JSON line per notice to a file, and looks for the key in the
  file before appending again: exactly once.
- ``webhook`` POSTs the notice as JSON with an ``Idempotency-Key`` header (the notice
  key) and a signature; a receiver that keeps the keys it has seen acts once.
- ``smtp`` sends a multipart (text + HTML) email whose ``Message-ID`` is derived from
  the key; SMTP has no way to ask whether a message was taken, so a crash between the
  server's acceptance and fulfilhub's commit can send it twice (mail clients collapse
  the same Message-ID). That is the documented window.
- ``console`` prints it (for development).

**Webhook signature.** Headers ``X-Fulfilhub-Timestamp`` (Unix seconds) and
``X-Fulfilhub-Signature: sha256=<hex>`` where ``<hex>`` is HMAC-SHA256, keyed with the
shared ``secret``, of ``<timestamp>.<raw body>`` (the timestamp's ASCII digits, a dot,
then the body bytes exactly as sent). A receiver recomputes it over the raw body,
compares in constant time and refuses a timestamp more than five minutes old:
:func:`verify_signature` does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import sys
import threading
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from ..adapters import InstanceContext, NotifierType, Setting
from ..errors import ConfigError, PermanentError, TransientError
from ..hookspecs import hookimpl
from ..models import Notice

#: A signed webhook older than this is refused by :func:`verify_signature`.
SIGNATURE_TOLERANCE_SECONDS = 300


def notice_json(notice: Notice) -> dict[str, Any]:
    """The notice as the ``jsonl`` and ``webhook`` notifiers write it."""
    return {"key": notice.key, "event": str(notice.event), "order_id": notice.order_id,
            "order_number": notice.order_number, "locale": notice.locale, "to": notice.to,
            "subject": notice.subject, "text": notice.text, "html": notice.html,
            "created_at": notice.created_at.isoformat(), "facts": dict(notice.facts)}


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` of the email for notice ``key``: the same key, the same id."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Fulfilhub-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, now: float,
                     tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: True when ``body`` carries a valid, fresh signature."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp, given = lowered.get("x-fulfilhub-timestamp", ""), lowered.get("x-fulfilhub-signature", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(stamp), body), given)


class ConsoleNotifier:
    """Prints each notice to standard output."""

    def __init__(self, context: InstanceContext):
        self.name = context.name

    def send(self, notice: Notice, *, attempt: int) -> str:
        sys.stdout.write(f"--- {notice.key} ({notice.locale}) to {notice.to or '-'}\n{notice.subject}\n\n{notice.text}\n")
        sys.stdout.flush()
        return "printed"

    def close(self) -> None:
        pass


class JsonlNotifier:
    """Appends each notice as one JSON line to ``path``; a key already in the file is not written again."""

    _lock = threading.Lock()

    def __init__(self, context: InstanceContext):
        self.path = Path(context.setting("path")).expanduser()
        if not self.path.parent.is_dir():
            raise ConfigError(f"folder {self.path.parent} does not exist", key=context.key("path"))

    def _has(self, key: str) -> int | None:
        if not self.path.exists():
            return None
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                try:
                    if json.loads(line).get("key") == key:
                        return n
                except ValueError:
                    continue
        return None

    def send(self, notice: Notice, *, attempt: int) -> str:
        with self._lock:
            if attempt > 1:
                found = self._has(notice.key)
                if found is not None:
                    return f"line {found} (already written)"
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(notice_json(notice), ensure_ascii=False, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return "written"

    def close(self) -> None:
        pass


class SmtpNotifier:
    """Sends each notice as a multipart (plain text + HTML) email."""

    def __init__(self, context: InstanceContext):
        self.host: str = context.setting("host")
        self.port: int = context.setting("port")
        self.sender: str = context.setting("sender")
        self.username: str = context.setting("username")
        self.password: str = context.setting("password") if "password" in context.settings else ""
        self.starttls: bool = context.setting("starttls")
        self.timeout: float = context.setting("timeout")
        self.domain = self.sender.rsplit("@", 1)[-1] if "@" in self.sender else "fulfilhub.local"
        self.clock = context.clock

    def message(self, notice: Notice) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = notice.to
        msg["Subject"] = notice.subject
        msg["Message-ID"] = message_id(notice.key, self.domain)
        msg["Date"] = formatdate(notice.created_at.timestamp(), usegmt=True)
        msg["X-Fulfilhub-Notice"] = notice.key
        msg.set_content(notice.text)
        if notice.html:
            msg.add_alternative(notice.html, subtype="html")
        msg["Content-Language"] = notice.locale.replace("_", "-")  # after the body: set_content drops Content-*
        return msg

    def send(self, notice: Notice, *, attempt: int) -> str:
        if not notice.to:
            return "skipped: the order has no email address"
        msg = self.message(notice)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"the SMTP server refused {notice.to}: {exc.recipients}") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            raise TransientError(f"SMTP {self.host}:{self.port}: {exc}", service=f"smtp {self.host}") from None
        except smtplib.SMTPResponseException as exc:
            error = TransientError if 400 <= exc.smtp_code < 500 else PermanentError
            raise error(f"SMTP {self.host}:{self.port} answered {exc.smtp_code} {exc.smtp_error!r}") from None
        if refused:
            raise PermanentError(f"the SMTP server refused {', '.join(refused)}")
        return msg["Message-ID"]

    def close(self) -> None:
        pass


class WebhookNotifier:
    """POSTs each notice as signed JSON to ``url``."""

    def __init__(self, context: InstanceContext):
        self.url: str = context.setting("url")
        self.secret: str = context.setting("secret")
        self.clock = context.clock
        self.http = context.http(self.url)

    def send(self, notice: Notice, *, attempt: int) -> str:
        body = json.dumps(notice_json(notice), ensure_ascii=False, sort_keys=True).encode()
        stamp = int(self.clock.now().timestamp())
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": notice.key,
                   "X-Fulfilhub-Timestamp": str(stamp), "X-Fulfilhub-Signature": sign(self.secret, stamp, body),
                   "X-Fulfilhub-Event": str(notice.event)}
        response = self.http.post("", content=body, headers=headers, idempotent=True)
        if response.status_code >= 400:
            raise PermanentError(f"webhook {self.url} answered {response.status_code}: {response.text[:200]}")
        return f"HTTP {response.status_code}"

    def close(self) -> None:
        self.http.close()


SMTP_SETTINGS = {
    "host": Setting(str, default="localhost", help="the SMTP server"),
    "port": Setting(int, default=25, min=1, max=65535),
    "sender": Setting(str, help="the From address, e.g. \"Acme <orders@acme.example>\""),
    "username": Setting(str, default="", help="login name, when the server wants one"),
    "password": Setting(str, default="", secret=True, help="from the environment: \"${SMTP_PASSWORD}\""),
    "starttls": Setting(bool, default=False),
    "timeout": Setting(float, default=10.0, min=0.1),
}
WEBHOOK_SETTINGS = {
    "url": Setting(str, help="where to POST each notice"),
    "secret": Setting(str, secret=True, help="the HMAC key, from the environment: \"${NOTICE_WEBHOOK_SECRET}\""),
}
JSONL_SETTINGS = {"path": Setting(str, help="the file to append to (an absolute path is best)")}


@hookimpl(trylast=True)
def register_notifier_types(register: Callable[[NotifierType], None]) -> None:
    register(NotifierType(name="console", factory=ConsoleNotifier, settings={}, description="Print each notice"))
    register(NotifierType(name="jsonl", factory=JsonlNotifier, settings=JSONL_SETTINGS,
                          description="Append each notice as a JSON line to a file (exactly once)"))
    register(NotifierType(name="smtp", factory=SmtpNotifier, settings=SMTP_SETTINGS,
                          description="Email: multipart text + HTML, Message-ID from the notice key"))
    register(NotifierType(name="webhook", factory=WebhookNotifier, settings=WEBHOOK_SETTINGS,
                          description="POST signed JSON (HMAC-SHA256 over timestamp and body)"))
