"""Helpers for plugin authors: map a foreign payload into fulfilhub's models.

``fulfilhub`` exports the models, protocols and errors; this module holds the small
mapping helpers every adapter needs, so that no plugin imports an internal module:

- **times**: :func:`parse_time` reads an ISO 8601 text into an aware ``datetime`` inside
  the models' range (:data:`EARLIEST` .. :data:`LATEST`, checked by :func:`in_range`);
- **bounds**: :data:`MAX_AMOUNT` and :data:`MAX_QUANTITY`, the limits the models enforce;
- **money**: :func:`parse_amount`, :func:`parse_currency`, :func:`minor_digits` and
  :func:`parse_money`, which refuses an amount finer than its currency's minor unit
  (``"1.5"`` JPY) rather than rounding it silently;
- **headers**: :func:`header`, a header's value whatever the case of its name;
- **JSON shapes**: :func:`parse_object`, :func:`parse_list` and :func:`parse_text` read
  one field of a decoded payload as what it must be, and :func:`refusing` turns what a
  whole mapping lets slip (a ``KeyError``, a model's ``ValueError``) into a PayloadError;
- **forms**: :func:`parse_form`, the fields of an ``application/x-www-form-urlencoded``
  body (what Kuaidi100 and ECPay post), each once;
- **stamped signatures**: :func:`stamped_signature`, :func:`signature_time` and
  :func:`verify_stamped`, the ``t=<unix time>,v1=<hex HMAC-SHA256>`` scheme Stripe and
  Shippo sign webhooks with (the time signed with the body);
- **tables**: :func:`by_meaning`, a foreign status table written by meaning (each
  meaning with the codes that have it) turned into code -> meaning;
- **carriers that only track**: :class:`TracksOnly`, the ``quote``, ``buy`` and ``void``
  of a carrier whose labels are bought elsewhere (each a PermanentError saying so);
- **compensation policies**: :data:`CAUSES` and :func:`cause_of` (the cause of a delay a
  tier is written for), :func:`shipping_paid` (what the customer paid for shipping),
  :class:`Tier` and :func:`propose_by_rules` (the most valuable tier a delay reached),
  the same rules the built-in ``rules`` policy applies.

Every helper refuses with :class:`~fulfilhub.PayloadError` naming the ``field``, never
with a bare ``ValueError``, so a mapping built from them maps or refuses (what
``fulfilhub.testing.fuzz.assert_maps_or_refuses`` checks). The names re-exported here are
the same objects as the core's own: a plugin and the core agree on one bound.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import parse_qs

from babel.numbers import get_currency_precision

from .engines.tiers import CAUSES, Tier, cause_of, propose_by_rules, shipping_paid
from .errors import PayloadError, PermanentError
from .http import header
from .models import EARLIEST, LATEST, MAX_AMOUNT, MAX_QUANTITY, Label, Money, Rate, ShipmentRequest, in_range

__all__ = [
    "CAUSES",
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT",
    "MAX_QUANTITY",
    "Tier",
    "TracksOnly",
    "by_meaning",
    "cause_of",
    "header",
    "in_range",
    "minor_digits",
    "parse_amount",
    "parse_currency",
    "parse_form",
    "parse_list",
    "parse_money",
    "parse_object",
    "parse_text",
    "parse_time",
    "propose_by_rules",
    "refusing",
    "shipping_paid",
    "signature_time",
    "stamped_signature",
    "verify_stamped",
]

T = TypeVar("T")
M = TypeVar("M")
#: The longest text a reader takes from a payload (a description, an id, a code).
MAX_TEXT = 2000


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_time(value: Any, *, field: str | None = None, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 text (``2026-01-05T08:00:00Z``, ``...+08:00``) as an aware datetime.

    A time without an offset is refused, since its moment would be a guess, unless the
    API documents it as UTC (``naive_is_utc=True``). A time outside 1900-2200 is refused.
    Raises PayloadError naming ``field``.
    """
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"expected an ISO 8601 time, got {_shown(value)}", field=field)
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        raise PayloadError(f"not an ISO 8601 time: {_shown(value)}", field=field) from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"ISO 8601 time without a UTC offset, so its moment is a guess: {_shown(value)}",
                               field=field)
        moment = moment.replace(tzinfo=timezone.utc)
    if not in_range(moment):
        raise PayloadError(f"time outside {EARLIEST.year}-{LATEST.year}: {_shown(value)}", field=field)
    return moment


def parse_amount(value: Any, *, field: str | None = None, negative: bool = False) -> Decimal:
    """A decimal amount from text (``"19.90"``) or an integer, as an exact ``Decimal``.

    A float is refused: it has already lost exactness (read the JSON with
    ``parse_float=Decimal`` or take the API's text). So are booleans, NaN, infinities,
    amounts of :data:`MAX_AMOUNT` or more, and negative amounts unless ``negative``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise PayloadError(f"expected a decimal amount like '19.90', got {type(value).__name__} {_shown(value)}",
                           field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"not a decimal amount: {_shown(value)}", field=field) from None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise PayloadError(f"not a usable amount: {_shown(value)} (must be finite and below {MAX_AMOUNT:,})",
                           field=field)
    if amount < 0 and not negative:
        raise PayloadError(f"negative amount: {_shown(value)}", field=field)
    return amount


def parse_currency(value: Any, *, field: str | None = None) -> str:
    """An ISO 4217 code (``"usd"`` -> ``"USD"``); anything but three ASCII letters is refused."""
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise PayloadError(f"expected an ISO 4217 code like 'USD', got {_shown(value)}", field=field)
    return value.upper()


def minor_digits(currency: str) -> int:
    """Decimal digits of ``currency``'s minor unit (USD 2, JPY 0, KWD 3), from CLDR via Babel.

    A code CLDR does not know counts as 2 digits, as CLDR's own default does.
    """
    return get_currency_precision(currency.upper())


def parse_money(amount: Any, currency: Any, *, field: str | None = None, currency_field: str | None = None,
                negative: bool = False) -> Money:
    """``Money`` from a foreign amount and currency code, exact to the currency's minor unit.

    ``"19.9"`` USD becomes ``19.90``; ``"19.905"`` USD or ``"1.5"`` JPY is refused rather
    than rounded (a rounding the channel did not make is money the books cannot match).
    """
    code = parse_currency(currency, field=currency_field or field)
    value = parse_amount(amount, field=field, negative=negative)
    unit = Decimal(1).scaleb(-minor_digits(code))
    exact = value.quantize(unit)
    if exact != value:
        raise PayloadError(f"{_shown(amount)} {code} is finer than the currency's minor unit ({unit})", field=field)
    return Money(amount=exact, currency=code)


def parse_object(value: Any, field: str | None = None) -> Mapping[str, Any]:
    """A JSON object (a mapping) as it is; anything else is refused naming ``field``."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {type(value).__name__}", field=field)
    return value


def parse_list(value: Any, field: str | None = None) -> list[Any]:
    """A JSON array as a list; a missing one (None) is empty; anything else is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"expected a list, got {type(value).__name__}", field=field)
    return value


def parse_text(value: Any, field: str | None = None, *, required: bool = True, codes: bool = False) -> str:
    """A text field, at most :data:`MAX_TEXT` characters, encodable as UTF-8 (no lone
    surrogate). Not ``required``, a missing one (None) is ``""``; required, a blank one is
    refused. With ``codes``, an integer is taken as its digits (APIs that send a code as
    ``3`` or ``"3"``)."""
    if value is None and not required:
        return ""
    if codes and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > MAX_TEXT:
        raise PayloadError(f"expected text, got {_shown(value)}", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("text with a lone surrogate", field=field) from None
    return value


def refusing(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a whole mapping so that what slips past its readers (a ``KeyError``,
    ``IndexError``, ``TypeError``, ``ValueError``, ``AttributeError`` or
    ``ArithmeticError``, a model's validator included) leaves as a PayloadError saying
    ``what`` could not be mapped: the mapping maps or refuses, never crashes."""
    def wrap(parse: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(parse)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return parse(*args, **kwargs)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
                raise PayloadError(f"{what} cannot be mapped: {exc!r}"[:300]) from None
        return guarded
    return wrap


def parse_form(body: bytes) -> dict[str, str] | None:
    """The fields of a form body (``param=...&sign=...``, UTF-8), each given once; None
    for a body that is not such a form (a field given twice is not: which one was signed?)."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    if any(len(values) != 1 for values in fields.values()):
        return None
    return {name: values[0] for name, values in fields.items()}


def by_meaning(meanings: Mapping[M, str]) -> dict[str, M]:
    """``{meaning: "code code ..."}`` (a table as a person reads it: what each group of the
    vendor's codes means) as ``{code: meaning}``. A code given twice is a bug in the table."""
    table: dict[str, M] = {}
    for meaning, codes in meanings.items():
        for code in codes.split():
            if code in table:
                raise ValueError(f"code {code!r} has two meanings: {table[code]!r} and {meaning!r}")
            table[code] = meaning
    return table


class TracksOnly:
    """The half of :class:`fulfilhub.Carrier` a carrier that only tracks does not do (its
    type registered ``tracks_only``: labels are bought elsewhere and attached with
    ``fulfilhub shipments attach-code``). The runner never calls these; each raises a
    PermanentError saying why, naming ``self.name``."""

    name: str

    def quote(self, request: ShipmentRequest) -> list[Rate]:
        raise PermanentError(f"{self.name} only tracks and sells no labels: nothing to quote for {request.reference} "
                             "(the runner asks only carriers that sell labels)", service=self.name)

    def buy(self, rate: Rate, key: str) -> Label:
        raise PermanentError(f"{self.name} only tracks: buy the label from the courier and attach its code with "
                             "`fulfilhub shipments attach-code`", service=self.name)

    def void(self, label: Label) -> None:
        raise PermanentError(f"{self.name} only tracks: cancel waybill {label.tracking_code} with the courier that "
                             "sold it", service=self.name)


def stamped_signature(body: bytes, secret: str, stamp: int) -> str:
    """``t=<stamp>,v1=<hex HMAC-SHA256 of "<stamp>.<body>">``: the signature Stripe and
    Shippo send with a webhook (the time is signed with the body: a replay cannot be
    re-dated)."""
    digest = hmac.new(secret.encode(), str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _stamped_parts(value: str) -> tuple[int | None, str]:
    parts = dict(part.strip().split("=", 1) for part in value.split(",") if "=" in part)
    stamp = parts.get("t", "")
    return (int(stamp) if stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 else None), parts.get("v1", "")


def signature_time(value: str) -> datetime | None:
    """When a stamped signature (:func:`stamped_signature`) says it was made, or None."""
    stamp = _stamped_parts(value)[0]
    return datetime.fromtimestamp(stamp, timezone.utc) if stamp is not None else None


def verify_stamped(value: str, body: bytes, secret: str, *, now: datetime, tolerance: float) -> bool:
    """True when ``value`` is the stamped signature of ``body`` with ``secret`` (its hex in
    either case, compared in constant time) made within ``tolerance`` seconds of ``now``;
    False for a missing, malformed, wrong, too old or too new one."""
    stamp, given = _stamped_parts(value)
    if stamp is None or abs(now.timestamp() - stamp) > tolerance:
        return False
    expected = stamped_signature(body, secret, stamp).encode()
    return hmac.compare_digest(expected, f"t={stamp},v1={given.lower()}".encode("utf-8", "replace"))
