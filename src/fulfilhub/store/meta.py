"""Facts about the store itself: the time base of a store a scenario wrote.

A store written by a scenario (``fulfilhub demo``) lives on the scenario's clock: its
orders, promises and deliveries are in simulated time. :func:`set_time_base` records the
scenario's last time; :func:`now_of` is the moment such a store is judged at (``report``,
``doctor``), and :func:`refusal` says why the customer-facing jobs do not run against the
wall clock on it (its customers are simulated, and days later every promise would look
absurdly late).
"""

from __future__ import annotations

from datetime import datetime, timedelta
import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx, insert_ignore
from .schema import store_meta

TIME_BASE = "time_base"
#: How far past a scenario's last time a runtime's clock may be before the jobs refuse.
SLACK = timedelta(hours=6)


@attrs.frozen
class TimeBase:
    """The scenario that wrote the store and its last simulated time."""

    at: datetime
    scenario: str


def set_time_base(tx: Tx, at: datetime, scenario: str) -> None:
    """Record (or move on) the scenario's last time."""
    value = {"at": at.isoformat(), "scenario": scenario}
    if not insert_ignore(tx, store_meta, [{"key": TIME_BASE, "value": value, "updated_at": at}], ["key"]):
        tx.execute(store_meta.update().where(store_meta.c.key == TIME_BASE).values(value=value, updated_at=at))


def time_base(conn: Connection) -> TimeBase | None:
    """The store's time base, None for a store no scenario wrote."""
    row = conn.execute(sa.select(store_meta.c.value).where(store_meta.c.key == TIME_BASE)).first()
    if row is None or not isinstance(row.value, dict):
        return None
    return TimeBase(at=datetime.fromisoformat(row.value["at"]), scenario=str(row.value.get("scenario", "")))


def now_of(conn: Connection, wall: datetime) -> datetime:
    """The moment the store is judged at: its scenario's last time, else ``wall``."""
    base = time_base(conn)
    return base.at if base is not None else wall


def refusal(conn: Connection, now: datetime) -> str | None:
    """Why customer-facing work must not run at ``now`` on this store (None: it may)."""
    base = time_base(conn)
    if base is None or now <= base.at + SLACK:
        return None
    return (f"this store was written by the {base.scenario or 'a'} scenario, whose time ended at "
            f"{base.at:%Y-%m-%d %H:%M} UTC; its customers are simulated and {now:%Y-%m-%d %H:%M} UTC is "
            f"{(now - base.at).days} days later: nothing is assessed or told to them on this clock "
            f"(run the scenario again, e.g. `fulfilhub demo --workspace DIR --fresh`)")
