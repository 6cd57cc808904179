"""The outbox: every effect on the outside world, written in the transaction that calls
for it and delivered at least once by the runner; its key makes it happen once.

Effect kinds are an enum and each effect is built by one constructor that also builds
its idempotency key, so that a key never depends on who wrote it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Shipment, TrackingStatus
from . import Tx, insert_ignore
from .schema import outbox


class EffectKind(enum.StrEnum):
    """What an outbox row asks the runner to do (``<adapter kind>.<action>``)."""

    WAREHOUSE_SUBMIT = "warehouse.submit"
    WAREHOUSE_CANCEL = "warehouse.cancel"
    CARRIER_BUY_LABEL = "carrier.buy_label"
    CARRIER_VOID_LABEL = "carrier.void_label"
    CHANNEL_PUSH_FULFILLMENT = "channel.push_fulfillment"
    CHANNEL_PUSH_TRACKING = "channel.push_tracking"
    CHANNEL_ISSUE_COMPENSATION = "channel.issue_compensation"
    NOTICE_SEND = "notice.send"

    @property
    def per_order(self) -> bool:
        """Effects about an order (a notice, a compensation) rather than one shipment."""
        return self in (EffectKind.CHANNEL_ISSUE_COMPENSATION, EffectKind.NOTICE_SEND)


@attrs.frozen(kw_only=True)
class Effect:
    """One effect to write to the outbox. Build it with the constructors below."""

    kind: EffectKind
    key: str
    target: str  # the adapter instance that carries it out
    payload: Mapping[str, Any]

    @classmethod
    def _for(cls, kind: EffectKind, target: str, shipment_id: str, *extra: str, **payload: Any) -> Effect:
        return cls(kind=kind, key=":".join((kind.value, shipment_id, *extra)), target=target,
                   payload={"shipment_id": shipment_id, **payload})

    @classmethod
    def submit_to_warehouse(cls, shipment: Shipment) -> Effect:
        return cls._for(EffectKind.WAREHOUSE_SUBMIT, shipment.warehouse, shipment.id)

    @classmethod
    def cancel_at_warehouse(cls, shipment: Shipment) -> Effect:
        return cls._for(EffectKind.WAREHOUSE_CANCEL, shipment.warehouse, shipment.id, ref=shipment.fulfillment_ref)

    @classmethod
    def buy_label(cls, shipment: Shipment, again: int = 0) -> Effect:
        """``again``: how many purchases of the shipment failed and were chosen again before
        (a new choice is a new purchase, with a key of its own)."""
        return cls._for(EffectKind.CARRIER_BUY_LABEL, shipment.carrier, shipment.id, *((f"again{again}",) if again else ()))

    @classmethod
    def void_label(cls, shipment: Shipment) -> Effect:
        return cls._for(EffectKind.CARRIER_VOID_LABEL, shipment.carrier, shipment.id)

    @classmethod
    def push_fulfillment(cls, shipment: Shipment, channel: str) -> Effect:
        return cls._for(EffectKind.CHANNEL_PUSH_FULFILLMENT, channel, shipment.id)

    @classmethod
    def push_tracking(cls, shipment: Shipment, channel: str, status: TrackingStatus) -> Effect:
        return cls._for(EffectKind.CHANNEL_PUSH_TRACKING, channel, shipment.id, str(status), status=str(status))


    @classmethod
    def send_notice(cls, notice_key: str, order_id: str, notifier: str) -> Effect:
        """Send one notice through one notifier instance (its key carries both)."""
        return cls(kind=EffectKind.NOTICE_SEND, key=f"{EffectKind.NOTICE_SEND.value}:{notifier}:{notice_key}",
                   target=notifier, payload={"notice_key": notice_key, "order_id": order_id})

    @classmethod
    def issue_compensation(cls, compensation_key: str, compensation_id: int, order_id: str, channel: str) -> Effect:
        """Issue one approved compensation through the order's channel."""
        return cls(kind=EffectKind.CHANNEL_ISSUE_COMPENSATION,
                   key=f"{EffectKind.CHANNEL_ISSUE_COMPENSATION.value}:{compensation_key}", target=channel,
                   payload={"compensation_id": compensation_id, "order_id": order_id})


def enqueue(tx: Tx, effect: Effect, at: datetime, *, due: datetime | None = None) -> bool:
    """Write an effect to the outbox; False if an effect with its key already exists.

    ``due``: not before this time (a notice waiting out the customer's quiet hours). In a
    transaction that gathers its appends (:meth:`Tx.gather_appends`) the effect goes in
    at commit, skipped there if its key exists, and True is returned without looking.
    """
    row = {
        "key": effect.key,
        "kind": str(effect.kind),
        "target": effect.target,
        "payload": dict(effect.payload),
        "status": "pending",
        "attempts": 0,
        "created_at": at,
        "next_attempt_at": max(at, due) if due is not None else at,
    }
    if tx.appends is not None:
        tx.append(outbox, [row], unless=["key"])
        return True
    return insert_ignore(tx, outbox, [row], ["key"]) == 1


def claim_due(tx: Tx, now: datetime, limit: int = 1000) -> list[sa.Row]:
    """The pending effects due at ``now``, each with its attempt counted, in one statement.

    The attempt is counted (and committed with ``tx``) *before* the effect's I/O, so an
    effect whose outcome was never recorded — the process died between the call and the
    commit — comes back with ``attempts > 1`` and its adapter looks before it acts again.
    """
    due = (
        sa.select(outbox.c.id)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if tx.conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        outbox.update()
        .where(outbox.c.id.in_(due.scalar_subquery()))
        .values(attempts=outbox.c.attempts + 1)
        .returning(*outbox.c)
    )
    return sorted(tx.execute(stmt).all(), key=lambda r: r.id)


def claim_for(tx: Tx, now: datetime, target: str, keep: Callable[[sa.Row], bool], limit: int = 200) -> list[sa.Row]:
    """As :func:`claim_due`, for one target's due effects that ``keep`` accepts (a worker's
    slice of an instance's outbox); rows another transaction holds are skipped on PostgreSQL."""
    due = (
        sa.select(outbox.c.id, outbox.c.payload)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, outbox.c.target == target)
        .order_by(outbox.c.id)
    )
    if tx.conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = [row.id for row in tx.execute(due) if keep(row)][:limit]
    if not ids:
        return []
    stmt = outbox.update().where(outbox.c.id.in_(ids)).values(attempts=outbox.c.attempts + 1).returning(*outbox.c)
    return sorted(tx.execute(stmt).all(), key=lambda r: r.id)


def due_effects(conn: Connection, now: datetime, limit: int = 20000) -> list[sa.Row]:
    """The ``id``, ``target`` and ``payload`` of the effects due at ``now`` (a dispatcher's plan)."""
    return list(conn.execute(sa.select(outbox.c.id, outbox.c.target, outbox.c.payload)
                             .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
                             .order_by(outbox.c.id).limit(limit)))


_FINISH = (
    outbox.update()
    .where(outbox.c.id == sa.bindparam("eid"))
    .values(status="done", done_at=sa.bindparam("at"), result=sa.bindparam("result"), last_error=None)
)


def enqueue_many(tx: Tx, effects: Sequence[tuple[Effect, datetime, datetime | None]]) -> int:
    """:func:`enqueue` for many ``(effect, at, due)`` in one statement; how many were new."""
    return insert_ignore(tx, outbox, [{
        "key": e.key, "kind": str(e.kind), "target": e.target, "payload": dict(e.payload), "status": "pending",
        "attempts": 0, "created_at": at, "next_attempt_at": max(at, due) if due is not None else at,
    } for e, at, due in effects], ["key"])


def finish(tx: Tx, effect_id: int, at: datetime, result: Mapping[str, Any] | None = None) -> None:
    tx.execute(_FINISH, {"eid": effect_id, "at": at, "result": dict(result or {})})


def finish_many(tx: Tx, done: Sequence[tuple[int, datetime, Mapping[str, Any] | None]]) -> None:
    """Mark effects done, ``(id, at, result)`` each, in one statement."""
    if done:
        tx.execute(_FINISH, [{"eid": eid, "at": at, "result": dict(result or {})} for eid, at, result in done])


def retry_later(tx: Tx, effect_id: int, error: str, next_at: datetime, *, failed: bool = False) -> None:
    """Record a failed attempt: due again at ``next_at``, or ``failed`` for good (a person retries it)."""
    tx.execute(
        outbox.update()
        .where(outbox.c.id == effect_id)
        .values(status="failed" if failed else "pending", last_error=error, next_attempt_at=next_at)
    )


def requeue(tx: Tx, ids: list[int] | None) -> int:
    """Make failed (or given) effects pending again, due at once; None: every failed one.

    The tracking pushes that failed because their shipment's fulfillment push had
    failed go again with it.
    """
    if ids is not None:
        parents = tx.execute(
            sa.select(outbox.c.payload).where(outbox.c.id.in_(ids), outbox.c.kind == EffectKind.CHANNEL_PUSH_FULFILLMENT)
        ).scalars().all()
        shipment_ids = {p.get("shipment_id") for p in parents if isinstance(p, dict)}
        if shipment_ids:
            waiting = tx.execute(
                sa.select(outbox.c.id, outbox.c.payload)
                .where(outbox.c.status == "failed", outbox.c.kind == EffectKind.CHANNEL_PUSH_TRACKING)
            ).all()
            ids = [*ids, *(r.id for r in waiting if isinstance(r.payload, dict) and r.payload.get("shipment_id") in shipment_ids)]
    stmt = outbox.update().where(outbox.c.status != "done")
    stmt = stmt.where(outbox.c.status == "failed") if ids is None else stmt.where(outbox.c.id.in_(ids))
    return tx.execute(stmt.values(status="pending", next_attempt_at=outbox.c.created_at)).rowcount


def status_of(conn: Connection, key: str) -> sa.Row | None:
    """The status and last error of the effect with ``key`` (None: no such effect)."""
    return conn.execute(sa.select(outbox.c.status, outbox.c.last_error).where(outbox.c.key == key)).first()


#: A pending effect older than this is reported as stuck.
STUCK_AFTER = timedelta(days=1)


def stuck(conn: Connection, now: datetime) -> list[sa.Row]:
    """Effects that need a person: failed ones, and pending ones a day old or more."""
    return conn.execute(
        sa.select(outbox)
        .where(sa.or_(outbox.c.status == "failed",
                      sa.and_(outbox.c.status == "pending", outbox.c.created_at <= now - STUCK_AFTER)))
        .order_by(outbox.c.id)
    ).all()


def listing(conn: Connection, *, status: str | None = None, limit: int = 100) -> list[sa.Row]:
    stmt = sa.select(outbox)
    if status:
        stmt = stmt.where(outbox.c.status == status)
    return conn.execute(stmt.order_by(outbox.c.id.desc()).limit(limit)).all()


def existing_ids(conn: Connection, ids: list[int]) -> set[int]:
    """Those of ``ids`` that name an effect."""
    return set(conn.execute(sa.select(outbox.c.id).where(outbox.c.id.in_(ids))).scalars())


def count_by_status(conn: Connection) -> dict[str, int]:
    return {s: n for s, n in conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))}



def status_of_row(conn: Connection, key: str) -> sa.Row | None:
    """The id, status and attempts of the effect with ``key`` (None: no such effect)."""
    return conn.execute(sa.select(outbox.c.id, outbox.c.status, outbox.c.attempts).where(outbox.c.key == key)).first()


def of_keys(conn: Connection, keys: list[str]) -> list[sa.Row]:
    """The effects with these keys."""
    return list(conn.execute(sa.select(outbox).where(outbox.c.key.in_(keys)).order_by(outbox.c.id))) if keys else []


def backlog(conn: Connection) -> tuple[int, datetime | None]:
    """How many effects wait to be delivered, and when the oldest of them was written."""
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.status == "pending")
    ).one()
    return int(count), (outbox.c.created_at.type.process_result_value(oldest, conn.dialect)
                        if isinstance(oldest, str) else oldest)
