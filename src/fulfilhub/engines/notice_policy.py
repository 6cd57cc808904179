"""The notice policy: whether a customer is told about an order's delay now, and what.

Everything that decides whether a delay notice is sent lives in this module. It decides
from plain values: the order's current delay assessment (and since when the order has
been late), the promised day, what the customer was already told, the policy settings
and the time. It answers with one :class:`Decision`: send this notice with these facts,
suppress it for this reason, or wait until a given time and decide again. It never reads
the store, renders a template, asks the compensation engine or sends anything: the
``notices`` job (:mod:`fulfilhub.runner.notices`) does that around it.

Theory of operation
-------------------

A delay assessment changes often (a parcel's finding can flip hourly between "no scan"
and "the lane's forecast"); a customer must hear about it rarely and truly. So:

- **Hysteresis.** Only a *late* order is announced (at risk is a forecast, not a delay).
  A cause that comes from statistics (``FLAPPY``: no scan, the lane's forecast, a
  warehouse not yet done) must have held for ``hold`` before it is announced; the
  carrier's own word (an exception, a moved date) and a stock-out are firm at once.
  Being late is one state whatever the cause flips between: ``late_since`` is when the
  current unbroken run of late assessments began.
- **Material change only.** After the first notice, another is sent only when what the
  customer would be told changes: a new day (``new_date``), or a new cause the customer
  can act on or that changes what happens (``ACTIONABLE``). A notice never says a day it
  already said, and never a day on or before the promised one (that is not a delay).
- **Rate.** At most one delay notice per order per waking window (between two of the
  customer's quiet hours; calendar days when there are none), none inside quiet hours,
  and at most ``max_delay_notices`` in all. A change that must wait is decided again when
  the wait ends, on the assessment current then: several changes merge into one notice.
- **Which notice.** The first is ``delayed`` (with the apology and any compensation); a
  later one is ``delayed`` again when the delay grew or its cause changed (a top-up of
  compensation may come with it), and ``eta_revised`` when only the day moved earlier or
  became known or unknown.

The rules are the tables below; :func:`decide` applies them in order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo

import attrs

from ..models import DelayAssessment, DelayReason, DelayState, ExceptionReason, NoticeEvent

R = DelayReason
E = ExceptionReason


class Action(enum.StrEnum):
    SEND = "send"
    SUPPRESS = "suppress"
    WAIT = "wait"


#: What the customer is told the cause is, by the assessment's reason (a carrier exception
#: is told by its own reason). No scan and the lane's forecast are one cause to a customer.
CAUSE_OF_REASON: Mapping[DelayReason, str] = {
    R.NO_SCAN: "in_transit_slow", R.TRANSIT_FORECAST: "in_transit_slow", R.CARRIER_ETA: "carrier_moved_date",
    R.NOT_PICKED: "warehouse", R.NOT_SHIPPED: "warehouse", R.STOCK_OUT: "stock_out",
}

#: Causes the customer can act on, or that change what happens to the order: a change to
#: one of these is told even when the day stays the same.
ACTIONABLE = frozenset({"address", "failed_attempt", "customs", "refused", "lost", "damaged", "stock_out"})

#: Reasons from statistics or our own lateness, which must hold for ``hold`` before they are announced.
FLAPPY = frozenset({R.NO_SCAN, R.TRANSIT_FORECAST, R.NOT_PICKED, R.NOT_SHIPPED})

#: Every answer's reason, and what it means for people (``fulfilhub notices show``).
REASONS: Mapping[str, str] = {
    # suppressed
    "not_late": "on track, or less than min_days_late late: nothing to tell",
    "only_at_risk": "at risk is a forecast, not a delay: the customer is told once the order is late",
    "not_after_promise": "the new day is on or before the promised day: not a delay to the customer",
    "nothing_new": "the customer was already told this day and this cause",
    "limit": "the order already had max_delay_notices delay notices",
    # waiting, then decided again (what changes meanwhile is merged)
    "holding": "the cause comes from statistics and must hold for `hold` before it is announced",
    "once_per_window": "a delay notice went out in this waking window; the change waits for the next one",
    "quiet_hours": "quiet hours in the customer's time zone; it waits until they end",
    # sent
    "first_delay": "the first delay notice of the order",
    "later": "the delay grew: a later day",
    "earlier": "the day moved earlier (still after the promised day)",
    "new_cause": "a new cause the customer can act on",
    "overdue": "no day can be given any more: overdue and being chased",
    "date_known": "a day can be given again",
}


@attrs.frozen(kw_only=True)
class Settings:
    """The policy's part of ``[notices]`` (documented in docs/configuration.md).

    Attributes:
        hold: How long a statistical cause must hold before it is announced.
        min_days_late: The fewest days late that are told.
        max_delay_notices: The most ``delayed`` + ``eta_revised`` notices one order gets.
        quiet_hours: The customer's quiet hours (local ``(start, end)``); None: none.
    """

    hold: timedelta = timedelta(hours=3)
    min_days_late: int = 1
    max_delay_notices: int = 3
    quiet_hours: tuple[time, time] | None = None


@attrs.frozen(kw_only=True)
class Told:
    """One delay notice the customer got, as told: the day (None: overdue, being chased),
    the days late, the cause and when."""

    at: datetime
    event: NoticeEvent
    new_date: date | None
    days_late: int
    cause: str


@attrs.frozen(kw_only=True)
class Situation:
    """An order's delay, as the policy sees it.

    Attributes:
        assessment: The order's current delay assessment.
        late_since: When its current unbroken run of late assessments began (None: not late).
        promised: The promised delivery day (deliver-by, the customer's day).
        eta: The assessment's expected day in the customer's zone (None: no day can be given).
        told: The delay notices the order got, oldest first.
        tz: The customer's time zone.
        now: When the decision is made.
    """

    assessment: DelayAssessment
    late_since: datetime | None
    promised: date
    eta: date | None
    told: Sequence[Told] = ()
    tz: tzinfo
    now: datetime


@attrs.frozen(kw_only=True)
class Decision:
    """What to do: send ``event`` telling ``told``, suppress, or wait ``until``; ``reason`` is a key of REASONS."""

    action: Action
    reason: str
    event: NoticeEvent | None = None
    told: Told | None = None
    until: datetime | None = None

    @property
    def explained(self) -> str:
        return REASONS[self.reason]


def cause_of(assessment: DelayAssessment) -> str:
    """The cause as the customer is told it (a key of the templates' ``[causes]``)."""
    if assessment.exception is not None:
        return str(assessment.exception)
    return CAUSE_OF_REASON.get(assessment.reason, "other") if assessment.reason else "other"


def told_of(at: datetime, event: str, said: Mapping[str, object] | None) -> Told:
    """A kept ``send`` decision (when, which event, its ``told`` facts) as :class:`Told`."""
    said = said or {}
    new_date = said.get("new_date")
    return Told(at=at, event=NoticeEvent(event), new_date=date.fromisoformat(str(new_date)) if new_date else None,
                days_late=int(str(said.get("days_late", 0) or 0)), cause=str(said.get("cause", "")))


def situation_of(*, history: Sequence[DelayAssessment], told: Sequence[Told], deliver_by: datetime, tz: tzinfo,
                 now: datetime) -> Situation:
    """The facts :func:`decide` needs, from an order's assessments (oldest first, the last
    is the current one), the delay notices it got, its promised deliver-by and the
    customer's zone: since when it is late, the promised day and the new one, in that zone."""
    current = history[-1]
    eta = current.revised_eta.astimezone(tz).date() if current.revised_eta is not None else None
    return Situation(assessment=current, late_since=late_since([(a.assessed_at, a.state) for a in history]),
                     promised=deliver_by.astimezone(tz).date(), eta=eta, told=tuple(told), tz=tz, now=now)


def late_since(history: Sequence[tuple[datetime, DelayState]]) -> datetime | None:
    """When the newest unbroken run of *late* findings began, from ``(assessed_at, state)``
    oldest first; None when the newest is not late. The cause may change within the run."""
    since = None
    for at, state in history:
        since = (since or at) if state is DelayState.LATE else None
    return since


# --------------------------------------------------------------------------- waking windows


def _quiet(local: datetime, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    now = local.time()
    return (start <= now < end) if start < end else (now >= start or now < end)


def window_start(now: datetime, tz: tzinfo, quiet: tuple[time, time] | None) -> datetime:
    """The start of the waking window ``now`` is in: the last end of quiet hours at or
    before it (local midnight when there are no quiet hours)."""
    local = now.astimezone(tz)
    end = quiet[1] if quiet is not None else time(0)
    start = datetime.combine(local.date(), end, tz)
    return start if start <= local else start - timedelta(days=1)


def next_window(now: datetime, tz: tzinfo, quiet: tuple[time, time] | None) -> datetime:
    """The start of the next waking window after ``now``."""
    local = now.astimezone(tz)
    end = quiet[1] if quiet is not None else time(0)
    start = datetime.combine(local.date(), end, tz)
    return start if start > local else datetime.combine(local.date() + timedelta(days=1), end, tz)


# --------------------------------------------------------------------------- the decision


def decide(situation: Situation, settings: Settings) -> Decision:
    """Send, suppress or wait: the rules in order (see the module's theory of operation)."""
    s, a = situation, situation.assessment
    if a.state is DelayState.ON_TRACK or a.days_late < settings.min_days_late:
        return Decision(action=Action.SUPPRESS, reason="not_late")
    if a.state is DelayState.AT_RISK:
        return Decision(action=Action.SUPPRESS, reason="only_at_risk")
    if s.eta is not None and s.eta <= s.promised:
        return Decision(action=Action.SUPPRESS, reason="not_after_promise")
    cause = cause_of(a)
    days = (s.eta - s.promised).days if s.eta is not None else a.days_late
    last = s.told[-1] if s.told else None
    if last is None:
        reason, event = "first_delay", NoticeEvent.DELAYED
    else:
        said_days = {t.new_date for t in s.told if t.new_date is not None}
        new_cause = cause != last.cause and cause in ACTIONABLE
        if s.eta is not None and s.eta in said_days and not new_cause:
            return Decision(action=Action.SUPPRESS, reason="nothing_new")
        if s.eta == last.new_date and not new_cause:  # both None: still overdue, already said
            return Decision(action=Action.SUPPRESS, reason="nothing_new")
        if len(s.told) >= settings.max_delay_notices:
            return Decision(action=Action.SUPPRESS, reason="limit")
        if new_cause:
            reason, event = "new_cause", NoticeEvent.DELAYED
        elif s.eta is None:
            reason, event = "overdue", NoticeEvent.ETA_REVISED
        elif last.new_date is None:
            reason, event = "date_known", NoticeEvent.ETA_REVISED
        elif s.eta > last.new_date:
            reason, event = "later", NoticeEvent.DELAYED
        else:
            reason, event = "earlier", NoticeEvent.ETA_REVISED
    since = s.late_since or a.assessed_at
    if a.reason in FLAPPY and s.now < since + settings.hold:
        return Decision(action=Action.WAIT, reason="holding", until=since + settings.hold)
    if last is not None and last.at >= window_start(s.now, s.tz, settings.quiet_hours):
        return Decision(action=Action.WAIT, reason="once_per_window",
                        until=next_window(s.now, s.tz, settings.quiet_hours))
    if settings.quiet_hours is not None and _quiet(s.now.astimezone(s.tz), settings.quiet_hours):
        return Decision(action=Action.WAIT, reason="quiet_hours", until=next_window(s.now, s.tz, settings.quiet_hours))
    told = Told(at=s.now, event=event, new_date=s.eta, days_late=days, cause=cause)
    return Decision(action=Action.SEND, reason=reason, event=event, told=told)
