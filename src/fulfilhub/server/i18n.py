"""The server's words, in English, Traditional Chinese and Simplified Chinese.

The words themselves are the message catalogue the notices use too
(``templates/messages/<language>.toml``, read through :mod:`fulfilhub.engines.words`):
the page's own texts under ``[page]``, tracking statuses under ``[status]``, a carrier's
reason on a scan under ``[reasons]``, delay causes under ``[causes]``. So the page and
the notices name the same thing with the same words.

The customer's language comes from ``?lang=`` (the page's switcher) or else from
``Accept-Language``; dates, money and zone names are formatted by Babel in that language
for the order's territory (:func:`reader`: ``en`` for a UK address writes ``en_GB``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from ..engines import words as catalogue
from ..engines import zones

LOCALES = ("en", "zh-Hant", "zh-Hans")
DEFAULT = "en"
#: Each locale's name in itself, for the switcher.
NAMES = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文"}
_HTML_LANG = {"en": "en", "zh-Hant": "zh-Hant", "zh-Hans": "zh-Hans"}
#: The catalogue language each page locale reads.
LANGUAGE = {"en": "en", "zh-Hant": "zh_Hant", "zh-Hans": "zh_Hans"}


class _Section(Mapping[str, Mapping[str, str]]):
    """One catalogue section seen as key -> page locale -> text (the shape the page reads)."""

    def __init__(self, section: str) -> None:
        self._section = section

    def __getitem__(self, key: str) -> Mapping[str, str]:
        return {code: catalogue.catalogue(lang)[self._section][key] for code, lang in LANGUAGE.items()}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(catalogue.catalogue("en")[self._section])

    def __len__(self) -> int:
        return len(catalogue.catalogue("en")[self._section])


TEXT: Mapping[str, Mapping[str, str]] = _Section("page")
#: Tracking statuses, and a carrier's reason on a scan, in words.
STATUS_WORDS: Mapping[str, Mapping[str, str]] = _Section("status")
REASON_WORDS: Mapping[str, Mapping[str, str]] = _Section("reasons")
#: Why an order is late (the end of "because ..."), the same words as the notices'.
CAUSES: Mapping[str, Mapping[str, str]] = _Section("causes")


def _page_locale(locale: str) -> str:
    """``en_GB`` -> ``en``; ``zh_Hant_HK`` -> ``zh-Hant``: the page locale a formatting locale writes."""
    return {"en": "en", "zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans"}[catalogue.language_of(locale)]


def t(locale: str, key: str, **values: object) -> str:
    """A text of the page in ``locale`` (a page locale, or a formatting one like ``en_GB``)."""
    return catalogue.text(locale, "page", key, **values)


def words(table: Mapping[str, Mapping[str, str]], key: str | None, locale: str) -> str:
    entry = table.get(str(key or "")) or table.get("other") or table["unknown"]
    return entry[_page_locale(locale)]


def reader(locale: str, country: str | None, order_locale: str | None = None) -> str:
    """The Babel locale the page formats with: the page's language, with the territory of the
    order's own locale when it is the same language, else of the destination ``country``."""
    if order_locale and catalogue.language_of(order_locale) == LANGUAGE.get(locale, locale):
        found = catalogue.territorial(order_locale, country)
        if "_" in found:
            return found
    return catalogue.territorial(LANGUAGE.get(locale, locale), country)


def negotiate(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` when it names one of :data:`LOCALES`, else the best of ``Accept-Language``."""
    if asked in LOCALES:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        found = _match(tag)
        if found:
            return found
    return DEFAULT


def _match(tag: str) -> str | None:
    if tag == "en" or tag.startswith("en-"):
        return "en"
    if tag == "zh" or tag.startswith("zh-"):
        if "hant" in tag or tag.endswith(("-tw", "-hk", "-mo")):
            return "zh-Hant"
        return "zh-Hans"
    return None


def html_lang(locale: str) -> str:
    return _HTML_LANG[locale]


def when(value: datetime, locale: str, zone: tzinfo, today: date | None = None) -> str:
    """A scan's time: weekday, day, month and hour in the customer's language and zone."""
    return catalogue.moment(value, LANGUAGE.get(locale, locale), zone, today)


def day(value: datetime | date, locale: str, zone: tzinfo, today: date | None = None) -> str:
    """A date without a time (a promise, an estimate) in the customer's language; the year when not ``today``'s."""
    return catalogue.day(value, LANGUAGE.get(locale, locale), zone, today)


def zone_of(country: str | None, province: str | None = None) -> tzinfo:
    """The customer's time zone from the shipping address (the engines' one resolver); UTC when unknown."""
    return zones.zone(zones.zone_for(country, province))


def zone_named(name: str, fallback: tzinfo | None = None) -> tzinfo:
    """The IANA zone ``name`` (a promise's ``timezone``); ``fallback`` (else UTC) when unknown."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return fallback or ZoneInfo("UTC")


def zone_name(zone: ZoneInfo, locale: str, at: datetime) -> str:
    """The zone as a reader knows it (``Pacific Time``, ``台灣時間``), never ``CST`` for Taipei."""
    return catalogue.zone_label(zone, LANGUAGE.get(locale, locale), at)
