"""The ``notices`` job and the delivery of notice and compensation effects.

A thin loop around the engines. It reads two append-only streams, each with its own
cursor saved in the transaction that acts on what it covers:

- delay assessments (``store.delays.since``): each marks its order for the notice policy
  (``store.notices.mark_pending``). Every run then takes the orders whose decision is
  due, builds the plain facts (:class:`~fulfilhub.engines.notice_policy.Situation`: the
  current assessment, since when the order is late, the promised day, the new day in the
  customer's zone, what the customer was told) and stores the policy's answer in one
  transaction: a sent notice (with the compensation engine's decision in it, for a
  ``delayed`` one), a suppression and its reason, or a wait (the order is decided again
  then, on what is current: changes meanwhile merge into one notice);
- the orders' status events: ``accepted`` -> ``confirmed`` (with the promise),
  ``shipped`` (or in transit, whichever comes first) -> ``shipped``, ``delivered``; a
  parcel waiting at the pickup point the customer chose (out for delivery, with the
  point's last day) -> ``ready_for_pickup``, naming the store and that day.

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
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ..adapters import CompensationIssuer
from ..engines import compensation, notice_policy, notify, zones
from ..errors import NotFound, PermanentError
from ..models import CompensationKind, CompensationProposal, Money, NoticeEvent, Order, Shipment, ShipmentStatus
from ..store import Tx, outbox
from ..store.outbox import Effect
from ..store import compensation as ledger
from ..store import delays as delay_store
from ..store import meta as meta_store
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
    """The typed ``[notices]`` and ``[compensation]`` the runtime parsed when it started."""
    return rt.notice_settings, rt.compensation_settings


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
    with rt.store.read() as conn:
        refused = meta_store.refusal(conn, rt.clock.now())
    if refused:  # a finished scenario's store on the wall clock: its customers are simulated
        report.errors.append(f"notices not run: {refused}")
        report.counts["refused"] += 1
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
    """Mark the order of each new assessment for the policy, then decide every due order."""
    while True:
        with rt.store.read() as conn:
            batch = delay_store.since(conn, notice_store.position(conn, DELAYS), limit=500)
        if not batch:
            break
        with rt.store.transaction() as tx:
            start = notice_store.position(tx.conn, DELAYS)
            fresh = [(i, a) for i, a in batch if i > start]  # another runner may have taken some
            for _, assessment in fresh:
                notice_store.mark_pending(tx, assessment.order_id, rt.clock.now())
            if fresh:
                notice_store.advance(tx, DELAYS, fresh[-1][0], rt.clock.now())
    while True:
        now = rt.clock.now()
        with rt.store.read() as conn:
            due = notice_store.due_pending(conn, now)
        if not due:
            return
        for order_id in due:
            try:
                with rt.store.transaction() as tx:
                    if not notice_store.is_due(tx.conn, order_id, now):
                        continue  # another runner decided it
                    outcome = on_delay(rt, tx, conf, comp, order_id)
            except Exception as exc:
                if not _quarantine_order(rt, order_id, exc, report):
                    return
                continue
            for item in outcome:
                report.counts[item] += 1


def _quarantine_order(rt: Runtime, order_id: str, exc: BaseException, report: Any) -> bool:
    """Quarantine one order whose delay could not be decided (and take it off the due list)."""
    from .reports import describe_error

    what = f"the delay assessment of {order_id}"
    reason = describe_error(exc)
    if not _stops_the_stream(exc):
        try:
            with rt.store.transaction() as tx:
                from ..store import quarantine as quarantine_store

                quarantine_store.keep(tx, QUARANTINE_SOURCE, DELAY_KIND, {"id": order_id}, f"{what}: {reason}",
                                      rt.clock.now())
                notice_store.done_pending(tx, order_id)
            log.warning("notices: quarantined %s: %s (`fulfilhub quarantine retry` once fixed)", what, reason)
            report.counts["quarantined"] += 1
            return True
        except Exception as again:  # the store itself fails: stop, nothing moved
            reason = f"{reason}; quarantining it failed too: {describe_error(again)}"
    report.errors.append(f"{what}: {reason} (it is decided again next run)")
    return False


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


def parcels_of(shipments: list[Shipment]) -> list[str]:
    """Each parcel handed to a carrier, with its own tracking: ``USPS 9400... https://...``."""
    return [" ".join(part for part in (s.label.carrier_name, s.label.tracking_code, s.label.tracking_url) if part)
            for s in shipments if s.label is not None and str(s.status) != "cancelled"]


def situation(tx: Tx, order_id: str, who: Audience, now: datetime) -> tuple[int, notice_policy.Situation] | None:
    """The plain facts the notice policy decides an order's delay from (None: never assessed)."""
    found = delay_store.current_with_id(tx.conn, order_id)
    if found is None or who.promise is None:
        return None
    assessment_id, assessment = found
    history = delay_store.history(tx.conn, order_id)
    told = [notice_policy.Told(at=row.decided_at, event=NoticeEvent(row.event),
                               new_date=date.fromisoformat(row.told["new_date"]) if row.told.get("new_date") else None,
                               days_late=int(row.told.get("days_late", 0)), cause=str(row.told.get("cause", "")))
            for row in notice_store.told(tx.conn, order_id)]
    eta = assessment.revised_eta.astimezone(who.tz).date() if assessment.revised_eta is not None else None
    return assessment_id, notice_policy.Situation(
        assessment=assessment, late_since=notice_policy.late_since([(a.assessed_at, a.state) for a in history]),
        promised=who.promise.deliver_by.astimezone(who.tz).date(), eta=eta, told=told, tz=who.tz, now=now)


def on_delay(rt: Runtime, tx: Tx, conf: notify.Settings, comp: compensation.Settings, order_id: str) -> list[str]:
    """Decide one order's delay with the notice policy and store the answer. Returns what was done."""
    found = order_store.load(tx.conn, order_id)
    if found is None:
        notice_store.done_pending(tx, order_id)
        return ["order_missing"]
    order = found[0]
    now = rt.clock.now()
    who = audience(rt, tx.conn, conf, order)
    facts = situation(tx, order_id, who, now)
    if facts is None:
        notice_store.done_pending(tx, order_id)
        return ["delay_not_notified"]
    assessment_id, seen = facts
    decision = notice_policy.decide(seen, conf.policy)
    if decision.action is notice_policy.Action.WAIT:
        notice_store.wait_until(tx, order_id, decision.until)
        notice_store.record_decision(tx, order_id=order_id, at=now, assessment_id=assessment_id, action="wait",
                                     reason=decision.reason, detail=f"until {decision.until.isoformat()}")
        return [f"notice_waits_{decision.reason}"]
    notice_store.done_pending(tx, order_id)
    if decision.action is notice_policy.Action.SUPPRESS and decision.reason == "not_late":
        return ["delay_not_notified"]  # on track: no notice to suppress, nothing to explain
    if decision.action is notice_policy.Action.SUPPRESS:
        notice_store.record_decision(tx, order_id=order_id, at=now, assessment_id=assessment_id, action="suppress",
                                     reason=decision.reason, detail=seen.assessment.detail)
        return [f"notice_suppressed_{decision.reason}"]
    told, assessment = decision.told, seen.assessment
    done = [f"notice_{told.event}"]
    words = notify.phrases(notify.template_locale(who.locale))
    sentence = ""
    if told.event is NoticeEvent.DELAYED:
        graded = attrs.evolve(assessment, days_late=told.days_late)
        granted = compensation.decide(tx, rt.plugins.registry.policies, comp, order, graded, assessment_id, now)
        done.append(f"compensation_{granted.status}")
        if granted.status == "approved" and granted.amount is not None and granted.proposal is not None:
            whole = granted.amount == granted.proposal.value  # a top-up is told by its amount, not the tier's percent
            sentence = notify.compensation_sentence(str(granted.proposal.kind), granted.amount, who.locale,
                                                    percent=granted.proposal.percent if whole else None,
                                                    points=granted.proposal.points, months=granted.proposal.months,
                                                    issued=False)  # approved, issued by the outbox after this
    causes, actions = words["causes"], words["actions"]
    action = actions["overdue"] if told.new_date is None else (
        actions.get(told.cause) or actions.get(compensation.cause_of(assessment), ""))
    said = {"days_late": told.days_late, "new_date": zones.local_noon(told.new_date, who.tz) if told.new_date else None,
            "cause": causes.get(told.cause) or causes.get(str(assessment.reason)) or causes["other"],
            "action": action, "compensation": sentence, "parcels": parcels_of(who.shipments),
            "deliver_by": who.promise.deliver_by if who.promise else None}
    revision = len(seen.told) + 1
    key = notify.notice_key(told.event, order.id, revision)
    if not _emit(rt, tx, conf, order, who, told.event, revision, said, now):
        return ["notice_exists"]
    notice_store.record_decision(
        tx, order_id=order_id, at=now, assessment_id=assessment_id, action="send", reason=decision.reason,
        event=str(told.event), detail=assessment.detail, notice_key=key,
        told={"new_date": told.new_date.isoformat() if told.new_date else None, "days_late": told.days_late,
              "cause": told.cause, "promised": seen.promised.isoformat()})
    return done


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
        facts.update(carrier=labelled[0].label.carrier_name, tracking_code=labelled[0].label.tracking_code,
                     parcels=parcels_of(who.shipments))
    waiting = [s for s in who.shipments if s.pickup_until is not None and s.status is ShipmentStatus.OUT_FOR_DELIVERY]
    pickup = order.ship_to.pickup if order.ship_to else None
    if event is NoticeEvent.SHIPPED and waiting and pickup is not None:  # at the store the customer chose
        event = NoticeEvent.READY_FOR_PICKUP
        facts.update(store=f"{pickup.network} {pickup.store_name}".strip(), store_address=pickup.store_address,
                     pickup_until=max(s.pickup_until for s in waiting if s.pickup_until is not None))
    if event is NoticeEvent.SHIPPED:  # sent after quiet hours, "today" is the next morning's "yesterday"
        facts["shipped_day"] = notify.shipped_day(rt.clock.now(), who.tz, conf.quiet_hours, who.locale)
    if event is NoticeEvent.DELIVERED:
        delivered = [s.delivered_at for s in who.shipments if s.delivered_at is not None]
        facts["delivered_at"] = max(delivered) if delivered else rt.clock.now()
        if pickup is not None and any(s.pickup_until is not None for s in who.shipments):  # collected at the store
            facts["store"] = f"{pickup.network} {pickup.store_name}".strip()
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
            order_id = str(payload["id"])
            with rt.store.transaction() as tx:
                done = on_delay(rt, tx, conf, comp, order_id)
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


def explain(conn: Any, order_id: str) -> list[dict[str, Any]]:
    """What the notice policy decided about an order's delay, oldest first, each with why
    (for ``fulfilhub notices show``): sent, suppressed or waiting, the reason and its meaning."""
    return [{"at": row.decided_at, "action": row.action, "event": row.event, "reason": row.reason,
             "why": notice_policy.REASONS.get(row.reason, row.reason), "detail": row.detail,
             "notice_key": row.notice_key, "told": row.told} for row in notice_store.decisions(conn, order_id)]


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
    conf = rt.notice_settings
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
