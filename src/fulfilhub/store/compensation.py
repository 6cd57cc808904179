"""Compensations and their ledger, and the budget each period may spend.

``compensations`` holds one row per tier a delay incident reached; its key
(``compensation:<order id>:<tier>``) is unique, so one tier is never given twice, even by
two runners at once. Every proposal, decision and issuance is appended to
``compensation_ledger`` with its amount and reason. A period's budget is reserved by
one conditional UPDATE (``spent + amount <= limit``), which no two writers can both
pass, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import CompensationProposal, Money
from . import Tx, insert_ignore
from .schema import compensation_budgets, compensation_ledger, compensations

#: Statuses that count as given (or about to be): what a top-up is measured against.
GIVEN = ("pending_approval", "approved", "issued")
#: Statuses that spent budget.
SPENT = ("approved", "issued")


def key_of(order_id: str, tier: str) -> str:
    return f"compensation:{order_id}:{tier}"


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def add(tx: Tx, *, order_id: str, assessment_id: int | None, proposal: CompensationProposal, amount: Money,
        status: str, period: str, at: datetime, note: str) -> int | None:
    """Record a proposal (its ledger line too); None when this tier of this order exists already."""
    row = {
        "key": key_of(order_id, proposal.tier), "order_id": order_id, "assessment_id": assessment_id,
        "policy": proposal.policy, "tier": proposal.tier, "kind": str(proposal.kind), "amount": amount.amount,
        "tier_value": proposal.value.amount, "currency": amount.currency, "percent": proposal.percent,
        "points": proposal.points, "months": proposal.months, "reason": proposal.reason, "status": status,
        "period": period, "code": "", "channel_ref": "", "created_at": at, "decided_by": "",
    }
    if insert_ignore(tx, compensations, [row], ["key"]) != 1:
        return None
    comp_id = tx.execute(sa.select(compensations.c.id).where(compensations.c.key == row["key"])).scalar_one()
    log(tx, comp_id, "proposed", proposal.policy, amount, at, note or proposal.reason)
    return comp_id


def log(tx: Tx, comp_id: int, action: str, actor: str, amount: Money, at: datetime, note: str = "") -> None:
    tx.execute(compensation_ledger.insert().values(compensation_id=comp_id, at=at, action=action, actor=actor,
                                                   amount=amount.amount, currency=amount.currency, note=note))


def decide(tx: Tx, comp_id: int, status: str, *, actor: str, at: datetime, note: str = "",
           period: str | None = None) -> None:
    """Move a compensation to ``status`` (approved, rejected, over_budget, pending_approval) with a ledger line.

    ``period``: the budget period it is counted in (the one its approval spent from).
    """
    values: dict[str, Any] = {"status": status, "decided_at": at, "decided_by": actor}
    if period is not None:
        values["period"] = period
    tx.execute(compensations.update().where(compensations.c.id == comp_id).values(**values))
    row = get(tx.conn, str(comp_id))
    log(tx, comp_id, status, actor, Money(amount=row.amount, currency=row.currency), at, note)


def issued(tx: Tx, comp_id: int, *, at: datetime, code: str, channel_ref: str, actor: str, note: str = "") -> None:
    tx.execute(compensations.update().where(compensations.c.id == comp_id)
               .values(status="issued", issued_at=at, code=code, channel_ref=channel_ref))
    row = get(tx.conn, str(comp_id))
    log(tx, comp_id, "issued", actor, Money(amount=row.amount, currency=row.currency), at, note)


def failed(tx: Tx, comp_id: int, *, at: datetime, actor: str, note: str) -> None:
    tx.execute(compensations.update().where(compensations.c.id == comp_id).values(status="failed"))
    row = get(tx.conn, str(comp_id))
    log(tx, comp_id, "failed", actor, Money(amount=row.amount, currency=row.currency), at, note)


def get(conn: Connection, ref: str) -> Any | None:
    """The compensation with id or key ``ref``."""
    cond = compensations.c.id == int(ref) if ref.isdigit() else compensations.c.key == ref
    return conn.execute(sa.select(compensations).where(cond)).first()


def for_order(conn: Connection, order_id: str) -> list[Any]:
    return list(conn.execute(sa.select(compensations).where(compensations.c.order_id == order_id)
                             .order_by(compensations.c.id)))


def for_orders(conn: Connection, order_ids: Sequence[str]) -> dict[str, list[Any]]:
    """:func:`for_order` of each of ``order_ids`` in one query (those with none are absent)."""
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, list[Any]] = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(sa.select(compensations).where(compensations.c.order_id.in_(ids[start:start + 500]))
                                .order_by(compensations.c.id)):
            out.setdefault(row.order_id, []).append(row)
    return out


def ledger(conn: Connection, comp_id: int) -> list[Any]:
    return list(conn.execute(sa.select(compensation_ledger).where(compensation_ledger.c.compensation_id == comp_id)
                             .order_by(compensation_ledger.c.id)))


def listing(conn: Connection, *, status: str | None = None, order_id: str | None = None, limit: int = 100) -> list[Any]:
    stmt = sa.select(compensations)
    if status:
        stmt = stmt.where(compensations.c.status == status)
    if order_id:
        stmt = stmt.where(compensations.c.order_id == order_id)
    return list(conn.execute(stmt.order_by(compensations.c.id.desc()).limit(limit)))


def totals(conn: Connection, statuses: Sequence[str] = SPENT) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """``{(period, currency): (count, amount)}`` of the compensations in ``statuses``."""
    rows = conn.execute(sa.select(compensations.c.period, compensations.c.currency, compensations.c.amount)
                        .where(compensations.c.status.in_(list(statuses))))
    out: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for period, currency, amount in rows:
        count, total = out.get((period, currency), (0, Decimal(0)))
        out[(period, currency)] = (count + 1, total + amount)
    return out


# --------------------------------------------------------------------------- budget


def reserve(tx: Tx, *, period: str, amount: Money, limit: Money, at: datetime) -> bool:
    """Spend ``amount`` of the period's budget if it fits under ``limit``; False (nothing spent) if not.

    One conditional UPDATE: two writers cannot both pass it, whatever their isolation.
    """
    insert_ignore(tx, compensation_budgets, [{"period": period, "currency": amount.currency,
                                              "limit_cents": cents(limit.amount), "spent_cents": 0,
                                              "updated_at": at}], ["period", "currency"])
    want, cap = cents(amount.amount), cents(limit.amount)
    table = compensation_budgets
    result = tx.execute(
        table.update()
        .where(table.c.period == period, table.c.currency == amount.currency, table.c.spent_cents + want <= cap)
        .values(spent_cents=table.c.spent_cents + want, limit_cents=cap, updated_at=at)
    )
    return result.rowcount == 1


def release(tx: Tx, *, period: str, amount: Money, at: datetime) -> None:
    """Give back what :func:`reserve` spent (a compensation that could not be issued)."""
    table = compensation_budgets
    tx.execute(table.update().where(table.c.period == period, table.c.currency == amount.currency)
               .values(spent_cents=table.c.spent_cents - cents(amount.amount), updated_at=at))


def spent(conn: Connection, period: str, currency: str) -> tuple[Decimal, Decimal | None]:
    """``(spent, limit)`` of a period's budget in ``currency`` (limit None: nothing reserved yet)."""
    row = conn.execute(sa.select(compensation_budgets).where(compensation_budgets.c.period == period,
                                                            compensation_budgets.c.currency == currency)).first()
    if row is None:
        return Decimal(0), None
    return Decimal(row.spent_cents) / 100, Decimal(row.limit_cents) / 100


def in_window(conn: Connection, since: datetime | None, until: datetime) -> list[Any]:
    """Compensations decided (or, for those still waiting, proposed) in ``[since, until)``."""
    when = sa.func.coalesce(compensations.c.decided_at, compensations.c.created_at)
    stmt = sa.select(compensations).where(when < until)
    if since is not None:
        stmt = stmt.where(when >= since)
    return list(conn.execute(stmt.order_by(compensations.c.id)))


def budgets(conn: Connection) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """``{(period, currency): (spent, limit)}`` of every period a budget was reserved in."""
    return {(r.period, r.currency): (Decimal(r.spent_cents) / 100, Decimal(r.limit_cents) / 100)
            for r in conn.execute(sa.select(compensation_budgets))}
