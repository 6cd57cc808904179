"""Cursors: where each channel's incremental pull stands, saved with the page it covers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx
from .schema import cursors


def get(conn: Connection, channel: str, stream: str = "orders") -> str | None:
    return conn.execute(
        sa.select(cursors.c.value).where(cursors.c.channel == channel, cursors.c.stream == stream)
    ).scalar()


def save(tx: Tx, channel: str, value: str | None, at: datetime, stream: str = "orders") -> None:
    updated = tx.execute(
        cursors.update().where(cursors.c.channel == channel, cursors.c.stream == stream).values(value=value, updated_at=at)
    )
    if updated.rowcount == 0:
        tx.execute(cursors.insert().values(channel=channel, stream=stream, value=value, updated_at=at))


def last_moved(conn: Connection) -> list[tuple[str, datetime]]:
    """When each channel's cursors last moved: ``[(channel, updated_at)]``."""
    rows = conn.execute(sa.select(cursors.c.channel, sa.func.max(cursors.c.updated_at)).group_by(cursors.c.channel))
    stamp = cursors.c.updated_at.type
    return [(channel, stamp.process_result_value(at, conn.dialect) if isinstance(at, str) else at)
            for channel, at in rows]
