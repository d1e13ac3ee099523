"""memory_reads, universal_memory_reads: read counts and last-read times leave the memory rows

Counting a memory's reads (every few seconds, for the memories searches returned) updated its
row in the memory table. On PostgreSQL such a row, about 2 KB with its vector, fills its page,
so the update could not stay on the page and wrote a new entry into every index of the table,
the HNSW graph included: about 2 ms of the database's time per memory read, and the graph grew
with dead entries until vacuum. Under one client's steady searches over HTTP the counting kept
a background thread busy 95% of the time. The counts now live in narrow tables of their own,
one row per memory read at least once; the counts already kept move there.

Revision ID: 0013_memory_reads
Revises: 0012_hnsw_graph
Create Date: 2026-12-07 10:30:00.000000
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_memory_reads'
down_revision: str | None = '0012_hnsw_graph'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"memories": "memory_reads", "universal_memories": "universal_memory_reads"}


def upgrade() -> None:
    for memories, reads in TABLES.items():
        op.create_table(reads,
        sa.Column('memory_id', sa.String(length=36), nullable=False),
        sa.Column('access_count', sa.Integer(), nullable=False),
        sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['memory_id'], [f'{memories}.id'], name=op.f(f'fk_{reads}_memory_id_{memories}'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('memory_id', name=op.f(f'pk_{reads}')),
        )
        op.execute(
            f"INSERT INTO {reads} (memory_id, access_count, last_accessed) SELECT id, access_count, last_accessed "
            f"FROM {memories} WHERE access_count > 0 OR last_accessed IS NOT NULL"
        )
        _drop_columns(memories, ("access_count", "last_accessed"))


def downgrade() -> None:
    for memories, reads in TABLES.items():
        with op.batch_alter_table(memories, schema=None) as batch_op:
            batch_op.add_column(sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('access_count', sa.Integer(), nullable=False, server_default='0'))
        op.execute(
            f"UPDATE {memories} SET access_count = (SELECT r.access_count FROM {reads} r WHERE r.memory_id = {memories}.id), "
            f"last_accessed = (SELECT r.last_accessed FROM {reads} r WHERE r.memory_id = {memories}.id) "
            f"WHERE id IN (SELECT memory_id FROM {reads})"
        )
        op.drop_table(reads)


def _drop_columns(table: str, columns: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        with op.batch_alter_table(table, schema=None) as batch_op:  # no DROP COLUMN before 3.35: a copy
            for column in columns:
                batch_op.drop_column(column)
        return
    for column in columns:
        op.drop_column(table, column)
