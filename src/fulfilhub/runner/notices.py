"""The ``notices`` job and the delivery of notice and compensation effects.

The job reads two append-only streams, each with its own cursor saved in the
transaction that acts on what it covers:

- delay assessments (``store.delays.since``): a delay of a day or more asks the
  compensation engine (the top-up rule, caps, approval, budget) and writes the
  ``delayed`` notice with the compensation in it; a changed ETA with the same delay
  writes ``eta_revised``;
- the orders' status events: ``accepted`` -> ``confirmed`` (with the promise),
  ``shipped`` (or in transit, whichever comes first) -> ``shipped``, ``delivered``.

A notice's key (``notice:<event>:<order id>:<revision>``) and a compensation's key
(``compensation:<order id>:<tier>``) are unique in the store, and the cursor moves in
the same transaction, so a rerun, a crash or a second runner never writes either twice.
An item that fails (a policy or a template raising on one order's data) is quarantined
alone with its reason, the cursor moves past it, and ``fulfilhub quarantine retry``
processes it once the cause is fixed; trouble with the store or the configuration
stops the stream instead (read again next run).
The outbox then sends each notice once per routed notifier and issues each approved
compensation through the channel; once issued, a ``compensation_issued`` notice carries
the code or the amount.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ..adapters import CompensationIssuer
from ..engines import compensation, notify
from ..errors import NotFound, PermanentError
from ..models import CompensationKind, CompensationProposal, DelayAssessment, DelayState, Money, NoticeEvent, Order, Shipment
from ..store import Tx, outbox
from ..store.outbox import Effect
from ..store import compensation as ledger
from ..store import delays as delay_store
from ..store import notices as notice_store
from ..store import orders as order_store
from ..store import promises as promise_store
from ..store import shipments as shipment_store
from .runtime import Runtime

log = logging.getLogger("fulfilhub.notices")

DELAYS = "notices.delays"
EVENTS = "notices.events"

#: Order statuses whose first event makes a notice, and which notice.
STATUS_NOTICES: Mapping[str, NoticeEvent] = {
    "accepted": NoticeEvent.CONFIRMED,
    "partially_shipped": NoticeEvent.SHIPPED,
    "shipped": NoticeEvent.SHIPPED,
    "in_transit": NoticeEvent.SHIPPED,
    "out_for_delivery": NoticeEvent.SHIPPED,
    "delivered": NoticeEvent.DELIVERED,
}


@attrs.frozen
class Audience:
    """What a notice to one order's customer needs: language, time zone, link, the promise."""

    locale: str
    tz: ZoneInfo
    link: str
    promise: Any
    shipments: list[Shipment]


def _settings(rt: Runtime) -> tuple[notify.Settings, compensation.Settings]:
    path = str(rt.config.path)
    notify.check_routes(rt.config.notifiers, path)
    return notify.settings(rt.config.notices, path=path), compensation.settings(rt.config.compensation, path=path)


def tracking_link(rt: Runtime, conn: Any, order_id: str, shipments: list[Shipment]) -> str:
    """The customer's tracking page where the server provides one, else the carrier's tracking URL."""
    try:
        from ..store import tracking  # the tracking page (issue 9), where it is installed
    except ImportError:
        tracking = None
    if tracking is not None:
        try:
            return tracking.tracking_page_url(rt.config, conn, order_id)
        except Exception as exc:  # no page configured: the carrier's link still tells the customer
            log.debug("no tracking page for %s: %s", order_id, exc)
    for shipment in shipments:
        if shipment.label is not None and shipment.label.tracking_url:
            return shipment.label.tracking_url
    return ""


def audience(rt: Runtime, conn: Any, conf: notify.Settings, order: Order) -> Audience:
    promise = promise_store.current(conn, order.id)
    shipments = shipment_store.of_order(conn, order.id)
    return Audience(locale=notify.choose_locale(order, conf.default_locale),
                    tz=notify.customer_timezone(order, promise.timezone if promise else None, conf.timezone),
                    link=tracking_link(rt, conn, order.id, shipments), promise=promise, shipments=shipments)


def _emit(rt: Runtime, tx: Tx, conf: notify.Settings, order: Order, who: Audience, event: NoticeEvent,
          revision: str | int, facts: Mapping[str, Any], at: datetime) -> bool:
    key = notify.notice_key(event, order.id, revision)
    if notice_store.exists(tx.conn, key):
        return False
    notice = notify.render(event, key=key, order=order, locale=who.locale, tz=who.tz, at=at, shop=conf.shop_name,
                           facts={"link": who.link, **facts})
    due = notify.send_after(event, at, who.tz, conf.quiet_hours)
    return notify.emit(tx, notice, notifiers=notify.routes(rt.config.notifiers, event, order.channel), due=due)


# --------------------------------------------------------------------------- the job


def notices(rt: Runtime) -> Any:
    """The ``notices`` job: delays (compensation and notices) and lifecycle notices."""
    from .reports import JobReport  # the report type of every job

    report = JobReport("notices")
    conf, comp = _settings(rt)
    if not conf.enabled:
        return report
    _start(rt, conf)
    _delays(rt, conf, comp, report)
    _events(rt, conf, report)
    return report


def _start(rt: Runtime, conf: notify.Settings) -> None:
    """The first run starts ``[notices] backfill`` ago, not at the beginning of the store:
    turning notices on for a shop with history must not write to every past customer."""
    from ..store.schema import delay_assessments, order_events

    now = rt.clock.now()
    for name, table, column in ((DELAYS, delay_assessments, "assessed_at"), (EVENTS, order_events, "at")):
        with rt.store.transaction() as tx:
            if not notice_store.started(tx.conn, name):
                notice_store.advance(tx, name, notice_store.first_id_since(tx.conn, table, column, now - conf.backfill),
                                     now)


def _delays(rt: Runtime, conf: notify.Settings, comp: compensation.Settings, report: Any) -> None:
    while True:
        with rt.store.read() as conn:
            batch = delay_store.since(conn, notice_store.position(conn, DELAYS), limit=200)
        if not batch:
            return
        for assessment_id, assessment in batch:
            try:
                with rt.store.transaction() as tx:
                    if notice_store.position(tx.conn, DELAYS) >= assessment_id:  # another runner took it
                        continue
                    outcome = on_assessment(rt, tx, conf, comp, assessment_id, assessment)
                    notice_store.advance(tx, DELAYS, assessment_id, rt.clock.now())
            except Exception as exc:
                what = f"delay assessment {assessment_id} of {assessment.order_id}"
                if not _quarantine(rt, DELAYS, DELAY_KIND, assessment_id,
                                   {"id": assessment.order_id, "assessment_id": assessment_id}, what, exc, report):
                    return
                continue
            for item in outcome:
                report.counts[item] += 1


#: The quarantine's ``source`` and ``kind`` of the items the notices job could not process.
QUARANTINE_SOURCE = "notices"
DELAY_KIND = "delay_assessment"
EVENT_KIND = "status_event"


def _stops_the_stream(exc: BaseException) -> bool:
    """Trouble that is not one item's: the store or the configuration. The stream stops
    there (read again next run) instead of quarantining every item after it."""
    import sqlalchemy.exc

    from ..errors import ConfigError, StoreError

    return isinstance(exc, (ConfigError, StoreError, sqlalchemy.exc.DBAPIError))


def _quarantine(rt: Runtime, stream: str, kind: str, item_id: int, payload: dict[str, Any], what: str,
                exc: BaseException, report: Any) -> bool:
    """Quarantine one item that failed and move the stream's cursor past it, in one
    transaction; False when the stream must stop instead (see :func:`_stops_the_stream`)."""
    from .reports import describe_error

    reason = describe_error(exc)
    if not _stops_the_stream(exc):
        try:
            with rt.store.transaction() as tx:
                if notice_store.position(tx.conn, stream) >= item_id:  # another runner took it
                    return True
                from ..store import quarantine as quarantine_store

                quarantine_store.keep(tx, QUARANTINE_SOURCE, kind, payload, f"{what}: {reason}", rt.clock.now())
                notice_store.advance(tx, stream, item_id, rt.clock.now())
            log.warning("notices: quarantined %s: %s (`fulfilhub quarantine retry` once fixed)", what, reason)
            report.counts["quarantined"] += 1
            return True
        except Exception as again:  # the store itself fails: stop, nothing moved
            reason = f"{reason}; quarantining it failed too: {describe_error(again)}"
    report.errors.append(f"{what}: {reason} (it is read again next run)")
    return False


def on_assessment(rt: Runtime, tx: Tx, conf: notify.Settings, comp: compensation.Settings, assessment_id: int,
                  assessment: DelayAssessment) -> list[str]:
    """Act on one stored assessment: compensation and the notice. Returns what was done."""
    if assessment.state is DelayState.ON_TRACK or assessment.days_late < 1:
        return ["delay_not_notified"]
    found = order_store.load(tx.conn, assessment.order_id)
    if found is None:
        return ["order_missing"]
    order = found[0]
    now = rt.clock.now()
    who = audience(rt, tx.conn, conf, order)
    earlier = [a for a in delay_store.history(tx.conn, order.id) if a.assessed_at <= assessment.assessed_at][:-1]
    previous = earlier[-1] if earlier else None
    new_date = assessment.revised_eta or (who.promise.deliver_by + timedelta(days=assessment.days_late)
                                          if who.promise is not None else assessment.assessed_at)
    if previous is not None and previous.days_late == assessment.days_late and previous.state == assessment.state \
            and previous.reason == assessment.reason:
        done = _emit(rt, tx, conf, order, who, NoticeEvent.ETA_REVISED, assessment_id,
                     {"new_date": new_date, "deliver_by": who.promise.deliver_by if who.promise else None}, now)
        return ["notice_eta_revised" if done else "notice_exists"]
    decision = compensation.decide(tx, rt.plugins.registry.policies, comp, order, assessment, assessment_id, now)
    words = notify.phrases(notify.template_locale(who.locale))
    cause_key = str(assessment.exception) if assessment.exception else str(assessment.reason or "carrier_eta")
    sentence = ""
    if decision.status == "approved" and decision.amount is not None and decision.proposal is not None:
        whole = decision.amount == decision.proposal.value  # a top-up is told by its amount, not the tier's percent
        sentence = notify.compensation_sentence(str(decision.proposal.kind), decision.amount, who.locale,
                                                percent=decision.proposal.percent if whole else None,
                                                points=decision.proposal.points, months=decision.proposal.months)
    facts = {"days_late": assessment.days_late, "new_date": new_date,
             "cause": words["causes"].get(cause_key, words["causes"]["other"]),
             "action": words["actions"].get(compensation.cause_of(assessment), ""), "compensation": sentence,
             "deliver_by": who.promise.deliver_by if who.promise else None}
    done = _emit(rt, tx, conf, order, who, NoticeEvent.DELAYED, assessment_id, facts, now)
    return ["notice_delayed" if done else "notice_exists", f"compensation_{decision.status}"]


def _events(rt: Runtime, conf: notify.Settings, report: Any) -> None:
    while True:
        with rt.store.read() as conn:
            batch = notice_store.status_events_since(conn, notice_store.position(conn, EVENTS), list(STATUS_NOTICES))
            last = notice_store.last_event_id(conn)
        if not batch:
            if last > 0:  # skip past events that make no notice, so they are not read again
                with rt.store.transaction() as tx:
                    if notice_store.position(tx.conn, EVENTS) < last:
                        notice_store.advance(tx, EVENTS, last, rt.clock.now())
            return
        for event_id, order_id, status in batch:
            try:
                with rt.store.transaction() as tx:
                    if notice_store.position(tx.conn, EVENTS) >= event_id:
                        continue
                    done = on_status(rt, tx, conf, order_id, STATUS_NOTICES[status])
                    notice_store.advance(tx, EVENTS, event_id, rt.clock.now())
            except Exception as exc:
                if not _quarantine(rt, EVENTS, EVENT_KIND, event_id,
                                   {"id": order_id, "event_id": event_id, "status": status},
                                   f"status event {event_id} ({status}) of {order_id}", exc, report):
                    return
                continue
            report.counts[done] += 1


def on_status(rt: Runtime, tx: Tx, conf: notify.Settings, order_id: str, event: NoticeEvent) -> str:
    found = order_store.load(tx.conn, order_id)
    if found is None:
        return "order_missing"
    order = found[0]
    who = audience(rt, tx.conn, conf, order)
    promise = who.promise
    facts: dict[str, Any] = {}
    if promise is not None:
        facts.update(ship_by=promise.ship_by, deliver_from=promise.deliver_from, deliver_by=promise.deliver_by)
    labelled = [s for s in who.shipments if s.label is not None]
    if labelled:
        facts.update(carrier=labelled[0].label.carrier_name, tracking_code=labelled[0].label.tracking_code)
    if event is NoticeEvent.DELIVERED:
        delivered = [s.delivered_at for s in who.shipments if s.delivered_at is not None]
        facts["delivered_at"] = max(delivered) if delivered else rt.clock.now()
    if event is NoticeEvent.SHIPPED and not labelled:
        return "shipped_without_label"
    done = _emit(rt, tx, conf, order, who, event, 1, facts, rt.clock.now())
    return f"notice_{event}" if done else "notice_exists"


def retry_quarantined(rt: Runtime, row: Any) -> tuple[bool, str]:
    """Process again one delay assessment or status event the job quarantined, and resolve
    the entry in the same transaction: ``(processed, what happened)``. The notice and
    compensation keys are unique, so a retry never notifies or compensates twice."""
    from ..store import quarantine as quarantine_store
    from .reports import describe_error

    conf, comp = _settings(rt)
    if not conf.enabled:
        return False, "notices are off ([notices] enabled = false); left in quarantine"
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    try:
        if row.kind == DELAY_KIND:
            assessment_id = int(payload["assessment_id"])
            with rt.store.read() as conn:
                found = [a for i, a in delay_store.since(conn, assessment_id - 1, limit=1) if i == assessment_id]
            if not found:
                return False, f"delay assessment {assessment_id} no longer exists; left in quarantine"
            with rt.store.transaction() as tx:
                done = on_assessment(rt, tx, conf, comp, assessment_id, found[0])
                quarantine_store.resolve(tx, row.id, rt.clock.now())
        else:
            event = STATUS_NOTICES[str(payload["status"])]
            with rt.store.transaction() as tx:
                done = [on_status(rt, tx, conf, str(payload["id"]), event)]
                quarantine_store.resolve(tx, row.id, rt.clock.now())
    except Exception as exc:
        with rt.store.transaction() as tx:
            quarantine_store.retry_failed(tx, row.id, describe_error(exc))
        return False, f"still fails: {describe_error(exc)}"
    return True, f"processed: {', '.join(done)}"


# --------------------------------------------------------------------------- effects


def deliver(rt: Runtime, row: Any, now: datetime) -> None:
    """Deliver one claimed ``notice.send`` or ``channel.issue_compensation`` effect."""
    if row.kind == "notice.send":
        send_notice(rt, row, now)
    else:
        issue_compensation(rt, row, now)


def send_notice(rt: Runtime, row: Any, now: datetime) -> None:
    with rt.store.read() as conn:
        found = notice_store.get(conn, row.payload.get("notice_key", ""))
    if found is None:
        raise NotFound(f"notice {row.payload.get('notice_key')!r} of effect {row.key} does not exist")
    ref = rt.notifier(row.target).send(notice_store.notice_of(found), attempt=row.attempts)
    with rt.store.transaction() as tx:
        outbox.finish(tx, row.id, now, {"ref": ref})


def grant_of(comp: Any) -> CompensationProposal:
    """What the channel is asked to issue: the compensation row's kind and amount to give now."""
    return CompensationProposal(kind=comp.kind, value=Money(amount=comp.amount, currency=comp.currency), tier=comp.tier,
                                reason=comp.reason, percent=comp.percent, points=comp.points, months=comp.months,
                                policy=comp.policy)


def issue_compensation(rt: Runtime, row: Any, now: datetime) -> None:
    comp_id = row.payload.get("compensation_id")
    with rt.store.read() as conn:
        comp = ledger.get(conn, str(comp_id))
        found = order_store.load(conn, comp.order_id) if comp is not None else None
    if comp is None or found is None:
        raise NotFound(f"compensation {comp_id} of effect {row.key} or its order does not exist")
    if comp.status != "approved":
        with rt.store.transaction() as tx:
            outbox.finish(tx, row.id, now, {"skipped": f"compensation is {comp.status}"})
        return
    order = found[0]
    channel = rt.channel(order.channel)
    grant = grant_of(comp)
    issued = channel.issue_compensation(order, grant, row.key, attempt=row.attempts) \
        if isinstance(channel, CompensationIssuer) else None
    code, ref = issued if issued is not None else ("", "")
    note = (f"issued by channel {order.channel}" if issued is not None else
            f"channel {order.channel} does not issue {comp.kind}: recorded for the shop to honour")
    conf = notify.settings(rt.config.notices, path=str(rt.config.path))
    with rt.store.transaction() as tx:
        ledger.issued(tx, comp.id, at=now, code=code, channel_ref=ref, actor=f"channel:{order.channel}", note=note)
        if rt.hooks.wants("compensation_issued"):  # after the commit, once
            tx.after_commit.append(lambda: rt.hooks.compensation_issued(order_id=order.id, compensation=grant,
                                                                        code=code, ref=ref))
        if conf.enabled:
            who = audience(rt, tx.conn, conf, order)
            whole = comp.amount == comp.tier_value  # a top-up is told by its amount, not the tier's percent
            sentence = notify.compensation_sentence(comp.kind, grant.value, who.locale,
                                                    percent=comp.percent if whole else None, points=comp.points,
                                                    months=comp.months)
            facts = {"amount": grant.value, "code": code, "compensation": sentence}
            _emit(rt, tx, conf, order, who, NoticeEvent.COMPENSATION_ISSUED, comp.id, facts, now)
        outbox.finish(tx, row.id, now, {"code": code, "ref": ref})
    if issued is None and CompensationKind(comp.kind).is_code:
        log.warning("compensation %s: channel %s cannot issue a %s code", comp.id, order.channel, comp.kind)


def retry(tx: Tx, notice_ref: str) -> int:
    """Make the failed (or pending) sends of one notice due again now; how many."""
    found = notice_store.get(tx.conn, notice_ref)
    if found is None:
        raise NotFound(f"no notice {notice_ref!r}; see `fulfilhub notices list`")
    keys = [Effect.send_notice(found.key, found.order_id, name).key for name in found.notifiers]
    ids = [r.id for r in (outbox.status_of_row(tx.conn, key) for key in keys) if r is not None and r.status != "done"]
    if not ids:
        raise PermanentError(f"notice {found.id} has nothing left to send (every notifier has it)")
    return outbox.requeue(tx, ids)


# --------------------------------------------------------------------------- the demo's part


def demo_config(workspace: Any, currency: str = "USD") -> str:
    """The ``[notices]``, notifier and ``[compensation]`` tables a demo world runs with:
    every notice lands in ``<workspace>/notices.jsonl``."""
    return f'''
[notifiers.customers]
type = "jsonl"
path = "{workspace}/notices.jsonl"

[notices]
shop_name = "The demo shop"
timezone = "America/New_York"
quiet_hours = "21:00-08:00"

[compensation]
auto_approve_below = "20"
max_per_order = "40"
max_share = 0.3
min_amount = "3"
budget = {{ amount = "150", currency = "{currency}" }}

[[compensation.tiers]]
name = "late-1d"
min_days = 1
kind = "shipping_refund"

[[compensation.tiers]]
name = "late-3d"
min_days = 3
kind = "discount"
percent = 10

[[compensation.tiers]]
name = "lost"
causes = ["lost_or_damaged"]
kind = "partial_refund"
percent = 50
'''


def summary(conn: Any, config: Any, now: datetime) -> dict[str, Any]:
    """What customers were told and given: notices by event and locale, compensations by
    status, the cost against the budget, and the checks that nothing was given or sent twice."""
    import json
    from collections import Counter, defaultdict
    from decimal import Decimal
    from pathlib import Path

    by = notice_store.count_by_event_and_locale(conn)
    conf = compensation.settings(config.compensation, path=str(config.path))
    rows = ledger.listing(conn, limit=1_000_000)
    per_order: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        per_order[row.order_id].append(row)
    given = [r for r in rows if r.status in ledger.SPENT]
    twice = sum(1 for items in per_order.values()
                if sum((r.amount for r in items if r.status in ledger.GIVEN), Decimal(0))
                > max(r.tier_value for r in items))
    keys: list[str] = []
    for inst in config.notifiers.values():
        if inst.type == "jsonl":
            path = Path(inst.settings.get("path", ""))
            if path.is_file():
                keys += [json.loads(line).get("key", "") for line in path.read_text(encoding="utf-8").splitlines()]
    costs = compensation.cost_against_budget(conn, conf, now)
    return {
        "notices": {f"{event} {locale}": n for (event, locale), n in sorted(by.items())},
        "notices_total": sum(by.values()),
        "notice_file_lines": len(keys),
        "notices_sent_twice": len(keys) - len(set(keys)),
        "compensations": dict(sorted(Counter(r.status for r in rows).items())),
        "compensated_orders": len({r.order_id for r in given}),
        "top_ups": sum(1 for items in per_order.values() if len([r for r in items if r.status in ledger.SPENT]) > 1),
        "given_twice": twice,
        "cost": [{"period": c.period, "currency": c.currency, "count": c.count, "total": str(c.total),
                  "budget": str(c.budget) if c.budget is not None else None, "waiting": c.pending} for c in costs
                 if c.count or c.pending],
    }


def summary_lines(told: Mapping[str, Any]) -> list[str]:
    """:func:`summary` for people, a few lines."""
    if not told:
        return []
    notices = ", ".join(f"{what} {n}" for what, n in told["notices"].items()) or "none"
    lines = [f"notices: {told['notices_total']} ({notices}); {told['notices_sent_twice']} sent twice"]
    statuses = ", ".join(f"{status} {n}" for status, n in told["compensations"].items()) or "none"
    cost = "; ".join(f"{c['period']}: {c['count']} given, {c['total']} {c['currency']}"
                     + (f" of a {c['budget']} budget" if c["budget"] else "")
                     + (f", {c['waiting']} waiting for a person" if c["waiting"] else "") for c in told["cost"])
    lines.append(f"compensations: {statuses}; {told['compensated_orders']} orders compensated, "
                 f"{told['top_ups']} topped up, {told['given_twice']} given twice" + (f"; {cost}" if cost else ""))
    return lines
