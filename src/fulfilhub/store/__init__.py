"""Persistence: the engine, transactions and migrations.

SQLite (WAL) is the default: every write transaction starts with ``BEGIN IMMEDIATE``, so
writers run one at a time and never deadlock upgrading a read lock, while reads through
:meth:`Store.read` start a plain deferred transaction that reads a consistent snapshot
without taking the write lock. A PostgreSQL URL works unchanged. The schema is created
by Alembic migrations (``fulfilhub db upgrade``); :meth:`Store.open` refuses a database
that is not migrated.

This module owns connections. Reads and writes live by aggregate, each in its own
module: ``orders``, ``shipments``, ``outbox``, ``stock``, ``quarantine``, ``cursors``.
Only the store imports SQLAlchemy: other rooms name a read connection ``store.Connection``
in their type hints, and the database's errors leave a transaction or a read as
:class:`~fulfilhub.errors.StoreError` (:func:`translated`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sqlalchemy.dialects import postgresql, sqlite

from ..errors import StoreError
from . import schema

log = logging.getLogger("fulfilhub.store")

MIGRATIONS = Path(__file__).with_name("migrations")


class Tx:
    """One open transaction. ``after_commit`` callbacks run once it has committed.

    A job that writes a batch of orders in one transaction may :meth:`gather_appends`:
    rows appended to an append-only table (``order_events``, a new shipment's lines, its
    reservations, and ``outbox`` rows whose key is new) are then kept and inserted together, in the order appended, in one
    statement per table just before the commit (or at :meth:`flush`); nothing in such a
    transaction may read them back before that.
    """

    def __init__(self, conn: Connection):
        self.conn = conn
        self.after_commit: list[Callable[[], None]] = []
        #: ``{(table, keys): rows}`` gathered; None: each written at once. With ``keys``, a row
        #: whose keys exist is skipped.
        self.appends: dict[tuple[sa.Table, tuple[str, ...]], list[Mapping[str, Any]]] | None = None

    def execute(self, statement: Any, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    def savepoint(self) -> Any:
        """A nested transaction (``with tx.savepoint(): ...``): what is written inside is undone
        alone when the block raises, and the transaction goes on."""
        return self.conn.begin_nested()

    def gather_appends(self) -> None:
        """From now on, keep appended rows for one insert per table at commit."""
        if self.appends is None:
            self.appends = {}

    def append(self, table: sa.Table, rows: Sequence[Mapping[str, Any]], *, unless: Sequence[str] = ()) -> None:
        """Insert ``rows`` into the append-only ``table`` (``unless``: skipping those whose
        ``unless`` columns exist): at once, or gathered (see :meth:`gather_appends`)."""
        if not rows:
            return
        if self.appends is None:
            if unless:
                insert_ignore(self, table, rows, unless)
            else:
                self.conn.execute(table.insert(), list(rows))
        else:
            self.appends.setdefault((table, tuple(unless)), []).extend(rows)

    def flush(self) -> None:
        """Insert the gathered rows now (one statement per table)."""
        if self.appends:
            gathered, self.appends = self.appends, {}
            for (table, unless), rows in gathered.items():
                if unless:
                    self.conn.execute(_insert_ignore(self.conn.dialect.name, table, unless), rows)
                else:
                    self.conn.execute(table.insert(), rows)


def insert_ignore(tx: Tx, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> int:
    """Insert rows, skipping those whose ``keys`` already exist; return how many went in."""
    if not rows:
        return 0
    if len(rows) == 1:  # counted by what RETURNING gives back: psycopg reports no rowcount here (-1)
        one = _insert_ignore(tx.conn.dialect.name, table, tuple(keys), returning=True)
        return len(tx.conn.execute(one, dict(rows[0])).all())
    result = tx.conn.execute(_insert_ignore(tx.conn.dialect.name, table, tuple(keys)), list(rows))
    return max(result.rowcount, 0)


@functools.lru_cache(maxsize=64)
def _insert_ignore(dialect: str, table: sa.Table, keys: tuple[str, ...], *, returning: bool = False) -> Any:
    """The statement, built once per dialect, table and key (building it costs more than running it)."""
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        statement = insert.on_conflict_do_nothing(index_elements=list(keys))
        return statement.returning(*(table.c[k] for k in keys)) if returning else statement
    raise StoreError(f"fulfilhub's store runs on SQLite and PostgreSQL, not on {dialect}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


READ_ONLY = "fulfilhub_read_only"


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with fulfilhub's SQLite settings applied where relevant."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"store url {safe_url(url)} is not a database URL ({type(exc).__name__})") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            parent = Path(database).expanduser().resolve().parent
            if not parent.is_dir():
                raise StoreError(f"store url {url!r}: folder {parent} does not exist")
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise StoreError(f"store url {safe_url(url)}: database driver not installed ({exc})") from None


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> str:
    """Apply migrations up to ``revision``; return the revision the database is at."""
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return current_revision(engine) or ""
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every schema revision this fulfilhub knows, oldest first."""
    from alembic.script import ScriptDirectory

    return [r.revision for r in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()][::-1]


def plan(url: str, revision: str) -> tuple[str | None, str, int]:
    """Where a move to ``revision`` goes from the store's current one: ``(current, target, step)``.

    ``step`` is 1 to upgrade, -1 to downgrade, 0 when already there. ``revision`` may be a
    known revision or ``head``; anything else raises ValueError naming the known ones.
    """
    known = revisions()
    target = known[-1] if revision == "head" else revision
    if target not in known:
        raise ValueError(f"no schema revision {revision!r}; known: {', '.join(known)} (or head)")
    engine = create_engine(url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    at = known.index(current) if current in known else -1
    wanted = known.index(target)
    return current, target, (wanted > at) - (wanted < at)


def downgrade(url: str, revision: str) -> str:
    """Undo migrations down to ``revision`` (dropping what they added); the revision it is at."""
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
        return current_revision(engine) or ""
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:  # read-only: on SQLite a plain BEGIN, never waiting on a writer (/healthz)
        return MigrationContext.configure(conn.execution_options(**{READ_ONLY: True})).get_current_revision()


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """The database's own exceptions (SQLAlchemy's, the driver's) as :class:`StoreError`.

    Only the store imports SQLAlchemy: what leaves a transaction or a read is a
    fulfilhub error whose message is the database's first line, with the original as
    ``__cause__`` (shown at ``-vv``).
    """
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise StoreError(f"store: {first}") from exc


class Store:
    """fulfilhub's database. ``with store.transaction() as tx: ...``."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str, *, migrate: bool = False) -> Store:
        """Open the store at ``url``; with ``migrate``, bring the schema up to date first.

        Without it, a database whose schema is behind raises StoreError saying to run
        ``fulfilhub db upgrade``.
        """
        if migrate:
            upgrade(url)
        engine = create_engine(url)
        if not migrate:
            _refuse_missing_sqlite_file(url)
        try:
            current = current_revision(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError(f"cannot open store {safe_url(url)}: {exc.orig}") from None
        head = head_revision()
        if current != head:
            engine.dispose()
            raise StoreError(
                f"store {safe_url(url)} is at schema revision {current or 'none'}, "
                f"this fulfilhub needs {head}: run `fulfilhub db upgrade`"
            )
        return cls(engine, url)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction; the database's own errors leave it as StoreError."""
        with translated():
            with self.engine.begin() as conn:
                tx = Tx(conn)
                yield tx
                tx.flush()
        for callback in tx.after_commit:
            try:
                callback()
            except Exception:  # an event hook must not undo committed work
                log.exception("after-commit callback failed")

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (a snapshot; on SQLite without the write lock)."""
        with translated(), self.engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            yield conn

    def ping(self) -> str | None:
        """Reach the database on a read-only connection (never the SQLite write lock) and
        answer its schema revision (None before the first migration); the database's
        errors leave as StoreError. What ``/healthz`` asks."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        with translated():
            return current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _refuse_missing_sqlite_file(url: str) -> None:
    """A mistyped SQLite path must not silently create an empty database."""
    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not Path(database).exists():
        raise StoreError(f"store {safe_url(url)} does not exist: run `fulfilhub db upgrade` to create it")


def safe_url(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid url>"


__all__ = ["Store", "Tx", "create_engine", "head_revision", "insert_ignore", "safe_url", "schema", "upgrade"]


def database_error(exc: BaseException, *, operational: bool = False) -> str | None:
    """The first line of what the database said when ``exc`` is its own error (unreachable,
    locked, refused); None for any other exception (with ``operational``: for any but
    the database being unreachable, refusing or locked). Callers above the store use
    this, so that SQLAlchemy is imported under ``store/`` alone."""
    if not isinstance(exc, sa.exc.OperationalError if operational else sa.exc.SQLAlchemyError):
        return None
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
