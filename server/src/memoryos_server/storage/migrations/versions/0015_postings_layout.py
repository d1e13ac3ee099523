"""memory_terms, universal_memory_terms: postings indexed by owner then memory, stored by key on SQLite

The postings tables had a primary key on ``(memory_id, term)``, an index on ``memory_id`` alone
(which that key already serves) and an index on ``(owner_id, term, memory_id, tf)``. Nothing reads
postings by term any more: both backends' keyword search keeps each owner's postings in worker
memory, read by owner (all of them) and then by memory (those that changed). Ordered by term,
that index put every posting of an add on a different page: an add of 64 memories at 100,000
dirtied about a thousand pages for postings alone, most of a SQLite add's commit. Now one index,
``(owner_id, memory_id, term, tf)`` (covering the load by owner), keeps a memory's postings
together, and on SQLite the table is stored by its key (``WITHOUT ROWID``: no separate row
table). At 100,000 memories (780,848 postings) the SQLite postings went from 184 to 83 MB and
the copy took about 3 s. The SQLite file does not shrink by itself: the old table's pages are
zeroed (``secure_delete``) and reused; ``VACUUM`` returns them to the file system.

Revision ID: 0015_postings_layout
Revises: 0014_hnsw_halfvec
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0015_postings_layout'
down_revision: str | None = '0014_hnsw_halfvec'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"memory_terms": "memories", "universal_memory_terms": "universal_memories"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, memories in TABLES.items():
        if sqlite:
            _rebuild(table, memories, rowid=False)  # the old indexes go with the old table
        else:
            op.execute(f"DROP INDEX ix_{table}_memory")
            op.execute(f"DROP INDEX ix_{table}_owner_term")
        op.execute(f"CREATE INDEX ix_{table}_owner_memory ON {table} (owner_id, memory_id, term, tf)")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, memories in TABLES.items():
        if sqlite:
            _rebuild(table, memories, rowid=True)
        else:
            op.execute(f"DROP INDEX ix_{table}_owner_memory")
        op.execute(f"CREATE INDEX ix_{table}_owner_term ON {table} (owner_id, term, memory_id, tf)")
        op.execute(f"CREATE INDEX ix_{table}_memory ON {table} (memory_id)")


def _rebuild(table: str, memories: str, *, rowid: bool) -> None:
    """SQLite: the table copied into a new one with or without its row table (its indexes
    are dropped with the old table; the caller creates the new ones)."""
    op.execute(
        f"CREATE TABLE {table}_new ("
        "memory_id VARCHAR(36) NOT NULL, term BIGINT NOT NULL, tf INTEGER NOT NULL, owner_id BIGINT NOT NULL, "
        f"CONSTRAINT pk_{table} PRIMARY KEY (memory_id, term), "
        f"CONSTRAINT fk_{table}_memory_id_{memories} FOREIGN KEY(memory_id) REFERENCES {memories} (id) ON DELETE CASCADE"
        f"){'' if rowid else ' WITHOUT ROWID'}"
    )
    op.execute(
        f"INSERT INTO {table}_new (memory_id, term, tf, owner_id) "
        f"SELECT memory_id, term, tf, owner_id FROM {table} ORDER BY memory_id, term"
    )
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
