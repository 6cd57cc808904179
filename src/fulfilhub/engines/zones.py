"""Where a destination's days are counted: the one resolver of a customer's time zone.

Promises (deliver-by is the end of the customer's day), delay assessments (days late
are the customer's days), notices and the tracking page all ask :func:`destination_zone`
so they cannot disagree on which day a moment falls. It decides the zone of an address
and the local calendar day of a carrier's estimate; it never reads a store or a clock.

The zone is, in this order: the state or province's where a country spans several
(US, CA, AU), the country's own (one table), the zone most people of a multi-zone
country live in, the only zone CLDR lists for the country, else ``fallback``.

A carrier's date-only estimate (``eta_date``) is a calendar day in the destination and
stays one: :func:`eta_day` never turns it into a UTC instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

_US = {
    "America/New_York": "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV",
    "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
    "America/Denver": "CO ID MT NM UT WY",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR VI",
}
_CA = {
    "America/Toronto": "ON QC", "America/Vancouver": "BC YT", "America/Edmonton": "AB NT", "America/Winnipeg": "MB NU",
    "America/Regina": "SK", "America/Halifax": "NS NB PE", "America/St_Johns": "NL",
}
_AU = {
    "Australia/Sydney": "NSW ACT", "Australia/Melbourne": "VIC", "Australia/Brisbane": "QLD",
    "Australia/Adelaide": "SA", "Australia/Perth": "WA", "Australia/Hobart": "TAS", "Australia/Darwin": "NT",
}
#: (country, province) -> zone, for countries that span several.
SUBDIVISION_ZONES: Mapping[tuple[str, str], str] = {
    (country, code): zone
    for country, table in (("US", _US), ("CA", _CA), ("AU", _AU))
    for zone, codes in table.items() for code in codes.split()
}
#: country -> zone, for countries with one (or one that nearly everyone lives in).
COUNTRY_ZONES: Mapping[str, str] = {
    "GB": "Europe/London", "IE": "Europe/Dublin", "DE": "Europe/Berlin", "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "LU": "Europe/Luxembourg", "ES": "Europe/Madrid",
    "IT": "Europe/Rome", "PT": "Europe/Lisbon", "AT": "Europe/Vienna", "CH": "Europe/Zurich",
    "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki",
    "PL": "Europe/Warsaw", "CZ": "Europe/Prague", "GR": "Europe/Athens", "TR": "Europe/Istanbul",
    "TW": "Asia/Taipei", "HK": "Asia/Hong_Kong", "MO": "Asia/Macau", "CN": "Asia/Shanghai", "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul", "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur", "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh", "PH": "Asia/Manila", "IN": "Asia/Kolkata", "AE": "Asia/Dubai", "IL": "Asia/Jerusalem",
    "NZ": "Pacific/Auckland", "BR": "America/Sao_Paulo", "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago", "CO": "America/Bogota", "PE": "America/Lima", "MX": "America/Mexico_City",
    "ZA": "Africa/Johannesburg",
}


#: country -> the zone most of a multi-zone country lives in, for an address without a known province.
PRIMARY_ZONES: Mapping[str, str] = {
    "US": "America/New_York", "CA": "America/Toronto", "AU": "Australia/Sydney", "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "MN": "Asia/Ulaanbaatar", "EC": "America/Guayaquil",
    "UA": "Europe/Kyiv",
}


def destination_zone(address: Any, fallback: str = "UTC") -> str:
    """The IANA zone name the customer at ``address`` counts days in (``fallback`` when unknown).

    ``address`` is an :class:`~fulfilhub.models.Address` or None; only its ``country`` and
    ``province`` are read.
    """
    if address is None:
        return fallback
    return zone_for(getattr(address, "country", ""), getattr(address, "province", ""), fallback)


def zone_for(country: str | None, province: str | None = None, fallback: str = "UTC") -> str:
    """:func:`destination_zone` of a country code and a state or province code."""
    country = (country or "").strip().upper()
    province = (province or "").strip().upper()
    found = SUBDIVISION_ZONES.get((country, province)) or COUNTRY_ZONES.get(country) or PRIMARY_ZONES.get(country)
    if found:
        return found
    zones = get_global("territory_zones").get(country) or []
    return zones[0] if len(zones) == 1 else fallback


_UTC = ZoneInfo("UTC")


def zone(name: str | None, fallback: tzinfo = _UTC) -> tzinfo:
    """The zone named ``name``; ``fallback`` (UTC) for an empty or unknown name."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def zone_of(address: Any, fallback: str = "UTC") -> tzinfo:
    """:func:`destination_zone` as a zone object."""
    return zone(destination_zone(address, fallback))


def eta_day(eta_date: date | None, eta: datetime | None, tz: tzinfo) -> date | None:
    """The customer's calendar day of a carrier's estimate: a date-only estimate is that
    date as given; an instant is the day it falls on in ``tz``."""
    if eta_date is not None:
        return eta_date
    return eta.astimezone(tz).date() if eta is not None else None


def local_noon(day: date, tz: tzinfo) -> datetime:
    """A moment that is ``day`` wherever near ``tz`` it is read (noon there)."""
    return datetime.combine(day, time(12), tz)


def shipment_eta(shipment: Any, tz: tzinfo) -> datetime | None:
    """A shipment's carrier estimate as a moment in ``tz`` (a date-only one at local noon)."""
    day = getattr(shipment, "eta_date", None)
    if day is not None:
        return local_noon(day, tz)
    return getattr(shipment, "est_delivery", None)
