"""Customer notices: which locale, which words, which notifiers, and when.

Each event (:class:`~fulfilhub.models.NoticeEvent`) has a Jinja2 template per locale in
``fulfilhub/templates/notices/<locale>/<event>.j2`` (English ``en``, Traditional
Chinese ``zh_Hant``, Simplified Chinese ``zh_Hans``), with a ``subject`` and a ``body``
block; the plain words for causes, actions and compensations come from the message
catalogue the tracking page reads too (:mod:`fulfilhub.engines.words`). Dates, weekdays
and money are formatted by Babel for the customer's locale and territory (``Thursday,
May 14`` in the US, ``Thursday 14 May`` in the UK, ``5月14日（星期四）``, ``NT$1,280``),
in the customer's time zone, with the year when it is not this year.

The locale comes from the order (``Order.locale``, the channel's ``customer_locale``: ``zh-TW`` is
Traditional, ``zh-CN`` Simplified), else from the destination country (TW, HK, MO:
Traditional; CN, SG: Simplified), else the shop's ``[notices] default_locale``.

A notice goes through every ``[notifiers.NAME]`` whose ``events`` (default: all) and
``channels`` (default: all) match, each as one ``notice.send`` outbox effect. Non-urgent
notices (everything but a delay and a compensation) wait out the quiet hours
(``[notices] quiet_hours = "21:00-08:00"``) in the customer's local time.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import jinja2
from babel import Locale, UnknownLocaleError
from markupsafe import Markup, escape

from ..config import InstanceConfig, parse_duration
from ..errors import ConfigError
from ..models import Money, Notice, NoticeEvent, Order, Shipment, ShipmentStatus
from ..store import Tx, outbox
from ..store import notices as notice_store
from ..store.outbox import Effect
from . import notice_policy, words, zones

#: The template locales, and the Babel locale each formats with when the country says nothing more.
LOCALES: Mapping[str, str] = {"en": "en", "zh_Hant": "zh_Hant_TW", "zh_Hans": "zh_Hans_CN"}
_TRADITIONAL = {"TW", "HK", "MO"}
_SIMPLIFIED = {"CN", "SG"}


# --------------------------------------------------------------------------- settings


@attrs.frozen(kw_only=True)
class Settings:
    """The ``[notices]`` table, checked."""

    enabled: bool = True
    default_locale: str = "en"
    timezone: str = "UTC"  # the shop's: used when the customer's is unknown
    quiet_hours: tuple[time, time] | None = None
    shop_name: str = ""
    backfill: timedelta = timedelta(days=1)  # how far back the very first run looks
    hold: timedelta = timedelta(hours=3)  # a statistical cause holds this long before it is announced
    min_days_late: int = 1  # the fewest days late a customer is told
    max_delay_notices: int = 3  # the most delayed + eta_revised notices of one order

    @property
    def policy(self) -> notice_policy.Settings:
        """The notice policy's settings (:mod:`fulfilhub.engines.notice_policy`)."""
        return notice_policy.Settings(hold=self.hold, min_days_late=self.min_days_late,
                                      max_delay_notices=self.max_delay_notices, quiet_hours=self.quiet_hours)


_KEYS = ("enabled", "default_locale", "timezone", "quiet_hours", "shop_name", "backfill", "hold", "min_days_late",
         "max_delay_notices")
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def settings(table: Mapping[str, Any], *, path: str = "fulfilhub.toml") -> Settings:
    """Check the ``[notices]`` table; ConfigError naming the key on any mistake."""
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(_KEYS)}", path=path, key=f"notices.{key}")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"expected true or false, got {enabled!r}", path=path, key="notices.enabled")
    default = table.get("default_locale", "en")
    if not isinstance(default, str) or normalize(default) is None:
        raise ConfigError(f"expected a locale like \"en\", \"zh-TW\" or \"zh-CN\", got {default!r}", path=path,
                          key="notices.default_locale")
    tz = table.get("timezone", "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"expected an IANA time zone like \"Asia/Taipei\", got {tz!r}", path=path,
                          key="notices.timezone") from None
    quiet = None
    if "quiet_hours" in table:
        match = _QUIET.match(str(table["quiet_hours"]))
        if not match or int(match.group(1)) > 23 or int(match.group(3)) > 23 or int(match.group(2)) > 59 or int(match.group(4)) > 59:
            raise ConfigError(f"expected \"HH:MM-HH:MM\" like \"21:00-08:00\", got {table['quiet_hours']!r}", path=path,
                              key="notices.quiet_hours")
        quiet = (time(int(match.group(1)), int(match.group(2))), time(int(match.group(3)), int(match.group(4))))
    shop = table.get("shop_name", "")
    if not isinstance(shop, str):
        raise ConfigError(f"expected a string, got {shop!r}", path=path, key="notices.shop_name")
    backfill = parse_duration(table["backfill"], path=path, key="notices.backfill") if "backfill" in table \
        else timedelta(days=1)
    hold = parse_duration(table["hold"], path=path, key="notices.hold") if "hold" in table else timedelta(hours=3)
    counts = {}
    for key, default_count, least in (("min_days_late", 1, 1), ("max_delay_notices", 3, 1)):
        value = table.get(key, default_count)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigError(f"expected a whole number of at least {least}, got {value!r}", path=path,
                              key=f"notices.{key}")
        counts[key] = value
    return Settings(enabled=enabled, default_locale=default, timezone=str(tz), quiet_hours=quiet, shop_name=shop,
                    backfill=backfill, hold=hold, **counts)


# --------------------------------------------------------------------------- locale and time zone


def normalize(tag: str) -> str | None:
    """A Babel locale id for a language tag (``zh-TW`` -> ``zh_Hant_TW``), None when unusable."""
    tag = (tag or "").strip().replace("-", "_")
    if not tag:
        return None
    try:
        loc = Locale.parse(tag)
    except (ValueError, TypeError, LookupError, UnknownLocaleError):
        return None
    if loc.language == "zh" and not loc.script:
        territory = loc.territory or "CN"
        script = "Hant" if territory in _TRADITIONAL else "Hans"
        return f"zh_{script}_{territory}"
    return str(loc)


def template_locale(locale: str) -> str:
    """The template set (``en``, ``zh_Hant``, ``zh_Hans``) that writes ``locale``."""
    loc = Locale.parse(locale)
    if loc.language == "zh":
        return "zh_Hant" if loc.script == "Hant" else "zh_Hans"
    return "en"


def choose_locale(order: Order, default: str = "en") -> str:
    """The locale to write to this customer in: the order's (``Order.locale``, as the
    channel's mapping gives it), else the destination country's, else ``default``."""
    found = normalize(order.locale) if order.locale else None
    if found is not None and (found.startswith("zh") or found.startswith("en")):
        return found
    country = order.ship_to.country if order.ship_to else ""
    if country in _TRADITIONAL:
        return f"zh_Hant_{country}"
    if country in _SIMPLIFIED:
        return f"zh_Hans_{country}"
    return normalize(default) or "en"


def customer_timezone(order: Order, promised: str | None, shop: str) -> ZoneInfo:
    """The customer's time zone: the promise's (counted for the destination when it was
    made), else the destination's (:func:`fulfilhub.engines.zones.destination_zone`), else the shop's."""
    for name in (promised, zones.destination_zone(order.ship_to, "")):
        if name and name != "UTC":
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo(shop)


def send_after(event: NoticeEvent, at: datetime, tz: ZoneInfo, quiet: tuple[time, time] | None) -> datetime:
    """When a notice may go: at once if urgent or outside quiet hours, else when they end (local time)."""
    if quiet is None or event.urgent:
        return at
    start, end = quiet
    local = at.astimezone(tz)
    now = local.time()
    inside = (start <= now < end) if start < end else (now >= start or now < end)
    if not inside:
        return at
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(at.tzinfo)


def shipped_day(at: datetime, tz: ZoneInfo, quiet: tuple[time, time] | None, locale: str) -> str:
    """"today" or "yesterday" for something that happened ``at``, as read when a non-urgent
    notice about it is sent (after the quiet hours, the evening's "today" is "yesterday")."""
    sent = send_after(NoticeEvent.SHIPPED, at, tz, quiet)
    words = phrases(template_locale(locale))["days"]
    return words["today"] if sent.astimezone(tz).date() == at.astimezone(tz).date() else words["yesterday"]


# --------------------------------------------------------------------------- formatting


def format_day(moment: datetime | None, locale: str, tz: ZoneInfo, today: date | None = None) -> str:
    """``Thursday, May 14`` (en_US) / ``Thursday 14 May`` (en_GB) / ``5月14日（星期四）`` in the customer's zone.

    With the year when it is not ``today``'s (see :func:`fulfilhub.engines.words.day`).
    """
    return words.day(moment, locale, tz, today)


def format_money(money: Money | None, locale: str) -> str:
    """``NT$1,280``, ``NT$80.50``, ``¥1,280``, ``US$6.90`` for the locale (see :func:`fulfilhub.engines.words.money`)."""
    return words.money(money, locale)


_LINK = re.compile(r"(https?://[^\s<>\"'）)]+)")


def _linked(text: str) -> Markup:
    escaped = str(escape(text))
    return Markup(_LINK.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped))


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    root = resources.files("fulfilhub") / "templates" / "notices"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                             autoescape=False)
    env.filters["linked"] = _linked
    env.filters["day"] = jinja2.pass_context(lambda ctx, value: format_day(value, ctx["_locale"], ctx["_tz"],
                                                                           ctx.get("_today")))
    env.filters["money"] = jinja2.pass_context(lambda ctx, value: format_money(value, ctx["_locale"]))
    # a sentence of the message catalogue: {{ "recall.lead"|say(lot=lot) }}
    env.filters["say"] = jinja2.pass_context(lambda ctx, path, **values: _say(ctx["_locale"], path, values))
    return env


def _say(locale: str, path: str, values: Mapping[str, Any]) -> str:
    table, _, name = path.partition(".")
    return phrases(template_locale(locale))[table][name].format(**values)


def phrases(template: str) -> Mapping[str, Mapping[str, str]]:
    """The plain words of one language (its message catalogue, shared with the tracking page)."""
    return words.catalogue(template)


def compensation_sentence(kind: str, amount: Money | None, locale: str, *, percent: Decimal | None = None,
                          points: int = 0, months: int = 0, issued: bool = True) -> str:
    """One sentence saying what the customer gets, in their language (the page says the same),
    in the tense of what has happened: ``issued`` (the channel created it: "We have refunded
    ...") or not yet ("We are refunding ..."). See :func:`fulfilhub.engines.words.compensation_sentence`."""
    return words.compensation_sentence(kind, amount, locale, percent=percent, points=points, months=months,
                                       issued=issued)


#: The facts each event's notice must state (a test renders every event x locale and checks them).
REQUIRED_FACTS: Mapping[NoticeEvent, tuple[str, ...]] = {
    NoticeEvent.CONFIRMED: ("number", "ship_by", "deliver_from", "deliver_by", "total"),
    NoticeEvent.SHIPPED: ("number", "tracking_code", "link", "deliver_by"),
    NoticeEvent.DELAYED: ("number", "days_late", "new_date", "cause", "link"),
    NoticeEvent.ETA_REVISED: ("number", "new_date", "link"),
    NoticeEvent.READY_FOR_PICKUP: ("number", "store", "pickup_until", "link"),
    NoticeEvent.DELIVERED: ("number", "delivered_at"),
    NoticeEvent.COMPENSATION_ISSUED: ("number", "amount", "code"),
    NoticeEvent.RECALL: ("number", "product", "lot", "reason"),
}


def render(event: NoticeEvent, *, key: str, order: Order, locale: str, tz: ZoneInfo, facts: Mapping[str, Any],
           at: datetime, shop: str = "") -> Notice:
    """The notice for ``event`` in ``locale``: subject, text and HTML, with the facts it states."""
    template = template_locale(locale)
    asked, locale = locale, words.territorial(locale, order.ship_to.country if order.ship_to else None)  # en+GB: en_GB
    env = _environment()
    defaults = {"number": order.number, "name": order.ship_to.name if order.ship_to else "", "shop": shop,
                "link": "", "total": order.total, "ship_by": None, "deliver_from": None, "deliver_by": None,
                "new_date": None, "delivered_at": None, "days_late": 0, "cause": "", "action": "",
                "compensation": "", "carrier": "", "tracking_code": "", "amount": None, "code": "", "code_line": "",
                "parcels": [], "shipped_day": phrases(template)["days"]["today"], "store": "", "store_address": "",
                "pickup_until": None, "product": "", "lot": "", "reason": ""}
    values = {**defaults, **facts}
    if values["code"]:
        values["code_line"] = phrases(template)["compensation"]["code"].format(code=values["code"])
    tmpl = env.get_template(f"{template}/{event}.j2")  # compiled once, cached by the environment
    scope = {**values, "_locale": locale, "_tz": tz, "_today": at.astimezone(tz).date()}  # what the day and money filters format with
    subject = "".join(tmpl.blocks["subject"](tmpl.new_context(scope))).strip()
    rendered = "".join(tmpl.blocks["body"](tmpl.new_context(scope)))
    paragraphs = [line.strip() for line in rendered.splitlines() if line.strip()]  # one line, one paragraph
    body = "\n\n".join(paragraphs)
    html = env.get_template("layout.html.j2").render(lang=locale.replace("_", "-"), subject=subject,
                                                          paragraphs=paragraphs)
    today = at.astimezone(tz).date()
    shown = {name: _shown(values[name], locale, tz, today) for name in values if values[name] not in (None, "", [])}
    return Notice(key=key, order_id=order.id, order_number=order.number, event=event, locale=asked, to=order.email,
                  subject=subject, text=body, html=html, created_at=at, facts=shown)


def _shown(value: Any, locale: str, tz: ZoneInfo, today: date | None = None) -> Any:
    """A fact as the notice shows it (JSON-friendly)."""
    if isinstance(value, (datetime, date)):
        return format_day(value, locale, tz, today)
    if isinstance(value, Money):
        return format_money(value, locale)
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_shown(item, locale, tz, today) for item in value]
    return str(value)


# --------------------------------------------------------------------------- what a notice states


def parcels_of(shipments: Sequence[Shipment]) -> list[str]:
    """Each parcel handed to a carrier, with its own tracking: ``USPS 9400... https://...``."""
    return [" ".join(part for part in (s.label.carrier_name, s.label.tracking_code, s.label.tracking_url) if part)
            for s in shipments if s.label is not None and str(s.status) != "cancelled"]


def carrier_link(shipments: Sequence[Shipment]) -> str:
    """The first carrier tracking URL among ``shipments`` ("" when none has one)."""
    for shipment in shipments:
        if shipment.label is not None and shipment.label.tracking_url:
            return shipment.label.tracking_url
    return ""


def status_facts(event: NoticeEvent, *, promise: Any, shipments: Sequence[Shipment], now: datetime, tz: ZoneInfo,
                 quiet: tuple[time, time] | None, locale: str) -> dict[str, Any] | None:
    """What a ``confirmed``, ``shipped`` or ``delivered`` notice states, from the promise and
    the shipments; None for a ``shipped`` one with no labelled parcel (nothing to track)."""
    facts: dict[str, Any] = {}
    if promise is not None:
        facts.update(ship_by=promise.ship_by, deliver_from=promise.deliver_from, deliver_by=promise.deliver_by)
    labelled = [s for s in shipments if s.label is not None]
    if labelled:
        facts.update(carrier=labelled[0].label.carrier_name, tracking_code=labelled[0].label.tracking_code,
                     parcels=parcels_of(shipments))
    if event is NoticeEvent.SHIPPED and not labelled:
        return None
    if event is NoticeEvent.SHIPPED:  # sent after quiet hours, "today" is the next morning's "yesterday"
        facts["shipped_day"] = shipped_day(now, tz, quiet, locale)
    if event is NoticeEvent.DELIVERED:
        delivered = [s.delivered_at for s in shipments if s.delivered_at is not None]
        facts["delivered_at"] = max(delivered) if delivered else now
    return facts


def at_the_store(event: NoticeEvent, shipments: Sequence[Shipment], pickup: Any) -> tuple[NoticeEvent, dict[str, Any]]:
    """A notice about a parcel going to the pickup point the customer chose (``pickup``, a
    ``PickupPoint``; None for a delivery to the door): ``shipped`` while a parcel waits at
    the store (out for delivery, with its last pickup day) becomes ``ready_for_pickup``,
    naming the store and that day; ``delivered`` says it was collected there. Returns the
    event and the facts it adds."""
    if pickup is None:
        return event, {}
    store = f"{pickup.network} {pickup.store_name}".strip()
    waiting = [s for s in shipments if s.pickup_until is not None and s.status is ShipmentStatus.OUT_FOR_DELIVERY]
    if event is NoticeEvent.SHIPPED and waiting:
        return NoticeEvent.READY_FOR_PICKUP, {"store": store, "store_address": pickup.store_address,
                                              "pickup_until": max(s.pickup_until for s in waiting)}
    if event is NoticeEvent.DELIVERED and any(s.pickup_until is not None for s in shipments):
        return event, {"store": store}
    return event, {}


def delay_facts(*, new_date: date | None, days_late: int, cause: str, reason: str, exception_cause: str,
                tz: ZoneInfo, locale: str, shipments: Sequence[Shipment], deliver_by: datetime | None,
                compensation: str = "") -> dict[str, Any]:
    """What a ``delayed`` or ``eta_revised`` notice states: the new day (noon of it in the
    customer's zone), the days late, the cause and what is being done about it in the
    customer's words, the compensation sentence and each parcel. ``cause`` is the
    policy's, ``reason`` the assessment's, ``exception_cause`` the compensation tiers' cause."""
    said = phrases(template_locale(locale))
    causes, actions = said["causes"], said["actions"]
    action = actions["overdue"] if new_date is None else (actions.get(cause) or actions.get(exception_cause, ""))
    return {"days_late": days_late, "new_date": zones.local_noon(new_date, tz) if new_date else None,
            "cause": causes.get(cause) or causes.get(reason) or causes["other"], "action": action,
            "compensation": compensation, "parcels": parcels_of(shipments), "deliver_by": deliver_by}


# --------------------------------------------------------------------------- routing and writing


def notice_key(event: NoticeEvent, order_id: str, revision: str | int) -> str:
    """``notice:<event>:<order id>:<revision>``: one notice per event and revision."""
    return f"notice:{event}:{order_id}:{revision}"


def routes(notifiers: Mapping[str, InstanceConfig], event: NoticeEvent, channel: str) -> list[str]:
    """The notifier instances a notice of ``event`` for an order of ``channel`` goes through."""
    out = []
    for name, inst in notifiers.items():
        events = inst.settings.get("events")
        channels = inst.settings.get("channels")
        if events is not None and str(event) not in events:
            continue
        if events is None and event.for_operator:  # an operator's notice goes only where it is named
            continue
        if channels is not None and channel not in channels:
            continue
        out.append(name)
    return sorted(out)


def check_routes(notifiers: Mapping[str, InstanceConfig], path: str = "fulfilhub.toml") -> None:
    """``events`` and ``channels`` of each notifier are lists of known names (ConfigError if not)."""
    for name, inst in notifiers.items():
        events = inst.settings.get("events")
        if events is not None and (not isinstance(events, list) or any(e not in set(NoticeEvent) for e in events)):
            raise ConfigError(f"expected a list of events: {', '.join(NoticeEvent)}; got {events!r}", path=path,
                              key=f"notifiers.{name}.events")
        channels = inst.settings.get("channels")
        if channels is not None and (not isinstance(channels, list) or not all(isinstance(c, str) for c in channels)):
            raise ConfigError(f"expected a list of channel instance names, got {channels!r}", path=path,
                              key=f"notifiers.{name}.channels")


def emit(tx: Tx, notice: Notice, *, notifiers: Sequence[str], due: datetime) -> bool:
    """Keep the notice and write one ``notice.send`` effect per notifier: False if it existed."""
    if not notice_store.add(tx, notice, notifiers=list(notifiers), send_after=due):
        return False
    for name in notifiers:
        outbox.enqueue(tx, Effect.send_notice(notice.key, notice.order_id, name), notice.created_at, due=due)
    return True


def emit_many(tx: Tx, kept: Sequence[tuple[Notice, Sequence[str], datetime]]) -> None:
    """:func:`emit` for many ``(notice, notifiers, send after)`` whose keys the caller found
    new in this transaction: two statements (the notices, then their ``notice.send`` effects)."""
    if not kept:
        return
    notice_store.add_many(tx, kept)
    outbox.enqueue_many(tx, [(Effect.send_notice(notice.key, notice.order_id, name), notice.created_at, due)
                             for notice, notifiers, due in kept for name in notifiers])


# --------------------------------------------------------------------------- drafts a person approves


def approve(tx: Tx, ref: str, *, by: str, at: datetime) -> Notice | None:
    """Send a drafted notice (``notice_drafts``, by id or key): kept in ``notices`` and one
    ``notice.send`` effect per notifier it was routed to, at once, in this transaction.
    None when there is no such draft; the notice unchanged (nothing sent twice) when it
    was approved before."""
    row = notice_store.draft(tx.conn, ref)
    if row is None:
        return None
    notice = notice_store.draft_notice(row)
    if notice_store.mark_approved(tx, row.id, by, at):
        emit(tx, notice, notifiers=list(row.notifiers), due=at)
    return notice
