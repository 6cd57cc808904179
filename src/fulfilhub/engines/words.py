"""The words a customer reads, and how dates, money and time zones are written for them.

One message catalogue serves the notices (``engines/notify.py``) and the tracking page
(``server/``): ``templates/messages/<language>.toml`` for ``en``, ``zh_Hant`` and
``zh_Hans``, with the same keys in each. A cause, a tracking status or a compensation
is written once per language and both places read it from there, so the page and the
notices say the same thing in the same words. ``templates/messages/glossary.toml`` is
the reviewed glossary per language (preferred and forbidden terms), which a test checks
every string against.

Formatting is Babel's, for the reader's language *and* territory (``en_US`` writes
"Sunday, March 8", ``en_GB`` "Sunday 8 March"; ``zh_Hant_TW`` and ``zh_Hant_HK`` differ in
zone names): :func:`territorial` picks the territory from the order (its own locale,
else the destination country). This module decides nothing about what to say or when;
it only words what it is given.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_location, get_timezone_name, match_skeleton
from babel.numbers import format_decimal

from ..models import Money

#: The catalogue's languages (file names under ``templates/messages/``).
LANGUAGES = ("en", "zh_Hant", "zh_Hans")
#: The territory a language is written for when the order names none that Babel knows.
_HOME = {"en": "", "zh_Hant": "TW", "zh_Hans": "CN"}
#: Where a bare ``$``/``¥`` or an ISO code would leave the reader guessing, the symbol people write.
CLEAR_SYMBOLS: Mapping[str, str] = {
    "USD": "US$", "TWD": "NT$", "SGD": "S$", "HKD": "HK$", "AUD": "A$", "CAD": "CA$", "NZD": "NZ$", "MOP": "MOP$",
    "CNY": "CN¥", "JPY": "JP¥", "MYR": "RM",
}
#: A bare ``$`` is clear only for the territory's own dollar (USD in the US).
_OWN_DOLLAR = {"": "USD", "US": "USD"}


# --------------------------------------------------------------------------- the catalogue


@functools.lru_cache(maxsize=8)
def catalogue(language: str) -> Mapping[str, Mapping[str, str]]:
    """The message table of one language (``en``, ``zh_Hant``, ``zh_Hans``): section -> key -> text."""
    if language not in LANGUAGES:
        raise KeyError(f"no message catalogue for {language!r}; expected one of {', '.join(LANGUAGES)}")
    data = (resources.files("fulfilhub") / "templates" / "messages" / f"{language}.toml").read_bytes()
    return tomllib.loads(data.decode("utf-8"))


@functools.lru_cache(maxsize=1)
def glossary() -> Mapping[str, Any]:
    """The reviewed glossary (``templates/messages/glossary.toml``): per language, preferred and forbidden terms."""
    data = (resources.files("fulfilhub") / "templates" / "messages" / "glossary.toml").read_bytes()
    return tomllib.loads(data.decode("utf-8"))


def language_of(locale: str) -> str:
    """The catalogue that writes ``locale`` (``zh_Hant_HK`` -> ``zh_Hant``, ``en-GB`` -> ``en``)."""
    loc = _parse(locale)
    if loc is not None and loc.language == "zh":
        return "zh_Hant" if loc.script == "Hant" or (not loc.script and loc.territory in ("TW", "HK", "MO")) \
            else "zh_Hans"
    return "en"


def text(locale: str, section: str, key: str, **values: object) -> str:
    """One message of the catalogue in ``locale``'s language, with ``values`` filled in."""
    return catalogue(language_of(locale))[section][key].format(**values)


def territorial(locale: str, country: str | None = None) -> str:
    """``locale`` with a territory, for Babel: its own when it has one, else the destination
    ``country``'s when Babel writes that language there, else the language's home.

    ``en`` + GB -> ``en_GB``; ``zh-Hant`` + HK -> ``zh_Hant_HK``; ``zh-Hant`` + US -> ``zh_Hant_TW``;
    ``en`` + TW -> ``en_001`` (world English: ``Sunday 8 March``, ``US$6.90``, never a bare ``$``
    that a reader in Taiwan would take for NT$).
    """
    loc = _parse(locale)
    language = language_of(locale)
    base = "en" if language == "en" else language  # a language the catalogue lacks is written in English
    own = loc.territory if loc is not None and loc.language in ("en", "zh") else None
    country = (country or "").upper()
    for territory in (own, country, _HOME[language]):
        if not territory:
            continue
        candidate = f"{base}_{territory}"
        if _parse(candidate) is not None and _known(candidate):
            return candidate
    if base == "en" and country:  # English read outside the US, where Babel has no en_XX: world English
        return "en_001"
    return base


@functools.lru_cache(maxsize=256)
def _known(locale: str) -> bool:
    from babel.localedata import exists

    return exists(locale)


@functools.lru_cache(maxsize=256)
def _parse(locale: str) -> Locale | None:
    try:
        return Locale.parse((locale or "").replace("-", "_"))
    except (ValueError, TypeError, LookupError, UnknownLocaleError):
        return None


def _babel(locale: str) -> Locale:
    return _parse(territorial(locale)) or Locale.parse("en")


# --------------------------------------------------------------------------- dates and times


@functools.lru_cache(maxsize=64)
def _date_pattern(locale: str, with_year: bool) -> str:
    """The locale's own pattern for a weekday, day and full month name (and year)."""
    loc = _babel(locale)
    skeleton = "yMMMMEEEEd" if with_year else "MMMMEEEEd"
    best = match_skeleton(skeleton, loc.datetime_skeletons) or ("yMMMEd" if with_year else "MMMEd")
    pattern = str(loc.datetime_skeletons[best].pattern)
    pattern = re.sub(r"(?<![E'])E{1,3}(?!E)", "EEEE", pattern)  # the full weekday, as a letter would
    pattern = re.sub(r"(?<!M)MMM(?!M)", "MMMM", pattern)
    if loc.language == "zh":
        pattern = pattern.replace(" ", "")  # no spaces in a Chinese date
    return pattern


def day(value: date | datetime | None, locale: str, zone: tzinfo | None = None, today: date | None = None) -> str:
    """A calendar day as the reader writes it, in ``zone`` for an instant (a ``date`` is already local).

    ``Sunday, March 8`` (en_US), ``Sunday 8 March`` (en_GB), ``3月8日星期日`` (zh); with the
    year (``Sunday, March 8, 2026``) when it is not ``today``'s year. Without ``today`` the
    year is left out.
    """
    if value is None:
        return ""
    local = value.astimezone(zone).date() if isinstance(value, datetime) and zone is not None else (
        value.date() if isinstance(value, datetime) else value)
    with_year = today is not None and local.year != today.year
    return format_date(local, _date_pattern(locale, with_year), locale=_babel(locale))


def moment(value: datetime, locale: str, zone: tzinfo, today: date | None = None) -> str:
    """A scan's time: its day (as :func:`day`) and the hour, in ``zone``."""
    local = value.astimezone(zone)
    glue = str(_babel(locale).datetime_formats.get("medium", "{1} {0}"))
    return glue.format(format_time(local, "short", locale=_babel(locale)), day(local, locale, zone, today))


def zone_label(zone: tzinfo, locale: str, at: datetime) -> str:
    """The zone as its reader names it, true on any date (so also on ``at``'s).

    English uses the generic name (``Central Time``, ``Taiwan Time``: right in summer and
    winter, where ``Central Standard Time`` would be wrong on a daylight date, and never
    the ambiguous ``CST``); Chinese the place (``台灣時間``, ``美國（芝加哥）時間``).
    """
    key = getattr(zone, "key", None)
    if not key or key == "UTC":
        return "UTC"
    loc = _babel(locale)
    try:
        if loc.language == "zh":
            place = get_timezone_location(zone, locale=loc)  # the place's generic time: no standard/daylight
            if not any(word in place for word in ("夏令", "標準", "标准")):  # zh_Hant_HK's region format says 夏令
                return place
        return get_timezone_name(zone, width="long", locale=loc)  # the generic name: no standard/daylight
    except (LookupError, ValueError):  # a zone Babel cannot name: its id still says it
        return key


# --------------------------------------------------------------------------- money


def money(value: Money | None, locale: str) -> str:
    """``$6.90`` (en_US), ``US$6.90`` (elsewhere), ``NT$1,280``, ``S$1,280``, ``¥1,280`` (zh_Hans_CN).

    Whole amounts are written without decimals. Never ``6.90 USD`` nor ``SGD1,280``: where
    the locale's symbol is an ISO code or a bare ``$`` for a dollar not the territory's
    own, the symbol people write (:data:`CLEAR_SYMBOLS`) is used.
    """
    if value is None:
        return ""
    loc = _babel(locale)
    amount = value.amount
    whole = amount == amount.to_integral_value()
    digits = "#,##0" if whole else "#,##0.00"
    symbol = loc.currency_symbols.get(value.currency, value.currency)
    own = _OWN_DOLLAR.get(loc.territory or "")
    if (symbol == "$" and value.currency != own) or symbol.isalpha() or value.currency == "TWD":
        symbol = CLEAR_SYMBOLS.get(value.currency, symbol)
    number = format_decimal(abs(amount), digits, locale=loc)
    return f"{'-' if amount < 0 else ''}{symbol}{number}"


def percent_off(percent: Decimal, locale: str) -> str:
    """A percentage discount as the reader says it: ``10% off``; ``9折`` in Chinese (pay 90%)."""
    shown = _plain(percent)
    if language_of(locale) == "en":
        return text(locale, "compensation", "percent_off", percent=shown)
    pays = Decimal(100) - percent
    if pays <= 0 or pays >= 100 or pays != pays.to_integral_value():
        return text(locale, "compensation", "percent_off", percent=shown)
    whole = int(pays)
    return f"{whole // 10 if whole % 10 == 0 else whole}折"


def _plain(number: Decimal) -> str:
    text_ = f"{number:f}"
    return text_.rstrip("0").rstrip(".") if "." in text_ else text_


# --------------------------------------------------------------------------- sentences both places use


def compensation_sentence(kind: str, amount: Money | None, locale: str, *, percent: Decimal | None = None,
                          points: int = 0, months: int = 0, issued: bool = True) -> str:
    """What the customer gets, in one sentence (the same on the page and in the notices).

    In the tense of what has happened: ``issued`` (the channel created it: "We have
    refunded ...", ``[compensation]``) or announced before it is (``issued=False``: "We are
    refunding ...", ``[promised]``). A discount code is what the channel creates: a
    fixed amount off the next order, to use once (its ``percent`` only says how that
    amount was reckoned from this order), so it is told by its amount, never "% off"
    without a number. Only a discount without an amount is told as a percentage (``10%
    off``, ``9折``). A refund says where the money goes and how long it usually takes.
    """
    key = "discount_fixed" if kind == "discount" and (percent is None or amount is not None) else kind
    table = catalogue(language_of(locale))["compensation" if issued else "promised"]
    if key not in table:
        key = "gift" if kind == "gift" else "pending"
    return table[key].format(amount=money(amount, locale), off=percent_off(percent, locale) if percent is not None
                             else "", percent=_plain(percent) if percent is not None else "", points=points,
                             months=months)


def cause(key: str | None, locale: str) -> str:
    """The cause of a delay in plain words (``causes`` of the catalogue; ``other`` when unknown)."""
    causes = catalogue(language_of(locale))["causes"]
    return causes.get(str(key or ""), causes["other"])
