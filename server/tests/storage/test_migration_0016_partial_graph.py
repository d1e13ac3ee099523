"""Revision 0016_partial_graph on a database that already holds memories: owners past the size
searched exactly (by their index state's count) are marked built with every row in the graph,
smaller owners' rows stay out, and on PostgreSQL both graphs are rebuilt partial with the shape
and precision they had. Going back drops the flags and restores whole graphs. SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, downgrade, upgrade
from memoryos_server.storage.types import utcnow
from tests.storage.owners import insert_memories

_STATS = "INSERT INTO {table} (owner_id, generation, purges, doc_count, total_terms) VALUES (1, 1, 0, :count, :count)"


def _seed(database: Database) -> None:
    now = utcnow()
    with database.engine.begin() as connection:
        insert_memories(connection, now)
        # The end-user counts as large (its state says 6,000 memories), the passport user as small.
        connection.execute(text(_STATS.format(table="memory_index_stats")), {"count": 6_000})
        connection.execute(text(_STATS.format(table="universal_memory_index_stats")), {"count": 1})


def _flags(database: Database, table: str) -> set[tuple[object, bool]]:
    key = "id" if "memories" in table else "owner_id"
    with database.engine.connect() as connection:
        return {(row[0], bool(row[1])) for row in connection.execute(text(f"SELECT {key}, graphed FROM {table}"))}


def _columns(database: Database, table: str) -> set[str]:
    query = (
        f"SELECT name FROM pragma_table_info('{table}')"
        if database.is_sqlite
        else f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
    )
    with database.engine.connect() as connection:
        return {str(name) for name in connection.execute(text(query)).scalars()}


def _graph(database: Database, table: str) -> str:
    with database.engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": f"ix_{table}_embedding_hnsw"}
            ).scalar_one()
        )


def test_large_owners_enter_the_partial_graph_and_back(empty_database: Database) -> None:
    upgrade(empty_database, "0015_postings_layout")
    _seed(empty_database)
    postgres = not empty_database.is_sqlite
    before = {table: _graph(empty_database, table) for table in ("memories", "universal_memories")} if postgres else {}

    upgrade(empty_database, "0016_partial_graph")
    assert current_revision(empty_database) == "0016_partial_graph"
    if postgres:
        assert _flags(empty_database, "memories") == {("m-1", True), ("m-2", True)}
        assert _flags(empty_database, "memory_index_stats") == {(1, True)}
        for table, definition in before.items():
            assert "halfvec" in definition and "WHERE" not in definition
            assert _graph(empty_database, table) == f"{definition} WHERE graphed"
    else:  # no graph on SQLite: the flags exist, and nothing is marked
        assert _flags(empty_database, "memories") == {("m-1", False), ("m-2", False)}
        assert _flags(empty_database, "memory_index_stats") == {(1, False)}
    assert _flags(empty_database, "universal_memories") == {("u-1", False)}
    assert _flags(empty_database, "universal_memory_index_stats") == {(1, False)}

    downgrade(empty_database, "0015_postings_layout")
    for table in ("memories", "memory_index_stats", "universal_memories", "universal_memory_index_stats"):
        assert "graphed" not in _columns(empty_database, table)
    if postgres:
        for table, definition in before.items():
            assert _graph(empty_database, table) == definition
    upgrade(empty_database)  # and up again to head
