"""Quarantine: foreign payloads that failed to map, kept with the error until retried."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx, insert_ignore
from .schema import quarantine


def digest(source: str, payload: Any) -> str:
    blob = json.dumps([source, payload], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def keep(tx: Tx, source: str, kind: str, payload: Any, error: str, at: datetime) -> bool:
    """Keep a payload that failed to map; False when this exact payload is already there."""
    external_id = str(payload.get("id")) if isinstance(payload, Mapping) and payload.get("id") is not None else None
    row = {
        "digest": digest(source, payload),
        "source": source,
        "kind": kind,
        "external_id": external_id,
        "payload": payload,
        "error": error,
        "status": "open",
        "attempts": 1,
        "created_at": at,
    }
    return insert_ignore(tx, quarantine, [row], ["digest"]) == 1


def listing(conn: Connection, *, status: str | None = "open", limit: int = 100) -> list[sa.Row]:
    stmt = sa.select(quarantine)
    if status:
        stmt = stmt.where(quarantine.c.status == status)
    return conn.execute(stmt.order_by(quarantine.c.id).limit(limit)).all()


def row(conn: Connection, qid: int) -> sa.Row | None:
    return conn.execute(sa.select(quarantine).where(quarantine.c.id == qid)).first()


def resolve(tx: Tx, qid: int, at: datetime) -> None:
    tx.execute(quarantine.update().where(quarantine.c.id == qid).values(status="resolved", resolved_at=at))


def retry_failed(tx: Tx, qid: int, error: str) -> None:
    tx.execute(
        quarantine.update().where(quarantine.c.id == qid).values(error=error, attempts=quarantine.c.attempts + 1)
    )


def count_open(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).where(quarantine.c.status == "open")).scalar_one()
