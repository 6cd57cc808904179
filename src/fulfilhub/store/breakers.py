"""Each instance's circuit breaker as the runner last saw it (``fulfilhub jobs``, ``doctor``).

Kept in ``plugin_state`` under a namespace no instance can have (``fulfilhub:breakers``),
one key per instance (``"carriers.easypost"``), so no migration is needed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Tx
from .ports import dump
from .schema import plugin_state

NAMESPACE = "fulfilhub:breakers"


def save(tx: Tx, states: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
    """Replace the saved state of each instance in ``states`` (``"kind.name"`` -> snapshot)."""
    for key, state in states.items():
        tx.execute(plugin_state.delete().where(plugin_state.c.namespace == NAMESPACE, plugin_state.c.key == key))
        tx.execute(plugin_state.insert().values(namespace=NAMESPACE, key=key, value=dump(dict(state)), updated_at=now))


def load(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every saved breaker, by ``"kind.name"``, with ``saved_at`` added."""
    rows = conn.execute(
        sa.select(plugin_state.c.key, plugin_state.c.value, plugin_state.c.updated_at)
        .where(plugin_state.c.namespace == NAMESPACE).order_by(plugin_state.c.key)
    ).all()
    return {row.key: {**json.loads(row.value), "saved_at": row.updated_at} for row in rows}


def open_now(conn: Connection) -> dict[str, dict[str, Any]]:
    """The saved breakers that were open (or half-open) when last saved."""
    return {key: state for key, state in load(conn).items() if state.get("state") != "closed"}
