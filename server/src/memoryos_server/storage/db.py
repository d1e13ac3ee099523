"""Engines and sessions. One session per request: it commits or rolls back as a whole."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from memoryos_server.errors import DatabaseUnavailable
from memoryos_server.storage.types import VectorDumper


def _normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = _normalise_url(url)
    # A database error's message would otherwise carry the statement's parameter values
    # (ciphertext, token hashes, email addresses) into the logs of the 500 it becomes.
    if url.startswith("sqlite"):
        database = make_url(url).database
        pool: dict[str, int] = {}
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_MAX_OVERFLOW}
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, hide_parameters=True, **pool)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, hide_parameters=True)
    _configure_postgres(engine)
    return engine


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.adapters.register_dumper(np.ndarray, VectorDumper)
        record.info[_LAST_USED] = time.monotonic()

    # A connection that sat idle in the pool is pinged before use, and replaced if the server
    # went away meanwhile (a restart, a failover). SQLAlchemy's pool_pre_ping pings at every
    # checkout: a round trip on every request under load, where a dead connection is met
    # anyway by the first statement, answered 503 and the whole pool renewed (Database.session).
    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as error:  # noqa: BLE001 — any failure: this connection is gone
            raise DisconnectionError() from error  # the pool drops it and connects afresh

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()


# SQLite's pool: a writer waiting its turn for the write lock holds a connection, so with
# SQLAlchemy's default pool (5 and 10 more) fifteen queued writers left readers waiting for a
# connection. A request holds one from its session's start to its commit, and the server runs
# at most 40 request handlers at once (AnyIO's thread limit, which a waiting writer also
# occupies); this is enough for all of them and the background worker: a request never waits
# for a connection, only a writer for the writers before it. A SQLite connection costs a file
# handle and its page cache (at most 2 MiB, filled as used); the ones beyond the first ten close
# when given back. (``pool_size`` sizes PostgreSQL's pool only.)
SQLITE_POOL_SIZE = 10
SQLITE_MAX_OVERFLOW = 54
# A pooled PostgreSQL connection unused for this long is pinged before it serves a request.
IDLE_PING_SECONDS = 5.0
_LAST_USED = "memoryos.last_used"


# How long a SQLite statement waits for the write lock; and how long an erasure's checkpoint
# waits for readers on older pages before the background worker takes over (release_deleted).
BUSY_TIMEOUT_MS = 30_000
RELEASE_WAIT_MS = 1_000
# The SQLite log's size between checkpoints (pages of 4 KiB: about 40 MiB), and the size the file
# is cut back to once a checkpoint has emptied it.
WAL_CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT = 64 << 20


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a killed process loses no committed transaction.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Copy the log back into the database every WAL_CHECKPOINT_PAGES pages, not SQLite's
        # 1,000: an add of 64 memories dirties several hundred pages (rows, postings, indexes),
        # so at 1,000 nearly every add paid for a checkpoint in its commit. Measured at 100k
        # memories, an add's work beside the embedding went from about 85 ms to 35-50 ms.
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        # A checkpoint that empties the log cuts the file back to this size.
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten with zeros, not left in free pages for anyone who reads
        # the file (an erased end-user's identifiers and ciphertext).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    # SQLite's own wait for the write lock polls: a writer that finds it taken sleeps 1, 2, 5,
    # … up to 100 ms between tries, so under a stream of writes one can keep losing the race
    # (adds waited up to seconds under a mixed load). Writers of this process queue on a lock
    # of their own instead, taken just before BEGIN IMMEDIATE and given back when the
    # connection returns to the pool, after its commit or rollback: the next in line starts as
    # soon as it is free. Writers in other processes still meet SQLite's wait. A writer that
    # cannot have it within the busy timeout fails as SQLite would have ("database is locked",
    # answered 503), without then waiting as long again for SQLite's own lock.
    writers = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock up front; upgrading a read transaction later can fail
        # with SQLITE_BUSY without waiting, which would turn contention into errors.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE" and not connection.info.get(_HOLDS_WRITERS_LOCK):
            if not writers.acquire(timeout=WRITERS_WAIT_S):
                raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
            connection.info[_HOLDS_WRITERS_LOCK] = True
        connection.exec_driver_sql(f"BEGIN {mode}")

    def give_back(_dbapi_connection: Any, record: Any, *_error: Any) -> None:
        if record is not None and record.info.pop(_HOLDS_WRITERS_LOCK, False):
            writers.release()

    # Back in the pool, or lost (its record's info is cleared after "invalidate"): either way, once.
    event.listen(engine, "checkin", give_back)
    event.listen(engine, "invalidate", give_back)


_HOLDS_WRITERS_LOCK = "memoryos.holds_writers_lock"
# How long a writer waits for the writers' lock of its process: SQLite's own busy timeout.
WRITERS_WAIT_S = BUSY_TIMEOUT_MS / 1000


# SQLite's operational errors that say the file cannot serve now; its others (no such table,
# say) are mistakes in a statement and stay errors.
_SQLITE_UNAVAILABLE = ("database or disk is full", "disk i/o error", "unable to open database", "database is locked")


def unavailable(error: BaseException, *, sqlite: bool) -> bool:
    """Whether ``error`` says the database cannot serve now (PostgreSQL down or restarting, a
    connection lost, the pool exhausted, SQLite's disk full) rather than that a statement is
    wrong: such a request is answered 503 with ``Retry-After``, and nothing was changed."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if sqlite:
        return isinstance(error, OperationalError) and any(part in str(error.orig).lower() for part in _SQLITE_UNAVAILABLE)
    return isinstance(error, OperationalError | InterfaceError)


_AFTER_COMMIT = "memoryos.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once this session's transaction has committed (never if it rolls back).

    For work that must not hold the transaction open (an email through SMTP, say) and must
    not happen for a change that was undone.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Database:
    """The engine plus two session factories: read (deferred) and write (immediate on SQLite)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = _normalise_url(url)
        self.engine = create_db_engine(self.url, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        # An erasure's log not yet emptied (release_deleted): the background worker retries.
        # True from the start on SQLite: an erasure before a crash or restart may have left it.
        self.release_pending = self.is_sqlite
        self._release_lock = threading.Lock()
        self._release_failures = 0
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._write = sessionmaker(writer, expire_on_commit=False, autoflush=True)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises. Callbacks
        registered with ``after_commit`` run once the commit has succeeded."""
        factory = self._write if write else self._read
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException as error:
            self._roll_back(session)
            if unavailable(error, sqlite=self.is_sqlite):
                raise DatabaseUnavailable("the database does not answer; nothing was changed, try again shortly") from error
            raise
        finally:
            callbacks = session.info.pop(_AFTER_COMMIT, [])
            session.close()
        for callback in callbacks:
            callback()

    def release_deleted(self, *, wait_ms: int = RELEASE_WAIT_MS) -> bool:
        """After an erasure on SQLite: copy the write-ahead log into the database file and empty
        it (``wal_checkpoint(TRUNCATE)``). The WAL keeps whole pages as they were written, so
        until then the erased rows' bytes would still be in the ``-wal`` file; in the database
        file ``secure_delete`` has zeroed them. A reader still on older pages keeps the log
        from being emptied: the checkpoint waits for it up to ``wait_ms`` (holding the write
        lock meanwhile), then returns False and leaves ``release_pending`` set, and the
        background worker tries again (``retry_release``) until it succeeds. PostgreSQL: no-op.
        """
        if not self.is_sqlite:
            return True
        with self._release_lock:
            failures_before = self._release_failures
        # The DB-API connection itself: no transaction is begun around the checkpoint (one
        # open on this connection would keep it from finishing).
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout={wait_ms}")
            try:
                busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            raw.close()
        with self._release_lock:
            if busy:
                self._release_failures += 1
                self.release_pending = True
            elif self._release_failures == failures_before:
                # Nothing failed since this attempt began: whatever any erasure left is out.
                self.release_pending = False
        return not busy

    def retry_release(self) -> None:
        """The background worker's step: empty the log an erasure could not empty. It does not
        wait for readers (the write lock is held while it waits: adds would stall behind it)."""
        if self.release_pending:
            self.release_deleted(wait_ms=0)

    def _roll_back(self, session: Session) -> None:
        try:
            session.rollback()
        except DBAPIError as error:
            # The connection is gone (the server restarted): there is nothing to roll back, and
            # the pool drops it. Any other failure is the caller's to see.
            if not unavailable(error, sqlite=self.is_sqlite):
                raise

    def dispose(self) -> None:
        self.engine.dispose()
