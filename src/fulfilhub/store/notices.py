"""Customer notices, each rendered once and kept, and the cursors of the notices job.

The notice policy's answers about each order's delay are kept too (``notice_decisions``:
sent, suppressed or waiting, and why), with the orders it must decide again
(``notice_pending``) and when.

A notice's key (``notice:<event>:<order id>:<revision>``) is unique: :func:`add` of a
key that exists changes nothing and returns False, so a rerun never renders or sends
a notice twice. The outbox rows that send it (one per routed notifier) are written in
the same transaction by the caller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import NotFound, PermanentError
from ..models import Notice
from . import Tx, insert_ignore, outbox
from .schema import consumer_cursors, notice_decisions, notice_drafts, notice_pending, notices, order_events


# --------------------------------------------------------------------------- cursors


def position(conn: Connection, name: str) -> int:
    """Where the consumer ``name`` stands (0: at the start)."""
    found = conn.execute(sa.select(consumer_cursors.c.position).where(consumer_cursors.c.name == name)).scalar()
    return int(found or 0)


def started(conn: Connection, name: str) -> bool:
    """Whether the consumer ``name`` has a saved position."""
    return conn.execute(sa.select(consumer_cursors.c.name).where(consumer_cursors.c.name == name)).first() is not None


def first_id_since(conn: Connection, table: sa.Table, column: str, since: datetime) -> int:
    """The id before the first row of ``table`` whose ``column`` is at or after ``since``
    (where a consumer that starts now begins); the last id when there is none."""
    first = conn.execute(sa.select(sa.func.min(table.c.id)).where(table.c[column] >= since)).scalar()
    if first is not None:
        return int(first) - 1
    return int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)


def advance(tx: Tx, name: str, value: int, at: datetime) -> None:
    """Save the consumer's position (in the transaction that did the work it covers).

    Never moves it back: of two runners that raced over the same items (their writes are
    deduplicated by key), the one further on keeps its place. The first save of a name
    is an insert that ignores a concurrent one, so two runners starting together on
    PostgreSQL do not fail on the cursor's key.
    """
    if insert_ignore(tx, consumer_cursors, [{"name": name, "position": value, "updated_at": at}], ["name"]):
        return
    further = sa.case((consumer_cursors.c.position < value, value), else_=consumer_cursors.c.position)
    tx.execute(consumer_cursors.update().where(consumer_cursors.c.name == name).values(position=further, updated_at=at))


# --------------------------------------------------------------------------- notices


def add(tx: Tx, notice: Notice, *, notifiers: list[str], send_after: datetime) -> bool:
    """Keep a rendered notice; False (and nothing written) when its key exists."""
    row = {
        "key": notice.key, "order_id": notice.order_id, "order_number": notice.order_number,
        "event": str(notice.event), "locale": notice.locale, "recipient": notice.to, "subject": notice.subject,
        "text": notice.text, "html": notice.html, "facts": dict(notice.facts), "notifiers": list(notifiers),
        "created_at": notice.created_at, "send_after": send_after,
    }
    return insert_ignore(tx, notices, [row], ["key"]) == 1


def add_many(tx: Tx, kept: Sequence[tuple[Notice, Sequence[str], datetime]]) -> None:
    """Keep rendered notices, ``(notice, notifiers, send after)`` each, in one statement;
    a key that exists is skipped (the caller reads :func:`keys_of` first to know which)."""
    insert_ignore(tx, notices, [{
        "key": n.key, "order_id": n.order_id, "order_number": n.order_number, "event": str(n.event),
        "locale": n.locale, "recipient": n.to, "subject": n.subject, "text": n.text, "html": n.html,
        "facts": dict(n.facts), "notifiers": list(notifiers), "created_at": n.created_at, "send_after": due,
    } for n, notifiers, due in kept], ["key"])


def keys_of(conn: Connection, order_ids: Sequence[str]) -> set[str]:
    """The keys of every notice of ``order_ids``."""
    ids = list(dict.fromkeys(order_ids))
    out: set[str] = set()
    for start in range(0, len(ids), 500):
        out.update(conn.execute(sa.select(notices.c.key).where(notices.c.order_id.in_(ids[start:start + 500])))
                   .scalars())
    return out


def get_many(conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
    """The notice rows of ``keys``, by key (those that exist)."""
    wanted = list(dict.fromkeys(keys))
    out: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        out.update((row.key, row) for row in conn.execute(
            sa.select(notices).where(notices.c.key.in_(wanted[start:start + 500]))))
    return out


def requeue_sends(tx: Tx, ref: str) -> int:
    """Make the failed (or pending) sends of the notice ``ref`` (id or key) due again now; how many."""
    found = get(tx.conn, ref)
    if found is None:
        raise NotFound(f"no notice {ref!r}; see `fulfilhub notices list`")
    keys = [outbox.Effect.send_notice(found.key, found.order_id, name).key for name in found.notifiers]
    ids = [r.id for r in (outbox.status_of_row(tx.conn, key) for key in keys) if r is not None and r.status != "done"]
    if not ids:
        raise PermanentError(f"notice {found.id} has nothing left to send (every notifier has it)")
    return outbox.requeue(tx, ids)


def notice_of(row: Any) -> Notice:
    return Notice(key=row.key, order_id=row.order_id, order_number=row.order_number, event=row.event,
                  locale=row.locale, to=row.recipient, subject=row.subject, text=row.text, html=row.html,
                  created_at=row.created_at, facts=row.facts or {})


def get(conn: Connection, ref: str) -> Any | None:
    """The notice row with id or key ``ref``."""
    cond = notices.c.id == int(ref) if ref.isdigit() else notices.c.key == ref
    return conn.execute(sa.select(notices).where(cond)).first()


def exists(conn: Connection, key: str) -> bool:
    return conn.execute(sa.select(notices.c.id).where(notices.c.key == key)).first() is not None


def listing(conn: Connection, *, order_id: str | None = None, event: str | None = None, limit: int = 100) -> list[Any]:
    stmt = sa.select(notices)
    if order_id:
        stmt = stmt.where(notices.c.order_id == order_id)
    if event:
        stmt = stmt.where(notices.c.event == event)
    return list(conn.execute(stmt.order_by(notices.c.id.desc()).limit(limit)))


def count_by_event_and_locale(conn: Connection) -> Counter:
    """How many notices of each ``(event, locale)``."""
    rows = conn.execute(sa.select(notices.c.event, notices.c.locale, sa.func.count()).group_by(notices.c.event, notices.c.locale))
    return Counter({(event, locale): n for event, locale, n in rows})


# --------------------------------------------------------------------------- the orders' status events


def status_events_since(conn: Connection, after_id: int, statuses: list[str], *, limit: int = 500,
                        until: int | None = None) -> list[tuple[int, str, str]]:
    """``(event id, order id, to status)`` of status events after ``after_id`` (and up to
    ``until``) into ``statuses``, in order."""
    stmt = (sa.select(order_events.c.id, order_events.c.order_id, order_events.c.to_status)
            .where(order_events.c.id > after_id, order_events.c.kind == "status", order_events.c.to_status.in_(statuses)))
    if until is not None:
        stmt = stmt.where(order_events.c.id <= until)
    rows = conn.execute(stmt.order_by(order_events.c.id).limit(limit))
    return [(row.id, row.order_id, row.to_status) for row in rows]


def last_event_id(conn: Connection) -> int:
    """The newest order event's id (0 when there is none)."""
    return int(conn.execute(sa.select(sa.func.max(order_events.c.id))).scalar() or 0)


# --------------------------------------------------------------------------- the notice policy's decisions


def mark_pending(tx: Tx, order_id: str, due: datetime) -> None:
    """The policy must decide about ``order_id`` again at ``due`` (or sooner, if it already must)."""
    if insert_ignore(tx, notice_pending, [{"order_id": order_id, "due_at": due}], ["order_id"]):
        return
    tx.execute(notice_pending.update().where(notice_pending.c.order_id == order_id, notice_pending.c.due_at > due)
               .values(due_at=due))


def wait_until(tx: Tx, order_id: str, due: datetime) -> None:
    """Decide about ``order_id`` again at ``due`` (replacing when it was due)."""
    if not insert_ignore(tx, notice_pending, [{"order_id": order_id, "due_at": due}], ["order_id"]):
        tx.execute(notice_pending.update().where(notice_pending.c.order_id == order_id).values(due_at=due))


def mark_pending_many(tx: Tx, order_ids: Sequence[str], due: datetime) -> None:
    """:func:`mark_pending` for many orders: two statements."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return
    insert_ignore(tx, notice_pending, [{"order_id": i, "due_at": due} for i in ids], ["order_id"])
    for start in range(0, len(ids), 500):
        tx.execute(notice_pending.update().where(notice_pending.c.order_id.in_(ids[start:start + 500]),
                                                 notice_pending.c.due_at > due).values(due_at=due))


def wait_many(tx: Tx, waits: Sequence[tuple[str, datetime]]) -> None:
    """:func:`wait_until` for many ``(order id, due)``: two statements."""
    if not waits:
        return
    insert_ignore(tx, notice_pending, [{"order_id": i, "due_at": due} for i, due in waits], ["order_id"])
    tx.execute(notice_pending.update().where(notice_pending.c.order_id == sa.bindparam("oid"))
               .values(due_at=sa.bindparam("due")), [{"oid": i, "due": due} for i, due in waits])


def done_pending(tx: Tx, order_id: str) -> None:
    tx.execute(notice_pending.delete().where(notice_pending.c.order_id == order_id))


def done_pending_many(tx: Tx, order_ids: Sequence[str]) -> None:
    ids = list(dict.fromkeys(order_ids))
    for start in range(0, len(ids), 500):
        tx.execute(notice_pending.delete().where(notice_pending.c.order_id.in_(ids[start:start + 500])))


def due_pending(conn: Connection, now: datetime, *, limit: int = 500, claim: bool = False) -> list[str]:
    """The orders whose decision is due at ``now``, the longest waiting first.

    ``claim`` (in a write transaction): lock them for it, skipping those another
    transaction has locked, so that two runners on PostgreSQL decide different pages
    (SQLite's one writer at a time needs no lock; the clause is not rendered there).
    """
    stmt = (sa.select(notice_pending.c.order_id).where(notice_pending.c.due_at <= now)
            .order_by(notice_pending.c.due_at, notice_pending.c.order_id).limit(limit))
    if claim:
        stmt = stmt.with_for_update(skip_locked=True)
    rows = conn.execute(stmt)
    return [row.order_id for row in rows]


def is_due(conn: Connection, order_id: str, now: datetime) -> bool:
    """Whether the order's decision is due at ``now``."""
    return conn.execute(sa.select(notice_pending.c.order_id).where(notice_pending.c.order_id == order_id,
                                                                   notice_pending.c.due_at <= now)).first() is not None


def record_decision(tx: Tx, *, order_id: str, at: datetime, assessment_id: int | None, action: str, reason: str,
                    event: str | None = None, detail: str = "", told: dict[str, Any] | None = None,
                    notice_key: str | None = None) -> bool:
    """Keep one answer of the policy; an answer the same as the order's last one (same
    action, reason and detail) is not kept again. True when kept."""
    last = tx.conn.execute(sa.select(notice_decisions.c.action, notice_decisions.c.reason, notice_decisions.c.detail)
                           .where(notice_decisions.c.order_id == order_id)
                           .order_by(notice_decisions.c.id.desc()).limit(1)).first()
    if action != "send" and last is not None and (last.action, last.reason, last.detail) == (action, reason, detail):
        return False
    tx.execute(notice_decisions.insert().values(order_id=order_id, decided_at=at, assessment_id=assessment_id,
                                                action=action, event=event, reason=reason, detail=detail, told=told,
                                                notice_key=notice_key))
    return True


def last_decisions(conn: Connection, order_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """The last answer's ``(action, reason, detail)`` of each of ``order_ids`` that has one."""
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, tuple[str, str, str]] = {}
    for start in range(0, len(ids), 500):
        newest = (sa.select(sa.func.max(notice_decisions.c.id)).where(notice_decisions.c.order_id.in_(ids[start:start + 500]))
                  .group_by(notice_decisions.c.order_id))
        rows = conn.execute(sa.select(notice_decisions.c.order_id, notice_decisions.c.action, notice_decisions.c.reason,
                                      notice_decisions.c.detail).where(notice_decisions.c.id.in_(newest)))
        out.update((row.order_id, (row.action, row.reason, row.detail)) for row in rows)
    return out


def record_decisions(tx: Tx, rows: Sequence[dict[str, Any]], last: dict[str, tuple[str, str, str]]) -> int:
    """Keep many answers of the policy in one statement (each a dict of :func:`record_decision`'s
    keywords); as there, an answer the same as its order's last one (``last``, read in the
    same transaction) is not kept again. How many were kept."""
    kept = []
    for row in rows:
        same = last.get(row["order_id"]) == (row["action"], row["reason"], row.get("detail", ""))
        if row["action"] != "send" and same:
            continue
        last[row["order_id"]] = (row["action"], row["reason"], row.get("detail", ""))
        kept.append({"order_id": row["order_id"], "decided_at": row["at"], "assessment_id": row.get("assessment_id"),
                     "action": row["action"], "event": row.get("event"), "reason": row["reason"],
                     "detail": row.get("detail", ""), "told": row.get("told"), "notice_key": row.get("notice_key")})
    if kept:
        tx.execute(notice_decisions.insert(), kept)
    return len(kept)


def told_many(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[Any]]:
    """:func:`told` of each of ``order_ids`` (those with none are absent)."""
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, list[Any]] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(sa.select(notice_decisions).where(notice_decisions.c.order_id.in_(ids[start:start + 500]),
                                                                   notice_decisions.c.action == "send")
                                .order_by(notice_decisions.c.id)):
            out.setdefault(row.order_id, []).append(row)
    return out


def decisions(conn: Connection, order_id: str) -> list[Any]:
    """Every answer of the policy about an order, oldest first."""
    return list(conn.execute(sa.select(notice_decisions).where(notice_decisions.c.order_id == order_id)
                             .order_by(notice_decisions.c.id)))


def told(conn: Connection, order_id: str) -> list[Any]:
    """The decisions that sent a delay notice to the order, oldest first."""
    return list(conn.execute(sa.select(notice_decisions).where(notice_decisions.c.order_id == order_id,
                                                                notice_decisions.c.action == "send")
                             .order_by(notice_decisions.c.id)))


def count_decisions(conn: Connection) -> Counter:
    """How many answers of each ``(action, reason)`` the policy gave."""
    rows = conn.execute(sa.select(notice_decisions.c.action, notice_decisions.c.reason, sa.func.count())
                        .group_by(notice_decisions.c.action, notice_decisions.c.reason))
    return Counter({(action, reason): n for action, reason, n in rows})


def delay_notices(conn: Connection) -> list[Any]:
    """Every delay notice (``delayed`` and ``eta_revised``) with what it told: order, event,
    text and the policy's ``told`` facts, oldest first (for the demo's checks)."""
    rows = conn.execute(sa.select(notice_decisions.c.order_id, notice_decisions.c.event, notice_decisions.c.told,
                                  notices.c.text)
                        .join(notices, notices.c.key == notice_decisions.c.notice_key)
                        .where(notice_decisions.c.action == "send").order_by(notice_decisions.c.id))
    return list(rows)


# --------------------------------------------------------------------------- drafts (approved by a person)


def add_draft(tx: Tx, notice: Notice, *, notifiers: list[str], reason: str) -> bool:
    """Keep a notice for a person to approve; False (nothing written) when its key is
    drafted or sent already."""
    if exists(tx.conn, notice.key):
        return False
    row = {
        "key": notice.key, "order_id": notice.order_id, "order_number": notice.order_number,
        "event": str(notice.event), "locale": notice.locale, "recipient": notice.to, "subject": notice.subject,
        "text": notice.text, "html": notice.html, "facts": dict(notice.facts), "notifiers": list(notifiers),
        "reason": reason, "created_at": notice.created_at,
    }
    return insert_ignore(tx, notice_drafts, [row], ["key"]) == 1


def draft(conn: Connection, ref: str) -> Any | None:
    """The draft row with id or key ``ref``."""
    cond = notice_drafts.c.id == int(ref) if ref.isdigit() else notice_drafts.c.key == ref
    return conn.execute(sa.select(notice_drafts).where(cond)).first()


def drafts(conn: Connection, *, waiting: bool | None = None, limit: int = 500) -> list[Any]:
    """Drafts, newest first; ``waiting``: only those not approved (True) or only approved (False)."""
    stmt = sa.select(notice_drafts)
    if waiting is not None:
        stmt = stmt.where(notice_drafts.c.approved_at.is_(None) if waiting else notice_drafts.c.approved_at.is_not(None))
    return list(conn.execute(stmt.order_by(notice_drafts.c.id.desc()).limit(limit)))


def mark_approved(tx: Tx, draft_id: int, by: str, at: datetime) -> bool:
    """Mark a draft approved; False when it was approved already (by someone else first)."""
    done = tx.execute(notice_drafts.update().where(notice_drafts.c.id == draft_id, notice_drafts.c.approved_at.is_(None))
                      .values(approved_at=at, approved_by=by))
    return done.rowcount == 1


def draft_notice(row: Any) -> Notice:
    return Notice(key=row.key, order_id=row.order_id, order_number=row.order_number, event=row.event,
                  locale=row.locale, to=row.recipient, subject=row.subject, text=row.text, html=row.html,
                  created_at=row.created_at, facts=row.facts or {})
