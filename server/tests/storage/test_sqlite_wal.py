"""SPEC §2: the embedded SQLite database runs in WAL mode (readers never wait for the writer)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.db import WAL_CHECKPOINT_PAGES
from tests.fixtures import databases


def test_the_sqlite_database_runs_in_wal_mode(test_database: databases.TestDatabase, runtime: Runtime, client) -> None:  # type: ignore[no-untyped-def]
    if test_database.backend != "sqlite":
        pytest.skip("WAL is SQLite's journal mode; PostgreSQL has its own write-ahead log")
    with runtime.db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL: safe in WAL mode
        # Checkpoints every WAL_CHECKPOINT_PAGES pages, not after nearly every add (db.py).
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_CHECKPOINT_PAGES
    # WAL is a property of the file, not only of the server's connections: a plain connection
    # that sets nothing sees it too.
    path = make_url(test_database.url).database
    assert path
    plain = sqlite3.connect(path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()
