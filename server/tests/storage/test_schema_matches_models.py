"""The migrations and the models describe the same schema: after ``upgrade`` to head, Alembic's
autogenerate finds nothing to change, on SQLite and on PostgreSQL (where the HNSW graphs exist
only in the migrations: an expression index over pgvector's types that the models cannot
state). A model changed without a revision, or an index declared for one backend only, would
otherwise show up in the next revision generated."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import upgrade
from memoryos_server.storage.models import Base

MIGRATIONS_ONLY = {"ix_memories_embedding_hnsw", "ix_universal_memories_embedding_hnsw"}


def test_autogenerate_finds_nothing_to_change_at_head(empty_database: Database) -> None:
    upgrade(empty_database)
    with empty_database.engine.connect() as connection, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy does not know pgvector's column type by name
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    unexpected = [
        difference
        for difference in differences
        if not (difference[0] == "remove_index" and difference[1].name in MIGRATIONS_ONLY)
    ]
    assert unexpected == []
