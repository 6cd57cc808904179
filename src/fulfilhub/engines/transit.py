"""Transit times learned from delivered shipments: quantiles per lane, censored and recency-weighted.

The promise engine asks "how long does this carrier service take on this lane, for 95%
of parcels?"; the delay engine asks "this parcel has been travelling 4 days, how much
longer?". Both ask :class:`TransitModel`, which holds every shipment it was told about
and answers without scanning history. This module is pure: no store, no I/O, no clock
reads. Time is always passed in (``now``), and every datetime must be timezone-aware.

The contract other engines code against::

    model = TransitModel(half_life=timedelta(days=30), min_delivered=20)
    model.start(ref, lane, started_at)                   # handed to the carrier: in flight
    model.finish(ref, lane, started_at, delivered_at)    # delivered (idempotent per ref)
    model.drop(ref)                                      # cancelled, returned, lost
    est = model.quantile(lane, 0.95, now=now)            # TransitEstimate | None
    est.days, est.level, est.describe()
    model.share_within(lane, 3.0, now=now)               # (P(transit <= 3), Level) | None
    model.remaining(lane, 4.0, 0.9, now=now)             # remaining transit after 4 days

How it learns:

- **Censoring.** A parcel still in flight is a censored observation: it says "this took
  at least as long as it has been travelling so far". The estimate is a weighted
  Kaplan–Meier curve over durations, so parcels in flight count in the risk set up to
  their elapsed time instead of being ignored (which would make the model believe only
  the quick ones) or waited for (which makes it late to notice a slowdown).
- **Stale parcels.** A parcel in flight for more than ``stale_factor`` times the longest
  delivery the key has seen (5x by default) is taken for lost or forgotten (a tracker
  nobody closed, a store whose runner stopped): it no longer censors. Without this, one
  abandoned parcel would make the model promise months.
- **Recency.** Each shipment weighs ``2 ** ((started_at - t0) / half_life)``: one that
  started a half-life later weighs twice as much. Kaplan–Meier only uses ratios of
  weights, so the weights never need to be aged as time passes. A carrier that slows
  down moves the quantile as soon as its recent parcels have been travelling longer
  than the old ones used to take, before any slow parcel is delivered.
- **Fallback levels.** Each shipment is counted at every level that applies to its
  :class:`Lane` (:class:`Level`: postal prefix, lane, destination region, carrier
  service, everything). A question is answered by the most specific level with at
  least ``min_delivered`` deliveries; the estimate says which (the promise engine falls
  further back to the carrier's stated transit and a configured default).
  A level applies only when the field it adds is known: ``postal`` needs a postal
  prefix, ``lane`` an origin, ``region`` a destination, ``service`` a carrier or a
  service; ``all`` always applies.
- **Partial pooling** (``pool=``, off by default). Instead of the one most specific
  level with enough deliveries, the answer is a blend of survival curves: the coarsest
  level with ``min_delivered`` deliveries is the prior, and each finer level that has
  any delivery shrinks it towards its own curve by ``n / (n + pool)``, ``n`` its
  recency-weighted deliveries. A lane with 3 recent deliveries borrows most of its
  curve from its region and everything; one with thousands stands alone. The estimate
  lists the levels blended in and their shares (``pooled``).
- **Binned summaries.** Durations are kept in logarithmic bins (``resolution`` = 0.5%
  of the duration wide, from a quarter of an hour; nothing shorter is distinguished),
  parcels in flight in hourly buckets of their start; both are dense arrays per key,
  updated in O(1) by start/finish/drop. A question costs a few vectorised passes over
  one key's bins (about 2,000) whatever the length of history. A quantile is the upper
  edge of the bin where the curve crosses, so it errs long by at most one bin.
- **The tail.** When even the parcels still in flight leave the curve above ``1 - q``
  (the carrier has slowed and none of the slow parcels has landed), the answer is the
  longest duration observed so far, marked ``lower_bound=True``: "at least this".

Memory and threads: the model remembers every ref it holds (about 200 bytes each, so
about 210 MB for a million shipments, arrays included; see benchmarks/backtest.py), so
build it from the history that still weighs (a few half-lives) rather than from all
time, or pass ``remember_delivered=False`` when each delivery is learned exactly once. It is not thread-safe: a process that shares one between threads guards it with
a lock.

The unit of durations is the model's: ``elapsed(start, end)`` (default calendar days,
float). The promise engine may pass a working-day counter; it must be monotone. Parcels
in flight are measured with it at every question, once per start hour; an ``elapsed``
object that also has ``many(starts, end)`` (numpy array of epoch seconds, epoch seconds
-> array of durations) is asked once for all of them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import attrs
import numpy as np

__all__ = ["Lane", "LaneAnswer", "Level", "TransitEstimate", "TransitModel", "calendar_days", "MAX_TRANSIT"]

#: The longest transit accepted; anything longer is refused as absurd.
MAX_TRANSIT = timedelta(days=365)

_HOUR = 3600.0
_DAY = 86400.0
_FLOOR = 1.0 / 96.0  # the first bin holds everything shorter than this (a quarter of a day-unit hour)
_TOP = 400.0  # durations beyond this (in the model's unit) share the last bin
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def calendar_days(start: datetime, end: datetime) -> float:
    """The default ``elapsed``: calendar days between two aware datetimes, as a float."""
    return (end - start).total_seconds() / _DAY


@attrs.frozen(kw_only=True)
class Lane:
    """What a transit time depends on. An empty string means unknown.

    Attributes:
        carrier: The carrier instance name.
        service: The carrier service, e.g. ``"Priority"``.
        origin: The origin region, e.g. ``"US-NV"`` (country-subdivision), or ``""``.
        destination: The destination region, e.g. ``"US-CA"``, ``"BR-SP"``.
        postal_prefix: The destination postal prefix (first 3 characters) where known.
    """

    carrier: str = ""
    service: str = ""
    origin: str = ""
    destination: str = ""
    postal_prefix: str = ""


class Level(enum.StrEnum):
    """The level of detail an estimate was learned at, most specific first."""

    POSTAL = "postal"  # carrier, service, origin, destination and postal prefix
    LANE = "lane"  # carrier, service, origin, destination
    REGION = "region"  # carrier, service, destination
    SERVICE = "service"  # carrier, service
    ALL = "all"  # everything the model holds


def _key_at(level: Level, lane: Lane) -> Lane | None:
    """The key of ``lane`` at ``level``, or None when the level does not apply to it."""
    if level is Level.POSTAL:
        return lane if lane.postal_prefix else None
    if level is Level.LANE:
        return attrs.evolve(lane, postal_prefix="") if lane.origin else None
    if level is Level.REGION:
        return Lane(carrier=lane.carrier, service=lane.service, destination=lane.destination) if lane.destination else None
    if level is Level.SERVICE:
        return Lane(carrier=lane.carrier, service=lane.service) if (lane.carrier or lane.service) else None
    return Lane()


@attrs.frozen(kw_only=True)
class TransitEstimate:
    """A learned transit time and what it rests on.

    Attributes:
        days: The q-quantile of transit, in the model's unit (calendar days unless the
            model was built with another ``elapsed``).
        q: The share asked for (0.95: 95% of parcels arrive within ``days``).
        level: Which level answered.
        lane: The key at that level (the fields that level does not use are blank).
        delivered: Delivered observations behind it (a count, not a weight).
        in_flight: Censored observations (still in transit) behind it.
        window_days: The span of history it covers, in calendar days up to ``now``.
        lower_bound: True when the history does not reach the quantile yet (parcels in
            flight have outlasted every delivery): ``days`` is the longest duration seen
            so far, and the truth is at least that.
        unit: The unit of ``days`` for people ("days", "working days").
    """

    days: float
    q: float
    level: Level
    lane: Lane
    delivered: int
    in_flight: int
    window_days: float
    lower_bound: bool = False
    unit: str = "days"
    #: With pooling (``TransitModel(pool=...)``): each level blended into the curve, finest
    #: first, as (level, deliveries there, its share of the curve); empty without pooling.
    pooled: tuple[tuple[Level, int, float], ...] = ()

    def describe(self) -> str:
        """One line: "412 deliveries in the last 60 days (18 still in transit), 95% within 3 days"."""
        window = max(1, math.ceil(self.window_days))
        text = (f"{self.delivered} deliver{'y' if self.delivered == 1 else 'ies'} in the last "
                + (f"{window} days" if window != 1 else "day"))
        if self.in_flight:
            text += f" ({self.in_flight} still in transit)"
        share = f"{self.q * 100:.1f}".rstrip("0").rstrip(".")
        if self.lower_bound:
            return (f"{text}, {share}% take at least {self._at_least()} (parcels still on their way have been out "
                    f"longer than any delivered one){self._pooling()}")
        days = math.ceil(self.days - 1e-9) if self.days >= 1 else round(self.days, 2)
        return f"{text}, {share}% within {days} {self.unit}{self._pooling()}"

    def _pooling(self) -> str:
        """" (pooled: 38% lane of 12 deliveries, 62% region of 412)", or "" when one level answers alone."""
        if len(self.pooled) < 2:
            return ""
        parts = ", ".join(f"{round(share * 100)}% {level} of {n}" for level, n, share in self.pooled)
        return f" (pooled: {parts})"

    def _at_least(self) -> str:
        """The lower bound in words a person reads: whole days, else hours or minutes ("at least 15 minutes")."""
        if self.days >= 1 or self.unit != "days":
            whole = math.floor(self.days)
            return f"{whole} {self.unit}" if whole >= 1 else f"{self.days:.1f} {self.unit}"
        minutes = self.days * 24 * 60
        if minutes >= 60:
            hours = math.floor(minutes / 60)
            return f"{hours} hour{'s' if hours != 1 else ''}"
        whole = max(1, math.floor(minutes))
        return f"{whole} minute{'s' if whole != 1 else ''}"


class _Window:
    """A dense, growable window of weights and counts over integer indices.

    ``first`` and ``last`` are the lowest and highest indices holding a count (None
    when empty), kept up to date in amortised O(1); growing drops the empty prefix, so
    a window of start hours covers only the parcels still in flight.
    """

    __slots__ = ("lo", "w", "n", "floor", "first", "last")

    def __init__(self, floor: int | None = None) -> None:
        self.lo = 0
        self.w: np.ndarray | None = None
        self.n: np.ndarray | None = None
        self.floor = floor
        self.first: int | None = None
        self.last: int | None = None

    def add(self, i: int, w: float, n: int) -> None:
        if self.w is None:
            lo = i - 4 if self.floor is None else max(self.floor, i - 4)
            self.lo, self.w, self.n = lo, np.zeros(16), np.zeros(16, np.int64)
        j = i - self.lo
        if j < 0 or j >= len(self.w):
            self._grow(i)
            j = i - self.lo
        count = int(self.n[j]) + n
        self.n[j] = count
        self.w[j] = self.w[j] + w if count else 0.0
        if count and (self.first is None or i < self.first):
            self.first = i
        if count and (self.last is None or i > self.last):
            self.last = i
        if not count:
            if i == self.first or i == self.last:
                live = np.flatnonzero(self.n)
                if len(live):
                    self.first, self.last = self.lo + int(live[0]), self.lo + int(live[-1])
                else:
                    self.first = self.last = None

    def _grow(self, i: int) -> None:
        if self.floor is None and self.first is not None:  # forget the empty past
            keep = self.first - self.lo
            self.lo, self.w, self.n = self.first, self.w[keep:], self.n[keep:]
        size = len(self.w)
        slack = max(16, size // 2)
        lo = min(self.lo, i - slack) if i < self.lo else self.lo
        if self.floor is not None:
            lo = max(lo, self.floor)
        hi = max(self.lo + size, i + 1 + slack)
        w, n = np.zeros(hi - lo), np.zeros(hi - lo, np.int64)
        w[self.lo - lo:self.lo - lo + size] = self.w
        n[self.lo - lo:self.lo - lo + size] = self.n
        self.lo, self.w, self.n = lo, w, n

    def live(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(index of the first, weights, counts) from ``first`` to ``last``."""
        if self.first is None:
            return 0, np.zeros(0), np.zeros(0, np.int64)
        a, b = self.first - self.lo, self.last - self.lo + 1
        return self.first, self.w[a:b], self.n[a:b]

    def scale(self, factor: float) -> None:
        if self.w is not None:
            self.w *= factor


class _Key:
    """Everything the model knows at one key of one level."""

    __slots__ = ("level", "lane", "delivered", "flight", "n_delivered", "n_flight", "first")

    def __init__(self, level: Level, lane: Lane) -> None:
        self.level, self.lane = level, lane
        self.delivered = _Window(floor=0)  # duration bin -> weight
        self.flight = _Window()  # start hour (since the epoch) -> weight
        self.n_delivered = self.n_flight = 0
        self.first = math.inf  # earliest start seen, seconds since the epoch


@attrs.frozen
class _Curve:
    survival: np.ndarray  # S after each bin
    last: int  # the last bin holding any observation
    key: _Key
    rising: np.ndarray  # -S, non-decreasing, for searchsorted
    #: With pooling: (key, its share of the curve) for each key blended in, finest first.
    parts: tuple[tuple[_Key, float], ...] = ()


class TransitModel:
    """Transit-time quantiles per lane, learned incrementally from shipments (see the module doc).

    Args:
        half_life: A shipment that started ``half_life`` earlier weighs half as much.
            None: every shipment weighs the same.
        min_delivered: The deliveries a level needs before it may answer.
        elapsed: ``elapsed(start, end)`` gives a duration in the model's unit; the
            default is :func:`calendar_days`. It must be monotone in ``end``.
        levels: The levels to learn (a subset of :class:`Level`); fewer levels, less memory.
        unit: The name of the unit for :meth:`TransitEstimate.describe`.
        resolution: The relative width of a duration bin (0.005: 0.5%).
        remember_delivered: False: a delivered ref is forgotten once learned (about 200
            bytes less each); finishing it again counts it twice, and it cannot be
            dropped. For a caller that learns each delivery exactly once (a replay,
            the promise engine).
        stale_factor: A parcel in flight longer than this many times the longest delivery
            seen at its key no longer censors (taken for lost). None: every parcel in
            flight censors, however long it has been travelling.
        pool: Partial pooling (None: off, the most specific level with ``min_delivered``
            answers alone). The prior strength, in recency-weighted deliveries: the
            coarsest level with ``min_delivered`` deliveries is the prior, and each finer
            level with any delivery is blended in with the share ``n / (n + pool)`` of
            the survival curve, ``n`` its deliveries weighted by recency (each counts
            ``2 ** -(age / half_life)``). :meth:`remaining` does not pool.
    """

    def __init__(self, *, half_life: timedelta | None = timedelta(days=30), min_delivered: int = 20,
                 elapsed: Callable[[datetime, datetime], float] | None = None, levels: Sequence[Level] = tuple(Level),
                 unit: str = "days", resolution: float = 0.005, remember_delivered: bool = True,
                 stale_factor: float | None = 5.0, pool: float | None = None) -> None:
        if half_life is not None and half_life <= timedelta(0):
            raise ValueError(f"half_life must be positive, got {half_life}")
        if min_delivered < 1:
            raise ValueError(f"min_delivered must be at least 1, got {min_delivered}")
        if not 0 < resolution < 1:
            raise ValueError(f"resolution must be between 0 and 1, got {resolution}")
        self.half_life = half_life
        self.min_delivered = min_delivered
        self.elapsed = elapsed
        self.levels = tuple(lv for lv in Level if lv in set(Level(x) for x in levels))
        if not self.levels:
            raise ValueError("levels must name at least one Level")
        self.unit = unit
        self.remember_delivered = remember_delivered
        if stale_factor is not None and stale_factor < 1:
            raise ValueError(f"stale_factor must be at least 1 (or None), got {stale_factor}")
        self.stale_factor = stale_factor
        if pool is not None and not pool > 0:
            raise ValueError(f"pool must be a positive number of deliveries (or None), got {pool!r}")
        self.pool = pool
        self._rate = 0.0 if half_life is None else math.log(2) / half_life.total_seconds()
        self._log_step = math.log1p(resolution)
        self._bins = 2 + int(math.log(_TOP / _FLOOR) / self._log_step)
        self._edges = np.concatenate(([0.0], _FLOOR * np.exp(self._log_step * np.arange(self._bins))))
        self._t0: float | None = None  # weights are relative to this start (seconds since the epoch)
        self._keys: dict[tuple[Level, Lane], _Key] = {}
        self._lanes: dict[Lane, tuple[_Key, ...]] = {}
        self._refs: dict[str, tuple[tuple[_Key, ...], float, int]] = {}  # ref -> (keys, start, bin or -1)

    # ------------------------------------------------------------------ changes

    def start(self, ref: str, lane: Lane, started_at: datetime) -> None:
        """A parcel was handed to the carrier: it counts as in flight (censored) until finished or dropped.

        Starting a ref that is already in flight with other facts replaces them; starting
        one already delivered changes nothing.
        """
        start = self._seconds(started_at, ref, "started_at")
        known = self._refs.get(ref)
        if known is not None:
            if known[2] >= 0:
                return
            self.drop(ref)
        keys = self._keys_for(lane)
        w = self._weight(start)
        hour = math.floor(start / _HOUR)
        for key in keys:
            key.flight.add(hour, w, 1)
            key.n_flight += 1
            key.first = min(key.first, start)
        self._refs[ref] = (keys, start, -1)

    def finish(self, ref: str, lane: Lane, started_at: datetime, delivered_at: datetime) -> None:
        """A parcel was delivered. Idempotent per ref; other facts for a known ref replace the old ones.

        Raises ValueError, naming the ref, when delivered_at is before started_at or the
        transit is longer than :data:`MAX_TRANSIT`: the caller decides to skip it.
        """
        start = self._seconds(started_at, ref, "started_at")
        end = self._seconds(delivered_at, ref, "delivered_at")
        if end < start:
            raise ValueError(f"shipment {ref!r}: delivered at {delivered_at.isoformat()}, "
                             f"before it started at {started_at.isoformat()}")
        if end - start > MAX_TRANSIT.total_seconds():
            raise ValueError(f"shipment {ref!r}: {(end - start) / _DAY:.0f} days in transit is more than "
                             f"{MAX_TRANSIT.days}; refused as absurd")
        duration = calendar_days(started_at, delivered_at) if self.elapsed is None else self.elapsed(started_at, delivered_at)
        if not duration >= 0:
            raise ValueError(f"shipment {ref!r}: elapsed() gave {duration!r} from {started_at.isoformat()} "
                             f"to {delivered_at.isoformat()}; expected a duration of 0 or more")
        b = self._bin(duration)
        keys = self._keys_for(lane)
        known = self._refs.get(ref)
        if known is not None:
            if known == (keys, start, b):
                return
            self.drop(ref)
        w = self._weight(start)
        for key in keys:
            key.delivered.add(b, w, 1)
            key.n_delivered += 1
            key.first = min(key.first, start)
        if self.remember_delivered:
            self._refs[ref] = (keys, start, b)
        else:
            self._refs.pop(ref, None)

    def drop(self, ref: str) -> None:
        """The parcel no longer counts (cancelled, returned, lost). Unknown refs are ignored."""
        known = self._refs.pop(ref, None)
        if known is None:
            return
        keys, start, b = known
        w = self._weight(start)
        for key in keys:
            if b < 0:
                key.flight.add(math.floor(start / _HOUR), -w, -1)
                key.n_flight -= 1
            else:
                key.delivered.add(b, -w, -1)
                key.n_delivered -= 1

    def __len__(self) -> int:
        """Observations held (delivered and in flight)."""
        return len(self._refs)

    # ------------------------------------------------------------------ questions

    def quantile(self, lane: Lane, q: float, *, now: datetime) -> TransitEstimate | None:
        """The q-quantile of transit on ``lane`` at the most specific level with enough deliveries.

        None when even the ``all`` level has fewer than ``min_delivered`` deliveries.
        """
        _check_share(q)
        now_s = self._seconds(now, "", "now")
        curve = self._answering_curve(lane, now_s)
        if curve is None:
            return None
        return self._estimate(curve, q, now_s, *self._crossing(curve, 1.0 - q, 0))

    def quantiles(self, lane: Lane, qs: Sequence[float], *, now: datetime) -> list[TransitEstimate] | None:
        """Several quantiles from one curve (the same level answers them all); None when history is too thin."""
        for q in qs:
            _check_share(q)
        now_s = self._seconds(now, "", "now")
        curve = self._answering_curve(lane, now_s)
        if curve is None:
            return None
        found = np.searchsorted(curve.rising, -(1.0 - np.asarray(qs, dtype=float) + 1e-12), side="left").tolist()
        size = len(curve.rising)
        return [self._estimate(curve, q, now_s, b, False) if b < size else self._estimate(curve, q, now_s, curve.last, True)
                for q, b in zip(qs, found)]

    def days_at(self, lane: Lane, qs: Sequence[float], *, now: datetime) -> list[float] | None:
        """Only the ``days`` of :meth:`quantiles` (a lower bound where the tail is not reached): for replays."""
        now_s = self._seconds(now, "", "now")
        curve = self._answering_curve(lane, now_s)
        if curve is None:
            return None
        found = np.searchsorted(curve.rising, -(1.0 - np.asarray(qs, dtype=float) + 1e-12), side="left")
        return self._edges[np.minimum(found, curve.last) + 1].tolist()

    def answer(self, lane: Lane, *, now: datetime) -> LaneAnswer | None:
        """The survival curve that answers for ``lane`` at ``now``, to ask several questions
        of (the curve is most of a question's cost); None when history is too thin at every
        level. The answer is a snapshot: later changes to the model do not change it."""
        now_s = self._seconds(now, "", "now")
        curve = self._answering_curve(lane, now_s)
        return None if curve is None else LaneAnswer(self, curve, now_s)

    def share_within(self, lane: Lane, days: float, *, now: datetime) -> tuple[float, Level] | None:
        """P(transit <= days) on ``lane``, and the level that answered; None when history is too thin."""
        now_s = self._seconds(now, "", "now")
        curve = self._answering_curve(lane, now_s)
        if curve is None:
            return None
        b = self._bin(max(days, 0.0))
        if b == 0:
            return 0.0, curve.key.level
        s = curve.survival[min(b, len(curve.survival)) - 1]
        return float(min(max(1.0 - s, 0.0), 1.0)), curve.key.level

    def remaining(self, lane: Lane, elapsed_days: float, q: float, *, now: datetime) -> TransitEstimate | None:
        """The q-quantile of the transit still to come for a parcel travelling ``elapsed_days`` so far.

        Conditional on the parcel not having arrived yet: with S the survival curve, the
        answer is the t with S(t) = S(elapsed) * (1 - q), minus elapsed. When the parcel
        has outlasted everything a level has seen, a coarser level is asked; None when
        none can say. ``days`` in the answer is the remaining part only.
        """
        _check_share(q)
        now_s = self._seconds(now, "", "now")
        b_e = self._bin(max(elapsed_days, 0.0))
        for key in self._candidates(lane):
            curve = self._curve(key, now_s)
            survival = curve.survival
            s_e = 1.0 if b_e == 0 else float(survival[min(b_e, len(survival)) - 1])
            if s_e <= 1e-9 or b_e > curve.last:
                continue
            b, lower = self._crossing(curve, s_e * (1.0 - q), b_e)
            est = self._estimate(curve, q, now_s, b, lower)
            return attrs.evolve(est, days=max(est.days - elapsed_days, 0.0))
        return None

    # ------------------------------------------------------------------ inside

    def _seconds(self, when: datetime, ref: str, name: str) -> float:
        if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
            whose = f"shipment {ref!r}: " if ref else ""
            raise ValueError(f"{whose}{name} must be a timezone-aware datetime, got {when!r}")
        return (when - _EPOCH).total_seconds()

    def _weight(self, start: float) -> float:
        if not self._rate:
            return 1.0
        if self._t0 is None:
            self._t0 = start
        exponent = self._rate * (start - self._t0)
        if exponent > 600.0:  # keep weights finite: move the reference forward, scale what is held
            shift = exponent - 300.0
            factor = math.exp(-shift)
            self._t0 += shift / self._rate
            for key in self._keys.values():
                key.delivered.scale(factor)
                key.flight.scale(factor)
            exponent -= shift
        return math.exp(max(exponent, -700.0))

    def _bin(self, duration: float) -> int:
        if duration < _FLOOR:
            return 0
        return min(1 + int(math.log(duration / _FLOOR) / self._log_step), self._bins - 1)

    def _keys_for(self, lane: Lane) -> tuple[_Key, ...]:
        keys = self._lanes.get(lane)
        if keys is None:
            found = []
            for level in self.levels:
                at = _key_at(level, lane)
                if at is not None:
                    key = self._keys.get((level, at))
                    if key is None:
                        key = self._keys[(level, at)] = _Key(level, at)
                    found.append(key)
            keys = self._lanes[lane] = tuple(found)
        return keys

    def _candidates(self, lane: Lane):
        for level in self.levels:
            at = _key_at(level, lane)
            if at is None:
                continue
            key = self._keys.get((level, at))
            if key is not None and key.n_delivered >= self.min_delivered:
                yield key

    def _answering_curve(self, lane: Lane, now_s: float) -> _Curve | None:
        if self.pool is not None:
            return self._pooled_curve(lane, now_s)
        key = next(self._candidates(lane), None)
        return None if key is None else self._curve(key, now_s)

    def _pooled_curve(self, lane: Lane, now_s: float) -> _Curve | None:
        """Partial pooling: the coarsest level with ``min_delivered`` deliveries is the
        prior; each finer level that has deliveries is blended in, finest last, as
        ``S = (n S_key + pool S_prior) / (n + pool)`` with ``n`` its recency-weighted
        count of deliveries (each counts ``2 ** -(age / half_life)``). A sparse lane
        borrows its shape from the levels above; a rich one stands alone."""
        chain: list[_Key] = []
        for level in self.levels:
            at = _key_at(level, lane)
            if at is None:
                continue
            key = self._keys.get((level, at))
            if key is not None and key.n_delivered > 0:
                chain.append(key)
        while chain and chain[-1].n_delivered < self.min_delivered:
            chain.pop()
        if not chain:
            return None
        root = self._curve(chain[-1], now_s)
        if len(chain) == 1:
            return attrs.evolve(root, parts=((root.key, 1.0),))
        survival, last = root.survival, root.last
        parts: list[tuple[_Key, float]] = [(root.key, 1.0)]
        decay = math.exp(self._rate * (now_s - self._t0)) if self._rate and self._t0 is not None else 1.0
        for key in reversed(chain[:-1]):
            curve = self._curve(key, now_s)
            _, dw, _ = key.delivered.live()
            n = float(dw.sum()) / decay if self._rate else float(key.n_delivered)
            a = n / (n + self.pool)
            size = max(len(survival), len(curve.survival))
            mine = np.pad(curve.survival, (0, size - len(curve.survival)), mode="edge")
            prior = np.pad(survival, (0, size - len(survival)), mode="edge")
            survival = a * mine + (1.0 - a) * prior
            last = max(last, curve.last)
            parts = [(k, share * (1.0 - a)) for k, share in parts] + [(key, a)]
        parts.reverse()
        main = max(parts, key=lambda p: p[1])[0]
        return _Curve(survival, last, main, -survival, tuple(parts))

    def _curve(self, key: _Key, now_s: float) -> _Curve:
        """The weighted Kaplan–Meier survival after each duration bin, as of ``now_s``."""
        d0, dw, _ = key.delivered.live()
        last = key.delivered.last or 0
        cbins = cweights = None
        if key.n_flight:
            h0, fw, fn = key.flight.live()
            hours = np.flatnonzero(fn)
            starts = (h0 + hours + 0.5) * _HOUR
            if self.elapsed is None:
                elapsed = (now_s - starts) / _DAY
            elif hasattr(self.elapsed, "many"):  # a vectorised form: many(starts, end) in epoch seconds
                elapsed = np.where(starts <= now_s, self.elapsed.many(starts, now_s), -1.0)
            else:
                now = _EPOCH + timedelta(seconds=now_s)
                elapsed = np.array([self.elapsed(_EPOCH + timedelta(seconds=float(s)), now) if s <= now_s else -1.0
                                    for s in starts])
            started = (starts <= now_s) & (elapsed >= 0)
            if self.stale_factor is not None and key.delivered.last is not None:
                started &= elapsed <= self.stale_factor * self._edges[min(key.delivered.last + 1, self._bins)]
            if started.any():
                elapsed = elapsed[started]
                cweights = fw[hours[started]]
                with np.errstate(divide="ignore"):
                    raw = 1 + np.floor(np.log(np.maximum(elapsed, 1e-300) / _FLOOR) / self._log_step)
                cbins = np.clip(np.where(elapsed < _FLOOR, 0, raw), 0, self._bins - 1).astype(np.int64)
                last = max(last, int(cbins.max()))
        size = last + 1
        deaths = np.zeros(size)
        deaths[d0:d0 + len(dw)] = np.maximum(dw, 0.0)
        exits = deaths if cbins is None else deaths + np.bincount(cbins, weights=cweights, minlength=size)
        at_risk = np.cumsum(exits[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(at_risk > 0, deaths / at_risk, 0.0)
        survival = np.cumprod(1.0 - np.clip(hazard, 0.0, 1.0))
        return _Curve(survival, last, key, -survival)

    def _crossing(self, curve: _Curve, target: float, from_bin: int) -> tuple[int, bool]:
        """The first bin at or after ``from_bin`` where survival falls to ``target``; else the last bin, lower bound."""
        b = int(np.searchsorted(curve.rising, -(target + 1e-12), side="left"))
        if b < len(curve.rising):
            return max(b, from_bin), False
        return curve.last, True

    def _estimate(self, curve: _Curve, q: float, now_s: float, b: int, lower: bool) -> TransitEstimate:
        key = curve.key
        window = max(now_s - key.first, 0.0) / _DAY if key.first != math.inf else 0.0
        return TransitEstimate(days=float(self._edges[b + 1]), q=q, level=key.level, lane=key.lane,
                               delivered=key.n_delivered, in_flight=key.n_flight, window_days=window,
                               lower_bound=lower, unit=self.unit,
                               pooled=tuple((k.level, k.n_delivered, share) for k, share in curve.parts))


class LaneAnswer:
    """Several questions answered from one survival curve: one lane at one moment
    (:meth:`TransitModel.answer`). Its answers are the model's own at that moment."""

    __slots__ = ("_model", "_curve", "_now_s")

    def __init__(self, model: TransitModel, curve: _Curve, now_s: float):
        self._model, self._curve, self._now_s = model, curve, now_s

    @property
    def level(self) -> Level:
        """The level that answers."""
        return self._curve.key.level

    def quantiles(self, qs: Sequence[float]) -> list[TransitEstimate]:
        """As :meth:`TransitModel.quantiles`, from this curve."""
        m, c = self._model, self._curve
        for q in qs:
            _check_share(q)
        return [m._estimate(c, q, self._now_s, *m._crossing(c, 1.0 - q, 0)) for q in qs]

    def share_within(self, days: float) -> float:
        """As :meth:`TransitModel.share_within` (the share only), from this curve."""
        b = self._model._bin(max(days, 0.0))
        if b == 0:
            return 0.0
        survival = self._curve.survival
        return float(min(max(1.0 - survival[min(b, len(survival)) - 1], 0.0), 1.0))


def _check_share(q: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be a share between 0 and 1 (0.95 for 95%), got {q!r}")
