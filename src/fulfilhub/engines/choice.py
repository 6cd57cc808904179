"""Carrier choice: what ``choose_rate`` is told about each carrier, and the recorded reason.

It decides two things and nothing else:

- each carrier instance's **standing** from its scorecard (:func:`standing`): excluded
  (below a configured floor, with the figure that failed) or penalized (a configured
  cost per point of lateness, exceptions and damage, added to its rates' price when
  rates are compared), from ``[carrier_choice]`` in the config;
- the **record** of a choice (:func:`record`): the chosen rate, every alternative with
  its arrival, cost and basis, the carriers left out and why, and one line of reason
  ("the cheapest that arrives by Thu 21 May at 90% confidence; easypost skipped:
  circuit open").

Which rate wins is the ``choose_rate`` hook's (the built-in in
``default_plugins/decisions.py``). No I/O here: the runner reads the scorecards and
quotes, and stores the record (``store/choices.py``). With the defaults nothing is
excluded or penalized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ..errors import ConfigError
from ..models import Promise, Rate, Scorecard, Standing

_KEYS = ("min_on_time_rate", "max_exception_rate", "max_damage_rate", "penalty_per_point", "min_shipments",
         "window_days", "max_rechoices")


@attrs.frozen(kw_only=True)
class Settings:
    """``[carrier_choice]``, typed.

    Attributes:
        min_on_time_rate: A carrier whose on-time rate is below this share is excluded (None: no floor).
        max_exception_rate: A carrier whose exception rate is above this share is excluded (None: no ceiling).
        max_damage_rate: A carrier whose damage-or-loss rate is above this share is excluded (None: no ceiling).
        penalty_per_point: Added to each of a carrier's rates, per percentage point of
            late deliveries + exceptions + damage, when rates are compared (0: none).
        min_shipments: A scorecard with fewer shipments than this neither excludes nor penalizes.
        window: How far back the scorecards look.
        max_rechoices: How many times a shipment whose label purchase failed is chosen
            again among the other carriers before its purchase simply retries.
    """

    min_on_time_rate: float | None = None
    max_exception_rate: float | None = None
    max_damage_rate: float | None = None
    penalty_per_point: Decimal = Decimal(0)
    min_shipments: int = 20
    window: timedelta = timedelta(days=90)
    max_rechoices: int = 2

    @property
    def weighs(self) -> bool:
        """Whether any floor or penalty is set (else no scorecard is read)."""
        return (self.min_on_time_rate is not None or self.max_exception_rate is not None
                or self.max_damage_rate is not None or bool(self.penalty_per_point))


def settings(table: Mapping[str, Any], *, path: str = "fulfilhub.toml") -> Settings:
    """Check the ``[carrier_choice]`` table; ConfigError naming the key on any mistake."""
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(_KEYS)}", path=path,
                              key=f"carrier_choice.{key}")
    values: dict[str, Any] = {}
    for key in ("min_on_time_rate", "max_exception_rate", "max_damage_rate"):
        if key in table:
            share = table[key]
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise ConfigError(f"expected a share from 0 to 1, like 0.9, got {share!r}", path=path,
                                  key=f"carrier_choice.{key}")
            values[key] = float(share)
    if "penalty_per_point" in table:
        raw = table["penalty_per_point"]
        try:
            penalty = Decimal(str(raw)) if not isinstance(raw, bool) else None
        except InvalidOperation:
            penalty = None
        if penalty is None or not penalty.is_finite() or penalty < 0:
            raise ConfigError(f"expected an amount of at least 0 as a string, like \"0.05\", got {raw!r}", path=path,
                              key="carrier_choice.penalty_per_point")
        values["penalty_per_point"] = penalty
    for key, least in (("min_shipments", 1), ("window_days", 1), ("max_rechoices", 0)):
        if key in table:
            count = table[key]
            if isinstance(count, bool) or not isinstance(count, int) or count < least:
                raise ConfigError(f"expected a whole number of at least {least}, got {count!r}", path=path,
                                  key=f"carrier_choice.{key}")
            if key == "window_days":
                values["window"] = timedelta(days=count)
            else:
                values[key] = count
    return Settings(**values)


def standing(carriers: Sequence[str], cards: Mapping[str, Scorecard], conf: Settings) -> dict[str, Standing]:
    """Each carrier's standing from its scorecard under ``conf``."""
    out: dict[str, Standing] = {}
    for name in carriers:
        if not conf.weighs:
            out[name] = Standing(carrier=name, note="scorecards not weighed ([carrier_choice] sets no floor or penalty)")
            continue
        card = cards.get(name)
        if card is None or card.shipments < conf.min_shipments:
            seen = 0 if card is None else card.shipments
            out[name] = Standing(carrier=name, scorecard=card,
                                 note=f"too few shipments to judge ({seen} of {conf.min_shipments})")
            continue
        why = []
        if conf.min_on_time_rate is not None and card.on_time_rate is not None \
                and card.on_time_rate < conf.min_on_time_rate:
            why.append(f"on time {card.on_time_rate:.0%} of {card.due} due, below the floor of {conf.min_on_time_rate:.0%}")
        if conf.max_exception_rate is not None and card.exception_rate is not None \
                and card.exception_rate > conf.max_exception_rate:
            why.append(f"exceptions {card.exception_rate:.0%}, above the ceiling of {conf.max_exception_rate:.0%}")
        if conf.max_damage_rate is not None and card.damage_rate is not None \
                and card.damage_rate > conf.max_damage_rate:
            why.append(f"damaged or lost {card.damage_rate:.0%}, above the ceiling of {conf.max_damage_rate:.0%}")
        points = Decimal(str(round(100 * ((1 - card.on_time_rate if card.on_time_rate is not None else 0)
                                          + (card.exception_rate or 0) + (card.damage_rate or 0)), 2)))
        penalty = (conf.penalty_per_point * points).quantize(Decimal("0.01"))
        note = card.describe() + (f"; penalty {penalty} ({points} points)" if penalty else "")
        out[name] = Standing(carrier=name, scorecard=card, excluded="; ".join(why), penalty=penalty, note=note)
    return out


def compared_price(rate: Rate, standings: Mapping[str, Standing], currency: str = "") -> tuple[bool, Decimal]:
    """The rate's price with its carrier's scorecard penalty, after any rate in ``currency``
    (the order's: no currency is converted): what the built-in compares."""
    found = standings.get(rate.carrier)
    return rate.amount.currency != currency, rate.amount.amount + (found.penalty if found is not None else Decimal(0))


# --------------------------------------------------------------------------- the record


@attrs.frozen(kw_only=True)
class Option:
    """One quoted rate as the choice saw it."""

    rate: Rate
    arrive_by: datetime | None
    basis: str = ""  # how its arrival was estimated (learned on the lane, or the fallback and why)
    learned: bool = False  # from the lane's deliveries (False: the stated or default transit)


def _day(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}"


def record(chosen: Rate, options: Sequence[Option], promise: Promise | None, standings: Mapping[str, Standing],
           skipped: Mapping[str, str], *, confidence: float, at: datetime, currency: str = "") -> dict[str, Any]:
    """What is stored of one choice: ``reason`` (one line) and the facts behind it (JSON-ready)."""
    zone = promise.timezone if promise is not None else "UTC"
    by = promise.deliver_by if promise is not None else None
    allowed = [o for o in options if not (standings.get(o.rate.carrier) or Standing(carrier="")).excluded]
    meets = [o for o in allowed if by is not None and o.arrive_by is not None and o.arrive_by <= by]
    mine = next((o for o in options if o.rate.rate_id == chosen.rate_id), None)
    price = compared_price(chosen, standings, currency)
    sure = (f"at {confidence:.0%} confidence" if mine is None or mine.learned
            else "by the carrier's stated transit (too little history on the lane to learn from)")
    if by is None:
        cheapest = min((compared_price(o.rate, standings, currency) for o in allowed), default=None)
        head = ("the cheapest; no promise to meet" if cheapest is None or price <= cheapest
                else "not the cheapest; no promise to meet")
    elif mine is not None and mine.arrive_by is not None and mine.arrive_by <= by:
        best = min((compared_price(o.rate, standings, currency) for o in meets), default=price)
        penalized = any(s.penalty for s in standings.values())
        head = (f"the cheapest{' after scorecard penalties' if penalized else ''} that arrives by "
                f"{_day(by, zone)} {sure}" if price <= best
                else f"arrives by {_day(by, zone)} {sure}, though not the cheapest that does")
    elif not meets:
        head = f"none arrives by {_day(by, zone)} {sure}; the fastest"
    else:
        head = f"later than {_day(by, zone)} although {len(meets)} other rate(s) would arrive by then"
    left_out = [f"{name} skipped: {why}" for name, why in sorted(skipped.items())]
    left_out += [f"{name} excluded: {s.excluded}" for name, s in sorted(standings.items()) if s.excluded]
    reason = "; ".join([head, *left_out])
    return {
        "at": at.isoformat(),
        "carrier": chosen.carrier, "carrier_name": chosen.carrier_name, "service": chosen.service,
        "amount": str(chosen.amount.amount), "currency": chosen.amount.currency, "order_currency": currency,
        "arrive_by": mine.arrive_by.isoformat() if mine is not None and mine.arrive_by is not None else None,
        "deliver_by": by.isoformat() if by is not None else None,
        "confidence": confidence,
        "meets": bool(by is not None and mine is not None and mine.arrive_by is not None and mine.arrive_by <= by),
        "reason": reason,
        "options": [{
            "carrier": o.rate.carrier, "carrier_name": o.rate.carrier_name, "service": o.rate.service,
            "amount": str(o.rate.amount.amount), "currency": o.rate.amount.currency,
            "arrive_by": o.arrive_by.isoformat() if o.arrive_by is not None else None,
            "meets": bool(by is not None and o.arrive_by is not None and o.arrive_by <= by),
            "penalty": str(standings[o.rate.carrier].penalty) if o.rate.carrier in standings else "0",
            "excluded": standings[o.rate.carrier].excluded if o.rate.carrier in standings else "",
            "basis": o.basis, "learned": o.learned, "chosen": o.rate.rate_id == chosen.rate_id,
        } for o in options],
        "skipped": dict(sorted(skipped.items())),
        "scorecards": {name: {"note": s.note, **(s.scorecard.as_json() if s.scorecard else {})}
                       for name, s in sorted(standings.items())},
    }


def describe(choice: Mapping[str, Any]) -> list[str]:
    """A stored choice for people (``fulfilhub shipments show``)."""
    lines = [f"chose {choice['carrier']} ({choice['carrier_name']} {choice['service']}, "
             f"{choice['amount']} {choice['currency']}): {choice['reason']}"]
    for o in choice.get("options", []):
        mark = "*" if o.get("chosen") else " "
        arrive = o["arrive_by"][:10] if o.get("arrive_by") else "?"
        extra = f", excluded: {o['excluded']}" if o.get("excluded") else (
            f", penalty {o['penalty']}" if o.get("penalty") not in (None, "0", "0.00") else "")
        lines.append(f"  {mark} {o['carrier']} {o['carrier_name']} {o['service']}: {o['amount']} {o['currency']}, "
                     f"arrives by {arrive}{' (meets the promise)' if o.get('meets') else ''}{extra}; {o.get('basis', '')}")
    if choice.get("failed"):
        lines.append(f"  label purchase failed: {choice['failed']}")
    return lines
