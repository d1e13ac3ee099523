"""HNSW graphs over the vectors in half precision (pgvector's halfvec), same shape (m 8, ef_construction 100)

The graph holds each vector as 384 half-precision floats instead of single-precision ones: half
the index's size (102 MB against 205 MB for 100,000 vectors), so a walk of the graph touches
half the pages. Measured by bench/hnsw.py (docs/benchmarks.md, "HNSW graph parameters") on
98,000 MiniLM vectors, PostgreSQL 15 with pgvector 0.8 on two cores, quiet: inserting a vector
took 0.96 ms against 1.82 ms, a query at ``ef_search`` 100 0.94 ms against 1.57 ms (p50), and
recall@10 against exact search was 0.9957 against 0.9971 (graphs are drawn at random: earlier
single-precision runs gave 0.9975 and 0.9957; a run on a busy machine gave 0.9955 against
0.9953, with inserts of 0.92 against 2.62 ms). The table keeps
the full vectors: searches order by the half-precision distance (which the graph serves) and
score with the full one. The graph is rebuilt (about 13 s per 100,000 memories on two cores;
adds wait meanwhile). With pgvector before 0.7, which has no halfvec, nothing changes.

Revision ID: 0014_hnsw_halfvec
Revises: 0013_memory_reads
Create Date: 2026-12-07 10:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_hnsw_halfvec'
down_revision: str | None = '0013_memory_reads'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("memories", "universal_memories")
SHAPE = "WITH (m = 8, ef_construction = 100)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _pgvector() < (0, 7):
        return  # no halfvec before pgvector 0.7: the single-precision graph stays (searches see which)
    _rebuild("(embedding::halfvec(384)) halfvec_cosine_ops")


def downgrade() -> None:
    _rebuild("embedding vector_cosine_ops")


def _pgvector() -> tuple[int, ...]:
    version = op.get_bind().execute(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    return tuple(int(part) for part in str(version or "0").split(".")[:2] if part.isdigit())


def _rebuild(key: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # approximate nearest-neighbour indexes exist only on PostgreSQL
    # Built in memory where it fits: a graph spilling to disk builds many times slower.
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_embedding_hnsw")
        op.execute(f"CREATE INDEX ix_{table}_embedding_hnsw ON {table} USING hnsw ({key}) {SHAPE}")
