"""HNSW graphs with 8 links a node and a construction list of 100 (pgvector's defaults: 16, 64)

Measured by bench/hnsw.py (docs/benchmarks.md, "HNSW graph parameters") on 98,000 MiniLM
vectors of synthetic memories, PostgreSQL 15 with pgvector 0.8 on two cores, in two runs (each
builds its graphs afresh, and graphs are drawn at random): inserting a vector into the graph,
which an add pays for every memory it writes inside its transaction, took 1.67 and 1.86 ms
against 3.22 and 2.58 ms; recall@10 against exact search at ``ef_search`` 100
(storage/index/postgres.py) was 0.9975 and 0.9957 against 0.9920 and 0.9966, the same within
the runs' spread; the query's p50 1.5–1.7 ms against 1.75–2.0 ms. The graph is rebuilt: about
18 s per 100,000 memories on two cores, during which adds wait.

Revision ID: 0012_hnsw_graph
Revises: 0011_revoked_tokens
Create Date: 2026-12-07 08:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0012_hnsw_graph'
down_revision: str | None = '0011_revoked_tokens'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("memories", "universal_memories")


def upgrade() -> None:
    _rebuild("WITH (m = 8, ef_construction = 100)")


def downgrade() -> None:
    _rebuild("")


def _rebuild(options: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # approximate nearest-neighbour indexes exist only on PostgreSQL
    # Built in memory where it fits: a graph spilling to disk builds many times slower.
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_embedding_hnsw")
        op.execute(f"CREATE INDEX ix_{table}_embedding_hnsw ON {table} USING hnsw (embedding vector_cosine_ops) {options}")
