"""Per-instance rate limits shared by every worker: a token bucket per instance, in the store.

Each bucket is one row (``name``, ``tokens``, ``updated_at``). :func:`take` refills the
bucket for the time gone by (``rate`` tokens a second, never above ``burst``) and takes
one token in a single locked statement, so any number of processes on any number of
machines draw from the same bucket. It answers how long the caller must wait when the
bucket is empty; the caller sleeps and asks again. Times are the database's own
(``clock_timestamp()``), so the workers' clocks need not agree.

The table is PostgreSQL's only (the embedded SQLite store runs one process and needs no
shared bucket); :func:`ensure` creates it when a worker starts.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import Tx

_metadata = sa.MetaData()

#: One token bucket per adapter instance (``"channels:shop_eu"``).
buckets = sa.Table(
    "fulfilhub_rate_buckets",
    _metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_TAKE = sa.text(
    """
    WITH refilled AS (
        SELECT name, LEAST(:burst, tokens + :rate * EXTRACT(EPOCH FROM clock_timestamp() - updated_at)) AS level
        FROM fulfilhub_rate_buckets WHERE name = :name FOR UPDATE
    )
    UPDATE fulfilhub_rate_buckets AS b
    SET tokens = r.level - CASE WHEN r.level >= 1 THEN 1 ELSE 0 END, updated_at = clock_timestamp()
    FROM refilled AS r WHERE b.name = r.name
    RETURNING r.level
    """
)
_CREATE = sa.text(
    "INSERT INTO fulfilhub_rate_buckets (name, tokens, updated_at) VALUES (:name, :burst, clock_timestamp()) "
    "ON CONFLICT (name) DO NOTHING"
)


def ensure(engine: Engine) -> None:
    """Create the bucket table if it is not there (PostgreSQL; a no-op elsewhere)."""
    if engine.dialect.name == "postgresql":
        _metadata.create_all(engine, checkfirst=True)


def take(tx: Tx, name: str, *, rate: float, burst: float) -> float:
    """Take one token from ``name``'s bucket: 0.0 when taken, else the seconds to wait.

    ``rate``: tokens added per second; ``burst``: the most the bucket holds (and the
    first calls' allowance). A refused call takes nothing.
    """
    if rate <= 0 or burst < 1:
        raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not rate={rate}, burst={burst}")
    params = {"name": name, "rate": float(rate), "burst": float(burst)}
    level = tx.execute(_TAKE, params).scalar()
    if level is None:  # the bucket's first use: a full bucket
        tx.execute(_CREATE, params)
        level = tx.execute(_TAKE, params).scalar()
    level = float(level)
    return 0.0 if level >= 1 else (1.0 - level) / rate
