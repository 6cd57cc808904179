"""The promise backtest: replay a delivery history in time order and score the promises it would have made.

Each row is an order: when it was bought and when it was delivered (and optionally when
payment was approved, where it went, with which carrier, and what the shop promised).
The replay walks the orders in purchase order. Before it promises an order it feeds
:class:`~fulfilhub.engines.transit.TransitModel` every delivery finished by then; the
orders bought earlier and not delivered yet are in flight (censored). So each promise
uses only what was known at its purchase time. Nothing here reads a clock or a store; the
only I/O is reading the file (:func:`read_rows`).

A promise for share ``target`` is:

1. the transit model's quantile of "approval (or purchase) → delivery" at a level
   ``q``, learned on the order's lane partially pooled with its coarser levels (region,
   carrier service, everything): a sparse lane borrows from them, a rich one stands
   alone (``pool``, :data:`DEFAULT_POOL`);
2. counted from the approval time when the file has one (an order approved two days
   late is promised two days later), else from the purchase;
3. durations are counted in delivery days (:class:`DeliveryDays`): a weekday counts
   whole, a Saturday half and a Sunday a tenth by default, because few parcels land at
   weekends; ``deliver-by`` is the calendar date the quantile reaches; the promised
   days are ``deliver-by − purchase date``; the order is on time when delivered on or
   before it.

``q`` starts at the target and is corrected online (adaptive conformal inference): every
promise whose deliver-by date was over before the purchase at hand nudges ``q`` by
``gain × (target − hit)``, within ``target − 0.05`` and ``target + 0.03``. So a history
that keeps missing raises ``q``; one that keeps over-delivering lowers it. Outcomes count
when the deliver-by date is over, hits and misses alike: a hit is known earlier (at its
delivery), and counting it then would tilt the feedback towards hits.
The shop's own promise (``estimated_ts``) is scored the same way in the same run.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import attrs
import numpy as np

from ..errors import FulfilhubError
from ..models import EARLIEST, LATEST, in_range
from .transit import Lane, TransitModel

__all__ = ["BacktestError", "BacktestResult", "DeliveryDays", "Outcome", "Row", "ROLES", "DEFAULT_TARGETS",
           "DEFAULT_WEEKDAY_WEIGHTS", "DEFAULT_POOL",
           "read_rows", "replay", "backtest"]

#: The column roles a history file may carry, and whether each is required.
ROLES: Mapping[str, bool] = {
    "purchase_ts": True,
    "delivered_ts": True,
    "approved_ts": False,
    "shipped_ts": False,
    "origin": False,
    "destination": False,
    "carrier": False,
    "service": False,
    "estimated_ts": False,
}
_TIMES = ("purchase_ts", "delivered_ts", "approved_ts", "shipped_ts", "estimated_ts")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: How much each weekday counts, Monday first: few parcels land at weekends.
DEFAULT_WEEKDAY_WEIGHTS: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.1)

#: The prior strength of partial pooling across lane levels (:class:`TransitModel` ``pool``),
#: in recency-weighted deliveries: a lane's own curve counts ``n / (n + 100)``.
DEFAULT_POOL = 100.0

#: The shares promised by default: 90% to 97% on time.
DEFAULT_TARGETS: tuple[float, ...] = (0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97)


class BacktestError(FulfilhubError):
    """The history file cannot be replayed: a missing column, a time that does not parse (row and column named)."""


@attrs.frozen(kw_only=True)
class Row:
    """One delivered order of the history.

    Attributes:
        line: The line of the file it came from (the header is line 1).
        purchase: When the customer bought.
        delivered: When it was delivered.
        approved: When payment was approved (None: unknown).
        estimated: The delivery date the shop promised (None: unknown).
        lane: Where and how it travelled, as far as the file says.
    """

    line: int
    purchase: datetime
    delivered: datetime
    approved: datetime | None = None
    estimated: date | None = None
    lane: Lane = Lane()


@attrs.frozen(kw_only=True)
class Outcome:
    """How one set of promises did.

    Attributes:
        target: The share aimed at (None for the shop's own promise).
        on_time: The share delivered on or before the deliver-by date.
        median_days: The median promised days (deliver-by date − purchase date).
        p90_days: The 90th percentile of promised days.
        promised: The promised days of each row, in purchase order.
    """

    target: float | None
    on_time: float
    median_days: float
    p90_days: float
    promised: tuple[int, ...] = attrs.field(repr=False, eq=False, default=())

    def as_json(self) -> dict:
        out = {"on_time": round(self.on_time, 4), "median_days": round(self.median_days, 2),
               "p90_days": round(self.p90_days, 2)}
        return out if self.target is None else {"target": self.target, **out}


@attrs.frozen(kw_only=True)
class BacktestResult:
    """The backtest of one history.

    Attributes:
        rows: The rows replayed (delivered, with sane times).
        skipped: Rows left out: not delivered, or delivered before they were bought or
            more than a year later.
        results: One outcome per target, in the order asked.
        baseline: The shop's own promise scored the same way (None without ``estimated_ts``).
        bad_rows: Rows that could not be read, left out because ``skip_bad_rows`` was asked.
        first_bad: The error of the first of them (None when there was none).
    """

    rows: int
    skipped: int
    results: tuple[Outcome, ...]
    baseline: Outcome | None
    bad_rows: int = 0
    first_bad: str | None = None

    def as_json(self) -> dict:
        return {"rows": self.rows, "skipped": self.skipped, "bad_rows": self.bad_rows, "first_bad": self.first_bad,
                "results": [r.as_json() for r in self.results],
                "baseline": None if self.baseline is None else self.baseline.as_json()}


# ---------------------------------------------------------------------------- reading


def parse_time(text: str) -> datetime:
    """An ISO-8601 time or date; a time without an offset is taken as UTC (all rows alike)."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def read_rows(path: str | Path, columns: Mapping[str, str] | None = None, *, delimiter: str = ",",
              bad_rows: list[str] | None = None) -> tuple[list[Row], int]:
    """Read a history CSV: ``columns`` maps a role to the file's column name (default: the role's name).

    Returns the rows worth replaying and how many were skipped (no delivery time; a
    delivery before the purchase or more than a year after it). Raises
    :class:`BacktestError` naming the row and column for a missing required column or
    a time that does not parse; with a ``bad_rows`` list, a row that cannot be read
    is left out and its error appended there instead.
    """
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        raise BacktestError(f"unknown role {unknown[0]!r} in --column; the roles are {', '.join(ROLES)}")
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise BacktestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise BacktestError(f"{path}: the file is empty; expected a header row with "
                                f"{' and '.join(r for r, req in ROLES.items() if req)}") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BacktestError(f"{path}: line 1: not a CSV header: {exc}") from None
        where: dict[str, int] = {}
        for role, required in ROLES.items():
            name = columns.get(role, role)
            if name in header:
                where[role] = header.index(name)
            elif required or role in columns:
                hint = "" if role in columns else f" (map another with --column {role}=NAME)"
                hint += _separator_hint(header, delimiter)
                raise BacktestError(f"{path}: no column {name!r} for {role}{hint}; the header has: {', '.join(header)}")
        rows: list[Row] = []
        lanes: dict[tuple[str, ...], Lane] = {}
        skipped = 0
        line = 1
        try:
            for line, record in enumerate(reader, start=2):
                if not any(cell.strip() for cell in record):
                    continue
                try:
                    row = _row(path, line, record, where, header, lanes)
                except BacktestError as exc:
                    if bad_rows is None:
                        raise
                    bad_rows.append(str(exc))
                    continue
                if row is None:
                    skipped += 1
                else:
                    rows.append(row)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BacktestError(f"{path}: line {line}: not valid CSV: {exc}") from None
    return rows, skipped


def _separator_hint(header: list[str], delimiter: str) -> str:
    """A hint when the header looks split by another separator (a semicolon file read as commas)."""
    for other, name in ((";", "semicolon"), ("\t", "tab"), (",", "comma"), ("|", "pipe")):
        if other != delimiter and any(other in cell for cell in header):
            shown = "$'\\t'" if other == "\t" else repr(other)
            return (f". The header holds {name}s: is the file {name}-separated? "
                    f"Pass --delimiter {shown}")
    return ""


def _row(path: str | Path, line: int, record: list[str], where: Mapping[str, int], header: list[str],
         lanes: dict[tuple[str, ...], Lane]) -> Row | None:
    values: dict[str, object] = {}
    for role, index in where.items():
        if index >= len(record):
            raise BacktestError(f"{path}: line {line}: column {header[index]!r} ({role}) is missing; "
                                f"the row has {len(record)} fields, the header {len(header)}")
        cell = record[index].strip()
        if role in _TIMES:
            if not cell:
                if role == "purchase_ts":
                    raise BacktestError(f"{path}: line {line}: column {header[index]!r} (purchase_ts) is empty")
                values[role] = None
                continue
            try:
                value = parse_time(cell)
            except ValueError:
                raise BacktestError(f"{path}: line {line}: column {header[index]!r} ({role}): {cell[:40]!r} is "
                                    f"not a time (expected ISO 8601, e.g. 2018-03-01 14:05:00)") from None
            if not in_range(value):
                raise BacktestError(f"{path}: line {line}: column {header[index]!r} ({role}): {cell[:40]!r} is "
                                    f"outside {EARLIEST.year}-{LATEST.year - 1}")
            values[role] = value
        else:
            values[role] = cell
    purchase, delivered = values["purchase_ts"], values.get("delivered_ts")
    assert isinstance(purchase, datetime)
    if not isinstance(delivered, datetime) or delivered < purchase or delivered - purchase > timedelta(days=365):
        return None
    approved = values.get("approved_ts")
    if not isinstance(approved, datetime) or approved < purchase or approved > delivered:
        approved = None
    estimated = values.get("estimated_ts")
    fields = (str(values.get("carrier") or ""), str(values.get("service") or ""), str(values.get("origin") or ""),
              str(values.get("destination") or ""))
    lane = lanes.get(fields)
    if lane is None:  # one Lane per distinct lane: a million rows share a few hundred
        lane = lanes[fields] = Lane(carrier=fields[0], service=fields[1], origin=fields[2], destination=fields[3])
    return Row(line=line, purchase=purchase, delivered=delivered, approved=approved,
               estimated=estimated.date() if isinstance(estimated, datetime) else None, lane=lane)


# ---------------------------------------------------------------------------- the calendar


class DeliveryDays:
    """Time as deliveries see it: each calendar day counts its weekday's weight (Sunday 0.1: few parcels land then).

    ``elapsed(start, end)`` is the weighted days between two times (what the transit
    model learns in); :meth:`add` goes the other way, from a start and a weighted
    duration to the calendar time it reaches. Days are UTC days (a history without
    offsets is read as UTC, so they are its own wall-clock days).
    """

    def __init__(self, weights: Sequence[float] = DEFAULT_WEEKDAY_WEIGHTS) -> None:
        if len(weights) != 7 or not all(w > 0 for w in weights):
            raise ValueError(f"expected 7 positive weekday weights (Monday first), got {weights!r}")
        self.weights = np.array(weights, dtype=float)
        self.week = float(self.weights.sum())
        self.before = np.concatenate(([0.0], np.cumsum(self.weights)))  # weight before each weekday
        self._w = [float(w) for w in self.weights]  # the same, as floats, for the one-time paths
        self._before = [float(b) for b in self.before]
        # 1970-01-01 was a Thursday (weekday 3)
        self._offset = self._before[3]

    def _many(self, seconds: np.ndarray | float) -> np.ndarray:
        days = np.floor_divide(seconds, 86400.0)
        frac = (seconds - days * 86400.0) / 86400.0
        weekday = ((days + 3) % 7).astype(np.int64)
        weeks = np.floor_divide(days + 3, 7)
        return weeks * self.week + self.before[weekday] + frac * self.weights[weekday] - self._offset

    def _one(self, seconds: float) -> float:
        days = math.floor(seconds / 86400.0)
        frac = (seconds - days * 86400.0) / 86400.0
        weekday = (days + 3) % 7
        return (days + 3) // 7 * self.week + self._before[weekday] + frac * self._w[weekday] - self._offset

    def __call__(self, start: datetime, end: datetime) -> float:
        return self._one(end.timestamp()) - self._one(start.timestamp())

    def many(self, starts: np.ndarray, end: float) -> np.ndarray:
        """Weighted days from each of ``starts`` to ``end`` (seconds since the epoch)."""
        return self._one(end) - self._many(np.asarray(starts, dtype=float))

    def add(self, start: datetime, days: float) -> datetime:
        """The time ``days`` weighted days after ``start``."""
        target = self._one(start.timestamp()) + days + self._offset
        weeks = math.floor(target / self.week)
        rest = target - weeks * self.week
        weekday = min(bisect.bisect_right(self._before, rest) - 1, 6)
        frac = (rest - self._before[weekday]) / self._w[weekday]
        return (_EPOCH + timedelta(days=weeks * 7 + weekday - 3 + frac)).astimezone(start.tzinfo)


# ---------------------------------------------------------------------------- replaying


def replay(rows: Sequence[Row], targets: Sequence[float] = DEFAULT_TARGETS, *,
           half_life: timedelta = timedelta(days=30), min_delivered: int = 30, gain: float = 0.01,
           spread: tuple[float, float] = (0.05, 0.03), censor: bool = True,
           calendar: DeliveryDays | None = None, pool: float | None = DEFAULT_POOL) -> BacktestResult:
    """Replay ``rows`` in purchase order; promise each from what was known then (see the module doc).

    ``gain`` is the calibration step (0: no calibration, promise the plain quantile), and
    ``spread`` bounds how far it moves the quantile level below and above the target
    (wider below: a deliver-by date covers the whole day the quantile lands in, a
    surplus that only a lower level takes back).
    ``pool`` is the prior strength of partial pooling across the lane's levels
    (:class:`TransitModel`; None: the most specific level with ``min_delivered``
    deliveries answers alone).
    ``censor=False`` leaves orders in flight out of the model (for comparison only: it
    learns from the quick deliveries and is late to see a slowdown).
    Rows promised before the model has ``min_delivered`` deliveries are promised with
    the longest transit seen so far (or not at all: with no delivery yet they are left out
    of the scores, like a shop that had no history to promise from).
    """
    for t in targets:
        if not 0.0 < t < 1.0:
            raise BacktestError(f"--target {t!r}: a target is a share between 0 and 1 (0.95 for 95%)")
    order = sorted(range(len(rows)), key=lambda i: (rows[i].purchase, rows[i].line))
    by_delivery = sorted(order, key=lambda i: rows[i].delivered)
    model = TransitModel(half_life=half_life, min_delivered=min_delivered, elapsed=calendar, remember_delivered=False,
                         pool=pool)
    n_t = len(targets)
    offset = [0.0] * n_t
    pending: list[tuple[datetime, int, int, bool]] = []  # (resolved at, seq, target index, hit)
    promised = np.zeros((n_t, len(rows)), dtype=np.int64)
    hit = np.zeros((n_t, len(rows)), dtype=bool)
    scored = np.zeros(len(rows), dtype=bool)
    longest = -1.0
    seq = 0
    d = 0
    for i in order:
        row = rows[i]
        now = row.purchase
        while d < len(by_delivery) and rows[by_delivery[d]].delivered <= now:
            j = by_delivery[d]
            done = rows[j]
            start = done.approved or done.purchase
            model.finish(str(j), done.lane, start, done.delivered)
            longest = max(longest, (done.delivered - start).total_seconds() / 86400 if calendar is None
                          else calendar(start, done.delivered))
            d += 1
        while pending and pending[0][0] <= now:  # what became known before this purchase
            _, _, k, ok = heapq.heappop(pending)
            offset[k] = min(max(offset[k] + gain * (targets[k] - ok), -spread[0]), spread[1])
        start = row.approved or row.purchase
        qs = [min(max(t + o, 0.5), 0.995) for t, o in zip(targets, offset)]
        estimates = model.days_at(row.lane, qs, now=now)
        if estimates is None and longest < 0:
            if censor:
                model.start(str(i), row.lane, start)
            continue
        scored[i] = True
        for k in range(n_t):
            days = longest if estimates is None else estimates[k]
            deliver_by = (start + timedelta(days=days) if calendar is None else calendar.add(start, days)).date()
            ok = row.delivered.date() <= deliver_by
            promised[k, i] = (deliver_by - row.purchase.date()).days
            hit[k, i] = ok
            # counted once its deliver-by date is over: hits and misses alike (counting a hit at
            # its delivery, earlier than a miss can be known, would bias the level down)
            deadline = datetime.combine(deliver_by + timedelta(days=1), datetime.min.time(), now.tzinfo)
            seq += 1
            heapq.heappush(pending, (deadline, seq, k, ok))
        if censor:
            model.start(str(i), row.lane, start)
    results = tuple(_outcome(targets[k], promised[k, scored], hit[k, scored])
                    for k in range(n_t))
    baseline = None
    with_estimate = [r for i, r in enumerate(rows) if r.estimated is not None and scored[i]]
    if with_estimate:
        days = np.array([(r.estimated - r.purchase.date()).days for r in with_estimate])
        ok = np.array([r.delivered.date() <= r.estimated for r in with_estimate])
        baseline = _outcome(None, days, ok)
    return BacktestResult(rows=int(scored.sum()), skipped=0, results=results, baseline=baseline)


def _outcome(target: float | None, days: np.ndarray, ok: np.ndarray) -> Outcome:
    if len(days) == 0:
        return Outcome(target=target, on_time=math.nan, median_days=math.nan, p90_days=math.nan)
    return Outcome(target=target, on_time=float(ok.mean()), median_days=float(np.median(days)),
                   p90_days=float(np.percentile(days, 90)), promised=tuple(int(x) for x in days))


def backtest(path: str | Path, targets: Iterable[float] = DEFAULT_TARGETS,
             columns: Mapping[str, str] | None = None, **options) -> BacktestResult:
    """Read ``path`` and replay it: what ``fulfilhub promise backtest`` runs.

    ``delimiter`` separates the file's fields (``,``); with ``skip_bad_rows`` a row that
    cannot be read is counted (``bad_rows``, the first error in ``first_bad``) and left
    out instead of stopping the run.
    """
    delimiter = options.pop("delimiter", ",")
    bad: list[str] | None = [] if options.pop("skip_bad_rows", False) else None
    rows, skipped = read_rows(path, columns, delimiter=delimiter, bad_rows=bad)
    if not rows:
        raise BacktestError(f"{path}: no delivered row to replay ({skipped} skipped"
                            + (f", {len(bad)} unreadable: {bad[0]}" if bad else "") + ")")
    options.setdefault("calendar", DeliveryDays())
    result = replay(rows, tuple(targets), **options)
    return attrs.evolve(result, skipped=skipped + len(rows) - result.rows, bad_rows=len(bad or ()),
                        first_bad=bad[0] if bad else None)
