"""Engine set-up per database.

SQLite through Python's sqlite3 needs help to behave transactionally: the driver
issues its own BEGIN lazily and a RELEASE of an outer SAVEPOINT commits, which would
break "signature and its email in one transaction". So we turn the driver's handling
off and emit BEGIN ourselves (SQLAlchemy's documented recipe). Writes take the lock at
BEGIN (IMMEDIATE), because a deferred transaction that read first and writes later
fails at once under WAL when another writer got in between; read-only requests (GET,
HEAD) keep deferred transactions so page views never wait for a writer.

Erasure on SQLite: a deleted row stays readable in the database file's free space and in
the write-ahead log (`petition.db-wal`) until both are overwritten. So every connection
sets `secure_delete` (SQLite zeroes what it deletes) and, after personal data was
deleted, the workers' loop runs a TRUNCATE checkpoint: the zeroed pages go into the main
file and the log is emptied, within CHECKPOINT_SPACING (plus one loop turn) of the
deletion. On PostgreSQL a deleted row stays in its table's file as a dead tuple until
VACUUM reclaims it (autovacuum, or the `privacy vacuum` command); see README.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import click
from flask import Flask, request
from sqlalchemy import Connection, Engine, event, exc, inspect
from sqlalchemy.orm import Session

from petition.extensions import db

_writing_request: ContextVar[bool] = ContextVar("petition_writing_request", default=False)
log = logging.getLogger("petition.database")

# Tables whose deleted rows held personal data: a DELETE on one of them asks for a
# checkpoint (the outbox's rows are Fernet tokens and are deleted all day by the sender).
ERASABLE_TABLES = ("signatures", "organisations")
CHECKPOINT_SPACING = 45.0  # seconds between two TRUNCATE checkpoints, at most
CHECKPOINT_BUSY_MS = 1000  # how long a checkpoint waits for readers before trying later


class _Erasure:
    """Whether personal data was deleted since the last checkpoint (per process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = False
        self.last_checkpoint = float("-inf")


_erasure = _Erasure()


def erased() -> None:
    """Record that personal data was deleted or overwritten: the next checkpoint_if_erased
    empties the write-ahead log."""
    _erasure.pending = True


def checkpoint_if_erased(engine, *, force: bool = False) -> bool:
    """On SQLite, if personal data was deleted (and CHECKPOINT_SPACING has passed since the
    last checkpoint, unless force), copy the write-ahead log into the database and
    truncate it to zero bytes. Returns whether a checkpoint completed. Elsewhere a no-op."""
    if engine.dialect.name != "sqlite" or ":memory:" in str(engine.url):
        return False
    with _erasure.lock:
        if not _erasure.pending and not force:
            return False
        if not force and time.monotonic() - _erasure.last_checkpoint < CHECKPOINT_SPACING:
            return False
        try:
            with engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                raw.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
                try:
                    busy, _frames, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    raw.execute("PRAGMA busy_timeout=30000")
        except Exception:  # noqa: BLE001 - a busy or missing file: try at the next turn
            log.warning("write-ahead log checkpoint failed; will try again")
            return False
        if busy:  # a reader or writer held on: the log is not empty yet
            return False
        _erasure.pending = False
        _erasure.last_checkpoint = time.monotonic()
        return True


def reclaim_erased(engine) -> str:
    """After an erasure or a purge (the privacy commands): on SQLite a TRUNCATE checkpoint
    now; on PostgreSQL a VACUUM of the tables that held personal data, so their dead
    tuples are pruned from the pages rather than kept until autovacuum's threshold (20 %
    of a table's rows) is reached. Returns what it did, for the command's output."""
    if engine.dialect.name == "sqlite":
        erased()
        done = checkpoint_if_erased(engine, force=True)
        return "write-ahead log checkpointed and emptied" if done else "checkpoint busy: the workers will retry"
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM " + ", ".join(ERASABLE_TABLES))
        return "vacuumed " + ", ".join(ERASABLE_TABLES)
    return ""


@contextmanager
def writing():
    """Outside a request: transactions begun inside take the write lock at BEGIN (on
    SQLite; elsewhere it changes nothing). For short read-then-write work in workers."""
    token = _writing_request.set(True)
    try:
        yield
    finally:
        _writing_request.reset(token)


@contextmanager
def autocommit(session_or_engine) -> Iterator[Connection]:
    """A pooled connection on which, on PostgreSQL, every statement is a transaction of
    its own.

    For the busiest requests of a surge, which read one row or write with one statement
    that is atomic by itself: on PostgreSQL a transaction around that costs a BEGIN and a
    COMMIT or ROLLBACK round trip, and the ORM session's bookkeeping for it costs more CPU
    than the statement. On SQLite (local, no round trips) the connection keeps the
    transaction recipe below and is rolled back at the end: there it is for reads only,
    and writes go through the session. Takes the session (or engine) whose database is
    meant."""
    engine = session_or_engine if isinstance(session_or_engine, Engine) else session_or_engine.get_bind()
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            # Not on SQLite: resetting the level at check-in would switch pysqlite's own
            # transaction handling back on, which the recipe below turns off.
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def single_statement_writes(session: Session) -> bool:
    """Whether the database can write several rows in one statement (data-modifying
    WITH clauses): PostgreSQL can, SQLite cannot."""
    return session.get_bind().dialect.name == "postgresql"


IDLE_BEFORE_PING_SECONDS = 10.0


def ping_idle_connections(engine, idle_seconds: float = IDLE_BEFORE_PING_SECONDS) -> None:
    """Check a pooled connection before use only if it sat idle for a while.

    A connection idle in the pool is the one a database restart or a proxy's idle
    timeout may have closed; one used a moment ago is alive. SQLAlchemy's pool_pre_ping
    would ping on every checkout: a round trip per request, paid most under a surge,
    when no connection is ever idle. A dead connection is replaced before the request
    sees it (the pool retries on DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:  # noqa: BLE001  any failure: throw this connection away
            raise exc.DisconnectionError() from error


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _end_transaction(_exc):
        # A request never leaves a transaction open behind it, even where the app context
        # (and so the session) outlives the request, as in tests and CLI-driven requests.
        # Views commit what they mean to keep; anything else is rolled back here.
        # A request that never touched the session (the busiest pages read through
        # autocommit() or caches) has none to roll back, and none is made for it.
        if db.session.registry.has():
            db.session.rollback()

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        ping_idle_connections(engine)
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(_conn, _cursor, statement, _parameters, _context, _executemany):
        # "DELETE FROM signatures ..." (ORM and Core alike): a few string operations.
        if statement[:7] in ("DELETE ", "delete ") and statement[12:].split(" ", 1)[0] in ERASABLE_TABLES:
            _erasure.pending = True

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing_request.get() else "BEGIN")

    @app.before_request
    def _mark_writing():
        # Console pages write the audit log even on GET (who looked at which
        # signatures), so they take the write lock at BEGIN too: a deferred read that
        # then writes fails at once if the outbox sender wrote in between.
        _writing_request.set(request.method not in ("GET", "HEAD", "OPTIONS") or request.blueprint == "console")

    @app.teardown_request
    def _clear_writing(_exc):
        _writing_request.set(False)


UPGRADE_COMMAND = "flask --app wsgi db upgrade"


def missing_tables(engine: Engine) -> list[str]:
    """The models' tables that the database lacks: all of them before `db upgrade`, the
    new ones when the code is newer than the schema."""
    present = set(inspect(engine).get_table_names())
    return sorted(set(db.metadata.tables) - present)


def require_schema() -> None:
    """For the worker commands an operator starts on their own (`outbox work`, `jobs
    work`, ...): without a schema their loops would log a traceback every poll, so they
    say once what to run and exit with click's usage-error status instead."""
    missing = missing_tables(db.engine)
    if missing:
        raise click.ClickException(
            f"the database has no schema yet ({len(missing)} tables missing): run `{UPGRADE_COMMAND}` first")
