"""HNSW graphs of large owners only: a ``graphed`` flag on memories and owners, the graph partial

An owner of up to 5,000 memories is scored exactly, never through the graph, yet each of its
rows was put into the graph as it was written: most of a PostgreSQL add's time beside its
embeddings. Now a row is in the graph when its ``graphed`` is set (``WHERE graphed``), which the
server does for owners past 5,000 memories (``storage/index/graph.py``). Here the owners already
past it (``memory_index_stats.doc_count``) are marked built and their rows marked in, and the
graph is rebuilt with the same shape and precision, over their rows alone. It runs in one
transaction that holds the memory tables from the first statement to the end, reads included:
marking a large owner's rows rewrites each of them (a new row version in every index), and the
graph build takes about 13 s per 100,000 of them on two cores. Every server must run this
release once it is applied: an older one would write a large owner's new rows outside the graph,
where its searches do not look. On SQLite only the columns are added.

Revision ID: 0016_partial_graph
Revises: 0015_postings_layout
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_partial_graph'
down_revision: str | None = '0015_postings_layout'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"memories": "memory_index_stats", "universal_memories": "universal_memory_index_stats"}
# storage/index/graph.py's GRAPH_FROM when this migration was written (migrations stand alone).
GRAPH_FROM = 5_000
PREDICATE = " WHERE graphed"


def upgrade() -> None:
    for memories, stats in TABLES.items():
        for table in (memories, stats):
            op.add_column(table, sa.Column("graphed", sa.Boolean(), nullable=False, server_default=sa.false()))
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its vectors in worker memory: no graph
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for memories, stats in TABLES.items():
        definition = _graph(memories)
        op.execute(f"UPDATE {stats} SET graphed = true WHERE doc_count > {GRAPH_FROM}")
        if definition is not None:
            op.execute(f"DROP INDEX ix_{memories}_embedding_hnsw")  # not rewritten row by row below
        op.execute(
            f"UPDATE {memories} SET graphed = true WHERE owner_id IN (SELECT owner_id FROM {stats} WHERE graphed)"
        )
        if definition is not None:
            op.execute(definition + PREDICATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for memories in TABLES:
            definition = _graph(memories)
            if definition is not None:
                op.execute(f"DROP INDEX ix_{memories}_embedding_hnsw")
                op.execute(definition.removesuffix(PREDICATE))
    for memories, stats in TABLES.items():
        for table in (memories, stats):
            op.drop_column(table, "graphed")  # SQLite 3.35+ drops a plain column in place


def _graph(table: str) -> str | None:
    """The table's HNSW index as PostgreSQL states it (its shape and precision, from 0012 and
    0014, kept), or None where there is none."""
    return op.get_bind().execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = :table AND indexname = :name"),
        {"table": table, "name": f"ix_{table}_embedding_hnsw"},
    ).scalar()
