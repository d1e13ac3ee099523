"""SQLite: writers of one process queue for the write lock on a lock of their own (storage.db),
and give it back whatever becomes of their transaction: committed, rolled back by an error, or
lost with its connection. A writer that kept it would hold every other writer of the process
for the whole busy timeout (30 s)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import PendingRollbackError

from memoryos_server.errors import DatabaseUnavailable
from memoryos_server.storage import db as db_module
from memoryos_server.storage.db import Database

# Far below the 30 s a kept lock would cost the next writer, far above a write's few ms.
PATIENCE_S = 8.0


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield db
    db.engine.dispose()


def _write_elsewhere(database: Database, body: str) -> float:
    """A write from another thread; how long it took (fails if it did not finish in time)."""
    done: list[float] = []

    def write() -> None:
        started = time.monotonic()
        with database.session() as session:
            session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})
        done.append(time.monotonic() - started)

    # This thread keeps the connection the last writer used (the pool hands it back first), so
    # the write goes through another one and takes the lock afresh.
    with database.session(write=False) as reading:
        reading.execute(text("SELECT count(*) FROM notes"))
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        thread.join(PATIENCE_S)
    assert done, "a writer in another thread is still waiting for the write lock"
    return done[0]


def _bodies(database: Database) -> list[str]:
    with database.session(write=False) as session:
        return [row[0] for row in session.execute(text("SELECT body FROM notes ORDER BY id"))]


def test_the_lock_comes_back_after_a_commit_an_error_and_a_lost_connection(database: Database) -> None:
    with database.session() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('committed')"))
    _write_elsewhere(database, "after a commit")

    with pytest.raises(RuntimeError), database.session() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('rolled back')"))
        raise RuntimeError("the request failed")
    _write_elsewhere(database, "after a rollback")

    with pytest.raises(PendingRollbackError), database.session() as session:
        session.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        session.connection().invalidate()  # the connection dies mid-transaction: no commit
    _write_elsewhere(database, "after a lost connection")

    assert _bodies(database) == ["committed", "after a commit", "after a rollback", "after a lost connection"]


def test_a_waiting_writer_goes_in_once_the_holder_commits(database: Database) -> None:
    """The second writer waits while the first holds the lock (nothing of it is written before
    the first commits), then writes: in order, nothing lost, no "database is locked"."""
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with database.session() as session:
            session.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            holding.set()
            release.wait(PATIENCE_S)

    first = threading.Thread(target=hold, daemon=True)
    first.start()
    assert holding.wait(PATIENCE_S)
    waited: list[float] = []
    second = threading.Thread(target=lambda: waited.append(_write_elsewhere(database, "second")), daemon=True)
    second.start()
    time.sleep(0.3)
    assert not waited  # still behind the first writer
    release.set()
    first.join(PATIENCE_S)
    second.join(PATIENCE_S)
    assert waited and _bodies(database) == ["first", "second"]


def test_a_second_writer_in_the_same_thread_fails_at_once_and_the_first_goes_on(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write session opened inside another in the same thread can never have the lock (a
    mistake in the code that does it): it fails as SQLite itself would ("database is locked",
    a 503 to a client) after the writers' wait alone, not twice the busy timeout; the outer
    session still commits and gives the lock back."""
    monkeypatch.setattr(db_module, "WRITERS_WAIT_S", 0.2)
    with database.session() as outer:
        outer.execute(text("INSERT INTO notes (body) VALUES ('outer')"))
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable), database.session() as inner:
            inner.execute(text("INSERT INTO notes (body) VALUES ('inner')"))
        assert time.monotonic() - started < PATIENCE_S
    _write_elsewhere(database, "after")
    assert _bodies(database) == ["outer", "after"]


def test_writers_queued_for_the_lock_leave_readers_a_connection(database: Database) -> None:
    """Every waiting writer holds a connection: with more of them queued than the pool used to
    hold (15), a reader must still get one at once, and every writer gets through in the end."""
    holding, release = threading.Event(), threading.Event()
    queued = 20

    def hold() -> None:
        with database.session() as session:
            session.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            holding.set()
            release.wait(PATIENCE_S * 2)

    def write(n: int) -> None:
        with database.session() as session:
            session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"queued {n}"})

    first = threading.Thread(target=hold, daemon=True)
    first.start()
    assert holding.wait(PATIENCE_S)
    writers = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(queued)]
    for thread in writers:
        thread.start()
    time.sleep(0.5)  # all of them waiting for the lock, each on a connection of its own
    started = time.monotonic()
    read: list[int] = []
    reader = threading.Thread(target=lambda: read.append(len(_bodies(database))), daemon=True)
    reader.start()
    reader.join(PATIENCE_S)
    assert read == [0], "a reader waited for a connection behind the queued writers"
    assert time.monotonic() - started < PATIENCE_S
    release.set()
    for thread in [first, *writers]:
        thread.join(PATIENCE_S)
    assert len(_bodies(database)) == queued + 1
