"""The notice policy driven with sequences of plain facts: hysteresis, material change
only, once per waking window, never a day on or before the promised one, at most
``max_delay_notices``, and the same answers whatever order the causes flap in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilhub.engines import notice_policy as policy
from fulfilhub.engines.notice_policy import Action
from fulfilhub.models import DelayAssessment, DelayReason, DelayState, ExceptionReason, NoticeEvent

TZ = ZoneInfo("America/Los_Angeles")
PROMISED = date(2026, 3, 8)
T0 = datetime(2026, 3, 9, 17, 0, tzinfo=timezone.utc)  # 10:00 in Los Angeles
QUIET = (time(21, 0), time(8, 0))
SETTINGS = policy.Settings(quiet_hours=QUIET)


def assessment(reason=DelayReason.CARRIER_ETA, *, days=1, state=DelayState.LATE, at=T0, exception=None):
    eta = datetime.combine(PROMISED + timedelta(days=days), time(12), TZ) if days else None
    return DelayAssessment(order_id="shop:1", assessed_at=at, state=state, reason=reason, exception=exception,
                           days_late=max(days, 1) if state is not DelayState.ON_TRACK else 0, revised_eta=eta,
                           confidence=0.5, promise_revision=1)


def situation(a, *, now=None, told=(), late_since=None, eta="auto"):
    day = (a.revised_eta.astimezone(TZ).date() if a.revised_eta else None) if eta == "auto" else eta
    return policy.Situation(assessment=a, late_since=late_since or a.assessed_at, promised=PROMISED, eta=day,
                            told=tuple(told), tz=TZ, now=now or a.assessed_at)


class Customer:
    """Feeds assessments through the policy as the job does and keeps what was told."""

    def __init__(self, conf=SETTINGS):
        self.conf = conf
        self.told: list[policy.Told] = []
        self.answers: list[policy.Decision] = []
        self.history: list[tuple[datetime, DelayState]] = []

    def see(self, a: DelayAssessment, now: datetime | None = None) -> policy.Decision:
        self.history.append((a.assessed_at, a.state))
        now = now or a.assessed_at
        day = a.revised_eta.astimezone(TZ).date() if a.revised_eta else None
        answer = policy.decide(policy.Situation(assessment=a, late_since=policy.late_since(self.history),
                                                promised=PROMISED, eta=day, told=tuple(self.told), tz=TZ, now=now),
                               self.conf)
        self.answers.append(answer)
        if answer.action is Action.SEND:
            self.told.append(answer.told)
        return answer


def test_the_first_late_finding_from_the_carrier_is_told_at_once_with_its_day():
    answer = policy.decide(situation(assessment(days=2)), SETTINGS)
    assert (answer.action, answer.event, answer.reason) == (Action.SEND, NoticeEvent.DELAYED, "first_delay")
    assert (answer.told.new_date, answer.told.days_late, answer.told.cause) == (date(2026, 3, 10), 2,
                                                                                "carrier_moved_date")


def test_a_new_day_on_or_before_the_promised_day_is_never_a_delay_notice():
    a = assessment(days=1)
    answer = policy.decide(situation(a, eta=PROMISED), SETTINGS)  # the carrier's date-only 8 March
    assert (answer.action, answer.reason) == (Action.SUPPRESS, "not_after_promise")
    assert policy.decide(situation(a, eta=PROMISED - timedelta(days=1)), SETTINGS).reason == "not_after_promise"


def test_at_risk_and_on_track_are_not_told():
    assert policy.decide(situation(assessment(state=DelayState.AT_RISK)), SETTINGS).reason == "only_at_risk"
    on_track = DelayAssessment(order_id="shop:1", assessed_at=T0, state=DelayState.ON_TRACK)
    assert policy.decide(situation(on_track, eta=None), SETTINGS).reason == "not_late"


def test_a_statistical_cause_must_hold_before_it_is_announced():
    a = assessment(DelayReason.NO_SCAN, days=2)
    waiting = policy.decide(situation(a), SETTINGS)
    assert (waiting.action, waiting.reason, waiting.until) == (Action.WAIT, "holding", T0 + SETTINGS.hold)
    later = T0 + SETTINGS.hold
    assert policy.decide(situation(a, now=later, late_since=T0), SETTINGS).action is Action.SEND


def test_flapping_between_no_scan_and_the_forecast_is_one_state_told_once():
    customer = Customer()
    at = T0
    for hour in range(48):  # the cause flips every hour for two days, the day stays
        reason = DelayReason.NO_SCAN if hour % 2 else DelayReason.TRANSIT_FORECAST
        customer.see(assessment(reason, days=2, at=at))
        at += timedelta(hours=1)
    sent = [d for d in customer.answers if d.action is Action.SEND]
    assert len(sent) == 1
    assert sent[0].told.cause == "in_transit_slow"
    assert {d.reason for d in customer.answers if d.action is Action.SUPPRESS} == {"nothing_new"}


def test_an_eta_revised_never_repeats_the_day_the_delay_notice_gave():
    customer = Customer()
    customer.see(assessment(days=2))
    again = customer.see(assessment(DelayReason.TRANSIT_FORECAST, days=2, at=T0 + timedelta(days=1)))
    assert (again.action, again.reason) == (Action.SUPPRESS, "nothing_new")


def test_one_notice_per_waking_window_and_changes_in_between_are_merged():
    customer = Customer()
    customer.see(assessment(days=1))
    wait = customer.see(assessment(days=2, at=T0 + timedelta(hours=2)))  # 12:00 the same day
    assert (wait.action, wait.reason) == (Action.WAIT, "once_per_window")
    assert wait.until.astimezone(TZ) == datetime(2026, 3, 10, 8, 0, tzinfo=TZ)
    # the day moved again meanwhile: at 08:00 one notice tells the latest
    merged = customer.see(assessment(days=3, at=T0 + timedelta(hours=5)), now=wait.until)
    assert (merged.action, merged.event, merged.told.days_late) == (Action.SEND, NoticeEvent.DELAYED, 3)


def test_quiet_hours_hold_a_delay_notice_until_morning():
    night = datetime(2026, 3, 10, 7, 0, tzinfo=timezone.utc)  # 00:00 in Los Angeles
    answer = policy.decide(situation(assessment(days=2, at=night)), SETTINGS)
    assert (answer.action, answer.reason) == (Action.WAIT, "quiet_hours")
    assert answer.until.astimezone(TZ).time() == time(8, 0)


def test_a_cause_the_customer_can_act_on_is_told_even_on_the_same_day():
    customer = Customer()
    customer.see(assessment(days=2))
    act = customer.see(assessment(DelayReason.CARRIER_EXCEPTION, exception=ExceptionReason.ADDRESS, days=2,
                                  at=T0 + timedelta(days=1)))
    assert (act.action, act.event, act.reason, act.told.cause) == (Action.SEND, NoticeEvent.DELAYED, "new_cause",
                                                                   "address")


def test_no_day_is_overdue_and_being_chased_said_once():
    customer = Customer()
    customer.see(assessment(days=2))
    chased = customer.see(assessment(DelayReason.TRANSIT_FORECAST, days=0, at=T0 + timedelta(days=1)))
    assert (chased.action, chased.event, chased.reason, chased.told.new_date) == (
        Action.SEND, NoticeEvent.ETA_REVISED, "overdue", None)
    again = customer.see(assessment(DelayReason.NO_SCAN, days=0, at=T0 + timedelta(days=2)))
    assert again.reason == "nothing_new"


def test_late_since_is_the_start_of_the_unbroken_late_run():
    h = [(T0, DelayState.LATE), (T0 + timedelta(hours=1), DelayState.AT_RISK), (T0 + timedelta(hours=2), DelayState.LATE),
         (T0 + timedelta(hours=3), DelayState.LATE)]
    assert policy.late_since(h) == T0 + timedelta(hours=2)
    assert policy.late_since(h + [(T0 + timedelta(hours=4), DelayState.ON_TRACK)]) is None


REASONS = [DelayReason.NO_SCAN, DelayReason.TRANSIT_FORECAST, DelayReason.CARRIER_ETA, DelayReason.NOT_SHIPPED]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(REASONS), st.integers(-1, 6), st.sampled_from([DelayState.LATE,
                                                                                          DelayState.AT_RISK]),
                          st.integers(1, 30)), min_size=1, max_size=80))
def test_whatever_the_assessments_do_the_customer_hears_few_true_different_things(steps):
    customer = Customer()
    at = T0
    for reason, days, state, gap in steps:
        at += timedelta(hours=gap)
        customer.see(assessment(reason, days=days if days >= 0 else 0, state=state, at=at))
    told = customer.told
    assert len(told) <= SETTINGS.max_delay_notices
    days_said = [t.new_date for t in told if t.new_date is not None]
    assert len(days_said) == len(set(days_said))  # never the same day twice
    assert all(d > PROMISED for d in days_said)  # never on or before the promised day
    assert len({attrs.astuple(t)[2:] for t in told}) == len(told)  # no two notices say the same
    for earlier, later in zip(told, told[1:]):  # at most one per waking window
        assert later.at >= policy.next_window(earlier.at, TZ, QUIET)
    for t in told:  # never inside quiet hours
        assert time(8, 0) <= t.at.astimezone(TZ).time() < time(21, 0)


def test_the_facts_of_an_order_are_built_in_the_customers_zone_from_its_history_and_what_it_was_told():
    """What the notices job hands the policy for each order of a page (``situation_of``)."""
    on_track = attrs.evolve(assessment(days=0, state=DelayState.ON_TRACK), assessed_at=T0 - timedelta(hours=5))
    late = assessment(days=2, at=T0 - timedelta(hours=2))
    later = assessment(DelayReason.NO_SCAN, days=3, at=T0)
    said = policy.told_of(T0 - timedelta(hours=1), "delayed", {"new_date": "2026-03-10", "days_late": 2,
                                                                "cause": "carrier_moved_date", "promised": "2026-03-08"})
    assert said == policy.Told(at=T0 - timedelta(hours=1), event=NoticeEvent.DELAYED, new_date=date(2026, 3, 10),
                               days_late=2, cause="carrier_moved_date")
    deliver_by = datetime(2026, 3, 9, 6, 59, tzinfo=timezone.utc)  # 22:59 on 8 March in Los Angeles
    seen = policy.situation_of(history=[on_track, late, later], told=[said], deliver_by=deliver_by, tz=TZ, now=T0)
    assert seen.assessment == later
    assert seen.late_since == late.assessed_at  # the run of late findings, whatever the cause flips to
    assert seen.promised == PROMISED  # the customer's day, not UTC's 9 March
    assert seen.eta == PROMISED + timedelta(days=3)
    assert seen.told == (said,)
    answer = policy.decide(seen, SETTINGS)
    assert answer.action is Action.WAIT  # no scan is statistical: it holds first
    assert answer.reason == "holding"
