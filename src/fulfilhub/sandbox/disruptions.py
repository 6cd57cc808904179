"""Disruptions scripted on the scenario clock: what the world does to parcels and stock.

A :class:`DisruptionPlan` is shared by every simulator of a sandbox
(``SandboxContext.disruptions``). A scenario (the demo, a test) adds disruptions ahead
of time; each simulator reads the plan and shows what a real API would show once the
scenario clock reaches the start, never before:

- ``hub_closed``: the hub serving a destination region (``region``, a province/state
  code such as ``"FL"``) is closed for ``days`` (a typhoon). Parcels to that region wait
  until it reopens; the carrier scans ``weather_delay`` and moves its ETA.
- ``carrier_slow``: a carrier (``carrier``, the courier's name, e.g. ``"USPS"``; empty:
  every carrier) takes ``extra_days`` longer for every parcel on its way or handed over
  while it lasts; its ETA moves at the next scan.
- ``carrier_outage``: a carrier's network stops for ``days``: no scan at all, its ETA
  stale, until it resumes and everything lands ``days`` later.
- ``api_outage``: the API of the simulator mounted as ``service`` (its name in the
  sandbox, e.g. ``"easypost"``) answers every request ``503 Service Unavailable`` for
  ``days`` (a vendor's outage): the sandbox server answers for it
  (:class:`fulfilhub.sandbox.faults.FaultMiddleware`), the simulator never sees the request.
- ``stock_out``: ``skus`` run out in ``warehouse`` (every warehouse when empty) for
  ``days``: the scenario sets them to zero at the start and puts the stock back at the
  end (:func:`fulfilhub.scenarios.world.World.apply_stock_disruptions`).

The plan is thread-safe: the scenario adds while the sandbox's server thread reads.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import attrs

KINDS = ("hub_closed", "carrier_slow", "carrier_outage", "api_outage", "stock_out")


def _aware(_inst: Any, attribute: attrs.Attribute, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


def _positive(_inst: Any, attribute: attrs.Attribute, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{attribute.name} must be a number of days >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Disruption:
    """One scripted disruption (see the module docstring for each ``kind``).

    ``start`` is when it begins on the scenario clock, ``days`` how long it lasts.
    ``cause`` is the words the carrier's scans use ("Typhoon Haikui").
    """

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    start: datetime = attrs.field(validator=_aware)
    days: float = attrs.field(default=1.0, validator=_positive)
    region: str = ""
    carrier: str = ""
    extra_days: float = attrs.field(default=0.0, validator=_positive)
    skus: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    warehouse: str = ""
    service: str = ""
    cause: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind == "hub_closed" and not self.region:
            raise ValueError("a hub_closed disruption needs the region it closes (region='FL')")
        if self.kind == "carrier_slow" and not self.extra_days:
            raise ValueError("a carrier_slow disruption needs extra_days > 0")
        if self.kind == "api_outage" and not self.service:
            raise ValueError("an api_outage disruption needs the service whose API is down (service='easypost')")
        if self.kind == "stock_out" and not self.skus:
            raise ValueError("a stock_out disruption needs the skus that run out")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def active(self, at: datetime) -> bool:
        """Whether it is going on at ``at``."""
        return self.start <= at < self.end

    def hits_carrier(self, carrier: str) -> bool:
        return not self.carrier or self.carrier.lower() == carrier.lower()


class DisruptionPlan:
    """The disruptions of one sandbox, in the order they were added."""

    def __init__(self) -> None:
        self._items: list[Disruption] = []
        self._lock = threading.Lock()

    def add(self, kind: str, *, start: datetime, **fields: Any) -> Disruption:
        """Script a disruption: ``plan.add("hub_closed", start=t, days=3, region="FL", cause="Typhoon")``."""
        disruption = Disruption(kind=kind, start=start, **fields)
        with self._lock:
            self._items.append(disruption)
        return disruption

    def all(self) -> list[Disruption]:
        with self._lock:
            return list(self._items)

    def started(self, now: datetime, kinds: tuple[str, ...] = KINDS) -> list[Disruption]:
        """The disruptions of ``kinds`` that have begun by ``now`` (over or not)."""
        return [d for d in self.all() if d.kind in kinds and d.start <= now]

    def api_down(self, path: str, now: datetime) -> Disruption | None:
        """The ``api_outage`` going on at ``now`` for the service that ``path`` (``/<service>/...``) reaches."""
        for d in self.all():
            if d.kind == "api_outage" and d.active(now) and (path == f"/{d.service}" or path.startswith(f"/{d.service}/")):
                return d
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
