"""Tracking tokens: the unguessable, per-order key of the customer's tracking page.

A token is 22 characters of ``secrets.token_urlsafe`` (128 random bits), made once per
order and kept; nothing about the order can be read from it, and no order can be found
by counting. The page's URL is ``[server] public_url`` + ``/t/`` + token.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import _insert_ignore
from .schema import tracking_tokens

if TYPE_CHECKING:
    from ..config import Config

#: What a token looks like; anything else is unknown without a lookup of its own.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")


def _conn(conn: Any) -> Connection:
    """A ``Connection`` from a connection or a :class:`~fulfilhub.store.Tx`."""
    return getattr(conn, "conn", conn)


def token_for(conn: Any, order_id: str) -> str:
    """The order's token, made on first use (a random one) and the same one after.

    ``conn`` must be able to write (``tx`` or ``tx.conn`` of :meth:`Store.transaction`).
    """
    conn = _conn(conn)
    found = conn.execute(sa.select(tracking_tokens.c.token).where(tracking_tokens.c.order_id == order_id)).scalar()
    if found is not None:
        return found
    token = secrets.token_urlsafe(16)
    try:
        with conn.begin_nested():
            conn.execute(tracking_tokens.insert().values(token=token, order_id=order_id,
                                                         created_at=datetime.now(timezone.utc)))
    except sa.exc.IntegrityError:  # another process made it meanwhile (PostgreSQL): that one counts
        return conn.execute(sa.select(tracking_tokens.c.token).where(tracking_tokens.c.order_id == order_id)).scalar_one()
    return token


def tokens_for(conn: Any, order_ids: Sequence[str]) -> dict[str, str]:
    """:func:`token_for` of many orders (each must exist): one read, and for those without
    a token one insert (that ignores a token another process made meanwhile) and one read again."""
    conn = _conn(conn)
    ids = list(dict.fromkeys(order_ids))
    out: dict[str, str] = {}

    def read(wanted: list[str]) -> None:
        for start in range(0, len(wanted), 500):
            rows = conn.execute(sa.select(tracking_tokens.c.order_id, tracking_tokens.c.token)
                                .where(tracking_tokens.c.order_id.in_(wanted[start:start + 500])))
            out.update((row.order_id, row.token) for row in rows)

    read(ids)
    missing = [i for i in ids if i not in out]
    if missing:
        at = datetime.now(timezone.utc)
        conn.execute(_insert_ignore(conn.dialect.name, tracking_tokens, ("order_id",)),
                     [{"token": secrets.token_urlsafe(16), "order_id": i, "created_at": at} for i in missing])
        read(missing)
    return out


def page_urls(config: Config, conn: Any, order_ids: Sequence[str]) -> dict[str, str]:
    """The customer's tracking page of each of ``order_ids`` (tokens made on first use);
    empty when the server has no ``public_url`` (there is no page to link)."""
    if not getattr(getattr(config, "server", None), "public_url", None):
        return {}
    return {order_id: page_url(config, token) for order_id, token in tokens_for(conn, order_ids).items()}


def order_for(conn: Any, token: str) -> str | None:
    """The order a token belongs to, or None (unknown, or not a token at all)."""
    probe = token if TOKEN_SHAPE.fullmatch(token or "") else "-" * 22  # still one lookup: the same time
    found = _conn(conn).execute(sa.select(tracking_tokens.c.order_id).where(tracking_tokens.c.token == probe)).scalar()
    return found if probe == token else None


def page_url(config: Config, token: str) -> str:
    return config.server.public_url.rstrip("/") + "/t/" + token


def tracking_page_url(config: Config, conn: Any, order_id: str) -> str:
    """The customer's tracking page of an order (its token made on first use)."""
    return page_url(config, token_for(conn, order_id))
