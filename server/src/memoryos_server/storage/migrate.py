"""Apply Alembic migrations, one process at a time."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from memoryos_server.errors import DatabaseNotReady
from memoryos_server.storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_LOCK_ID = 7_204_311_901  # any constant: serialises migrations across workers


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


PGVECTOR_HELP = (
    "install pgvector for this PostgreSQL server (Debian bookworm: build it from source as "
    ".ci/install-pgvector.sh does; elsewhere the postgresql-<version>-pgvector package)"
)


def check_extensions(database: Database) -> None:
    """PostgreSQL must offer pgvector, and this role must be able to use it: otherwise a
    ``DatabaseNotReady`` that says what is missing and how to fix it (not a driver traceback)."""
    if database.is_sqlite:
        return
    with database.engine.connect() as connection:
        installed = connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).first()
        if installed:
            return
        available = connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
        if not available:
            raise DatabaseNotReady(f"PostgreSQL has no pgvector extension: {PGVECTOR_HELP}")
        try:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            connection.commit()
        except DBAPIError as exc:
            raise DatabaseNotReady(
                "PostgreSQL offers pgvector but this database role may not enable it: run "
                "CREATE EXTENSION vector; in this database as a superuser once"
            ) from exc


# A data migration that seals or hashes existing values finds the master key here
# (``config.attributes``); it is never written to the database or the migration's output.
MASTER_KEY_ATTRIBUTE = "master_key"


def upgrade(database: Database, revision: str = "head", *, master_key: bytes | None = None) -> None:
    """Bring the schema to ``revision``. ``master_key``: needed only by a revision that
    converts existing rows (0009 seals identifiers), which refuses clearly without it."""
    check_extensions(database)
    with _migration_lock(database):
        _run(database, master_key, lambda config: command.upgrade(config, revision))


def downgrade(database: Database, revision: str, *, master_key: bytes | None = None) -> None:
    """Take the schema back to ``revision`` (a release rolled back; the migration tests)."""
    with _migration_lock(database):
        _run(database, master_key, lambda config: command.downgrade(config, revision))


def _run(database: Database, master_key: bytes | None, step: Callable[[Config], None]) -> None:
    """One transaction for the whole step. On SQLite, foreign keys are off meanwhile: a batch
    migration rebuilds a table (create a copy, drop the original, rename), and dropping a table
    that others reference ``ON DELETE CASCADE`` would otherwise delete their rows with it (every
    memory of every user, when ``users`` is rebuilt). Before committing, SQLite checks that no
    reference was left dangling; the pooled connection gets its foreign keys back either way."""
    config = alembic_config(database.url)
    with database.engine.connect() as connection:
        if database.is_sqlite:
            _sqlite_foreign_keys(connection, enabled=False)
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                config.attributes[MASTER_KEY_ATTRIBUTE] = master_key
                step(config)
                if database.is_sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if dangling:
                        raise DatabaseNotReady(f"the migration left {len(dangling)} rows pointing at rows that do not exist")
        finally:
            if database.is_sqlite:
                _sqlite_foreign_keys(connection, enabled=True)


def _sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    # Straight to the driver, outside any transaction (SQLite ignores this pragma inside one).
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")  # type: ignore[union-attr]


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@contextmanager
def _migration_lock(database: Database) -> Iterator[None]:
    if database.is_sqlite:
        path = make_url(database.url).database
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with database.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
            connection.commit()
