"""Revisions 0013_memory_reads and 0014_hnsw_halfvec on a database that already holds memories
with read counts: the counts move to the reads tables (memories never read get no row), the
memory tables lose their two columns, the HNSW graphs are rebuilt over half precision on
PostgreSQL; going back restores columns, counts and the single-precision graphs. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, downgrade, upgrade
from memoryos_server.storage.types import utcnow
from tests.storage.owners import insert_owners

_MEMORY = (
    "INSERT INTO {table} (id, {owner_columns}, category, content_ct, importance, original_importance, confidence, "
    "status, disputed, flagged, unconfirmed, last_accessed, access_count, version, content_hash, term_count, "
    "index_seq, created_at, updated_at) VALUES (:id, {owner_values}, 'fact', :ct, 5, 5, 0.9, 'active', false, false, "
    "false, :read_at, :reads, 1, 'h', 1, 0, :now, :now)"
)


def _hnsw(database: Database, table: str) -> str:
    with database.engine.connect() as connection:
        return str(connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%USING hnsw%'"), {"t": table}
        ).scalar())


def test_read_counts_move_to_their_own_tables_and_back(empty_database: Database) -> None:
    upgrade(empty_database, "0012_hnsw_graph")
    now = utcnow()
    read_at = now - timedelta(hours=2)
    with empty_database.engine.begin() as connection:
        insert_owners(connection, now)
        tenant = _MEMORY.format(table="memories", owner_columns="tenant_id, owner_id, scope", owner_values="1, 1, 'tenant'")
        for memory_id, reads, when in (("m-read", 3, read_at), ("m-never", 0, None)):
            connection.execute(text(tenant), {"id": memory_id, "ct": b"x", "reads": reads, "read_at": when, "now": now})
        universal = _MEMORY.format(table="universal_memories", owner_columns="owner_id", owner_values="1")
        connection.execute(text(universal), {"id": "u-read", "ct": b"x", "reads": 5, "read_at": read_at, "now": now})

    upgrade(empty_database, "0014_hnsw_halfvec")
    assert current_revision(empty_database) == "0014_hnsw_halfvec"
    with empty_database.engine.connect() as connection:
        columns = set(connection.execute(text("SELECT * FROM memories")).keys())
        assert not {"access_count", "last_accessed"} & columns
        tenant_reads = connection.execute(text("SELECT memory_id, access_count, last_accessed FROM memory_reads")).all()
        universal_reads = connection.execute(text("SELECT memory_id, access_count FROM universal_memory_reads")).all()
    assert [(r[0], r[1]) for r in tenant_reads] == [("m-read", 3)]  # a memory never read has no row
    assert abs((_aware(tenant_reads[0][2]) - read_at).total_seconds()) < 1
    assert [tuple(r) for r in universal_reads] == [("u-read", 5)]
    if not empty_database.is_sqlite:
        assert "halfvec" in _hnsw(empty_database, "memories") and "halfvec" in _hnsw(empty_database, "universal_memories")

    downgrade(empty_database, "0012_hnsw_graph")
    with empty_database.engine.connect() as connection:
        counts = dict(connection.execute(text("SELECT id, access_count FROM memories")).all())
        assert counts == {"m-read": 3, "m-never": 0}
        assert connection.execute(text("SELECT access_count FROM universal_memories")).scalar_one() == 5
        assert "memory_reads" not in inspect(connection).get_table_names()
    if not empty_database.is_sqlite:
        assert "halfvec" not in _hnsw(empty_database, "memories") and "vector_cosine_ops" in _hnsw(empty_database, "memories")


def _aware(value: object) -> datetime:
    """SQLite hands back the text it stored; PostgreSQL a datetime with its zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
