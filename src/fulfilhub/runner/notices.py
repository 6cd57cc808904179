"""The ``notices`` job and the delivery of notice and compensation effects.

A thin loop around the engines: read a page, let the engines decide it, store the
answers. It reads two append-only streams, each with its own cursor saved in the
transaction that acts on what it covers, a page (:data:`PAGE` items) per transaction:

- delay assessments (``store.delays.since``): each marks its order for the notice policy
  (``store.notices.mark_pending_many``). Every run then takes the orders whose decision
  is due, a page at a time: their orders, promises, shipments, tracking links,
  assessments and what their customers were told are read in a few set-based queries
  (:func:`read_facts`), the engines build each order's plain facts
  (:func:`~fulfilhub.engines.notice_policy.situation_of`) and decide (send ``delayed``
  or ``eta_revised`` with :func:`~fulfilhub.engines.notify.delay_facts`, suppress, or
  wait: the order is decided again then, on what is current, so changes meanwhile merge
  into one notice), and the answers are written together (:func:`write`). A ``delayed``
  notice asks the compensation engine, which records its decision in the same
  transaction (in a savepoint, undone alone if that order fails);
- the orders' status events: ``accepted`` -> ``confirmed`` (with the promise),
  ``shipped`` (or in transit, whichever comes first) -> ``shipped``, ``delivered``
  (:func:`~fulfilhub.engines.notify.status_facts`); a parcel waiting at the pickup point
  the customer chose (out for delivery, with the point's last day) -> ``ready_for_pickup``,
  naming the store and that day (:func:`~fulfilhub.engines.notify.at_the_store`).

A notice's key (``notice:<event>:<order id>:<revision>``) and a compensation's key
(``compensation:<order id>:<tier>``) are unique in the store, and the cursor moves in
the same transaction, so a rerun, a crash (the whole page is redone) or a second runner
never writes either twice. An item that fails (a policy or a template raising on one
order's data) is quarantined alone with its reason in the page's transaction, and
``fulfilhub quarantine retry`` processes it once the cause is fixed; trouble with the
store or the configuration stops the stream at that item instead (those before it are
kept; it is read again next run).
The outbox then sends each notice once per routed notifier (:func:`send_notices`, a
group's notices read and recorded together) and issues each approved compensation
through the channel; once issued, a ``compensation_issued`` notice carries the code or
the amount.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ..adapters import CompensationIssuer
from ..engines import compensation, notice_policy, notify
from ..errors import NotFound
from ..models import CompensationKind, CompensationProposal, Money, Notice, NoticeEvent, Order, Shipment
from ..store import Tx, outbox
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


#: Items (status events, orders whose delay is due) read, decided and written per transaction.
PAGE = 500


@attrs.frozen
class Audience:
    """What a notice to one order's customer needs: language, time zone, link, the promise."""

    locale: str
    tz: ZoneInfo
    link: str
    promise: Any
    shipments: list[Shipment]


@attrs.define
class Facts:
    """What a page of the notices job reads in a few set-based queries: the orders, their
    promises, shipments and tracking links, and the keys of the notices they already have."""

    orders: dict[str, Order]
    promises: dict[str, Any]
    shipments: dict[str, list[Shipment]]
    links: dict[str, str]
    keys: set[str]

    def audience(self, conf: notify.Settings, order: Order) -> Audience:
        promise = self.promises.get(order.id)
        shipments = self.shipments.get(order.id, [])
        return Audience(locale=notify.choose_locale(order, conf.default_locale),
                        tz=notify.customer_timezone(order, promise.timezone if promise else None, conf.timezone),
                        link=self.links.get(order.id) or notify.carrier_link(shipments), promise=promise,
                        shipments=shipments)


@attrs.define
class Answers:
    """What a page decided, written at its end in one transaction, set-based."""

    done: list[str] = attrs.Factory(list)  # orders off the due list
    waits: list[tuple[str, datetime]] = attrs.Factory(list)
    decisions: list[dict[str, Any]] = attrs.Factory(list)
    notices: list[tuple[Notice, list[str], datetime]] = attrs.Factory(list)
    quarantined: list[tuple[str, dict[str, Any], str]] = attrs.Factory(list)

    def merge(self, other: Answers) -> None:
        for field in attrs.fields(Answers):
            getattr(self, field.name).extend(getattr(other, field.name))


def _settings(rt: Runtime) -> tuple[notify.Settings, compensation.Settings]:
    """The typed ``[notices]`` and ``[compensation]`` the runtime parsed when it started."""
    return rt.notice_settings, rt.compensation_settings


def read_facts(rt: Runtime, tx: Tx, order_ids: list[str]) -> Facts:
    """The facts of a page's orders (tracking tokens are made for those without one)."""
    from ..store import tracking  # the tracking page (issue 9)

    ids = list(dict.fromkeys(order_ids))
    conn = tx.conn
    orders = {i: found[0] for i, found in order_store.load_many(conn, ids).items()}
    try:
        links = tracking.page_urls(rt.config, tx, list(orders))
    except Exception as exc:  # no page configured: the carrier's link still tells the customer
        if _stops_the_stream(exc):
            raise
        log.debug("no tracking pages: %s", exc)
        links = {}
    return Facts(orders=orders, promises=promise_store.current_many(conn, ids),
                 shipments=shipment_store.of_orders(conn, ids), links=links, keys=notice_store.keys_of(conn, ids))


def write(tx: Tx, answers: Answers, last: dict[str, tuple[str, str, str]], at: datetime) -> None:
    """Store a page's answers: a few set-based statements."""
    from ..store import quarantine as quarantine_store

    notice_store.done_pending_many(tx, answers.done)
    notice_store.wait_many(tx, answers.waits)
    notify.emit_many(tx, answers.notices)
    notice_store.record_decisions(tx, answers.decisions, last)
    for kind, payload, reason in answers.quarantined:
        quarantine_store.keep(tx, QUARANTINE_SOURCE, kind, payload, reason, at)


def _render(rt: Runtime, conf: notify.Settings, facts: Facts, order: Order, who: Audience, event: NoticeEvent,
            revision: str | int, said: Mapping[str, Any], at: datetime, answers: Answers) -> bool:
    """Render a notice whose key is new into ``answers``; False when the order has it already."""
    key = notify.notice_key(event, order.id, revision)
    if key in facts.keys:
        return False
    notice = notify.render(event, key=key, order=order, locale=who.locale, tz=who.tz, at=at, shop=conf.shop_name,
                           facts={"link": who.link, **said})
    due = notify.send_after(event, at, who.tz, conf.quiet_hours)
    answers.notices.append((notice, notify.routes(rt.config.notifiers, event, order.channel), due))
    facts.keys.add(key)
    return True


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
        unstarted = [name for name in (DELAYS, EVENTS) if not notice_store.started(conn, name)]
    if refused:  # a finished scenario's store on the wall clock: its customers are simulated
        report.errors.append(f"notices not run: {refused}")
        report.counts["refused"] += 1
        return report
    if unstarted:
        _start(rt, conf, unstarted)
    _delays(rt, conf, comp, report)
    _events(rt, conf, report)
    return report


def _start(rt: Runtime, conf: notify.Settings, names: list[str]) -> None:
    """The first run starts ``[notices] backfill`` ago, not at the beginning of the store:
    turning notices on for a shop with history must not write to every past customer."""
    from ..store.schema import delay_assessments, order_events

    now = rt.clock.now()
    streams = {DELAYS: (delay_assessments, "assessed_at"), EVENTS: (order_events, "at")}
    with rt.store.transaction() as tx:
        for name in names:
            table, column = streams[name]
            if not notice_store.started(tx.conn, name):
                notice_store.advance(tx, name, notice_store.first_id_since(tx.conn, table, column, now - conf.backfill),
                                     now)


def _delays(rt: Runtime, conf: notify.Settings, comp: compensation.Settings, report: Any) -> None:
    """Mark the order of each new assessment for the policy, then decide the due orders a
    page at a time: one transaction reads the page's facts, decides and writes the answers."""
    from .reports import describe_error

    while True:
        with rt.store.transaction() as tx:
            batch = delay_store.since(tx.conn, notice_store.position(tx.conn, DELAYS), limit=PAGE)
            if batch:
                notice_store.mark_pending_many(tx, [a.order_id for _, a in batch], rt.clock.now())
                notice_store.advance(tx, DELAYS, batch[-1][0], rt.clock.now())
        if len(batch) < PAGE:
            break
    while True:
        now, due = rt.clock.now(), []
        try:
            with rt.store.transaction() as tx:
                due = notice_store.due_pending(tx.conn, now, limit=PAGE, claim=True)
                outcomes, stopped = decide_page(rt, tx, conf, comp, due, now)
        except Exception as exc:  # the store itself fails: nothing of the page was kept
            report.errors.append(f"the delay assessments of {len(due)} orders: {describe_error(exc)} "
                                 "(they are decided again next run)")
            return
        for done in outcomes.values():
            for item in done:
                report.counts[item] += 1
        if stopped is not None:
            order_id, exc = stopped
            report.errors.append(f"the delay assessment of {order_id}: {describe_error(exc)} "
                                 "(it is decided again next run)")
            return
        if len(due) < PAGE:
            return


def decide_page(rt: Runtime, tx: Tx, conf: notify.Settings, comp: compensation.Settings, order_ids: list[str],
                now: datetime, *, quarantine: bool = True) -> tuple[dict[str, list[str]], tuple[str, Exception] | None]:
    """Decide the delay of each of ``order_ids`` with the notice policy and store the answers
    (in ``tx``): what was done for each, and the order whose trouble stopped the stream (the
    answers before it are kept). With ``quarantine``, an order that fails alone is
    quarantined with its reason; without, its exception goes on."""
    from .reports import describe_error

    if not order_ids:
        return {}, None
    facts = read_facts(rt, tx, order_ids)
    histories = delay_store.histories(tx.conn, order_ids)
    told = notice_store.told_many(tx.conn, order_ids)
    last = notice_store.last_decisions(tx.conn, order_ids)
    given = ledger.for_orders(tx.conn, order_ids) if comp.enabled else {}
    answers, outcomes, stopped = Answers(), {}, None
    for order_id in order_ids:
        mine = Answers()
        try:
            outcomes[order_id] = on_delay(rt, tx, conf, comp, facts, order_id, histories.get(order_id, []),
                                          told.get(order_id, []), given.get(order_id, []), now, mine)
        except Exception as exc:
            if not quarantine:
                raise
            if _stops_the_stream(exc):
                stopped = (order_id, exc)
                break
            what = f"the delay assessment of {order_id}"
            log.warning("notices: quarantined %s: %s (`fulfilhub quarantine retry` once fixed)", what,
                        describe_error(exc))
            answers.quarantined.append((DELAY_KIND, {"id": order_id}, f"{what}: {describe_error(exc)}"))
            answers.done.append(order_id)
            outcomes[order_id] = ["quarantined"]
            continue
        answers.merge(mine)
    write(tx, answers, last, now)
    return outcomes, stopped


def on_delay(rt: Runtime, tx: Tx, conf: notify.Settings, comp: compensation.Settings, facts: Facts, order_id: str,
             history: list[tuple[int, Any]], told_rows: list[Any], given: list[Any], now: datetime,
             answers: Answers) -> list[str]:
    """Decide one order's delay into ``answers`` from its assessments (``history``, with
    ids), the delay notices it got (``told_rows``) and its compensations (``given``); what
    was done. Only a ``delayed`` notice touches the store here (the compensation engine
    records its decision, in a savepoint that a failure undoes alone)."""
    order = facts.orders.get(order_id)
    if order is None:
        answers.done.append(order_id)
        return ["order_missing"]
    who = facts.audience(conf, order)
    if not history or who.promise is None:
        answers.done.append(order_id)
        return ["delay_not_notified"]
    assessment_id, assessment = history[-1]
    seen = notice_policy.situation_of(
        history=[a for _, a in history], told=[notice_policy.told_of(r.decided_at, r.event, r.told) for r in told_rows],
        deliver_by=who.promise.deliver_by, tz=who.tz, now=now)
    decision = notice_policy.decide(seen, conf.policy)
    if decision.action is notice_policy.Action.WAIT:
        answers.waits.append((order_id, decision.until))
        answers.decisions.append(dict(order_id=order_id, at=now, assessment_id=assessment_id, action="wait",
                                      reason=decision.reason, detail=f"until {decision.until.isoformat()}"))
        return [f"notice_waits_{decision.reason}"]
    answers.done.append(order_id)
    if decision.action is notice_policy.Action.SUPPRESS and decision.reason == "not_late":
        return ["delay_not_notified"]  # on track: no notice to suppress, nothing to explain
    if decision.action is notice_policy.Action.SUPPRESS:
        answers.decisions.append(dict(order_id=order_id, at=now, assessment_id=assessment_id, action="suppress",
                                      reason=decision.reason, detail=seen.assessment.detail))
        return [f"notice_suppressed_{decision.reason}"]
    said = decision.told
    revision = len(seen.told) + 1
    key = notify.notice_key(said.event, order.id, revision)
    if key in facts.keys:
        return ["notice_exists"]
    done = [f"notice_{said.event}"]

    def tell(sentence: str) -> None:
        stated = notify.delay_facts(new_date=said.new_date, days_late=said.days_late, cause=said.cause,
                                    reason=str(assessment.reason), exception_cause=compensation.cause_of(assessment),
                                    tz=who.tz, locale=who.locale, shipments=who.shipments,
                                    deliver_by=who.promise.deliver_by, compensation=sentence)
        _render(rt, conf, facts, order, who, said.event, revision, stated, now, answers)

    if said.event is NoticeEvent.DELAYED:
        with tx.savepoint():  # the compensation and the notice together, or neither
            graded = attrs.evolve(assessment, days_late=said.days_late)
            granted = compensation.decide(tx, rt.plugins.registry.policies, comp, order, graded, assessment_id, now,
                                          rows=given)
            done.append(f"compensation_{granted.status}")
            tell(granted_sentence(granted, who.locale))
    else:
        tell("")
    answers.decisions.append(dict(
        order_id=order_id, at=now, assessment_id=assessment_id, action="send", reason=decision.reason,
        event=str(said.event), detail=assessment.detail, notice_key=key,
        told={"new_date": said.new_date.isoformat() if said.new_date else None, "days_late": said.days_late,
              "cause": said.cause, "promised": seen.promised.isoformat()}))
    return done


def granted_sentence(granted: compensation.Decision, locale: str) -> str:
    """What a ``delayed`` notice says the customer gets ("" unless approved): approved, issued
    by the outbox after this; a top-up is told by its amount, not the tier's percent."""
    if granted.status != "approved" or granted.amount is None or granted.proposal is None:
        return ""
    whole = granted.amount == granted.proposal.value
    return notify.compensation_sentence(str(granted.proposal.kind), granted.amount, locale,
                                        percent=granted.proposal.percent if whole else None,
                                        points=granted.proposal.points, months=granted.proposal.months, issued=False)


#: The quarantine's ``source`` and ``kind`` of the items the notices job could not process.
QUARANTINE_SOURCE = "notices"
DELAY_KIND = "delay_assessment"
EVENT_KIND = "status_event"


def _stops_the_stream(exc: BaseException) -> bool:
    """Trouble that is not one item's: the store or the configuration. The stream stops
    there (read again next run) instead of quarantining every item after it."""
    from ..errors import ConfigError, StoreError
    from ..store import database_error

    return isinstance(exc, (ConfigError, StoreError)) or database_error(exc) is not None


def _events(rt: Runtime, conf: notify.Settings, report: Any) -> None:
    """The orders' status events, a page per transaction: read the page and its orders'
    facts, render the notices, write them and move the cursor."""
    from .reports import describe_error

    while True:
        now = rt.clock.now()
        try:
            with rt.store.transaction() as tx:
                start = notice_store.position(tx.conn, EVENTS)
                last = notice_store.last_event_id(tx.conn)
                batch = notice_store.status_events_since(tx.conn, start, list(STATUS_NOTICES), limit=PAGE, until=last)
                outcomes, stopped = events_page(rt, tx, conf, batch, now)
                if stopped is not None:
                    upto = max([start] + [event_id for event_id, _ in outcomes])
                elif len(batch) == PAGE:
                    upto = batch[-1][0]
                else:  # past the events that make no notice too, so they are not read again
                    upto = last
                if upto > start:
                    notice_store.advance(tx, EVENTS, upto, now)
        except Exception as exc:  # the store itself fails: nothing of the page was kept
            report.errors.append(f"status events: {describe_error(exc)} (they are read again next run)")
            return
        for _, done in outcomes:
            report.counts[done] += 1
        if stopped is not None:
            (event_id, order_id, status), exc = stopped
            report.errors.append(f"status event {event_id} ({status}) of {order_id}: {describe_error(exc)} "
                                 "(it is read again next run)")
            return
        if len(batch) < PAGE:
            return


def events_page(rt: Runtime, tx: Tx, conf: notify.Settings, batch: list[tuple[int, str, str]], now: datetime, *,
                quarantine: bool = True) -> tuple[list[tuple[int, str]], tuple[tuple[int, str, str], Exception] | None]:
    """The notices of a page of status events ``(event id, order id, status)``, stored in
    ``tx``: what each event did, and the event whose trouble stopped the stream (those
    before it are kept). With ``quarantine``, an event that fails alone is quarantined."""
    from .reports import describe_error

    if not batch:
        return [], None
    facts = read_facts(rt, tx, [order_id for _, order_id, _ in batch])
    answers, outcomes, stopped = Answers(), [], None
    for event_id, order_id, status in batch:
        mine = Answers()
        try:
            done = on_status(rt, conf, facts, order_id, STATUS_NOTICES[status], now, mine)
        except Exception as exc:
            if not quarantine:
                raise
            if _stops_the_stream(exc):
                stopped = ((event_id, order_id, status), exc)
                break
            what = f"status event {event_id} ({status}) of {order_id}"
            log.warning("notices: quarantined %s: %s (`fulfilhub quarantine retry` once fixed)", what,
                        describe_error(exc))
            answers.quarantined.append((EVENT_KIND, {"id": order_id, "event_id": event_id, "status": status},
                                        f"{what}: {describe_error(exc)}"))
            done = "quarantined"
        else:
            answers.merge(mine)
        outcomes.append((event_id, done))
    write(tx, answers, {}, now)
    return outcomes, stopped


def on_status(rt: Runtime, conf: notify.Settings, facts: Facts, order_id: str, event: NoticeEvent, now: datetime,
              answers: Answers) -> str:
    """The lifecycle notice of one status event into ``answers``; what was done."""
    order = facts.orders.get(order_id)
    if order is None:
        return "order_missing"
    who = facts.audience(conf, order)
    event, store = notify.at_the_store(event, who.shipments, order.ship_to.pickup if order.ship_to else None)
    said = notify.status_facts(event, promise=who.promise, shipments=who.shipments, now=now, tz=who.tz,
                               quiet=conf.quiet_hours, locale=who.locale)
    if said is None:
        return "shipped_without_label"
    said.update(store)
    done = _render(rt, conf, facts, order, who, event, 1, said, now, answers)
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
        now = rt.clock.now()
        if row.kind == DELAY_KIND:
            order_id = str(payload["id"])
            with rt.store.transaction() as tx:
                outcomes, _ = decide_page(rt, tx, conf, comp, [order_id], now, quarantine=False)
                done = outcomes[order_id]
                quarantine_store.resolve(tx, row.id, now)
        else:
            status = str(payload["status"])
            STATUS_NOTICES[status]  # an unknown status fails here, before anything is written
            with rt.store.transaction() as tx:
                events, _ = events_page(rt, tx, conf, [(int(payload.get("event_id") or 0), str(payload["id"]), status)],
                                        now, quarantine=False)
                done = [events[0][1]]
                quarantine_store.resolve(tx, row.id, now)
    except Exception as exc:
        with rt.store.transaction() as tx:
            quarantine_store.retry_failed(tx, row.id, describe_error(exc))
        return False, f"still fails: {describe_error(exc)}"
    return True, f"processed: {', '.join(done)}"


# --------------------------------------------------------------------------- effects


def deliver(rt: Runtime, row: Any, now: datetime) -> None:
    """Deliver one claimed ``notice.send`` or ``channel.issue_compensation`` effect."""
    if row.kind == "notice.send":
        failed = send_notices(rt, [row])
        if failed:
            raise failed[0][1]
    else:
        issue_compensation(rt, row, now)


#: Notices sent per transaction that records them sent (:func:`send_notices`).
SENT_BATCH = 50


def send_notices(rt: Runtime, rows: list[Any]) -> list[tuple[Any, Exception, datetime]]:
    """Send claimed ``notice.send`` effects: their notices read in one query, each sent
    through its notifier, those sent recorded done together (a transaction per
    :data:`SENT_BATCH`). Returns those that failed, ``(row, exception, when)`` each, for
    the caller to retry or fail; a crash before the record resends the batch's notices
    with a higher ``attempt`` (the notifier's cue to look before sending again)."""
    with rt.store.read() as conn:
        found = notice_store.get_many(conn, [str(r.payload.get("notice_key", "")) for r in rows])
    sent: list[tuple[int, datetime, Mapping[str, Any] | None]] = []
    failed: list[tuple[Any, Exception, datetime]] = []

    def record() -> None:
        if sent:
            with rt.store.transaction() as tx:
                outbox.finish_many(tx, sent)
            sent.clear()

    for row in rows:
        now = rt.clock.now()
        notice = found.get(str(row.payload.get("notice_key", "")))
        try:
            if notice is None:
                raise NotFound(f"notice {row.payload.get('notice_key')!r} of effect {row.key} does not exist")
            ref = rt.notifier(row.target).send(notice_store.notice_of(notice), attempt=row.attempts)
        except Exception as exc:
            failed.append((row, exc, now))
            continue
        sent.append((row.id, now, {"ref": ref}))
        if len(sent) >= SENT_BATCH:
            record()
    record()
    return failed


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
            facts = read_facts(rt, tx, [order.id])
            who = facts.audience(conf, order)
            whole = comp.amount == comp.tier_value  # a top-up is told by its amount, not the tier's percent
            sentence = notify.compensation_sentence(comp.kind, grant.value, who.locale,
                                                    percent=comp.percent if whole else None, points=comp.points,
                                                    months=comp.months)
            answers = Answers()
            _render(rt, conf, facts, order, who, NoticeEvent.COMPENSATION_ISSUED, comp.id,
                    {"amount": grant.value, "code": code, "compensation": sentence}, now, answers)
            write(tx, answers, {}, now)
        outbox.finish(tx, row.id, now, {"code": code, "ref": ref})
    if issued is None and CompensationKind(comp.kind).is_code:
        log.warning("compensation %s: channel %s cannot issue a %s code", comp.id, order.channel, comp.kind)
