"""What the migration tests share: a database of their own, not yet migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memoryos_server.storage.db import Database
from tests.fixtures import databases


@pytest.fixture
def empty_database(test_database: databases.TestDatabase, tmp_path: Path) -> Iterator[Database]:
    """A database of its own, not migrated (the session's is already at head)."""
    if test_database.backend == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'unmigrated.db'}")
        yield database
        database.engine.dispose()
        return
    name, url = databases.create_postgres_database()
    database = Database(url)
    try:
        yield database
    finally:
        database.engine.dispose()
        databases.drop_postgres_database(name)
