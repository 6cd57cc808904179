"""Carrier choices, one row per choice of a shipment (append-only), and why.

A shipment normally has one; a label purchase that failed on the chosen carrier marks
that row ``failed`` and the shipment is chosen again (another row), so the rows of a
shipment tell its failover in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx
from .schema import rate_choices


def add(tx: Tx, shipment_id: str, order_id: str, at: datetime, detail: Mapping[str, Any]) -> None:
    """Record one choice (``detail`` as :func:`fulfilhub.engines.choice.record` makes it)."""
    tx.execute(rate_choices.insert().values(shipment_id=shipment_id, order_id=order_id, chosen_at=at,
                                            carrier=str(detail.get("carrier", "")),
                                            reason=str(detail.get("reason", "")), detail=dict(detail)))


def fail_last(tx: Tx, shipment_id: str, why: str) -> None:
    """Mark the shipment's latest choice as failed at the label purchase (``why``)."""
    last = tx.conn.execute(sa.select(sa.func.max(rate_choices.c.id))
                           .where(rate_choices.c.shipment_id == shipment_id)).scalar()
    if last is not None:
        tx.execute(rate_choices.update().where(rate_choices.c.id == last).values(failed=why))


def of_shipment(conn: Connection, shipment_id: str) -> list[dict[str, Any]]:
    """The shipment's choices, first first, each its detail with ``failed`` and ``chosen_at``."""
    rows = conn.execute(sa.select(rate_choices).where(rate_choices.c.shipment_id == shipment_id)
                        .order_by(rate_choices.c.id)).all()
    return [{**(r.detail or {}), "failed": r.failed, "chosen_at": r.chosen_at.isoformat()} for r in rows]


def failures(conn: Connection, shipment_id: str) -> int:
    """How many of the shipment's choices failed at the label purchase."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(rate_choices)
                            .where(rate_choices.c.shipment_id == shipment_id, rate_choices.c.failed.is_not(None)))
               .scalar() or 0)


def failed_carriers(conn: Connection, shipment_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each shipment, the carriers whose label purchase failed for it, with why."""
    ids = list(shipment_ids)
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(rate_choices.c.shipment_id, rate_choices.c.carrier, rate_choices.c.failed)
                            .where(rate_choices.c.shipment_id.in_(ids[start:start + 500]),
                                   rate_choices.c.failed.is_not(None))
                            .order_by(rate_choices.c.id)).all()
        for r in rows:
            out[r.shipment_id][r.carrier] = r.failed
    return dict(out)


def every(conn: Connection) -> list[dict[str, Any]]:
    """Every choice (the demo's comparison of policies), oldest first."""
    rows = conn.execute(sa.select(rate_choices).order_by(rate_choices.c.id)).all()
    return [{**(r.detail or {}), "shipment_id": r.shipment_id, "order_id": r.order_id, "failed": r.failed,
             "chosen_at": r.chosen_at.isoformat()} for r in rows]
