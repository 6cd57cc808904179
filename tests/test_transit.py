"""The transit model: quantiles per lane, fallback levels, censoring, recency, refusals."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from fulfilhub.engines.transit import Lane, Level, TransitEstimate, TransitModel

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
RENO_CA = Lane(carrier="usps", service="Priority", origin="US-NV", destination="US-CA", postal_prefix="940")
DAY = timedelta(days=1)


def deliver(model: TransitModel, lane: Lane, n: int, days: float | list[float], *, first: datetime = T0,
            every: timedelta = timedelta(hours=6), prefix: str = "p") -> datetime:
    """``n`` parcels started ``every`` apart from ``first``, each taking ``days`` (or days[i % len])."""
    durations = days if isinstance(days, list) else [days]
    start = first
    for i in range(n):
        start = first + i * every
        model.finish(f"{prefix}{i}", lane, start, start + timedelta(days=durations[i % len(durations)]))
    return start


def test_the_quantile_is_the_share_of_deliveries_within_it():
    model = TransitModel(half_life=None, min_delivered=10)
    deliver(model, RENO_CA, 100, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])  # each 10%
    now = T0 + 40 * DAY
    for q, expected in ((0.5, 5), (0.9, 9), (0.95, 10), (0.1, 1)):
        est = model.quantile(RENO_CA, q, now=now)
        assert expected <= est.days <= expected * 1.006  # the upper edge of its 0.5% bin
        assert est.level is Level.POSTAL
        assert est.delivered == 100
        assert est.in_flight == 0
    assert model.share_within(RENO_CA, 5.01, now=now) == (pytest.approx(0.5), Level.POSTAL)
    assert model.share_within(RENO_CA, 0.5, now=now)[0] == 0.0
    assert model.share_within(RENO_CA, 30, now=now)[0] == pytest.approx(1.0)


def test_a_thin_lane_falls_back_level_by_level_and_says_which():
    model = TransitModel(half_life=None, min_delivered=20)
    now = T0 + 60 * DAY
    deliver(model, RENO_CA, 20, 2.0, prefix="postal")  # dense enough at every level
    other_prefix = attrs_evolve(RENO_CA, postal_prefix="945")
    other_origin = attrs_evolve(RENO_CA, origin="US-TX", postal_prefix="")
    other_dest = Lane(carrier="usps", service="Priority", destination="US-WA")
    other_service = Lane(carrier="ups", service="Ground", destination="US-CA")
    assert model.quantile(RENO_CA, 0.9, now=now).level is Level.POSTAL
    est = model.quantile(other_prefix, 0.9, now=now)
    assert est.level is Level.LANE
    assert est.lane == attrs_evolve(RENO_CA, postal_prefix="")
    est = model.quantile(other_origin, 0.9, now=now)
    assert est.level is Level.REGION
    assert est.lane == Lane(carrier="usps", service="Priority", destination="US-CA")
    est = model.quantile(other_dest, 0.9, now=now)
    assert est.level is Level.SERVICE
    assert est.lane == Lane(carrier="usps", service="Priority")
    est = model.quantile(other_service, 0.9, now=now)
    assert est.level is Level.ALL
    assert est.lane == Lane()
    thin = TransitModel(min_delivered=20)
    deliver(thin, RENO_CA, 19, 2.0)
    assert thin.quantile(RENO_CA, 0.9, now=now) is None  # even "all" is too thin
    assert thin.share_within(RENO_CA, 3, now=now) is None


def test_a_lane_answers_from_its_own_history_not_the_pool():
    model = TransitModel(half_life=None, min_delivered=20)
    fast = Lane(carrier="usps", service="Priority", origin="US-NV", destination="US-NV")
    deliver(model, RENO_CA, 50, 5.0, prefix="slow")
    deliver(model, fast, 50, 1.0, prefix="fast")
    now = T0 + 30 * DAY
    assert model.quantile(fast, 0.9, now=now).days == pytest.approx(1.0, rel=0.006)
    assert model.quantile(RENO_CA, 0.9, now=now).days == pytest.approx(5.0, rel=0.006)
    assert model.quantile(Lane(carrier="usps", service="Priority"), 0.9, now=now).days == pytest.approx(5.0, rel=0.006)


def test_a_carrier_that_slows_down_moves_the_quantile_before_its_slow_parcels_land():
    """60 days of 2-day deliveries; then the carrier slows to 6 days. Four days later nothing slow has landed.

    With a 7-day half-life the parcels of the last four days weigh as much as about a
    tenth of the history, enough to lift the 90th percentile.
    """
    lane = Lane(carrier="ups", service="Ground", origin="US-NV", destination="US-CA")
    censored = TransitModel(min_delivered=20, half_life=timedelta(days=7))
    naive = TransitModel(min_delivered=20, half_life=timedelta(days=7))  # told only about deliveries
    last = deliver(censored, lane, 240, 2.0)
    deliver(naive, lane, 240, 2.0)
    slow_from = last + timedelta(hours=6)
    now = slow_from + 4 * DAY
    for i in range(16):  # a parcel every 6 hours since the slowdown, none delivered yet
        censored.start(f"slow{i}", lane, slow_from + i * timedelta(hours=6))
    before = naive.quantile(lane, 0.9, now=now)
    after = censored.quantile(lane, 0.9, now=now)
    assert before.days == pytest.approx(2.0, rel=0.006)
    assert after.days >= 3.5  # at least as long as the slow parcels have been travelling
    assert after.in_flight == 16
    assert after.delivered == 240
    assert after.lower_bound
    assert "at least" in after.describe()
    # without recency the same parcels barely move the 90th percentile: 16 against 240
    flat = TransitModel(min_delivered=20, half_life=None)
    deliver(flat, lane, 240, 2.0)
    for i in range(16):
        flat.start(f"slow{i}", lane, slow_from + i * timedelta(hours=6))
    assert flat.quantile(lane, 0.9, now=now).days == pytest.approx(2.0, rel=0.006)
    # once they land, the quantile rests on the deliveries
    for i in range(16):
        start = slow_from + i * timedelta(hours=6)
        censored.finish(f"slow{i}", lane, start, start + 6 * DAY)
    landed = censored.quantile(lane, 0.9, now=slow_from + 11 * DAY)
    assert landed.days == pytest.approx(6.0, rel=0.006)
    assert not landed.lower_bound
    assert landed.in_flight == 0


def test_recent_deliveries_weigh_more():
    lane = Lane(carrier="dhl", service="Express")
    model = TransitModel(half_life=timedelta(days=7), min_delivered=20)
    flat = TransitModel(half_life=None, min_delivered=20)
    for m in (model, flat):
        deliver(m, lane, 120, 5.0, prefix="old")  # 30 days of 5-day parcels
        deliver(m, lane, 40, 1.0, first=T0 + 60 * DAY, prefix="new")  # then 10 days of 1-day ones
    now = T0 + 71 * DAY
    assert model.quantile(lane, 0.5, now=now).days == pytest.approx(1.0, rel=0.006)
    assert model.quantile(lane, 0.9, now=now).days == pytest.approx(1.0, rel=0.006)  # old ones weigh < 3%
    assert flat.quantile(lane, 0.5, now=now).days == pytest.approx(5.0, rel=0.006)


def test_remaining_transit_is_conditional_on_the_time_already_taken():
    model = TransitModel(half_life=None, min_delivered=10)
    deliver(model, RENO_CA, 100, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    now = T0 + 40 * DAY
    est = model.remaining(RENO_CA, 5.5, 0.5, now=now)  # left: 6, 7, 8, 9, 10 -> median 8
    assert est.days == pytest.approx(2.5, abs=0.06)
    assert model.remaining(RENO_CA, 0.0, 0.9, now=now).days == pytest.approx(9.0, rel=0.006)
    assert model.remaining(RENO_CA, 20.0, 0.5, now=now) is None  # outlived everything seen


def test_finish_is_idempotent_and_drop_forgets():
    model = TransitModel(half_life=None, min_delivered=1)
    lane = Lane(carrier="c")
    now = T0 + 10 * DAY
    model.start("a", lane, T0)
    assert len(model) == 1
    model.finish("a", lane, T0, T0 + 2 * DAY)
    model.finish("a", lane, T0, T0 + 2 * DAY)
    model.start("a", lane, T0)  # a late "start" for a delivered parcel changes nothing
    est = model.quantile(lane, 0.5, now=now)
    assert (len(model), est.delivered, est.in_flight) == (1, 1, 0)
    model.finish("b", lane, T0, T0 + 4 * DAY)
    assert model.quantile(lane, 0.9, now=now).days == pytest.approx(4.0, rel=0.006)
    model.finish("b", lane, T0, T0 + 3 * DAY)  # a correction replaces, it does not add
    est = model.quantile(lane, 0.9, now=now)
    assert est.delivered == 2
    assert est.days == pytest.approx(3.0, rel=0.006)
    model.drop("b")
    model.drop("never-seen")
    est = model.quantile(lane, 0.9, now=now)
    assert est.delivered == 1
    assert est.days == pytest.approx(2.0, rel=0.006)
    model.start("c", lane, T0)
    model.drop("c")
    assert model.quantile(lane, 0.9, now=now).in_flight == 0
    assert len(model) == 1


def test_absurd_or_naive_times_are_refused_naming_the_ref():
    model = TransitModel()
    lane = Lane()
    with pytest.raises(ValueError, match="'r1'.*before it started"):
        model.finish("r1", lane, T0, T0 - timedelta(hours=1))
    with pytest.raises(ValueError, match="'r2'.*400 days.*absurd"):
        model.finish("r2", lane, T0, T0 + 400 * DAY)
    with pytest.raises(ValueError, match="'r3'.*timezone-aware"):
        model.start("r3", lane, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="share between 0 and 1"):
        model.quantile(lane, 95, now=T0)
    assert len(model) == 0


def test_another_unit_counts_in_flight_parcels_in_that_unit():
    """A model in hours (as a working-day counter would be passed): durations and censoring use it."""
    hours = TransitModel(half_life=None, min_delivered=5, unit="hours",
                         elapsed=lambda a, b: (b - a).total_seconds() / 3600)
    lane = Lane(carrier="c")
    deliver(hours, lane, 10, 2.0)
    now = T0 + 30 * DAY
    est = hours.quantile(lane, 0.5, now=now)
    assert est.days == pytest.approx(48.0, rel=0.006)
    assert est.unit == "hours"
    for i in range(30):
        hours.start(f"f{i}", lane, now - 5 * DAY)  # travelling 120 hours
    assert hours.quantile(lane, 0.5, now=now).days >= 119


def test_describe_reads_as_the_promise_explanation():
    est = TransitEstimate(days=2.4, q=0.95, level=Level.LANE, lane=RENO_CA, delivered=412, in_flight=18,
                          window_days=59.3)
    assert est.describe() == "412 deliveries in the last 60 days (18 still in transit), 95% within 3 days"
    est = TransitEstimate(days=2.0, q=0.975, level=Level.ALL, lane=Lane(), delivered=30, in_flight=0,
                          window_days=10, unit="working days")
    assert est.describe() == "30 deliveries in the last 10 days, 97.5% within 2 working days"


def test_weights_stay_finite_over_decades_of_history():
    model = TransitModel(half_life=timedelta(days=1), min_delivered=5)
    lane = Lane(carrier="c")
    deliver(model, lane, 10, 2.0, prefix="early")
    later = T0 + 3650 * DAY  # 3,650 half-lives later
    deliver(model, lane, 10, 4.0, first=later, prefix="late")
    est = model.quantile(lane, 0.5, now=later + 10 * DAY)
    assert math.isfinite(est.days)
    assert est.days == pytest.approx(4.0, rel=0.006)


def attrs_evolve(lane: Lane, **changes) -> Lane:
    import attrs

    return attrs.evolve(lane, **changes)


def test_days_at_gives_the_days_of_quantiles_lower_bounds_included():
    model = TransitModel(min_delivered=20, half_life=timedelta(days=7))
    lane = Lane(carrier="ups")
    last = deliver(model, lane, 240, [1.5, 2.0, 2.5])
    for i in range(16):
        model.start(f"slow{i}", lane, last + timedelta(hours=6 * (i + 1)))
    now = last + 5 * DAY
    qs = [0.5, 0.8, 0.9, 0.99]
    estimates = model.quantiles(lane, qs, now=now)
    assert estimates[-1].lower_bound  # the slow parcels are all still travelling
    assert model.days_at(lane, qs, now=now) == [e.days for e in estimates]
    assert TransitModel().days_at(lane, qs, now=now) is None


def test_a_model_that_forgets_delivered_refs_still_learns_them():
    lane = Lane(carrier="c")
    model = TransitModel(half_life=None, min_delivered=5, remember_delivered=False)
    model.start("a", lane, T0)
    assert len(model) == 1
    model.finish("a", lane, T0, T0 + 2 * DAY)  # leaves flight, is learned, is not kept
    deliver(model, lane, 9, 2.0)
    est = model.quantile(lane, 0.5, now=T0 + 20 * DAY)
    assert (len(model), est.delivered, est.in_flight) == (0, 10, 0)
    assert est.days == pytest.approx(2.0, rel=0.006)


def test_a_parcel_abandoned_in_flight_long_ago_does_not_make_the_model_promise_months():
    """A tracker nobody closed (or a store whose runner stopped) is not evidence of a months-long transit."""
    model = TransitModel(half_life=None, min_delivered=10)
    last = deliver(model, RENO_CA, 40, [2, 3, 4])
    for i in range(10):  # in flight since the deliveries, then forgotten
        model.start(f"stuck{i}", RENO_CA, last)
    months_later = last + 270 * DAY
    assert model.quantile(RENO_CA, 0.95, now=months_later).days < 5
    everything = TransitModel(half_life=None, min_delivered=10, stale_factor=None)
    deliver(everything, RENO_CA, 40, [2, 3, 4])
    for i in range(10):
        everything.start(f"stuck{i}", RENO_CA, last)
    assert everything.quantile(RENO_CA, 0.95, now=months_later).days > 200  # the behaviour the factor prevents


def test_a_parcel_recently_in_flight_still_censors():
    model = TransitModel(half_life=None, min_delivered=10)
    last = deliver(model, RENO_CA, 40, [2, 3, 4])
    for i in range(40):  # a slowdown: many parcels out for 6 days, well within 5x the longest delivery
        model.start(f"slow{i}", RENO_CA, last + 6 * DAY - i * timedelta(minutes=1))
    assert model.quantile(RENO_CA, 0.9, now=last + 12 * DAY).days >= 5.9
    with pytest.raises(ValueError, match="stale_factor"):
        TransitModel(stale_factor=0.5)


def test_a_lower_bound_is_said_in_units_a_person_reads():
    def said(days: float, unit: str = "days") -> str:
        return TransitEstimate(days=days, q=0.5, level=Level.ALL, lane=Lane(), delivered=3, in_flight=9,
                               window_days=1, lower_bound=True, unit=unit).describe()

    assert said(0.0104).endswith("50% take at least 14 minutes (parcels still on their way have been out longer "
                                 "than any delivered one)")
    assert "0.01" not in said(0.0104)
    assert "none of the slowest" not in said(0.0104)
    assert "at least 6 hours" in said(0.25)
    assert "in the last day (" in said(0.25)
    assert "at least 1 hour " in said(1 / 24 + 0.001)
    assert "at least 4 days" in said(4.7)
    assert "at least 0.5 working days" in said(0.5, "working days")


SP_RJ = Lane(origin="BR-SP", destination="BR-RJ")
SP_AM = Lane(origin="BR-SP", destination="BR-AM")


def test_pooled_a_sparse_lane_borrows_from_its_region_and_a_rich_one_stands_alone():
    # everything: 2,000 parcels in 2-6 days; BR-RJ from BR-SP: 4 parcels in 10 days; BR-AM from BR-SP: 4,000 in 20
    pooled = TransitModel(half_life=None, min_delivered=20, pool=100)
    alone = TransitModel(half_life=None, min_delivered=20)
    for model in (pooled, alone):
        deliver(model, Lane(destination="BR-MG"), 2000, [2, 3, 4, 5, 6], prefix="mg")
        deliver(model, SP_RJ, 4, 10.0, prefix="rj")
        deliver(model, SP_AM, 4000, 20.0, every=timedelta(minutes=10), prefix="am")
    now = T0 + 600 * DAY
    # unpooled, the 4 parcels are too few: the `all` level (mostly slow BR-AM) answers
    assert alone.quantile(SP_RJ, 0.5, now=now).level is Level.ALL
    sparse = pooled.quantile(SP_RJ, 0.5, now=now)
    shares = {level: share for level, _, share in sparse.pooled}
    assert shares[Level.LANE] == pytest.approx(4 / 104)
    assert shares[Level.REGION] == pytest.approx(4 / 104 * 100 / 104)  # BR-RJ has the same 4 parcels
    assert shares[Level.ALL] == pytest.approx((100 / 104) ** 2)
    assert sparse.level is Level.ALL  # the level with the largest share names the estimate
    assert "(pooled: 4% lane of 4, 4% region of 4, 92% all of 6004)" in sparse.describe()
    # by 10 days: a third of `all` has arrived, every parcel of the lane; pooled, 4% + 4% of the curve is the lane's
    assert alone.share_within(SP_RJ, 10.01, now=now)[0] == pytest.approx(2004 / 6004, abs=1e-3)
    assert pooled.share_within(SP_RJ, 10.01, now=now)[0] == pytest.approx(1 - (100 / 104) ** 2 * 4000 / 6004, abs=1e-3)
    rich = pooled.quantile(SP_AM, 0.5, now=now)
    assert rich.level is Level.LANE
    assert dict((lv, s) for lv, _, s in rich.pooled)[Level.LANE] == pytest.approx(4000 / 4100)
    assert 20 <= rich.days <= 20 * 1.006  # stands alone: 97.6% of the curve is its own
    # a lane with no delivery of its own is the prior alone, reported without pooling
    other = pooled.quantile(Lane(origin="BR-PR", destination="BR-SC"), 0.5, now=now)
    assert other.pooled == ((Level.ALL, 6004, 1.0),)
    assert "pooled" not in other.describe()


def test_pooled_shares_count_deliveries_by_recency():
    model = TransitModel(half_life=timedelta(days=10), min_delivered=20, pool=10)
    deliver(model, Lane(destination="BR-MG"), 200, 3.0, prefix="mg")
    deliver(model, SP_RJ, 10, 8.0, prefix="rj")  # all started on day 0-2
    early = dict((lv, s) for lv, _, s in model.quantile(SP_RJ, 0.9, now=T0 + 3 * DAY).pooled)
    later = dict((lv, s) for lv, _, s in model.quantile(SP_RJ, 0.9, now=T0 + 33 * DAY).pooled)
    assert later[Level.LANE] < early[Level.LANE] / 4  # three half-lives on, they weigh an eighth


def test_pool_must_be_positive():
    with pytest.raises(ValueError, match="pool must be a positive"):
        TransitModel(pool=0)
